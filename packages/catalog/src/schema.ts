/**
 * The catalog's tables. The catalog is a cache of the session files: when this version changes, an old catalog is
 * simply rebuilt from the files, so there are no migrations.
 */
export const SCHEMA_VERSION = 2;

/**
 * A search document's rowid packs the session's row id and the record's seq, so the documents of one session are a
 * contiguous rowid range (cheap to delete, cheap to filter by session) and no extra column maps hits to records.
 */
export const SEQ_BITS = 2 ** 32;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS sessions (
  -- AUTOINCREMENT: an id is never reused, so an indexer still holding the id of a forgotten file cannot write into
  -- another file's row.
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  path TEXT NOT NULL UNIQUE,
  session_id TEXT,
  trace_id TEXT,
  group_id TEXT,
  workflow TEXT,
  identity_subject TEXT,
  identity_json TEXT,
  started_at TEXT,
  ended_at TEXT,
  status TEXT NOT NULL DEFAULT 'incomplete',
  verdict TEXT,
  verdict_summary TEXT,
  signed INTEGER NOT NULL DEFAULT 0,
  records INTEGER NOT NULL DEFAULT 0,
  spans INTEGER NOT NULL DEFAULT 0,
  model_calls INTEGER NOT NULL DEFAULT 0,
  tool_calls INTEGER NOT NULL DEFAULT 0,
  handoffs INTEGER NOT NULL DEFAULT 0,
  policy_decisions INTEGER NOT NULL DEFAULT 0,
  approvals_requested INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  denials INTEGER NOT NULL DEFAULT 0,
  traces INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  total_tokens INTEGER NOT NULL DEFAULT 0,
  cached_input_tokens INTEGER NOT NULL DEFAULT 0,
  summary_json TEXT,
  file_size INTEGER NOT NULL DEFAULT 0,
  file_mtime_ms REAL NOT NULL DEFAULT 0,
  -- size, mtime, ctime and inode: an edit that restores size and mtime (touch -r) still changes ctime.
  file_stamp TEXT NOT NULL DEFAULT '',
  indexed_seq INTEGER NOT NULL DEFAULT 0,
  fold_json TEXT,
  indexed_at TEXT
);
CREATE INDEX IF NOT EXISTS sessions_started ON sessions (started_at);
CREATE INDEX IF NOT EXISTS sessions_session_id ON sessions (session_id);

CREATE TABLE IF NOT EXISTS session_tools (
  tool TEXT NOT NULL, session INTEGER NOT NULL, calls INTEGER NOT NULL, errors INTEGER NOT NULL, denials INTEGER NOT NULL,
  PRIMARY KEY (tool, session)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS session_tools_session ON session_tools (session);

CREATE TABLE IF NOT EXISTS session_models (
  model TEXT NOT NULL, session INTEGER NOT NULL, calls INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL,
  PRIMARY KEY (model, session)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS session_models_session ON session_models (session);

CREATE TABLE IF NOT EXISTS session_identities (
  subject TEXT NOT NULL, session INTEGER NOT NULL, role TEXT NOT NULL,
  PRIMARY KEY (subject, session, role)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS session_identities_session ON session_identities (session);

-- Message texts already indexed for a session (first 8 bytes of their SHA-256), so a conversation repeated in every
-- model call's input is indexed once.
CREATE TABLE IF NOT EXISTS seen_texts (session INTEGER NOT NULL, hash INTEGER NOT NULL, PRIMARY KEY (session, hash))
  WITHOUT ROWID;

CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(
  name, text, kind UNINDEXED, ts UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
`;
