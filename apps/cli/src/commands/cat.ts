import { canonicalize, SessionFileError, type SessionReader, type SessionRecord } from '@agent-replay/format';
import { resolveSessionPath } from '../catalog-access.js';
import { UserError } from '../errors.js';
import { openSession } from '../open-session.js';
import { escapeForTerminal, outputWidth, sanitize, styleFor, truncate } from '../terminal.js';

export interface CatCommandOptions {
  json?: boolean;
  resolve?: boolean;
  type?: string[];
  from?: number;
  to?: number;
}

/** Human form: one line per record, "seq  time  type  fields", cut to the terminal width. Everything is sanitized:
 * even the envelope of a record can carry hostile text (the type is whatever the recording code passed). */
function humanLine(record: SessionRecord): string {
  const { seq, ts, type, ...fields } = record;
  return sanitize(
    `${String(seq).padStart(6)}  ${String(ts)}  ${String(type).padEnd(16)} ${JSON.stringify(fields)}`,
  );
}

export async function catCommand(dir: string, ref: string, options: CatCommandOptions): Promise<number> {
  const file = await resolveSessionPath(ref, dir);
  const reader: SessionReader = await openSession(file);
  const out = process.stdout;
  const style = styleFor(process.stderr);
  const width = outputWidth(out);
  // Piped output is byte-exact (the same bytes as `zstd -dc`); on a terminal, characters that JSON leaves raw but a
  // terminal would act on (C1 controls, bidi overrides, and anything raw in a forged record) are escaped.
  const jsonText = out.isTTY ? escapeForTerminal : (line: string) => line;
  try {
    const query = {
      ...(options.type ? { types: options.type } : {}),
      ...(options.from !== undefined ? { fromSeq: options.from } : {}),
      ...(options.to !== undefined ? { toSeq: options.to } : {}),
    };
    for await (const raw of reader.lines(query)) {
      let text: string;
      if (options.json && !options.resolve) {
        text = jsonText(raw.line);
      } else {
        const shown = await decodeRecord(reader, file, raw, options.resolve === true);
        text = options.json ? jsonText(canonicalize(shown)) : truncate(humanLine(shown), width);
      }
      if (!out.write(`${text}\n`)) await new Promise((resolve) => out.once('drain', resolve));
    }
    const stop = reader.stoppedAt;
    if (stop) {
      process.stderr.write(
        `${style.yellow('warning')}: ${sanitize(file)}: stopped at offset ${stop.offset}: ${sanitize(stop.message)} (run verify)\n`,
      );
      return 'verdict' in stop ? 1 : 3;
    }
    return 0;
  } catch (error) {
    // Damage that only shows when a segment is decoded (a sealed file read through its index).
    if (error instanceof SessionFileError) throw new UserError(`${error.message} (run verify)`);
    throw error;
  } finally {
    reader.close();
  }
}

async function decodeRecord(
  reader: SessionReader,
  file: string,
  raw: { seq: number; line: string },
  resolve: boolean,
): Promise<SessionRecord> {
  let record: SessionRecord;
  try {
    record = JSON.parse(raw.line) as SessionRecord;
  } catch {
    throw new UserError(`${file}: record seq ${raw.seq} is not valid JSON (run verify --thorough)`);
  }
  return resolve ? reader.resolve<SessionRecord>(record) : record;
}
