import { hash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
} from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import {
  lockHolder,
  SessionFileError,
  SessionReader,
  toTimestamp,
  verifySession,
} from '@agent-replay/format';
import Database from 'better-sqlite3';
import { resolvedRecords } from './blobs.js';
import { SCHEMA, SCHEMA_VERSION, SEQ_BITS } from './schema.js';
import { emptyFoldState, type FoldState, type SearchDoc, SessionFold } from './session-fold.js';
import { type SessionSummary, summarize, type VerdictInfo } from './summary.js';

type Db = Database.Database;

export interface CatalogOptions {
  /** Told when a corrupted or outdated catalog is set aside and rebuilt. */
  onWarning?: (message: string) => void;
  /** How long to wait for another process holding the database (ms). Default 30 s. */
  busyTimeoutMs?: number;
}

export interface SyncProgress {
  /** Files looked at so far, of `total`. */
  done: number;
  total: number;
  /** The file being indexed now (relative to the sessions dir). */
  file: string;
  /** Records of that file indexed so far, reported every few thousand (a large file takes a while). */
  records?: number;
}

export interface SyncOptions {
  onProgress?: (progress: SyncProgress) => void;
  /** Forget everything and index every file from its first record. */
  rebuild?: boolean;
}

export interface SyncReport {
  files: number;
  /** Files indexed (new or grown); records and search documents added. */
  indexed: number;
  records: number;
  documents: number;
  /** Files unchanged since the last index. */
  unchanged: number;
  /** Files another process was indexing at the same moment (it finished them). */
  concurrent: number;
  removed: number;
  failures: { path: string; message: string }[];
}

export interface ListFilter {
  /** Sessions with any record at or after / at or before this time (ISO, Date or epoch ms). */
  since?: string | Date | number;
  until?: string | Date | number;
  /** Identity subject, email or name of the principal or an approver (`*` wildcards). */
  identity?: string;
  workflow?: string;
  tool?: string;
  model?: string;
  status?: string[];
  /** Only sessions with at least one denial. */
  denied?: boolean;
  verdict?: string[];
  limit?: number;
}

export interface SearchOptions {
  limit?: number;
  /** Restrict to one session (its path). */
  sessionPath?: string;
  kind?: string[];
  since?: string | Date | number;
  until?: string | Date | number;
  /** Pass the query to SQLite FTS5 as written (operators, column filters) instead of as plain words. */
  raw?: boolean;
  /** Newest first instead of best match first. */
  order?: 'rank' | 'time';
}

export interface SearchHit {
  path: string;
  session_id: string | null;
  workflow: string | null;
  seq: number;
  ts: string;
  /** What matched: tool, message, policy, session, identity, handoff, guardrail, custom, error, … */
  kind: string;
  /** Tool, model, agent or guardrail name, when the record has one. */
  name: string;
  /** A short excerpt; `highlights` are [start, end) character ranges of the matched terms in it. */
  snippet: string;
  highlights: [number, number][];
}

export interface StatsOptions {
  since?: string | Date | number;
  until?: string | Date | number;
}

export interface StatsRow {
  /** The workflow or identity; null for sessions without one. */
  key: string | null;
  sessions: number;
  model_calls: number;
  tool_calls: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  denials: number;
  errors: number;
}

