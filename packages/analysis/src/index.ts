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
  Flag,
  KIND_CODE,
  kindBit,
  POLICY_DECISION_SPAN,
  ROW_KINDS,
  type RowKind,
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
