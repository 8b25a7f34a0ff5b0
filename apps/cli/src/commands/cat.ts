import { canonicalize, type SessionReader, type SessionRecord } from '@agent-replay/format';
import { openSession } from '../open-session.js';
import { outputWidth, sanitize, styleFor, truncate } from '../terminal.js';

export interface CatCommandOptions {
  json?: boolean;
  resolve?: boolean;
  type?: string[];
  from?: number;
  to?: number;
}

/** Human form: one line per record, "seq  time  type  fields", cut to the terminal width. */
function humanLine(record: SessionRecord): string {
  const { seq, ts, type, ...fields } = record;
  return `${String(seq).padStart(6)}  ${ts}  ${type.padEnd(16)} ${sanitize(JSON.stringify(fields))}`;
}

export async function catCommand(file: string, options: CatCommandOptions): Promise<number> {
  const reader: SessionReader = await openSession(file);
  const out = process.stdout;
  const style = styleFor(process.stderr);
  const width = outputWidth(out);
  try {
    const query = {
      ...(options.type ? { types: options.type } : {}),
      ...(options.from !== undefined ? { fromSeq: options.from } : {}),
      ...(options.to !== undefined ? { toSeq: options.to } : {}),
    };
    for await (const raw of reader.lines(query)) {
      let text: string;
      if (options.json && !options.resolve) {
        text = raw.line;
      } else {
        const record = JSON.parse(raw.line) as SessionRecord;
        const shown = options.resolve ? await reader.resolve<SessionRecord>(record) : record;
        text = options.json ? canonicalize(shown) : truncate(humanLine(shown), width);
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
  } finally {
    reader.close();
  }
}
