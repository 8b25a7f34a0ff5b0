/**
 * What-if: every tool call, model call and handoff a session recorded (and every call a decision stopped before it
 * ran) decided again under another policy, without running anything. The report lists the calls whose decision
 * would change — what the new policy would have blocked, allowed or sent for approval, and at which seq.
 */
import { SessionReader } from '@agent-replay/format';
import type { PolicyCall, PolicyDecision, PolicyEngine } from './evaluate.js';
import type { Decision } from './schema.js';

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

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

export async function whatIf(engine: PolicyEngine, path: string): Promise<WhatIfSession> {
  const reader = await SessionReader.open(path);
  const changes: WhatIfChange[] = [];
  let calls = 0;
  let sessionId: string | null = null;
  /** Call spans that have started and not ended, with the decision recorded about them so far (if any). */
  const open = new Map<string, WhatIfChange['before'] | undefined>();
  const consider = (seq: number, call: PolicyCall, before: WhatIfChange['before']) => {
    calls++;
    const after = engine.decide(call);
    if (after.decision !== before.decision) changes.push({ seq, call, before, after });
  };
  try {
    for await (const { seq, line } of reader.lines()) {
      // Only span boundaries, decisions and the session's start matter: the rest is skipped without parsing.
      if (
        sessionId !== null &&
        !line.includes('"type":"span.end"') &&
        !line.includes('"type":"span.start"') &&
        !line.includes('"type":"policy.decision"')
      ) {
        continue;
      }
      const record = JSON.parse(line) as Obj;
      if (sessionId === null)
        sessionId = record.type === 'session.start' ? (str(record.session_id) ?? '') : '';
      if (record.type === 'policy.decision') {
        const level = policyLevel(record.decision);
        const call = callOfDecision(record);
        if (!level || !call) continue;
        const before = { decision: level, rule: str(record.rule) ?? null, recorded: true };
        const spanId = str(record.span_id) ?? '';
        // About a call that is running: that call's decision. Otherwise (a policy span, an approval request) a call
        // of its own, decided before it could run.
        if (open.has(spanId)) open.set(spanId, before);
        else consider(seq, call, before);
        continue;
      }
      const span = asObj(record.span) ?? {};
      const id = str(span.id) ?? '';
      const call = callOf(str(span.kind) ?? '', asObj(span.data) ?? {});
      if (record.type === 'span.start') {
        if (['function', 'generation', 'response', 'handoff'].includes(str(span.kind) ?? ''))
          open.set(id, undefined);
        continue;
      }
      if (record.type !== 'span.end' || !call) continue;
      const before = open.get(id) ?? { decision: 'allow' as const, rule: null, recorded: false };
      open.delete(id);
      consider(seq, call, before);
    }
  } finally {
    reader.close();
  }
  return { path, session_id: sessionId || null, calls, changes };
}
