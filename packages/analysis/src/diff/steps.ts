/**
 * A session as the list of steps an investigator compares: agents, turns, model calls, tool calls, handoffs,
 * guardrails and policy decisions, in the order they started. Each step keeps a fingerprint of every field that
 * matters (volatile ids and times removed), not the values: two 100k-record sessions fit in a few MB, and the few
 * steps that differ are read again for a focused diff.
 */
import { hash } from 'node:crypto';
import { canonicalize, SessionReader } from '@agent-replay/format';
import { POLICY_DECISION_SPAN } from '../timeline/rows.js';
import { modelCallTokens } from '../totals.js';
import { asObj, modelCallIO, num, type Obj, parseIfJson, str } from '../values.js';

import type { StepKind } from './kinds.js';

export interface Step {
  kind: StepKind;
  /** What aligns steps of two sessions: kind, agent and name. */
  signature: string;
  name: string;
  agent: string;
  /** Ordinal of the turn it belongs to, counted over the whole session (1-based; 0 outside any turn). */
  turn: number;
  /** The record that started it and the one that ended it (same for decisions). */
  seq: number;
  endSeq: number;
  /** Fingerprint of each compared field. */
  fields: Record<string, string>;
  tokens: number;
  latencyMs: number;
  error: boolean;
  denied: boolean;
}

export interface SessionSteps {
  path: string;
  sessionId: string | undefined;
  workflow: string | undefined;
  records: number;
  steps: Step[];
  /** Why the file could not be read to its end (torn tail, damage): the steps are those of the valid prefix. */
  partial: string | undefined;
  /** True when the file ends with a signed index (sealed); false while being written or after a crash. */
  sealed: boolean;
  /** Where a replay noticed the run departing from its recording (`divergence` records). */
  divergences: { seq: number; reason: string }[];
}

/** Keys whose values change from run to run without meaning anything: ids and times. */
export const VOLATILE_KEYS: ReadonlySet<string> = new Set([
  'id',
  'callId',
  'call_id',
  'tool_call_id',
  'response_id',
  'responseId',
  'created',
  'created_at',
  'started_at',
  'ended_at',
  'timestamp',
  'trace_id',
  'span_id',
  'parent_id',
  'group_id',
  'session_id',
]);

export interface StepOptions {
  /** Compare ids and timestamps too (default: ignored). */
  includeVolatile?: boolean;
}

/** The value with volatile keys removed (deep); JSON strings that hold objects are compared as those objects. */
export function stripVolatile(value: unknown, volatile: boolean, depth = 0): unknown {
  if (depth > 200) return value;
  if (Array.isArray(value)) return value.map((item) => stripVolatile(item, volatile, depth + 1));
  const obj = asObj(value);
  if (!obj) return value;
  const out: Obj = {};
  for (const [key, item] of Object.entries(obj)) {
    if (!volatile && VOLATILE_KEYS.has(key)) continue;
    out[key] = stripVolatile(item, volatile, depth + 1);
  }
  return out;
}

function fingerprint(value: unknown): string {
  const text = canonicalize(value === undefined ? null : value);
  // One-shot hashing (no Hash object per value): a third of the time of createHash on 100k steps.
  return text.length <= 64 ? text : hash('sha256', text);
}

/** The compared fields of a span (by its kind) or a decision record, as values. */
export function stepFields(kind: StepKind, data: Obj, error: unknown): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  switch (kind) {
    case 'agent':
      fields.tools = data.tools;
      fields.handoffs = data.handoffs;
      fields.output_type = data.output_type;
      break;
    case 'model': {
      const { input, output, model, instructions } = modelCallIO(data);
      fields.model = model;
      fields.instructions = instructions;
      fields.input = input;
      fields.output = output;
      break;
    }
    case 'tool':
      fields.args = parseIfJson(data.input);
      fields.output = parseIfJson(data.output);
      break;
    case 'handoff':
      fields.to = data.to_agent;
      break;
    case 'guardrail':
      fields.triggered = data.triggered;
      break;
    case 'decision':
      fields.decision = data.decision;
      fields.subject = data.subject;
      fields.rule = data.rule;
      fields.reason = data.reason;
      fields.policy = data.policy;
      fields.decided_by = data.decided_by;
      break;
    case 'turn':
      break;
  }
  if (error !== null && error !== undefined) fields.error = error;
  return fields;
}

const SPAN_KINDS: Readonly<Record<string, StepKind>> = {
  agent: 'agent',
  turn: 'turn',
  generation: 'model',
  response: 'model',
  function: 'tool',
  handoff: 'handoff',
  guardrail: 'guardrail',
};