export interface ModelStatsRow {
  model: string;
  sessions: number;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

export interface ToolStatsRow {
  tool: string;
  sessions: number;
  calls: number;
  errors: number;
  denials: number;
}

export interface CatalogStats {
  since: string | null;
  until: string | null;
  total: Omit<StatsRow, 'key'> & { records: number };
  by_workflow: StatsRow[];
  by_identity: StatsRow[];
  by_model: ModelStatsRow[];
  by_tool: ToolStatsRow[];
}

/** A `<session>` argument that matched several sessions. */
export class AmbiguousSessionError extends Error {
  constructor(
    readonly ref: string,
    /** The most recent of them (at most 10). */
    readonly candidates: SessionSummary[],
    readonly total: number = candidates.length,
  ) {
    super(`"${ref}" matches ${total} sessions`);
    this.name = 'AmbiguousSessionError';
  }
}

/** Records per transaction: big enough to amortize commits, small enough that other processes get their turn. */
const BATCH_RECORDS = 4000;

const SQLITE_DAMAGE = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_VTAB']);

function isDamage(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && SQLITE_DAMAGE.has(code);
}

/** Plain words as FTS5 phrases (each must occur; `word*` is a prefix); punctuation cannot be a syntax error. */
export function ftsQuery(input: string): string {
  // A double quote separates words like a space: it would end an FTS5 phrase early.
  const terms = input.split(/[\s"]+/).filter(Boolean);
  return terms
    .map((term) => (term.length > 1 && term.endsWith('*') ? `"${term.slice(0, -1)}"*` : `"${term}"`))
    .join(' ');
}

function timeBound(value: string | Date | number | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  const ts = toTimestamp(value);
  if (!ts) throw new RangeError(`${what}: not a time: ${String(value)}`);
  return ts;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** `*` is the only wildcard users type; SQL's own are taken literally. */
function globToLike(pattern: string): string {
  return escapeLike(pattern).replaceAll('*', '%');
}

/** What changes whenever a file's content may have: ctime cannot be set back by `touch`, inode changes on replace. */
function fileStamp(stat: Stats): string {
  return `${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}:${stat.ino}:${stat.dev}`;
}

function textHash(text: string): bigint {
  return hash('sha256', text, 'buffer').readBigInt64BE(0);
}

/** The clauses of a WHERE and their parameters, built up in step so they cannot drift apart. */
class Where {
  readonly clauses: string[] = [];
  readonly params: (string | number)[] = [];

  constructor(clause?: string, ...params: (string | number)[]) {
    if (clause) this.add(clause, ...params);
  }

  add(clause: string, ...params: (string | number)[]): this {
    this.clauses.push(clause);
    this.params.push(...params);
    return this;
  }

  /** `column IN (…)`, when there are values. */
  oneOf(column: string, values: readonly string[] | undefined): this {
    return values?.length ? this.add(`${column} IN (${values.map(() => '?').join(', ')})`, ...values) : this;
  }

  /** `column LIKE pattern` with `*` wildcards, when there is a pattern. */
  like(column: string, pattern: string | undefined): this {
    return pattern ? this.add(`${column} LIKE ? ESCAPE '\\'`, globToLike(pattern)) : this;
  }

  /** Sessions with a row in `table` whose `column` is LIKE the pattern, when there is a pattern. */
  withRowLike(table: string, column: string, pattern: string | undefined): this {
    return pattern
      ? this.add(
          `id IN (SELECT session FROM ${table} WHERE ${column} LIKE ? ESCAPE '\\')`,
          globToLike(pattern),
        )
      : this;
  }

  /** Sessions that overlap a time range: ended at or after its start, started at or before its end. */
  overlapping(since: string | undefined, until: string | undefined): this {
    if (since) this.add('ended_at >= ?', since);
    if (until) this.add('started_at <= ?', until);
    return this;
  }

  toString(): string {
    return this.clauses.join(' AND ');
  }
}

/** What tells whether a file changed since it was indexed. */
interface FileState {
  id: number;
  path: string;
  status: string;
  file_stamp: string;
}

interface SessionRow {
  id: number;
  path: string;
  session_id: string | null;
  status: string;
  file_size: number;
  file_stamp: string;
  indexed_seq: number;
  fold_json: string | null;
  summary_json: string | null;
}

/**
 * The session catalog: a SQLite database beside the sessions (`<dir>/catalog.sqlite`) that indexes every session file
 * under `<dir>/sessions`. The files stay the source of truth: the catalog is brought up to date from them on every
 * `sync()` (cheap when nothing changed: one stat per file), and rebuilt when it is missing, outdated or damaged.
 */
export class Catalog {
  readonly dir: string;
  readonly sessionsDir: string;
  readonly path: string;
  private db: Db;
  private readonly options: CatalogOptions;
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(dir: string, db: Db, options: CatalogOptions) {
    this.dir = dir;
    this.sessionsDir = join(dir, 'sessions');
    this.path = join(dir, 'catalog.sqlite');
    this.db = db;
    this.options = options;
  }

  /** Opens (creating when needed) the catalog of an agent-replay directory. */
  static open(dir: string, options: CatalogOptions = {}): Catalog {
    mkdirSync(resolve(dir), { recursive: true, mode: 0o700 });
    // One spelling of the directory, so a symlinked path does not index the same files again under other names.
    const root = realpathSync(resolve(dir));
    const db = Catalog.openDatabase(join(root, 'catalog.sqlite'), options);
    return new Catalog(root, db, options);
  }

  private static openDatabase(path: string, options: CatalogOptions): Db {
    try {
      return Catalog.connect(path, options);
    } catch (error) {
      if (!isDamage(error) && !(error instanceof OutdatedCatalog)) throw error;
      Catalog.setAside(path, error, options);
      return Catalog.connect(path, options);
    }
  }

  private static connect(path: string, options: CatalogOptions): Db {
    // The catalog holds tool arguments and outputs: as private as the sessions. SQLite gives its -wal and -shm files
    // the database file's mode, so creating that 0600 first covers all three.
    closeSync(openSync(path, 'a', 0o600));
    try {
      chmodSync(path, 0o600); // an older catalog created with the umask's mode
    } catch {
      // someone else's catalog in a shared directory: theirs to keep private
    }
    const db = new Database(path, { timeout: options.busyTimeoutMs ?? 30_000 });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      const version = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema'").get();
      if (version === undefined) {
        db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)").run(
          String(SCHEMA_VERSION),
        );
      } else if (version.value !== String(SCHEMA_VERSION)) {
        throw new OutdatedCatalog(version.value);
      }
      return db;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Moves a damaged or outdated catalog (and its WAL) aside, so a new one is built from the files. */
  private static setAside(path: string, why: unknown, options: CatalogOptions): void {
    const aside = `${path}.broken-${Date.now()}-${process.pid}`;
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        renameSync(`${path}${suffix}`, `${aside}${suffix}`);
      } catch {
        // absent, or another process already moved it
      }
    }
    options.onWarning?.(
      `${path}: ${why instanceof OutdatedCatalog ? why.message : `damaged (${(why as Error).message})`}; ` +
        `rebuilding it from the session files (the old one is kept as ${aside})`,
    );
  }

  /** Runs an indexing operation; a catalog found damaged midway is rebuilt once and the operation retried. */
  private async withRecovery<T>(operation: () => Promise<T> | T): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (!isDamage(error)) throw error;
      this.replaceDatabase(error);
      await this.indexAll({});
      return operation();
    }
  }

  /**
   * Runs a query. Damage found by a query (say in the full-text index, which a listing never touches) sets the
   * catalog aside and throws CatalogDamagedError: the next `sync()` builds a new one from the files.
   */
  private read<T>(query: () => T): T {
    try {
      return query();
    } catch (error) {
      if (!isDamage(error)) throw error;
      this.replaceDatabase(error);
      throw new CatalogDamagedError(this.path, error as Error);
    }
  }

  /** A new, empty database: the damaged one kept aside (with a warning), or on request simply deleted. */
  private replaceDatabase(damage: unknown): void {
    this.db.close();
    this.statements.clear();
    if (damage) Catalog.setAside(this.path, damage, this.options);
    else for (const suffix of ['', '-wal', '-shm']) rmSync(`${this.path}${suffix}`, { force: true });
    this.db = Catalog.connect(this.path, this.options);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Session files under the sessions dir, relative paths, sorted. */
  sessionFiles(): string[] {
    return sessionFilesUnder(this.sessionsDir);
  }

  /** Brings the catalog up to date with the files: new and grown files are indexed, vanished ones forgotten. */
  sync(options: SyncOptions = {}): Promise<SyncReport> {
    return this.withRecovery(() => this.indexAll(options));
  }

  private async indexAll(options: SyncOptions): Promise<SyncReport> {
    // Starting over means a new file: DELETEs would keep whatever damage the old one had.
    if (options.rebuild) this.replaceDatabase(undefined);
    const files = this.sessionFiles();
    const report: SyncReport = {
      files: files.length,
      indexed: 0,
      records: 0,
      documents: 0,
      unchanged: 0,
      concurrent: 0,
      removed: 0,
      failures: [],
    };
    // Only what tells an unchanged file from a changed one: the wide columns are read for changed files only.
    const rows = new Map(
      this.sql<[], FileState>('SELECT id, path, status, file_stamp FROM sessions')
        .all()
        .map((row) => [row.path, row]),
    );
    for (const [i, name] of files.entries()) {
      options.onProgress?.({ done: i, total: files.length, file: name });
      const path = join(this.sessionsDir, name);
      const known = rows.get(path);
      rows.delete(path);
      let stat: Stats;
      try {
        stat = statSync(path);
      } catch {
        continue; // vanished between readdir and stat
      }
      if (known && known.file_stamp === fileStamp(stat)) {
        if (known.status === 'recording') this.refreshLiveness(known);
        report.unchanged++;
      } else {
        const onRecords = (records: number) =>
          options.onProgress?.({ done: i, total: files.length, file: name, records });
        await this.indexFileInto(path, stat, report, onRecords);
      }
    }
    options.onProgress?.({ done: files.length, total: files.length, file: '' });
    // Rows of files that are no longer under this sessions dir leave the catalog: deleted or moved files, and the
    // old absolute paths of a catalog whose directory was copied or moved (evidence gets copied).
    for (const row of rows.values()) {
      this.forget(row.id);
      report.removed++;
    }
    return report;
  }

  private async indexFileInto(
    path: string,
    stat: Stats,
    report: SyncReport,
    onRecords: (records: number) => void,
  ): Promise<void> {
    try {
      const outcome = await this.indexFile(path, stat, onRecords);
      if (outcome === 'unchanged') report.unchanged++;
      else if (outcome === 'concurrent') report.concurrent++;
      else {
        report.indexed++;
        report.records += outcome.records;
        report.documents += outcome.documents;
      }
    } catch (error) {
      if (isDamage(error)) throw error;
      report.failures.push({ path, message: (error as Error).message });
    }
  }

  private rowFor(path: string): SessionRow | undefined {
    return this.sql<[string], SessionRow>('SELECT * FROM sessions WHERE path = ?').get(path);
  }

  /** A prepared statement, prepared once per connection (preparing costs more than running most of these). */
  private sql<Params extends unknown[], Row = unknown>(text: string): Database.Statement<Params, Row> {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement as Database.Statement<Params, Row>;
  }

  /**
   * Indexes one file from where the catalog left off. Each batch commits only if the session's indexed seq is still
   * what this process started from: when two processes index the same file, one wins and the other stops.
   */
  private async indexFile(
    path: string,
    stat: Stats,
    onRecords: (records: number) => void,
  ): Promise<'unchanged' | 'concurrent' | { records: number; documents: number }> {
    let row = this.rowFor(path);
    if (row && row.file_stamp === fileStamp(stat)) return 'unchanged';
    if (!row) {
      this.sql('INSERT OR IGNORE INTO sessions (path) VALUES (?)').run(path);
      row = this.rowFor(path);
      if (!row) return 'concurrent';
      // Another process inserted and finished this file between our lookup and our insert: it is theirs. Going on
      // would re-commit the same summary and report the file as indexed by both processes.
      if (row.fold_json !== null && row.file_stamp === fileStamp(stat)) return 'concurrent';
    }
    const id = row.id;
    let reader: SessionReader;
    try {
      reader = await SessionReader.open(path);
    } catch (error) {
      if (!(error instanceof SessionFileError)) throw error;
      // Not a session (or its header is gone): listed as unreadable, with the reason.
      const verdict = await verdictOf(path);
      return this.commit(id, row.indexed_seq, () => {
        this.clearDocs(id);
        this.writeSummary(id, path, emptyFoldState(), verdict, stat, 0);
      })
        ? { records: 0, documents: 0 }
        : 'concurrent';
    }
    try {
      const previous = row.fold_json ? (JSON.parse(row.fold_json) as FoldState) : undefined;
      // A file that shrank or now belongs to another session was replaced: index it from the start.
      const restart =
        !previous ||
        stat.size < row.file_size ||
        (previous.session_id !== null && previous.session_id !== reader.header.session_id) ||
        reader.recordCount < row.indexed_seq;
      return await this.indexRecords(
        id,
        path,
        reader,
        stat,
        restart ? undefined : previous,
        row.indexed_seq,
        onRecords,
      );
    } finally {
      reader.close();
    }
  }

  private async indexRecords(
    id: number,
    path: string,
    reader: SessionReader,
    stat: Stats,
    previous: FoldState | undefined,
    expectedSeq: number,
    onRecords: (records: number) => void,
  ): Promise<'concurrent' | { records: number; documents: number }> {
    const fold = new SessionFold(previous ?? emptyFoldState());
    const seen = previous ? this.seenTexts(id) : new Set<bigint>();
    const fromSeq = previous ? expectedSeq + 1 : 1;
    // committedSeq is what the catalog holds (the concurrency check); readSeq is how far this pass has read, which
    // starts from 0 when the file is indexed from scratch.
    let committedSeq = expectedSeq;
    let readSeq = previous ? expectedSeq : 0;
    let first = !previous;
    let docs: SearchDoc[] = [];
    let newTexts: bigint[] = [];
    let records = 0;
    let documents = 0;
    const isNewText = (text: string): boolean => {
      const hash = textHash(text);
      if (seen.has(hash)) return false;
      seen.add(hash);
      newTexts.push(hash);
      return true;
    };
    const flush = (lastSeq: number): boolean => {
      const reset = first;
      const ok = this.commit(id, committedSeq, () => {
        if (reset) this.clearDocs(id);
        this.insertDocs(id, docs, newTexts);
        this.sql('UPDATE sessions SET indexed_seq = ?, fold_json = ? WHERE id = ?').run(
          lastSeq,
          JSON.stringify(fold.state),
          id,
        );
      });
      if (!ok) return false;
      documents += docs.length;
      committedSeq = lastSeq;
      first = false;
      docs = [];
      newTexts = [];
      return true;
    };
    for await (const { record, raw } of resolvedRecords(reader, fromSeq)) {
      const doc = fold.add(record, raw.line, isNewText);
      if (doc) docs.push(doc);
      readSeq = raw.seq;
      records++;
      if (records % BATCH_RECORDS === 0) {
        if (!flush(raw.seq)) return 'concurrent';
        onRecords(records);
      }
    }
    const state = fold.finish();
    const verdict = await verdictOf(path);
    const ok = this.commit(id, committedSeq, () => {
      if (first) this.clearDocs(id);
      this.insertDocs(id, docs, newTexts);
      this.writeSummary(id, path, state, verdict, stat, readSeq, reader.header.session_id);
    });
    if (!ok) return 'concurrent';
    return { records, documents: documents + docs.length };
  }

  /** Runs `write` in an immediate transaction if the session is still indexed up to `expectedSeq`. */
  private commit(id: number, expectedSeq: number, write: () => void): boolean {
    return this.db
      .transaction(() => {
        const current = this.sql<[number], { indexed_seq: number }>(
          'SELECT indexed_seq FROM sessions WHERE id = ?',
        ).get(id);
        if (current?.indexed_seq !== expectedSeq) return false;
        write();
        return true;
      })
      .immediate();
  }

  private seenTexts(id: number): Set<bigint> {
    const statement = this.sql<[number], { hash: bigint }>(
      'SELECT hash FROM seen_texts WHERE session = ?',
    ).safeIntegers(true);
    return new Set(statement.all(id).map((row) => row.hash));
  }

  private insertDocs(id: number, docs: readonly SearchDoc[], texts: readonly bigint[]): void {
    const insertDoc = this.sql('INSERT INTO docs (rowid, name, text, kind, ts) VALUES (?, ?, ?, ?, ?)');
    // U+0001/U+0002 mark highlights in snippets; they mean nothing in a record, so they never reach the index.
    for (const doc of docs) {
      insertDoc.run(
        id * SEQ_BITS + doc.seq,
        doc.name.replace(/[\u0001\u0002]/g, ''),
        doc.text.replace(/[\u0001\u0002]/g, ''),
        doc.kind,
        doc.ts,
      );
    }
    const insertText = this.sql('INSERT OR IGNORE INTO seen_texts (session, hash) VALUES (?, ?)');
    for (const hash of texts) insertText.run(id, hash);
  }

  private clearDocs(id: number): void {
    // better-sqlite3 binds JS numbers as REAL, and FTS5 uses a rowid range only when its bounds are INTEGER:
    // without the casts this delete scans every document of every session.
    this.sql('DELETE FROM docs WHERE rowid BETWEEN CAST(? AS INTEGER) AND CAST(? AS INTEGER)').run(
      id * SEQ_BITS,
      (id + 1) * SEQ_BITS - 1,
    );
    this.sql('DELETE FROM seen_texts WHERE session = ?').run(id);
  }

  private writeSummary(
    id: number,
    path: string,
    fold: FoldState,
    verdict: VerdictInfo,
    stat: Stats,
    indexedSeq: number,
    headerSessionId?: string,
  ): void {
    const writerAlive = lockHolder(path)?.alive === true;
    const summary = summarize(path, fold, verdict, stat.size, writerAlive, headerSessionId);
    const { counts, usage } = summary;
    this.sql(
      `UPDATE sessions SET session_id = ?, trace_id = ?, group_id = ?, workflow = ?, identity_subject = ?,
          identity_json = ?, started_at = ?, ended_at = ?, status = ?, verdict = ?, verdict_summary = ?, signed = ?,
          records = ?, spans = ?, model_calls = ?, tool_calls = ?, handoffs = ?, policy_decisions = ?,
          approvals_requested = ?, errors = ?, denials = ?, traces = ?, input_tokens = ?, output_tokens = ?,
          total_tokens = ?, cached_input_tokens = ?, summary_json = ?, file_size = ?, file_mtime_ms = ?, file_stamp = ?,
          indexed_seq = ?, fold_json = ?, indexed_at = ? WHERE id = ?`,
    ).run(
      summary.session_id,
      summary.trace_id,
      summary.group_id,
      summary.workflow,
      summary.identity?.subject ?? null,
      summary.identity ? JSON.stringify(summary.identity) : null,
      summary.started_at,
      summary.ended_at,
      summary.status,
      summary.verdict,
      summary.verdict_summary,
      summary.signed ? 1 : 0,
      summary.records,
      counts.spans,
      counts.model_calls,
      counts.tool_calls,
      counts.handoffs,
      counts.policy_decisions,
      counts.approvals_requested,
      counts.errors,
      counts.denials,
      counts.traces,
      usage.input_tokens,
      usage.output_tokens,
      usage.total_tokens,
      usage.cached_input_tokens,
      JSON.stringify(summary),
      stat.size,
      stat.mtimeMs,
      fileStamp(stat),
      indexedSeq,
      JSON.stringify(fold),
      new Date().toISOString(),
      id,
    );
    for (const table of ['session_tools', 'session_models', 'session_identities'])
      this.sql(`DELETE FROM ${table} WHERE session = ?`).run(id);
    const tool = this.sql(
      'INSERT INTO session_tools (tool, session, calls, errors, denials) VALUES (?, ?, ?, ?, ?)',
    );
    for (const [name, t] of Object.entries(fold.tools)) tool.run(name, id, t.calls, t.errors, t.denials);
    const model = this.sql(
      `INSERT INTO session_models (model, session, calls, input_tokens, output_tokens, total_tokens)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    for (const [name, m] of Object.entries(fold.models))
      model.run(name, id, m.calls, m.input_tokens, m.output_tokens, m.total_tokens);
    const who = this.sql(
      'INSERT OR IGNORE INTO session_identities (subject, session, role) VALUES (?, ?, ?)',
    );
    const principal = fold.identity;
    for (const name of [principal?.subject, principal?.email, principal?.name])
      if (name) who.run(name, id, 'principal');
    for (const name of [...fold.approvers, ...fold.approver_aliases]) who.run(name, id, 'approver');
  }

  /** A session listed as recording whose writer died since is, in truth, incomplete. */
  private refreshLiveness(row: FileState): void {
    if (row.status !== 'recording' || lockHolder(row.path)?.alive === true) return;
    this.sql(
      `UPDATE sessions SET status = 'incomplete', summary_json = json_set(summary_json, '$.status', 'incomplete')
       WHERE id = ? AND status = 'recording'`,
    ).run(row.id);
  }

  private forget(id: number): void {
    this.db
      .transaction(() => {
        this.clearDocs(id);
        for (const table of ['session_tools', 'session_models', 'session_identities'])
          this.sql(`DELETE FROM ${table} WHERE session = ?`).run(id);
        this.sql('DELETE FROM sessions WHERE id = ?').run(id);
      })
      .immediate();
  }

  /** Sessions matching the filter, most recent first. */
  list(filter: ListFilter = {}): SessionSummary[] {
    return this.read(() => this.listRows(filter));
  }

  private listRows(filter: ListFilter): SessionSummary[] {
    const where = new Where('summary_json IS NOT NULL')
      .overlapping(timeBound(filter.since, '--since'), timeBound(filter.until, '--until'))
      .like('workflow', filter.workflow)
      .withRowLike('session_identities', 'subject', filter.identity)
      .withRowLike('session_tools', 'tool', filter.tool)
      .withRowLike('session_models', 'model', filter.model)
      .oneOf('status', filter.status)
      .oneOf(
        'verdict',
        filter.verdict?.map((v) => v.toUpperCase()),
      );
    if (filter.denied) where.add('denials > 0');
    const limit = filter.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(filter.limit))}` : '';
    return this.sql<(string | number)[], { summary_json: string }>(
      `SELECT summary_json FROM sessions WHERE ${where}
         ORDER BY started_at DESC NULLS LAST, path${limit}`,
    )
      .all(...where.params)
      .map((row) => JSON.parse(row.summary_json) as SessionSummary);
  }

  /** The catalog's summary of one session file (after `sync`). */
  get(path: string): SessionSummary | undefined {
    return this.read(() => this.getRow(path));
  }

  private getRow(path: string): SessionSummary | undefined {
    const row = this.sql<[string], { summary_json: string | null }>(
      'SELECT summary_json FROM sessions WHERE path = ?',
    ).get(canonicalPath(path));
    return row?.summary_json ? (JSON.parse(row.summary_json) as SessionSummary) : undefined;
  }

  /**
   * Finds a session by id, unique id prefix or `latest` (most recently started). Undefined when nothing matches;
   * throws AmbiguousSessionError listing the candidates when several do.
   */
  find(ref: string): SessionSummary | undefined {
    return this.read(() => this.findRow(ref));
  }

  private findRow(ref: string): SessionSummary | undefined {
    if (ref === 'latest') return this.list({ limit: 1 })[0];
    if (ref === '') return undefined;
    for (const [where, param] of [
      ['session_id = ?', ref],
      ["session_id LIKE ? ESCAPE '\\'", `${escapeLike(ref)}%`],
    ] as const) {
      const matches = this.summaries(where, param);
      if (matches.total > 1) throw new AmbiguousSessionError(ref, matches.first, matches.total);
      if (matches.total === 1) return matches.first[0];
    }
    return undefined;
  }

  /** How many sessions match, and the most recent few of them (enough to tell a person what to type). */
  private summaries(where: string, param: string): { total: number; first: SessionSummary[] } {
    const condition = `summary_json IS NOT NULL AND ${where}`;
    const total =
      this.sql<[string], { n: number }>(`SELECT COUNT(*) AS n FROM sessions WHERE ${condition}`).get(param)
        ?.n ?? 0;
    const first = this.sql<[string], { summary_json: string }>(
      `SELECT summary_json FROM sessions WHERE ${condition} ORDER BY started_at DESC NULLS LAST LIMIT 10`,
    )
      .all(param)
      .map((row) => JSON.parse(row.summary_json) as SessionSummary);
    return { total, first };
  }

  /** Full-text search over tool names, arguments and outputs, messages, policy reasons and identities. */
  search(query: string, options: SearchOptions = {}): SearchHit[] {
    return this.read(() => this.searchRows(query, options));
  }

  private searchRows(query: string, options: SearchOptions): SearchHit[] {
    const match = options.raw ? query : ftsQuery(query);
    if (!match.trim()) throw new RangeError('empty search query');
    const where = new Where('docs MATCH ?', match);
    if (options.sessionPath) {
      const id = this.rowFor(canonicalPath(options.sessionPath))?.id;
      if (id === undefined)
        throw new RangeError(`${options.sessionPath} is not a session under ${this.sessionsDir}`);
      // see clearDocs for the casts
      where.add(
        'docs.rowid BETWEEN CAST(? AS INTEGER) AND CAST(? AS INTEGER)',
        id * SEQ_BITS,
        (id + 1) * SEQ_BITS - 1,
      );
    }
    where.oneOf('docs.kind', options.kind);
    const since = timeBound(options.since, '--since');
    const until = timeBound(options.until, '--until');
    if (since) where.add('docs.ts >= ?', since);
    if (until) where.add('docs.ts <= ?', until);
    const order = options.order === 'time' ? 'docs.ts DESC' : 'rank';
    const limit = Math.max(1, Math.floor(options.limit ?? 20));
    const rows = this.sql<
      (string | number)[],
      { rowid: number; kind: string; name: string; ts: string; snippet: string }
    >(
      `SELECT docs.rowid AS rowid, docs.kind AS kind, docs.name AS name, docs.ts AS ts,
           snippet(docs, -1, char(1), char(2), '…', 24) AS snippet
         FROM docs WHERE ${where} ORDER BY ${order} LIMIT ?`,
    ).all(...where.params, limit);
    const session = this.sql<[number], { path: string; session_id: string | null; workflow: string | null }>(
      'SELECT path, session_id, workflow FROM sessions WHERE id = ?',
    );
    return rows.flatMap((row) => {
      const id = Math.floor(row.rowid / SEQ_BITS);
      const owner = session.get(id);
      if (!owner) return [];
      return [
        {
          ...owner,
          seq: row.rowid - id * SEQ_BITS,
          ts: row.ts,
          kind: row.kind,
          name: row.name,
          ...highlights(row.snippet),
        },
      ];
    });
  }

  /** Aggregate figures over the sessions that overlap a time range. */
  stats(options: StatsOptions = {}): CatalogStats {
    return this.read(() => this.statsRows(options));
  }

  private statsRows(options: StatsOptions): CatalogStats {
    const since = timeBound(options.since, '--since');
    const until = timeBound(options.until, '--until');
    const where = new Where('summary_json IS NOT NULL').overlapping(since, until);
    const params = where.params;
    const inRange = `SELECT id FROM sessions WHERE ${where}`;
    const measures = `COUNT(*) AS sessions, SUM(model_calls) AS model_calls, SUM(tool_calls) AS tool_calls,
      SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, SUM(total_tokens) AS total_tokens,
      SUM(denials) AS denials, SUM(errors) AS errors`;
    const grouped = (key: string): StatsRow[] =>
      this.sql<(string | number)[], StatsRow>(
        `SELECT ${key} AS key, ${measures} FROM sessions WHERE id IN (${inRange})
           GROUP BY 1 ORDER BY total_tokens DESC, sessions DESC, key`,
      ).all(...params);
    const total = this.sql<(string | number)[], Omit<StatsRow, 'key'> & { records: number }>(
      `SELECT ${measures}, SUM(records) AS records FROM sessions WHERE id IN (${inRange})`,
    ).get(...params);
    const zero = {
      sessions: 0,
      model_calls: 0,
      tool_calls: 0,
      input_tokens: 0,
      output_tokens: 0,
      total_tokens: 0,
    };
    return {
      since: since ?? null,
      until: until ?? null,
      total: Object.fromEntries(
        Object.entries({ ...zero, denials: 0, errors: 0, records: 0, ...total }).map(([k, v]) => [k, v ?? 0]),
      ) as CatalogStats['total'],
      by_workflow: grouped('workflow'),
      by_identity: grouped('identity_subject'),
      by_model: this.sql<(string | number)[], ModelStatsRow>(
        `SELECT model, COUNT(*) AS sessions, SUM(calls) AS calls, SUM(input_tokens) AS input_tokens,
             SUM(output_tokens) AS output_tokens, SUM(total_tokens) AS total_tokens
           FROM session_models WHERE session IN (${inRange}) GROUP BY model ORDER BY total_tokens DESC, calls DESC, model`,
      ).all(...params),
      by_tool: this.sql<(string | number)[], ToolStatsRow>(
        `SELECT tool, COUNT(*) AS sessions, SUM(calls) AS calls, SUM(errors) AS errors, SUM(denials) AS denials
           FROM session_tools WHERE session IN (${inRange}) GROUP BY tool ORDER BY calls DESC, tool`,
      ).all(...params),
    };
  }

  /** Whether a path lies inside this catalog's sessions dir. */
  contains(path: string): boolean {
    const rel = relative(this.sessionsDir, canonicalPath(path));
    return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep);
  }
}

