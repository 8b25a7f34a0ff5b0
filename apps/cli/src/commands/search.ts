import type { SearchHit, SearchOptions } from '@agent-replay/catalog';
import { resolveSessionIn, withCatalog } from '../catalog-access.js';
import { shortId, shortTime } from '../display.js';
import { UserError } from '../errors.js';
import { escapeForTerminal, outputWidth, type Style, sanitize, styleFor } from '../terminal.js';

export interface SearchCommandOptions extends Omit<SearchOptions, 'sessionPath' | 'raw'> {
  json?: boolean;
  session?: string;
  fts?: boolean;
}

/** The snippet on one line, matched terms highlighted: coloured on a terminal, «marked» elsewhere. */
function highlighted(hit: SearchHit, style: Style): string {
  let out = '';
  let at = 0;
  const mark = style.enabled
    ? (text: string) => style.bold(style.yellow(text))
    : (text: string) => `«${text}»`;
  const flat = (text: string) => sanitize(text.replace(/\s+/g, ' '));
  for (const [start, end] of hit.highlights) {
    out += flat(hit.snippet.slice(at, start)) + mark(flat(hit.snippet.slice(start, end)));
    at = end;
  }
  return out + flat(hit.snippet.slice(at));
}

export async function searchCommand(
  dir: string,
  query: string,
  options: SearchCommandOptions,
): Promise<number> {
  const { json, session, fts, ...rest } = options;
  const hits = await withCatalog(dir, (catalog) => {
    const sessionPath = session ? resolveSessionIn(catalog, session) : undefined;
    try {
      return catalog.search(query, { ...rest, raw: fts === true, ...(sessionPath ? { sessionPath } : {}) });
    } catch (error) {
      const message = (error as Error).message;
      // SQLite's own words for a malformed FTS5 expression are clear enough, prefixed with what to do.
      if ((error as { code?: string }).code === 'SQLITE_ERROR' || error instanceof RangeError)
        throw new UserError(
          `search: ${message}${fts ? ' (see https://sqlite.org/fts5.html#full_text_query_syntax)' : ''}`,
        );
      throw error;
    }
  });
  const out = process.stdout;
  if (json) {
    out.write(`${escapeForTerminal(JSON.stringify(hits, null, 2))}\n`);
    return hits.length > 0 ? 0 : 1;
  }
  if (hits.length === 0) {
    process.stderr.write(`no match for ${sanitize(query)}\n`);
    return 1;
  }
  const style = styleFor(out);
  const width = outputWidth(out);
  for (const hit of hits) {
    const where = `${shortId(hit.session_id)}  seq ${hit.seq}  ${shortTime(hit.ts)}`;
    const what = `${hit.kind}${hit.name ? ` ${hit.name}` : ''}${hit.workflow ? `  (${hit.workflow})` : ''}`;
    out.write(
      `${style.bold(sanitize(where))}  ${style.dim(sanitize(what).slice(0, Math.max(0, width - where.length - 2)))}\n`,
    );
    out.write(`    ${highlighted(hit, style)}\n`);
  }
  process.stderr.write(
    style.dim(
      `${hits.length} hit${hits.length === 1 ? '' : 's'}${hits.length === (options.limit ?? 20) ? ' (--limit for more)' : ''}; \`agent-replay cat <session> --from <seq> --to <seq>\` shows a record\n`,
    ),
  );
  return 0;
}
