import { existsSync, statSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import {
  AmbiguousSessionError,
  Catalog,
  CatalogDamagedError,
  type SessionSummary,
  type SyncReport,
} from '@agent-replay/catalog';
import { UserError } from './errors.js';
import { createProgress } from './progress.js';
import { sanitize, styleFor } from './terminal.js';

function warn(message: string): void {
  process.stderr.write(`${styleFor(process.stderr).yellow('warning')}: ${sanitize(message)}\n`);
}

/** Opens the catalog of an agent-replay dir; problems it repairs itself (a damaged catalog) are warnings. */
export function openCatalog(dir: string): Catalog {
  // Reading must not leave an empty .agent-replay behind in whatever directory the user happened to be in.
  if (!existsSync(dir)) {
    throw new UserError(
      `${dir}: no such directory (sessions are recorded into ./.agent-replay by default; --dir or AGENT_REPLAY_DIR point elsewhere)`,
    );
  }
  try {
    return Catalog.open(dir, { onWarning: warn });
  } catch (error) {
    throw new UserError(`cannot open the catalog in ${dir}: ${(error as Error).message}`);
  }
}

/** Brings the catalog up to date with the session files, with a progress bar when that takes a while. */
export async function syncCatalog(
  catalog: Catalog,
  options: { rebuild?: boolean } = {},
): Promise<SyncReport> {
  const progress = createProgress('indexing', 0);
  let shown = 0;
  try {
    const report = await catalog.sync({
      ...options,
      onProgress: ({ done, total, file, records }) => {
        progress.setTotal(total);
        progress.tick(done - shown, records ? `${file} · ${records.toLocaleString('en-US')} records` : file);
        shown = done;
      },
    });
    progress.done();
    for (const failure of report.failures) warn(`${failure.path}: not indexed: ${failure.message}`);
    return report;
  } finally {
    progress.done();
  }
}

/**
 * An open, up-to-date catalog for the duration of `use`. A query that finds the catalog damaged has it set aside;
 * it is then rebuilt from the files and the query runs once more.
 */
export async function withCatalog<T>(dir: string, use: (catalog: Catalog) => Promise<T> | T): Promise<T> {
  const catalog = openCatalog(dir);
  try {
    await syncCatalog(catalog);
    try {
      return await use(catalog);
    } catch (error) {
      if (!(error instanceof CatalogDamagedError)) throw error;
      warn(error.message);
      await syncCatalog(catalog);
      return await use(catalog);
    }
  } finally {
    catalog.close();
  }
}

/** Whether a `<session>` argument names a file (rather than an id). */
export function looksLikePath(ref: string): boolean {
  return ref.includes(sep) || ref.includes('/') || ref.endsWith('.arec');
}

function candidateLine(summary: SessionSummary): string {
  return `  ${summary.session_id ?? '?'}  ${summary.started_at ?? ''}  ${summary.workflow ?? ''}  ${summary.path}`;
}

/** A `<session>` argument that names a file: its absolute path; undefined for an id, prefix or `latest`. */
function sessionFile(ref: string): string | undefined {
  if (existsSync(ref)) {
    if (statSync(ref).isFile()) return resolve(ref);
    throw new UserError(`${ref} is a directory; give a session file, id, id prefix or latest`);
  }
  if (looksLikePath(ref)) throw new UserError(`${ref}: no such file`);
  return undefined;
}

/** A session id, unique id prefix or `latest` looked up in an up-to-date catalog; user errors when none or many. */
function findInCatalog(catalog: Catalog, ref: string): SessionSummary {
  let found: SessionSummary | undefined;
  try {
    found = catalog.find(ref);
  } catch (error) {
    if (!(error instanceof AmbiguousSessionError)) throw error;
    const list = error.candidates.map(candidateLine).join('\n');
    const more =
      error.total > error.candidates.length ? `\n  … and ${error.total - error.candidates.length} more` : '';
    throw new UserError(`"${ref}" matches ${error.total} sessions; say which:\n${list}${more}`);
  }
  if (found) return found;
  throw new UserError(
    ref === 'latest'
      ? `no sessions in ${catalog.sessionsDir}`
      : `no session "${ref}" in ${catalog.sessionsDir} (\`agent-replay ls\` lists them; a file path works too)`,
  );
}

/**
 * A `<session>` argument: a file path, a session id, a unique id prefix, or `latest`. Returns the file, and its
 * catalog summary when the catalog was needed to find it; an ambiguous prefix is an error listing the candidates.
 */
export async function resolveSession(
  ref: string,
  dir: string,
): Promise<{ path: string; summary?: SessionSummary }> {
  const path = sessionFile(ref);
  if (path) return { path };
  return withCatalog(dir, (catalog) => {
    const summary = findInCatalog(catalog, ref);
    return { path: summary.path, summary };
  });
}

/** The file a `<session>` argument names. */
export async function resolveSessionPath(ref: string, dir: string): Promise<string> {
  return (await resolveSession(ref, dir)).path;
}

/** The file a `<session>` argument names, looked up in a catalog the caller has open and up to date. */
export function resolveSessionIn(catalog: Catalog, ref: string): string {
  return sessionFile(ref) ?? findInCatalog(catalog, ref).path;
}
