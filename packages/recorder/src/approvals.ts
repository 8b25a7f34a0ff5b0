import type { Identity } from './identity.js';
import type { SessionRecorder } from './recorder.js';

/**
 * Tool approvals leave no trace in the SDK: the run just ends with `result.interruptions`, and
 * `state.approve()/reject()` emit nothing. These helpers record the request and the human decision (with the
 * approver's identity) as `policy.decision` and `identity` records in the session of the run's trace.
 */

/** The parts of the SDK's RunToolApprovalItem that are recorded. */
export interface ApprovalItem {
  readonly type: string;
  readonly name?: string | undefined;
  readonly arguments?: string | undefined;
  readonly rawItem?: unknown;
  readonly agent?: { readonly name?: string } | undefined;
}

/** The parts of the SDK's RunState used here (its trace id survives `RunState.fromString`). */
export interface ApprovableState<Item> {
  _trace?: { traceId: string } | null;
  approve(item: Item, options?: { alwaysApprove?: boolean }): void;
  reject(item: Item, options?: { alwaysReject?: boolean; message?: string }): void;
}

export interface InterruptedResult<Item> {
  readonly interruptions?: readonly Item[];
  readonly state: ApprovableState<Item>;
}

export interface ApprovalDecisionOptions {
  /** Who decided. Use identityFromOidcToken() for a verified approver. */
  approver: Identity;
  /** Why (recorded; for a rejection also sent to the model unless `message` is given). */
  reason?: string;
  /** Rejection text sent to the model (SDK `message`). */
  message?: string;
  /** Approve or reject this tool for the rest of the run (SDK `alwaysApprove` / `alwaysReject`). */
  always?: boolean;
}

function callIdOf(item: ApprovalItem): string | null {
  const raw = item.rawItem as { callId?: unknown; call_id?: unknown; id?: unknown } | undefined;
  const id = raw?.callId ?? raw?.call_id ?? raw?.id;
  return typeof id === 'string' ? id : null;
}

function subjectOf(item: ApprovalItem): Record<string, unknown> {
  let args: unknown = item.arguments ?? null;
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      // Not JSON: keep the raw text.
    }
  }
  return { kind: 'tool', name: item.name ?? null, args };
}

function traceIdOf(state: ApprovableState<unknown>): string {
  const traceId = state._trace?.traceId;
  if (!traceId) throw new TypeError('this run state has no trace (tracing disabled?): nothing to record to');
  return traceId;
}

/**
 * Records one `require_approval` decision per pending tool call of an interrupted run, and marks the session
 * as interrupted. Call it right after the run returns. Returns the number of requests recorded.
 */
export function recordInterruptions<Item extends ApprovalItem>(
  recorder: SessionRecorder,
  result: InterruptedResult<Item>,
): number {
  const pending = (result.interruptions ?? []).filter((item) => item.type === 'tool_approval_item');
  if (pending.length === 0) return 0;
  const traceId = traceIdOf(result.state);
  for (const item of pending) {
    recorder.record(traceId, 'policy.decision', {
      decision: 'require_approval',
      subject: subjectOf(item),
      rule: 'needs_approval',
      reason: `tool "${item.name ?? '?'}" requires human approval`,
      policy: null,
      decided_by: { kind: 'engine', id: 'agents-sdk' },
      span_id: null,
      call_id: callIdOf(item),
      agent: item.agent?.name ?? null,
    });
  }
  recorder.markInterrupted(traceId);
  return pending.length;
}

function recordDecision<Item extends ApprovalItem>(
  recorder: SessionRecorder,
  state: ApprovableState<Item>,
  item: Item,
  decision: 'approved' | 'rejected',
  options: ApprovalDecisionOptions,
): void {
  const traceId = traceIdOf(state);
  const callId = callIdOf(item);
  recorder.record(traceId, 'identity', { role: 'approver', call_id: callId, identity: options.approver });
  recorder.record(traceId, 'policy.decision', {
    decision,
    subject: subjectOf(item),
    rule: 'needs_approval',
    reason: options.reason ?? options.message ?? null,
    policy: null,
    decided_by: { kind: 'human', id: options.approver.subject, verified: options.approver.verified },
    span_id: null,
    call_id: callId,
    agent: item.agent?.name ?? null,
  });
}

/** `state.approve(item)`, recorded with the approver's identity. */
export function approveToolCall<Item extends ApprovalItem>(
  recorder: SessionRecorder,
  state: ApprovableState<Item>,
  item: Item,
  options: ApprovalDecisionOptions,
): void {
  state.approve(item, options.always ? { alwaysApprove: true } : {});
  recordDecision(recorder, state, item, 'approved', options);
}

/** `state.reject(item)`, recorded with the approver's identity; `message` (or `reason`) goes to the model. */
export function rejectToolCall<Item extends ApprovalItem>(
  recorder: SessionRecorder,
  state: ApprovableState<Item>,
  item: Item,
  options: ApprovalDecisionOptions,
): void {
  const message = options.message ?? options.reason;
  state.reject(item, { ...(options.always ? { alwaysReject: true } : {}), ...(message ? { message } : {}) });
  recordDecision(recorder, state, item, 'rejected', options);
}