/** The path with symlinks resolved (as the catalog stores it), or just absolute when it does not exist. */
function canonicalPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** `.arec` files anywhere under a folder, as paths relative to it, sorted; none when it does not exist. */
export function sessionFilesUnder(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return (readdirSync(folder, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((name) => name.endsWith('.arec'))
    .sort();
}

/** A query found the catalog damaged; it was set aside, and the next `sync()` rebuilds it from the files. */
export class CatalogDamagedError extends Error {
  constructor(
    readonly catalogPath: string,
    override readonly cause: Error,
  ) {
    super(`${catalogPath}: damaged (${cause.message}); it was set aside and is rebuilt on the next sync`);
    this.name = 'CatalogDamagedError';
  }
}

class OutdatedCatalog extends Error {
  constructor(version: string) {
    super(`catalog schema ${version} is not ${SCHEMA_VERSION}`);
  }
}

/** Splits FTS5 snippet markers out of the text into ranges. */
function highlights(marked: string): { snippet: string; highlights: [number, number][] } {
  let snippet = '';
  const ranges: [number, number][] = [];
  let start = -1;
  for (const char of marked) {
    if (char === '\u0001') start = snippet.length;
    else if (char === '\u0002') {
      if (start >= 0) ranges.push([start, snippet.length]);
      start = -1;
    } else snippet += char;
  }
  return { snippet, highlights: ranges };
}

async function verdictOf(path: string): Promise<VerdictInfo> {
  const report = await verifySession(path);
  return {
    verdict: report.verdict,
    summary: report.summary,
    signed: report.signatures.signedCheckpoints > 0,
  };
}

/** Summary of a session file outside any catalog (same fold, no database). */
export async function summarizeFile(path: string): Promise<SessionSummary> {
  const absolute = resolve(path);
  const reader = await SessionReader.open(absolute);
  try {
    const fold = new SessionFold();
    for await (const { record, raw } of resolvedRecords(reader)) fold.add(record, raw.line, () => false);
    return summarize(
      absolute,
      fold.finish(),
      await verdictOf(absolute),
      reader.fileSize,
      lockHolder(absolute)?.alive === true,
      reader.header.session_id,
    );
  } finally {
    reader.close();
  }
}