/** Reads the steps of a session file (the valid prefix of a torn or damaged one). */
export async function readSteps(path: string, options: StepOptions = {}): Promise<SessionSteps> {
  const volatile = options.includeVolatile ?? false;
  const reader = await SessionReader.open(path);
  const steps: Step[] = [];
  const open = new Map<string, { step: Step; turn: number; agent: string }>();
  const context = new Map<string, { turn: number; agent: string }>();
  let turns = 0;
  let sessionId: string | undefined;
  let workflow: string | undefined;
  let partial: string | undefined;
  const divergences: SessionSteps['divergences'] = [];
  const settle = (step: Step, values: Record<string, unknown>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value !== undefined) step.fields[key] = fingerprint(stripVolatile(value, volatile));
    }
  };
  try {
    for await (const { line } of reader.lines()) {
      const record = JSON.parse(line) as Obj;
      const seq = num(record.seq);
      if (record.type === 'session.start' && sessionId === undefined) {
        sessionId = str(record.session_id);
        workflow = str(record.workflow);
      } else if (record.type === 'divergence') {
        divergences.push({ seq, reason: str(record.reason) ?? 'divergence' });
      } else if (record.type === 'policy.decision') {
        const subject = asObj(record.subject);
        const where = context.get(str(record.span_id) ?? '') ?? { turn: turns, agent: '' };
        const name = `${str(subject?.kind) ?? '?'} ${str(subject?.name) ?? '?'}`;
        const step: Step = {
          kind: 'decision',
          signature: `decision:${name}`,
          name,
          agent: where.agent,
          turn: where.turn,
          seq,
          endSeq: seq,
          fields: {},
          tokens: 0,
          latencyMs: 0,
          error: false,
          denied: record.decision === 'deny' || record.decision === 'rejected',
        };
        settle(step, stepFields('decision', record, undefined));
        steps.push(step);
      } else if (record.type === 'span.start' || record.type === 'span.end') {
        const span = asObj(record.span) ?? {};
        const id = str(span.id) ?? '';
        const data = asObj(span.data) ?? {};
        const parent = context.get(str(span.parent_id) ?? '') ?? { turn: 0, agent: '' };
        const kind = SPAN_KINDS[str(span.kind) ?? ''];
        if (record.type === 'span.start') {
          let here = parent;
          if (kind === 'agent') here = { turn: parent.turn, agent: str(data.name) ?? '' };
          if (kind === 'turn') here = { turn: ++turns, agent: parent.agent };
          context.set(id, here);
          if (!kind || (str(span.kind) === 'custom' && data.name === POLICY_DECISION_SPAN)) continue;
          const name =
            kind === 'agent' || kind === 'tool' || kind === 'guardrail'
              ? (str(data.name) ?? '')
              : kind === 'handoff'
                ? `${str(data.from_agent) ?? '?'} → ${str(data.to_agent) ?? '?'}`
                : kind === 'turn'
                  ? `turn ${here.turn}`
                  : '';
          const step: Step = {
            kind,
            signature: `${kind}:${here.agent}:${kind === 'turn' ? '' : name}`,
            name,
            agent: here.agent,
            turn: here.turn,
            seq,
            endSeq: 0,
            fields: {},
            tokens: 0,
            latencyMs: 0,
            error: false,
            denied: false,
          };
          steps.push(step);
          open.set(id, { step, ...here });
          continue;
        }
        const started = open.get(id);
        context.delete(id);
        if (!started || !kind) continue;
        open.delete(id);
        const { step } = started;
        step.endSeq = seq;
        if (kind === 'handoff') step.name = `${str(data.from_agent) ?? '?'} → ${str(data.to_agent) ?? '?'}`;
        if (kind === 'tool' && !step.name) step.name = str(data.name) ?? '';
        if (kind === 'model') step.name = String(modelCallIO(data).model ?? '');
        step.error = span.error !== null && span.error !== undefined;
        step.denied = kind === 'guardrail' && data.triggered === true;
        const ms = Date.parse(str(span.ended_at) ?? '') - Date.parse(str(span.started_at) ?? '');
        step.latencyMs = Number.isFinite(ms) && ms > 0 ? ms : 0;
        if (kind === 'model') step.tokens = modelCallTokens(str(span.kind) ?? '', data);
        settle(step, stepFields(kind, data, span.error));
      }
    }
  } finally {
    const stop = reader.stoppedAt;
    if (stop) partial = `${stop.message} (byte ${stop.offset})`;
    reader.close();
  }
  return {
    path,
    sessionId,
    workflow,
    records: reader.recordCount,
    steps,
    partial,
    sealed: reader.hasIndex,
    divergences,
  };
}
