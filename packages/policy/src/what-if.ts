/**
 * What-if: every tool call, model call and handoff a session recorded (and every call a decision stopped before it
 * ran) decided again under another policy, without running anything. The report lists the calls whose decision
 * would change — what the new policy would have blocked, allowed or sent for approval, and at which seq.
 */
import { asObj, POLICY_DECISION_SPAN, parseIfJson, str } from '@agent-replay/analysis';
import { canonicalize, peekSpanRecord, SessionReader } from '@agent-replay/format';
import { CALL_SPAN_KINDS, type PolicyCall, type PolicyDecision, type PolicyEngine } from './evaluate.js';
import type { Decision } from './schema.js';

type Obj = Record<string, unknown>;

export interface WhatIfChange {
  /** The record of the call (its span.end, or the decision record of a call that never ran). */
  seq: number;
  call: PolicyCall;
  before: { decision: Decision; rule: string | null; recorded: boolean };
  after: PolicyDecision;
}

export interface WhatIfSession {
  path: string;
  session_id: string | null;
  calls: number;
  /** Calls a rate limit denied: counted in `calls`, kept as recorded (rate limits are not re-simulated). */
  rate_limited: number;
  changes: WhatIfChange[];
}

/** A recorded decision as the policy-level decision it stands for (a human's answer was to an approval rule). */
function policyLevel(decision: unknown): Decision | undefined {
  if (decision === 'allow' || decision === 'deny' || decision === 'require_approval') return decision;
  if (decision === 'approved' || decision === 'rejected') return 'require_approval';
  return undefined;
}

function callOf(kind: string, data: Obj): PolicyCall | undefined {
  switch (kind) {
    case 'function':
      return { kind: 'tool', name: str(data.name) ?? '', args: data.input };
    case 'generation':
    case 'response': {
      const model = str(data.model) ?? str(asObj(data._response)?.model);
      return model ? { kind: 'model', name: model } : undefined;
    }
    case 'handoff':
      return { kind: 'handoff', from: str(data.from_agent) ?? '', to: str(data.to_agent) ?? '' };
    default:
      return undefined;
  }
}

function callOfDecision(record: Obj): PolicyCall | undefined {
  const subject = asObj(record.subject);
  const name = str(subject?.name) ?? '';
  switch (subject?.kind) {
    case 'tool':
      return { kind: 'tool', name, args: subject.args };
    case 'model':
      return { kind: 'model', name };
    case 'handoff': {
      const [from = '', to = ''] = name.split(' → ');
      return { kind: 'handoff', from, to };
    }
    default:
      return undefined;
  }
}

/** Tool arguments in one comparable form. */
const argsKey = (args: unknown): string => canonicalize(parseIfJson(args) ?? null);

/**
 * Approved or rejected tool calls whose span has not come yet (after the human's answer the SDK runs the call, or
 * records it failing): that span is the call already counted by its decisions.
 */
class AnsweredCalls {
  private readonly byTool = new Map<string, Array<{ args: string; rejected: boolean }>>();

  add(call: PolicyCall, rejected: boolean): void {
    if (call.kind !== 'tool') return;
    const list = this.byTool.get(call.name) ?? [];
    list.push({ args: argsKey(call.args), rejected });
    this.byTool.set(call.name, list);
  }

  /** Whether this span is one of them: same tool and arguments, or a rejected one (the SDK blanks its input). */
  take(call: PolicyCall): boolean {
    if (call.kind !== 'tool') return false;
    const list = this.byTool.get(call.name);
    if (!list) return false;
    const blank = call.args === '' || call.args === undefined;
    const args = argsKey(call.args);
    const at = blank
      ? list.findIndex((entry) => entry.rejected)
      : list.findIndex((entry) => entry.args === args);
    if (at < 0) return false;
    list.splice(at, 1);
    if (list.length === 0) this.byTool.delete(call.name);
    return true;
  }
}

const isComplete = (call: PolicyCall | undefined): call is PolicyCall =>
  call !== undefined && (call.kind === 'handoff' ? call.to !== '' : call.name !== '');

