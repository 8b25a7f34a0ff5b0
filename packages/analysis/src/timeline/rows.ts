/**
 * What a timeline row is: the kinds of things an investigator steps through, and the flags that colour them.
 * Rows are keyed by the seq of the record that opened them (a span's `span.start`, or the record itself), so a row
 * keeps its identity whatever else is loaded, filtered or collapsed around it.
 */

export const ROW_KINDS = [
  'none',
  'session',
  'trace',
  'task',
  'agent',
  'turn',
  'model',
  'tool',
  'handoff',
  'guardrail',
  'policy',
  'approval',
  'identity',
  'custom',
  'mcp',
  'audio',
  'recovery',
  'divergence',
  'other',
] as const;
export type RowKind = (typeof ROW_KINDS)[number];

export const KIND_CODE: Readonly<Record<RowKind, number>> = Object.fromEntries(
  ROW_KINDS.map((kind, code) => [kind, code]),
) as Record<RowKind, number>;

export const kindBit = (kind: RowKind): number => 1 << KIND_CODE[kind];

/** Flags of a row (and, in `subtreeFlags`, of anything below it). */
export const Flag = {
  /** A policy or guardrail said no, or a human rejected. */
  DENIED: 1,
  ERROR: 2,
  /** Approval requested or granted. */
  APPROVAL: 4,
  /** The record holds a `[REDACTED:…]` marker. */
  REDACTED: 8,
  /** A span that has started and (as far as the file goes) not ended. */
  OPEN: 16,
  HAS_CHILDREN: 32,
  /** Placed ahead of the sequential load (a jump to the end): depth is inferred, the parent not yet known. */
  PROVISIONAL: 64,
} as const;

/** The flags that mark a row (or a collapsed subtree) as something to look at. */
export const ATTENTION = Flag.DENIED | Flag.ERROR | Flag.APPROVAL | Flag.REDACTED;

export interface TimelineRow {
  seq: number;
  kind: RowKind;
  depth: number;
  /** seq of the parent row; 0 at the top level; -1 while unknown (provisional). */
  parent: number;
  flags: number;
  /** Flags of descendants (denials, errors, approvals, redactions below a collapsed row). */
  subtreeFlags: number;
  /** The span's `span.end` seq, 0 while open or for rows that are not spans. */
  endSeq: number;
  name: string;
  /** Epoch ms when it started (span start, or the record's time). */
  startMs: number;
  /** Epoch ms when it ended (spans), else NaN. */
  endMs: number;
  /** Tokens of a model call (input + output), 0 if none. */
  tokens: number;
}

/** The row kind of a span kind (the SDK's span data `type`). */
export function spanRowKind(spanKind: string, name: string | undefined): RowKind {
  switch (spanKind) {
    case 'task':
    case 'agent':
    case 'turn':
    case 'handoff':
    case 'guardrail':
      return spanKind;
    case 'generation':
    case 'response':
      return 'model';
    case 'function':
      return 'tool';
    case 'mcp_tools':
      return 'mcp';
    case 'speech':
    case 'speech_group':
    case 'transcription':
      return 'audio';
    case 'custom':
      return name === POLICY_DECISION_SPAN ? 'policy' : 'custom';
    default:
      return 'other';
  }
}

/** The custom span name under which policy engines report decisions (the recorder stores it as `policy.decision`). */
export const POLICY_DECISION_SPAN = 'agent_replay.policy_decision';

/** The custom span a replay emits when the run departs from the recording (stored as a `divergence` record). */
export const DIVERGENCE_SPAN = 'agent_replay.divergence';

/** Flags of a policy decision value. */
export function decisionFlags(decision: unknown): number {
  switch (decision) {
    case 'deny':
    case 'rejected':
      return Flag.DENIED;
    case 'require_approval':
    case 'approved':
      return Flag.APPROVAL;
    case 'redacted':
      return Flag.REDACTED;
    default:
      return 0;
  }
}

export const isApprovalDecision = (decision: unknown): boolean =>
  decision === 'require_approval' || decision === 'approved' || decision === 'rejected';
