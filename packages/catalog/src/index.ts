export {
  AmbiguousSessionError,
  Catalog,
  CatalogDamagedError,
  type CatalogOptions,
  type CatalogStats,
  ftsQuery,
  type ListFilter,
  type ModelStatsRow,
  type SearchHit,
  type SearchOptions,
  type StatsOptions,
  type StatsRow,
  type SyncOptions,
  type SyncProgress,
  type SyncReport,
  sessionFilesUnder,
  summarizeFile,
  type ToolStatsRow,
} from './catalog.js';
export {
  MAX_DOC_CHARS,
  type ModelTally,
  type SessionIdentity,
  type SessionStatus,
  type ToolTally,
} from './session-fold.js';
export type { SessionSummary } from './summary.js';
