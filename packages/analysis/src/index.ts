export {
  type AlignedRow,
  type Delta,
  type DiffEntry,
  type DiffOptions,
  type Divergence,
  diffSessions,
  type EntryStatus,
  type FieldChange,
  jsonChanges,
  type SessionDiff,
  type SideSummary,
  type StepRef,
} from './diff/compare.js';
export { STEP_KIND_WORDS, STEP_KINDS, type StepKind } from './diff/kinds.js';
export {
  readSteps,
  type SessionSteps,
  type Step,
  type StepOptions,
  VOLATILE_KEYS,
} from './diff/steps.js';
export {
  type DetailLine,
  type DetailSection,
  decisionSection,
  identityLines,
  MAX_VALUE_LINES,
  prettyValue,
  type RowDetail,
  rowDetail,
  rowPreview,
  type Tone,
} from './timeline/detail.js';
export { TimelineOutline } from './timeline/outline.js';
export {
  ATTENTION,
  DIVERGENCE_SPAN,
  Flag,
  KIND_CODE,
  kindBit,
  POLICY_DECISION_SPAN,
  ROW_KINDS,
  type RowKind,
  spanRowKind,
  type TimelineRow,
} from './timeline/rows.js';
export { type SearchProgress, TimelineSearch } from './timeline/search.js';
export { SessionTimeline, type TimelineOptions } from './timeline/timeline.js';
export { type PlaybackState, SPEEDS, TimelineView } from './timeline/view.js';
export {
  modelCallUsage,
  SessionTotals,
  type SessionTotalsJSON,
  type TokenUsage,
} from './totals.js';
export { asObj, compactValue, modelCallIO, type Obj, parseIfJson, str } from './values.js';