export async function whatIf(engine: PolicyEngine, path: string): Promise<WhatIfSession> {
  const reader = await SessionReader.open(path);
  const changes: WhatIfChange[] = [];
  let calls = 0;
  let sessionId: string | null = null;
  /** Call spans that have started and not ended, with the decision recorded about them so far (if any). */
  const open = new Map<string, { before: WhatIfChange['before']; call: PolicyCall } | undefined>();
  let rateLimited = 0;
  /** Calls whose approval decisions were counted (by call_id): the request and the human's answer are one call. */
  const decidedCallIds = new Set<string>();
  const answered = new AnsweredCalls();
  const consider = (seq: number, call: PolicyCall, before: WhatIfChange['before']) => {
    calls++;
    const after = engine.decide(call);
    if (after.decision !== before.decision) changes.push({ seq, call, before, after });
  };
  /** Decision spans (the guard's custom spans) opened inside a call's span: their decision is about that call. */
  const decisionSpanCall = new Map<string, string>();
  const onSpan = (seq: number, type: string, id: string, kind: string, span: () => Obj) => {
    if (kind === 'custom' && type === 'span.start') {
      const { parent_id: parent, data } = span();
      if (asObj(data)?.name === POLICY_DECISION_SPAN && typeof parent === 'string' && open.has(parent))
        decisionSpanCall.set(id, parent);
      return;
    }
    if (!CALL_SPAN_KINDS.has(kind)) return;
    if (type === 'span.start') {
      open.set(id, undefined);
      return;
    }
    const recorded = open.get(id);
    open.delete(id);
    // A call stopped by its decision may not have said what it was (a denied handoff never learns its target):
    // the decision's subject says.
    const spanCall = callOf(kind, asObj(span().data) ?? {});
    const call = recorded && !isComplete(spanCall) ? recorded.call : spanCall;
    if (!call) return;
    if (!recorded && answered.take(call)) return;
    consider(seq, call, recorded?.before ?? { decision: 'allow', rule: null, recorded: false });
  };
  const onDecision = (seq: number, record: Obj) => {
    const level = policyLevel(record.decision);
    const call = callOfDecision(record);
    if (!level || !call) return;
    const before = { decision: level, rule: str(record.rule) ?? null, recorded: true };
    const ownSpan = str(record.span_id) ?? '';
    const spanId = decisionSpanCall.get(ownSpan) ?? ownSpan;
    decisionSpanCall.delete(ownSpan);
    // About a call that is running: that call's decision. Otherwise (a policy span, an approval request) a call of
    // its own, decided before it could run.
    if (open.has(spanId)) {
      open.set(spanId, { before, call });
      return;
    }
    // A rate limit's denial depends on the traffic around it, which what-if does not replay: kept as recorded.
    if (asObj(record.rate_limit)) {
      calls++;
      rateLimited++;
      return;
    }
    const callId = str(record.call_id);
    if (callId !== undefined) {
      if (record.decision === 'approved' || record.decision === 'rejected')
        answered.add(call, record.decision === 'rejected');
      if (decidedCallIds.has(callId)) return;
      decidedCallIds.add(callId);
    }
    consider(seq, call, before);
  };
  try {
    for await (const { seq, line } of reader.lines()) {
      if (sessionId === null) {
        const first = JSON.parse(line) as Obj;
        sessionId = first.type === 'session.start' ? (str(first.session_id) ?? '') : '';
        if (first.type === 'session.start') continue;
      }
      // Span records are told apart by their tail: only the calls' ends are parsed (the rest of a session — turns,
      // agents, a model call's start — is skipped without parsing).
      const head = peekSpanRecord(line);
      if (head) {
        onSpan(seq, head.type, head.id, head.kind, () => asObj(asObj(JSON.parse(line))?.span) ?? {});
        continue;
      }
      const isSpan = line.includes('"type":"span.start"') || line.includes('"type":"span.end"');
      if (!isSpan && !line.includes('"type":"policy.decision"')) continue;
      const record = JSON.parse(line) as Obj;
      if (record.type === 'policy.decision') {
        onDecision(seq, record);
      } else if (record.type === 'span.start' || record.type === 'span.end') {
        const span = asObj(record.span) ?? {};
        onSpan(seq, record.type, str(span.id) ?? '', str(span.kind) ?? '', () => span);
      }
    }
  } finally {
    reader.close();
  }
  return { path, session_id: sessionId || null, calls, rate_limited: rateLimited, changes };
}
