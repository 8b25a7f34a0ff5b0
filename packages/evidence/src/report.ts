/**
 * report.html and report.md of an audit bundle: what a compliance reviewer or an incident ticket reads first.
 *
 * Each session's records are read once, in one pass, into a compact model (bounded: a capped timeline and capped
 * lists of short, truncated strings), and both documents are rendered from it. Every string that came from a record
 * is hostile until proven otherwise: it is truncated, its control and bidi characters are made visible as `\u{…}`,
 * and it is escaped for its medium. The HTML is one self-contained document: inline style only (allowed by hash in
 * its Content-Security-Policy), no script, no URL of any kind, light colours that print.
 */
import { createHash } from 'node:crypto';
import {
  asObj,
  compactValue,
  DIVERGENCE_SPAN,
  modelCallIO,
  modelCallUsage,
  POLICY_DECISION_SPAN,
  SessionTotals,
  type SessionTotalsJSON,
  spanRowKind,
  str,
} from '@agent-replay/analysis';
import type { RenderedReports, ReportCase, ReportSession } from './report-model.js';

/**
 * How much the reports keep. Lists beyond these are counted and the reader sent to transcript.jsonl. The timeline
 * and call lists are budgets for the whole case, shared out between its sessions (a case of 100 sessions must not
 * make a report 100 times as long); the evidence lists (decisions, approvals, identities, errors) are per session.
 */
export interface ReportLimits {
  /** Timeline rows in all (each session gets its share, at least MIN_SHARE). */
  timelineRows: number;
  /** Policy decisions (approvals included), identities and errors per session: each list is kept whole up to this. */
  evidenceEntries: number;
  /** Model calls, and tool calls, listed in all (each session gets its share, at least MIN_SHARE). */
  callEntries: number;
  /** Characters of a value in a table before it is cut ("… (N more chars)"). */
  valueChars: number;
  /** Characters of a timeline row's detail and of names. */
  shortChars: number;
}

/** The least of the timeline and call budgets a session gets, however many sessions share them. */
const MIN_SHARE = 50;

export const DEFAULT_REPORT_LIMITS: Readonly<ReportLimits> = {
  timelineRows: 2_000,
  evidenceEntries: 10_000,
  callEntries: 2_000,
  valueChars: 500,
  shortChars: 200,
};

export interface ReportOptions {
  limits?: Partial<ReportLimits>;
}

type Obj = Record<string, unknown>;
type Tone = 'plain' | 'ok' | 'denied' | 'approval' | 'error' | 'withheld';

// ---------------------------------------------------------------------------------------------------------------
// The compact model of a session
// ---------------------------------------------------------------------------------------------------------------

interface TimelineEntry {
  seq: number;
  /** seq of the span's `span.end`, or of the last record of a run of withheld records; 0 otherwise. */
  endSeq: number;
  time: string;
  kind: string;
  name: string;
  detail: string;
  tone: Tone;
  depth: number;
}

interface DecisionEntry {
  seq: number;
  time: string;
  decision: string;
  subjectKind: string;
  subjectName: string;
  args: string;
  rule: string;
  reason: string;
  policy: string;
  decidedByKind: string;
  decidedById: string;
  /** 'yes' | 'no' for a human decision (its approver proven or only claimed), '' where it does not apply. */
  verified: string;
  callId: string;
  agent: string;
}

interface IdentityEntry {
  seq: number;
  role: string;
  callId: string;
  subject: string;
  name: string;
  kind: string;
  issuer: string;
  email: string;
  groups: string;
  verified: boolean;
  method: string;
  verificationError: string;
}

interface ErrorEntry {
  seq: number;
  time: string;
  where: string;
  message: string;
}

interface ModelCallEntry {
  seq: number;
  time: string;
  model: string;
  input: string;
  output: string;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  error: string;
}

interface ToolCallEntry {
  seq: number;
  time: string;
  name: string;
  args: string;
  output: string;
  error: string;
}

/** A list that keeps its first `cap` entries and counts the rest. */
class Capped<T> {
  readonly items: T[] = [];
  dropped = 0;
  constructor(private readonly cap: number) {}
  push(item: T): void {
    if (this.items.length < this.cap) this.items.push(item);
    else this.dropped++;
  }
  get total(): number {
    return this.items.length + this.dropped;
  }
}

interface OpenSpan {
  startSeq: number;
  depth: number;
  /** Index of its timeline row, -1 when the timeline was full. */
  row: number;
  /** A policy or divergence span: its record (`policy.decision`, `divergence`) follows and stands for it. */
  hidden: boolean;
}

/** Spans remembered while open (for their depth and row); a hostile file that never ends any cannot grow this. */
const MAX_OPEN_SPANS = 10_000;

interface SessionModel {
  source: ReportSession;
  index: number;
  workflow: string;
  info: Array<[string, string]>;
  firstTs: string;
  lastTs: string;
  status: string;
  recordsSeen: number;
  blobs: number;
  withheldSeen: number;
  withheldReasons: Map<string, number>;
  totals: SessionTotalsJSON;
  recordedCounts: string;
  timeline: TimelineEntry[];
  timelineOmitted: number;
  decisions: Capped<DecisionEntry>;
  identities: Capped<IdentityEntry>;
  errors: Capped<ErrorEntry>;
  modelCalls: Capped<ModelCallEntry>;
  toolCalls: Capped<ToolCallEntry>;
}

/** At most `max` characters (never splitting a surrogate pair), then how many more there were. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}… (${text.length - cut} more chars)`;
}

/** Texts longer than this are shown as they are (and cut): parsing a 50 MB tool output to show 500 chars is waste. */
const MAX_PARSED_TEXT = 64 * 1024;

/** A value on one line, whatever it is (objects as `key=value, …`, JSON text parsed first); '' for nothing. */
function valueText(value: unknown): string {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value === 'string' && value.length > MAX_PARSED_TEXT) return value;
  return compactValue(value);
}

/** One input/output item of a model call as a line: a message, a tool call, a tool result. */
function itemText(item: unknown): string {
  const obj = asObj(item);
  if (!obj) return typeof item === 'string' ? item : valueText(item);
  const type = str(obj.type);
  const role = str(obj.role);
  if (type === 'function_call' || type === 'tool_call' || obj.arguments !== undefined) {
    return `→ ${str(obj.name) ?? '?'}(${valueText(obj.arguments)})`;
  }
  if (type === 'function_call_result' || type === 'function_call_output' || role === 'tool') {
    const output = asObj(obj.output);
    const text = output?.text ?? obj.output ?? obj.content;
    const name = str(obj.name) ?? str(obj.callId) ?? str(obj.call_id) ?? str(obj.tool_call_id) ?? '';
    return `← ${name}: ${valueText(text)}`;
  }
  if (Array.isArray(obj.tool_calls)) {
    return obj.tool_calls
      .map((call) => {
        const fn = asObj(asObj(call)?.function);
        return `→ ${str(fn?.name) ?? '?'}(${valueText(fn?.arguments)})`;
      })
      .join('\n');
  }
  if (role) {
    const content = obj.content;
    const parts = Array.isArray(content)
      ? content.map((part) => str(asObj(part)?.text) ?? str(asObj(part)?.refusal) ?? valueText(part))
      : [valueText(content)];
    return `${role}: ${parts.join(' ')}`;
  }
  if (type === 'reasoning') return 'reasoning';
  return valueText(obj);
}

const asItems = (value: unknown): unknown[] =>
  Array.isArray(value) ? value : value === undefined || value === null || value === '' ? [] : [value];

function spanErrorText(error: unknown): string {
  const obj = asObj(error);
  if (!obj) return valueText(error);
  const message = str(obj.message) ?? '';
  const data = obj.data === undefined || obj.data === null ? '' : valueText(obj.data);
  return data ? `${message} (${data})` : message || valueText(obj);
}

function policyText(policy: unknown): string {
  const p = asObj(policy);
  if (!p) return '';
  const sha = str(p.sha256);
  return `${str(p.id) ?? '?'} v${String(p.version ?? '?')}${sha ? ` (sha256 ${sha.slice(0, 12)}…)` : ''}`;
}

const isDenial = (decision: unknown): boolean => decision === 'deny' || decision === 'rejected';
const isApproval = (decision: unknown): boolean =>
  decision === 'require_approval' || decision === 'approved' || decision === 'rejected';

function decisionTone(decision: unknown): Tone {
  if (isDenial(decision)) return 'denied';
  if (decision === 'require_approval' || decision === 'approved') return 'approval';
  if (decision === 'allow') return 'ok';
  return 'plain';
}

function hostText(host: unknown): string {
  const h = asObj(host);
  if (!h) return '';
  return `${str(h.user) ?? '?'}@${str(h.hostname) ?? '?'} (${[str(h.platform), str(h.arch), str(h.node) && `node ${str(h.node)}`, h.pid !== undefined && `pid ${String(h.pid)}`].filter(Boolean).join(', ')})`;
}

/** Reads one session's records, once, into its model. */
async function readSession(
  source: ReportSession,
  index: number,
  limits: ReportLimits,
): Promise<SessionModel> {
  const { valueChars, shortChars } = limits;
  const value = (v: unknown) => clip(valueText(v), valueChars);
  const short = (text: string) => clip(text, shortChars);
  const model: SessionModel = {
    source,
    index,
    workflow: '',
    info: [],
    firstTs: '',
    lastTs: '',
    status: '',
    recordsSeen: 0,
    blobs: 0,
    withheldSeen: 0,
    withheldReasons: new Map(),
    totals: new SessionTotals().toJSON(),
    recordedCounts: '',
    timeline: [],
    timelineOmitted: 0,
    decisions: new Capped(limits.evidenceEntries),
    identities: new Capped(limits.evidenceEntries),
    errors: new Capped(limits.evidenceEntries),
    modelCalls: new Capped(limits.callEntries),
    toolCalls: new Capped(limits.callEntries),
  };
  const totals = new SessionTotals();
  const open = new Map<string, OpenSpan>();
  /** Where the record a span becomes goes in the tree: its depth for a policy span, below it for a guardrail. */
  const decisionDepth = new Map<string, number>();
  const depthOfDecision = (spanId: unknown): number => {
    const key = str(spanId) ?? '';
    const depth = decisionDepth.get(key) ?? 0;
    decisionDepth.delete(key);
    return depth;
  };
  let lastRunIdentity = '';

  /** Records the timeline stands for (a span row stands for its start and end); the rest are counted as more. */
  let represented = 0;
  const timelineFull = () => model.timeline.length >= limits.timelineRows;
  const addRow = (row: TimelineEntry): number => {
    if (timelineFull()) return -1;
    represented++;
    model.timeline.push(row);
    return model.timeline.length - 1;
  };
  const addIdentity = (seq: number, role: string, callId: unknown, identity: Obj): void => {
    model.identities.push({
      seq,
      role: short(role),
      callId: short(str(callId) ?? ''),
      subject: value(identity.subject),
      name: value(identity.name),
      kind: short(valueText(identity.kind)),
      issuer: value(identity.issuer),
      email: value(identity.email),
      groups: value(Array.isArray(identity.groups) ? identity.groups.join(', ') : identity.groups),
      verified: identity.verified === true,
      method: short(valueText(identity.method)),
      verificationError: value(identity.verification_error),
    });
  };
  const identityDetail = (identity: Obj | undefined): string =>
    identity
      ? `${str(identity.subject) ?? '?'} — ${identity.verified === true ? 'verified' : 'not verified'}${str(identity.method) ? ` (${str(identity.method)})` : ''}`
      : '';

  for await (const item of source.records) {
    model.recordsSeen++;
    if (item.withheld) {
      model.withheldSeen++;
      const reason = short(item.reason);
      if (model.withheldReasons.has(reason) || model.withheldReasons.size < 100) {
        model.withheldReasons.set(reason, (model.withheldReasons.get(reason) ?? 0) + 1);
      }
      const last = model.timeline.at(-1);
      if (last && last.kind === 'withheld' && last.endSeq === item.seq - 1 && last.detail === reason) {
        last.endSeq = item.seq;
        represented++;
        last.name = `${last.endSeq - last.seq + 1} records withheld`;
      } else {
        addRow({
          seq: item.seq,
          endSeq: item.seq,
          time: '',
          kind: 'withheld',
          name: 'record withheld',
          detail: reason,
          tone: 'withheld',
          depth: 0,
        });
      }
      continue;
    }
    const record = item.record;
    const seq = item.seq;
    const type = str(record.type) ?? '?';
    const ts = str(record.ts) ?? '';
    if (type === 'blob') {
      model.blobs++;
      continue;
    }
    if (ts) {
      if (!model.firstTs) model.firstTs = ts;
      model.lastTs = ts;
    }
    totals.add({ ...record, type });
    switch (type) {
      case 'span.start':
      case 'span.end': {
        const span = asObj(record.span) ?? {};
        const id = str(span.id) ?? '';
        const kind = str(span.kind) ?? '?';
        const data = asObj(span.data) ?? {};
        const rowKind = spanRowKind(kind, str(data.name));
        const hidden =
          kind === 'custom' && (data.name === POLICY_DECISION_SPAN || data.name === DIVERGENCE_SPAN);
        const time = str(span.started_at) ?? ts;
        if (type === 'span.start') {
          const parent = open.get(str(span.parent_id) ?? '');
          const depth = parent ? Math.min(parent.depth + 1, 12) : 0;
          // A policy or divergence span is shown by the record it becomes, which follows it.
          if (hidden && !timelineFull()) represented++;
          const row = hidden
            ? -1
            : addRow({ seq, endSeq: 0, time, kind: rowKind, name: '', detail: '', tone: 'plain', depth });
          if (open.size < MAX_OPEN_SPANS) open.set(id, { startSeq: seq, depth, row, hidden });
          if (row >= 0) describeSpan(model.timeline[row] as TimelineEntry, kind, data, span, short);
          break;
        }
        // span.end: the span's row (if it has one) is completed, its call listed, its error kept.
        const started = open.get(id);
        open.delete(id);
        if (started && (hidden || kind === 'guardrail')) {
          if (decisionDepth.size >= 256) decisionDepth.delete(decisionDepth.keys().next().value as string);
          decisionDepth.set(id, hidden ? started.depth : Math.min(started.depth + 1, 12));
        }
        const startSeq = started?.startSeq ?? seq;
        if (hidden && !timelineFull()) represented++;
        if (!hidden) {
          let row = started ? started.row : -2;
          if (row === -2) {
            // Its start was not seen (withheld, or before the file's first record): a row of its own.
            row = addRow({
              seq,
              endSeq: seq,
              time,
              kind: rowKind,
              name: '',
              detail: '',
              tone: 'plain',
              depth: 0,
            });
          } else if (row >= 0) {
            represented++;
          }
          if (row >= 0) {
            const entry = model.timeline[row] as TimelineEntry;
            entry.endSeq = seq;
            describeSpan(entry, kind, data, span, short);
          }
        }
        const error = span.error;
        const failed = error !== null && error !== undefined;
        const where = `${rowKind} ${spanName(rowKind, data)}`.trim();
        if (failed)
          model.errors.push({ seq, time: ts, where: short(where), message: value(spanErrorText(error)) });
        if (rowKind === 'model') {
          const io = modelCallIO(data);
          const { usage } = modelCallUsage(kind, data);
          const input = asItems(io.input);
          const last = input.at(-1);
          model.modelCalls.push({
            seq: startSeq,
            time,
            model: short(valueText(io.model ?? data.model)),
            input: clip(
              input.length === 0
                ? ''
                : `${input.length} item${input.length === 1 ? '' : 's'}; last: ${itemText(last)}`,
              valueChars,
            ),
            output: clip(asItems(io.output).map(itemText).join('\n'), valueChars),
            inputTokens: usage.input_tokens,
            outputTokens: usage.output_tokens,
            totalTokens: usage.total_tokens,
            error: failed ? value(spanErrorText(error)) : '',
          });
        } else if (rowKind === 'tool') {
          model.toolCalls.push({
            seq: startSeq,
            time,
            name: short(valueText(data.name)),
            args: value(data.input),
            output: value(data.output),
            error: failed ? value(spanErrorText(error)) : '',
          });
        }
        break;
      }
      case 'policy.decision': {
        const subject = asObj(record.subject) ?? {};
        const by = asObj(record.decided_by) ?? {};
        const decision = str(record.decision) ?? valueText(record.decision);
        const human = by.kind === 'human';
        model.decisions.push({
          seq,
          time: ts,
          decision: short(decision),
          subjectKind: short(valueText(subject.kind)),
          subjectName: short(valueText(subject.name)),
          args: value(subject.args),
          rule: value(record.rule),
          reason: value(record.reason),
          policy: short(policyText(record.policy)),
          decidedByKind: short(valueText(by.kind)),
          decidedById: value(by.id),
          verified: by.verified === true ? 'yes' : human || by.verified === false ? 'no' : '',
          callId: short(valueText(record.call_id)),
          agent: short(valueText(record.agent)),
        });
        const rule = str(record.rule);
        const reason = str(record.reason);
        addRow({
          seq,
          endSeq: 0,
          time: ts,
          kind: isApproval(decision) ? 'approval' : 'policy',
          name: short(`${valueText(subject.kind)} ${valueText(subject.name)}`.trim()),
          detail: short(
            `${decision}${rule ? ` — ${rule}` : ''}${reason ? `: ${reason}` : ''}${
              human ? ` (by ${valueText(by.id)}, ${by.verified === true ? 'verified' : 'not verified'})` : ''
            }`,
          ),
          tone: decisionTone(decision),
          depth: depthOfDecision(record.span_id),
        });
        break;
      }
      case 'identity': {
        const identity = asObj(record.identity);
        const role = str(record.role) ?? 'identity';
        if (identity) addIdentity(seq, role, record.call_id, identity);
        addRow({
          seq,
          endSeq: 0,
          time: ts,
          kind: 'identity',
          name: short(`${role}: ${valueText(identity?.subject) || '?'}`),
          detail: short(
            `${identityDetail(identity)}${str(record.call_id) ? ` · call ${str(record.call_id)}` : ''}`,
          ),
          tone: 'plain',
          depth: 0,
        });
        break;
      }
      case 'session.start': {
        model.workflow = short(valueText(record.workflow));
        const identity = asObj(record.identity);
        if (identity) {
          addIdentity(seq, 'session', null, identity);
          lastRunIdentity = JSON.stringify(identity);
        }
        const versions = asObj(record.versions);
        const recorder = asObj(versions?.recorder);
        const redaction = asObj(record.redaction);
        const info: Array<[string, unknown]> = [
          ['Workflow', record.workflow],
          ['Trace', record.trace_id],
          ['Group', record.group_id],
          ['Host', hostText(record.host)],
          ['Recorder', recorder ? `${valueText(recorder.name)} ${valueText(recorder.version)}` : ''],
          ['Agents SDK', versions?.sdk],
          [
            'Redaction at recording',
            redaction
              ? `profile ${valueText(redaction.profile)}${Array.isArray(redaction.kinds) ? ` (${redaction.kinds.length} kinds)` : ''}`
              : '',
          ],
          ['Policy at recording', policyText(record.policy)],
          ['Replay of', record.replay_of],
          ['Metadata', record.metadata],
        ];
        for (const [key, v] of info) {
          const text = value(v);
          if (text) model.info.push([key, text]);
        }
        addRow({
          seq,
          endSeq: 0,
          time: ts,
          kind: 'session',
          name: 'session started',
          detail: short(
            `${valueText(record.workflow)}${identity ? ` · identity ${identityDetail(identity)}` : ''}`,
          ),
          tone: 'plain',
          depth: 0,
        });
        break;
      }
      case 'trace.start': {
        const identity = asObj(record.identity);
        if (identity) {
          const key = JSON.stringify(identity);
          // The first trace repeats the session's identity; a resumed run by someone else is listed.
          if (key !== lastRunIdentity) addIdentity(seq, 'run', null, identity);
          lastRunIdentity = key;
        }
        addRow({
          seq,
          endSeq: 0,
          time: ts,
          kind: 'trace',
          name: short(
            `${valueText(record.workflow) || 'trace'}${record.resumed === true ? ' (resumed)' : ''}`,
          ),
          detail: short(valueText(record.trace_id)),
          tone: 'plain',
          depth: 0,
        });
        break;
      }
      case 'trace.end':
        addRow({
          seq,
          endSeq: 0,
          time: ts,
          kind: 'trace',
          name: 'trace ended',
          detail: short(valueText(record.trace_id)),
          tone: 'plain',
          depth: 0,
        });
        break;
      case 'session.end': {
        model.status = short(valueText(record.status));
        const counts = asObj(record.counts);
        model.recordedCounts = counts
          ? value(
              `model calls ${valueText(counts.model_calls)}, tool calls ${valueText(counts.tool_calls)}, ` +
                `errors ${valueText(counts.errors)}, denials ${valueText(counts.denials)}, ` +
                `policy decisions ${valueText(counts.policy_decisions)}, tokens ${valueText(asObj(record.usage)?.total_tokens)}`,
            )
          : '';
        const redactions = asObj(record.redactions);
        const redacted = redactions ? Object.entries(redactions).map(([k, n]) => `${k} ${valueText(n)}`) : [];
        if (redacted.length > 0) model.info.push(['Redactions at recording', value(redacted.join(', '))]);
        addRow({
          seq,
          endSeq: 0,
          time: ts,
          kind: 'session',
          name: short(`session ${valueText(record.status) || 'ended'}`),
          detail: model.recordedCounts ? short(model.recordedCounts) : '',
          tone: record.status === 'completed' ? 'ok' : record.status === 'error' ? 'error' : 'approval',
          depth: 0,
        });
        break;
      }
      case 'divergence':
      case 'recovery': {
        const message =
          type === 'divergence'
            ? valueText(record.reason) || valueText(record)
            : `torn tail recovered: ${valueText(record.dropped_bytes)} bytes moved to ${valueText(record.sidecar)}`;
        model.errors.push({ seq, time: ts, where: type, message: value(message) });
        addRow({
          seq,
          endSeq: 0,
          time: ts,
          kind: type,
          name: type === 'divergence' ? 'replay diverged' : 'recovery',
          detail: short(message),
          tone: 'error',
          depth: 0,
        });
        break;
      }
      default:
        addRow({
          seq,
          endSeq: 0,
          time: ts,
          kind: 'other',
          name: short(type),
          detail: '',
          tone: 'plain',
          depth: 0,
        });
    }
  }
  model.totals = totals.toJSON();
  model.timelineOmitted = model.recordsSeen - model.blobs - represented;
  return model;
}

function spanName(rowKind: string, data: Obj): string {
  switch (rowKind) {
    case 'model':
      return valueText(modelCallIO(data).model ?? data.model);
    case 'handoff':
      return `${valueText(data.from_agent) || '?'} → ${valueText(data.to_agent) || '?'}`;
    case 'mcp':
      return valueText(data.server);
    default:
      return valueText(data.name);
  }
}

/** Name, detail and tone of a span's row, from its start (what is known then) or its end (everything). */
function describeSpan(
  row: TimelineEntry,
  kind: string,
  data: Obj,
  span: Obj,
  short: (text: string) => string,
): void {
  const rowKind = row.kind;
  row.name = short(rowKind === 'turn' ? `turn ${valueText(data.turn)}`.trim() : spanName(rowKind, data));
  let detail = '';
  switch (rowKind) {
    case 'tool': {
      const args = valueText(data.input);
      const output = valueText(data.output);
      detail = `(${args})${output ? ` → ${output}` : ''}`;
      break;
    }
    case 'model': {
      const output = asItems(modelCallIO(data).output);
      const last = output.at(-1);
      detail = last === undefined ? '' : itemText(last);
      const { usage } = modelCallUsage(kind, data);
      if (usage.total_tokens > 0) detail = `${detail}${detail ? ' · ' : ''}${usage.total_tokens} tokens`;
      break;
    }
    case 'agent': {
      const tools = Array.isArray(data.tools) ? data.tools.map(valueText) : [];
      const handoffs = Array.isArray(data.handoffs) ? data.handoffs.map(valueText) : [];
      detail = [
        tools.length ? `tools: ${tools.join(', ')}` : '',
        handoffs.length ? `handoffs: ${handoffs.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join(' · ');
      break;
    }
    case 'guardrail':
      detail = data.triggered === true ? 'tripwire triggered' : data.triggered === false ? 'passed' : '';
      break;
    case 'custom':
      detail = valueText(data.data);
      break;
    case 'turn':
      detail = valueText(data.agent_name);
      break;
    case 'task':
    case 'handoff':
      break;
    default:
      detail = valueText(data.input ?? data.output ?? '');
  }
  const error = span.error;
  if (error !== null && error !== undefined) {
    detail = `error: ${spanErrorText(error)}${detail ? ` · ${detail}` : ''}`;
    row.tone = 'error';
  } else if (rowKind === 'guardrail' && data.triggered === true) {
    row.tone = 'denied';
  }
  row.detail = short(detail);
}

// ---------------------------------------------------------------------------------------------------------------
// Making hostile text safe
// ---------------------------------------------------------------------------------------------------------------

/** C0 controls except \n and \t, DEL and C1, bidi embeddings/overrides/isolates and marks, line separators, BOM, lone surrogates. */
function isHostileCodePoint(cp: number): boolean {
  return (
    (cp < 0x20 && cp !== 0x0a && cp !== 0x09) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    cp === 0x061c ||
    cp === 0x200e ||
    cp === 0x200f ||
    (cp >= 0x2028 && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0xfeff ||
    (cp >= 0xd800 && cp <= 0xdfff)
  );
}

const SUSPECT = /[^\t\n\x20-\x7e]/;

/** Control, bidi and other invisible characters made visible as `\u{…}`: they cannot move, hide or recolour text. */
export function neutralize(text: string): string {
  if (!SUSPECT.test(text)) return text;
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    out += isHostileCodePoint(cp) ? `\\u{${cp.toString(16)}}` : ch;
  }
  return out;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text for HTML content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return neutralize(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

const MD_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/**
 * Text for Markdown (GitHub-flavoured), in a paragraph or a table cell: `& < >` as entities (no HTML, no autolink
 * can form), the characters that start code, emphasis, links, strikethrough or end a cell backslash-escaped
 * (`_` only where it could open or close emphasis, so identifiers stay readable; `\\` only before punctuation, so
 * `\u{…}` stays as it is), newlines as `<br>`.
 */
export function escapeMarkdown(text: string): string {
  return neutralize(text)
    .replace(/\\(?=[!-/:-@[-`{-~\n]|$)|[`*[\]|~]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, '\\$&')
    .replace(/[&<>]/g, (c) => MD_ENTITIES[c] as string)
    .replace(/\r?\n/g, '<br>');
}

// ---------------------------------------------------------------------------------------------------------------
// Shared wording
// ---------------------------------------------------------------------------------------------------------------

type VerdictClass = 'ok' | 'warn' | 'bad';

function verdictClass(verdict: string): VerdictClass {
  if (verdict === 'VALID') return 'ok';
  if (verdict === 'UNSEALED' || verdict === 'TORN') return 'warn';
  return 'bad';
}

const VERDICT_MARK: Readonly<Record<VerdictClass, string>> = { ok: '✅', warn: '⚠️', bad: '❌' };

function signatureText(signatures: ReportSession['verification']['signatures']): string {
  const key = signatures.keyId ? ` ${signatures.keyId}` : '';
  const n = `${signatures.signedCheckpoints} signed checkpoint${signatures.signedCheckpoints === 1 ? '' : 's'}`;
  switch (signatures.status) {
    case 'none':
      return 'not signed: the file carries no checkpoint signatures (its hashes and Merkle root still prove integrity)';
    case 'embedded-key':
      return `signed (${n}), verified with the key embedded in the file${key}: proves the file is intact, not who signed it`;
    case 'trusted-key':
      return `signed (${n}), verified with the trusted key${key}`;
    case 'unverifiable':
      return `signed (${n}) with key${key || ' (unknown)'}, but the signatures could not be verified`;
    default:
      return `${String(signatures.status)} (${n})`;
  }
}

const range = (r: { from: string | null; to: string | null }): string =>
  `${r.from ?? '(open)'} → ${r.to ?? '(open)'}`;

function totalsRows(m: SessionModel): Array<[string, string, string]> {
  const t = m.totals;
  return [
    ['model_calls', 'Model calls', String(t.counts.model_calls)],
    ['tool_calls', 'Tool calls', String(t.counts.tool_calls)],
    [
      'tokens',
      'Tokens',
      `${t.usage.total_tokens} (input ${t.usage.input_tokens}, output ${t.usage.output_tokens}, cached input ${t.usage.cached_input_tokens})`,
    ],
    ['policy_decisions', 'Policy decisions', String(t.counts.policy_decisions)],
    ['approvals_requested', 'Approvals requested', String(t.counts.approvals_requested)],
    ['denials', 'Denials (denied or rejected)', String(t.counts.denials)],
    ['errors', 'Errors (failed spans)', String(t.counts.errors)],
    ['handoffs', 'Handoffs', String(t.counts.handoffs)],
    ['models', 'Models', t.models.join(', ')],
    ['tools', 'Tools', t.tools.join(', ')],
    ['agents', 'Agents', t.agents.join(', ')],
  ];
}

function withheldText(m: SessionModel): string {
  const n = Math.max(m.source.withheld, m.withheldSeen);
  const reasons = [...m.withheldReasons.keys()].join('; ');
  return `${n} record${n === 1 ? '' : 's'} withheld${reasons ? ` (${reasons})` : ''} — their leaf hashes prove them against the signed root`;
}

const cappedNote = (list: Capped<unknown>, what: string): string =>
  `… ${list.dropped} more ${what} not listed here (${list.total} in all) — see transcript.jsonl`;

const moreRecordsNote = (m: SessionModel): string =>
  `… ${m.timelineOmitted} more records — see transcript.jsonl`;

const verifiedText = (verified: boolean): string => (verified ? 'yes' : 'no (as claimed, not proven)');

// ---------------------------------------------------------------------------------------------------------------
// What both documents show: the same key/value rows, tables and lists, rendered by report.html and report.md
// ---------------------------------------------------------------------------------------------------------------

const h = escapeHtml;
const md = escapeMarkdown;

/** A row of a two-column table: the key, its text, and (in report.html) the row's data-field. */
type KvRow = [key: string, text: string, field?: string];

function caseRows(input: ReportCase): KvRow[] {
  return [
    ['Case', input.caseId ?? '(none)', 'case-id'],
    ['Created', input.createdAt, 'created'],
    ['Producer', `${input.producer.name} ${input.producer.version}`, 'producer'],
    ['Time range requested', range(input.requested), 'requested'],
    ['Time range covered', range(input.covered), 'covered'],
    [
      'Manifest signer',
      `${input.signer.fingerprint} — ${
        input.signer.ephemeral
          ? 'one-off (ephemeral) key: proves the bundle is intact since export, not who exported it'
          : 'configured signing key'
      }`,
      'signer',
    ],
    [
      'Redaction',
      input.redaction
        ? `redacted export: ${input.redaction} — withheld records are replaced by their leaf hashes`
        : 'none: every record of every session is included',
      'redaction',
    ],
  ];
}

function verificationRows(m: SessionModel): KvRow[] {
  const v = m.source.verification;
  return [
    ['Member', m.source.member, 'member'],
    ['Records verified', String(v.records), 'records'],
    ['Sealed', v.sealed ? 'yes (final checkpoint)' : 'no', 'sealed'],
    ['Checkpointed records', String(v.checkpointedRecords), 'checkpointed'],
    ['Merkle root', v.merkleRoot, 'merkle-root'],
    ['Signatures', signatureText(v.signatures), 'signatures'],
  ];
}

function detailRows(m: SessionModel): KvRow[] {
  return [
    ['Session id', m.source.sessionId, 'session-id'],
    ['Status', m.status || '(no session.end: the session did not close)', 'status'],
    ['First record', m.firstTs, 'first'],
    ['Last record', m.lastTs, 'last'],
    ...m.info,
  ];
}

const totalsKvRows = (m: SessionModel): KvRow[] =>
  totalsRows(m).map(([field, label, text]): KvRow => [label, text, field]);

interface Column<T> {
  head: string;
  cell: (row: T) => string;
  /** report.html's cell class: v (long value), code (identifier), n (number), t (time), name (indented by depth), or none. */
  cls?: string | ((row: T) => string);
  /** report.md's cell where it differs from `cell`; `false`: the column is in report.html only. */
  md?: ((row: T) => string) | false;
}

const SEQ_COLUMN: Column<{ seq: number }> = { head: 'seq', cell: (r) => String(r.seq), cls: 'n' };
const TIME_COLUMN: Column<{ time: string }> = { head: 'time', cell: (r) => r.time, cls: 't' };

const TIMELINE_COLUMNS: Column<TimelineEntry>[] = [
  { head: 'seq', cell: (r) => (r.endSeq > r.seq ? `${r.seq}–${r.endSeq}` : String(r.seq)), cls: 'n' },
  TIME_COLUMN,
  { head: 'kind', cell: (r) => r.kind },
  {
    head: 'name',
    cell: (r) => r.name,
    cls: (r) => `name d${r.depth}`,
    md: (r) => `${'· '.repeat(r.depth)}${r.name}`,
  },
  { head: 'detail', cell: (r) => r.detail, cls: 'v' },
];

/** A capped list of a session: a table in both documents (or a line saying there is none), then how many more. */
interface ListSection<T extends { seq: number }> {
  /** The section's id (`s<n>-<name>`) and data-section; its note's data-note is `<name>-truncated`. */
  name: string;
  title: string;
  /** What the list holds, as in "… 5 more <what> not listed here". */
  what: string;
  empty: string;
  list: (m: SessionModel) => Capped<T>;
  columns: Column<T>[];
  /** report.html's attributes of a row, after its data-seq. */
  rowAttrs: (row: T) => string;
}

const IDENTITIES: ListSection<IdentityEntry> = {
  name: 'identities',
  title: 'Identities',
  what: 'identities',
  empty: 'No identity recorded.',
  list: (m) => m.identities,
  columns: [
    SEQ_COLUMN,
    { head: 'role', cell: (r) => r.role },
    { head: 'subject', cell: (r) => r.subject, cls: 'v' },
    { head: 'name', cell: (r) => r.name },
    { head: 'kind', cell: (r) => r.kind },
    { head: 'issuer', cell: (r) => r.issuer, cls: 'v' },
    { head: 'email', cell: (r) => r.email, cls: 'v' },
    { head: 'groups', cell: (r) => r.groups, md: false },
    { head: 'verified', cell: (r) => verifiedText(r.verified) },
    { head: 'method', cell: (r) => r.method },
    { head: 'verification error', cell: (r) => r.verificationError, cls: 'v' },
    { head: 'call', cell: (r) => r.callId, cls: 'code' },
  ],
  rowAttrs: (r) =>
    ` data-role="${h(r.role)}" data-verified="${r.verified}" class="${r.verified ? 'ok' : 'approval'}"`,
};

const DECISIONS: ListSection<DecisionEntry> = {
  name: 'decisions',
  title: 'Policy decisions and approvals',
  what: 'decisions',
  empty: 'No policy decision recorded.',
  list: (m) => m.decisions,
  columns: [
    SEQ_COLUMN,
    TIME_COLUMN,
    {
      head: 'decision',
      cell: (r) => r.decision,
      md: (r) => (isDenial(r.decision) ? `⛔ ${r.decision}` : r.decision),
    },
    { head: 'subject', cell: (r) => `${r.subjectKind} ${r.subjectName}`.trim() },
    { head: 'arguments', cell: (r) => r.args, cls: 'v' },
    { head: 'rule', cell: (r) => r.rule, cls: 'code' },
    { head: 'reason', cell: (r) => r.reason },
    { head: 'policy', cell: (r) => r.policy, cls: 'code' },
    { head: 'decided by', cell: (r) => `${r.decidedByKind}: ${r.decidedById}` },
    { head: 'verified', cell: (r) => r.verified },
    { head: 'call', cell: (r) => r.callId, cls: 'code' },
  ],
  rowAttrs: (r) =>
    ` data-decision="${h(r.decision)}" data-rule="${h(r.rule)}" class="${decisionTone(r.decision)}"`,
};

const ERRORS: ListSection<ErrorEntry> = {
  name: 'errors',
  title: 'Errors',
  what: 'errors',
  empty: 'No error recorded.',
  list: (m) => m.errors,
  columns: [
    SEQ_COLUMN,
    TIME_COLUMN,
    { head: 'where', cell: (r) => r.where },
    { head: 'error', cell: (r) => r.message, cls: 'v' },
  ],
  rowAttrs: () => ' class="error"',
};

const MODEL_CALLS: ListSection<ModelCallEntry> = {
  name: 'model-calls',
  title: 'Model calls',
  what: 'model calls',
  empty: 'No model call recorded.',
  list: (m) => m.modelCalls,
  columns: [
    SEQ_COLUMN,
    TIME_COLUMN,
    { head: 'model', cell: (r) => r.model },
    { head: 'input', cell: (r) => r.input, cls: 'v' },
    { head: 'output', cell: (r) => r.output, cls: 'v' },
    { head: 'tokens in', cell: (r) => String(r.inputTokens), cls: 'n' },
    { head: 'tokens out', cell: (r) => String(r.outputTokens), cls: 'n' },
    { head: 'error', cell: (r) => r.error, cls: 'v' },
  ],
  rowAttrs: (r) => (r.error ? ' class="error"' : ''),
};

const TOOL_CALLS: ListSection<ToolCallEntry> = {
  name: 'tool-calls',
  title: 'Tool calls',
  what: 'tool calls',
  empty: 'No tool call recorded.',
  list: (m) => m.toolCalls,
  columns: [
    SEQ_COLUMN,
    TIME_COLUMN,
    { head: 'tool', cell: (r) => r.name },
    { head: 'arguments', cell: (r) => r.args, cls: 'v' },
    { head: 'output', cell: (r) => r.output, cls: 'v' },
    { head: 'error', cell: (r) => r.error, cls: 'v' },
  ],
  rowAttrs: (r) => ` data-tool="${h(r.name)}"${r.error ? ' class="error"' : ''}`,
};

// ---------------------------------------------------------------------------------------------------------------
// report.html
// ---------------------------------------------------------------------------------------------------------------

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1f2328;
  background: #fff; margin: 1.5rem auto; max-width: 90rem; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.3rem; margin: 2rem 0 .5rem; padding-bottom: .25rem; border-bottom: 2px solid #d0d7de; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .4rem; }
p { margin: .3rem 0; }
.sub { color: #59636e; }
nav ul { margin: .25rem 0; padding-left: 1.25rem; }
nav a { color: #0b57d0; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .2rem .45rem; vertical-align: top; text-align: left; }
thead th { background: #f6f8fa; }
table.kv { width: auto; min-width: 40rem; max-width: 100%; }
table.kv th { background: #f6f8fa; width: 14rem; font-weight: 600; }
td { white-space: pre-wrap; overflow-wrap: break-word; }
td.v { overflow-wrap: anywhere; }
.mono, td.v, td.code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.t { white-space: nowrap; font-size: 12px; color: #59636e; }
.verdict { display: inline-block; font-weight: 700; letter-spacing: .03em; padding: .05rem .6rem; border: 2px solid;
  border-radius: 4px; print-color-adjust: exact; -webkit-print-color-adjust: exact; }
.verdict-ok { color: #116329; border-color: #1a7f37; background: #dafbe1; }
.verdict-warn { color: #7d4e00; border-color: #bf8700; background: #fff8c5; }
.verdict-bad { color: #a40e26; border-color: #cf222e; background: #ffebe9; }
tr.denied td, tr.error td { background: #ffebe9; }
tr.approval td { background: #fff8c5; }
tr.withheld td { background: #f6f8fa; color: #59636e; font-style: italic; }
tr.denied td, tr.error td, tr.approval td { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
.yes { color: #116329; font-weight: 600; }
.no { color: #7d4e00; font-weight: 600; }
.note { color: #59636e; font-style: italic; }
.empty { color: #59636e; }
${Array.from({ length: 13 }, (_, d) => `td.name.d${d} { padding-left: ${(0.45 + d * 1.1).toFixed(2)}rem; }`).join('\n')}
footer { margin-top: 2.5rem; color: #59636e; font-size: 12px; border-top: 1px solid #d0d7de; padding-top: .5rem; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 10pt; color: #000; background: #fff; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  tr, .verdict, table.kv { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  article.session + article.session { break-before: page; page-break-before: always; }
  td, th { border-color: #888; }
}
`;

function htmlTable<T extends { seq: number }>(
  columns: readonly Column<T>[],
  rows: readonly T[],
  rowAttrs: (row: T) => string,
): string {
  const head = columns.map((c) => `<th>${h(c.head)}</th>`).join('');
  const body = rows
    .map(
      (row) =>
        `<tr data-seq="${row.seq}"${rowAttrs(row)}>${columns
          .map((c) => {
            const cls = typeof c.cls === 'function' ? c.cls(row) : c.cls;
            return `<td${cls ? ` class="${h(cls)}"` : ''}>${h(c.cell(row))}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function kvTable(rows: readonly KvRow[], cls = 'kv'): string {
  return `<table class="${cls}"><tbody>\n${rows
    .map(
      ([key, text, field]) =>
        `<tr${field ? ` data-field="${h(field)}"` : ''}><th>${h(key)}</th><td>${h(text)}</td></tr>`,
    )
    .join('\n')}\n</tbody></table>`;
}

function section(m: SessionModel, name: string, title: string, body: string, count?: number): string {
  const id = `s${m.index}-${name}`;
  return `<section id="${id}" class="${name}" data-section="${name}"${
    count === undefined ? '' : ` data-count="${count}"`
  }>\n<h3>${h(title)}${count === undefined ? '' : ` <span class="sub">(${count})</span>`}</h3>\n${body}\n</section>`;
}

const htmlNote = (text: string, kind: string): string => `<p class="note" data-note="${kind}">${h(text)}</p>`;
const htmlEmpty = (text: string): string => `<p class="empty">${h(text)}</p>`;

function htmlList<T extends { seq: number }>(m: SessionModel, list: ListSection<T>): string {
  const entries = list.list(m);
  return section(
    m,
    list.name,
    list.title,
    (entries.items.length ? htmlTable(list.columns, entries.items, list.rowAttrs) : htmlEmpty(list.empty)) +
      (entries.dropped ? htmlNote(cappedNote(entries, list.what), `${list.name}-truncated`) : ''),
    entries.total,
  );
}

function htmlSession(m: SessionModel): string {
  const s = m.source;
  const v = s.verification;
  const withheld = Math.max(s.withheld, m.withheldSeen);
  const timeline = htmlTable(
    TIMELINE_COLUMNS,
    m.timeline,
    (r) =>
      `${r.endSeq > 0 ? ` data-end-seq="${r.endSeq}"` : ''} data-kind="${h(r.kind)}"${r.tone === 'plain' ? '' : ` class="${r.tone}"`}`,
  );
  const parts = [
    `<h2>Session ${h(s.sessionId)}${m.workflow ? ` <span class="sub">— ${h(m.workflow)}</span>` : ''}</h2>`,
    section(
      m,
      'verification',
      'Verification',
      `<p><span class="verdict verdict-${verdictClass(v.verdict)}" data-verdict="${h(v.verdict)}">${h(v.verdict)}</span> ${h(v.summary)}</p>\n${kvTable(verificationRows(m))}`,
    ),
    section(m, 'details', 'Session', kvTable(detailRows(m))),
    htmlList(m, IDENTITIES),
    section(
      m,
      'totals',
      'Totals',
      `${kvTable(totalsKvRows(m))}${m.recordedCounts ? `<p class="sub">The session's own session.end says: ${h(m.recordedCounts)}</p>` : ''}${
        m.withheldSeen > 0 ? '<p class="note">Computed from the disclosed records only.</p>' : ''
      }`,
    ),
    htmlList(m, DECISIONS),
    htmlList(m, ERRORS),
    `<section id="s${m.index}-withheld" class="withheld" data-section="withheld" data-withheld="${withheld}">\n<h3>Withheld records</h3>\n<p>${h(
      withheld > 0 ? withheldText(m) : 'No record withheld: every record of the session is in the bundle.',
    )}</p>\n</section>`,
    section(
      m,
      'timeline',
      'Timeline',
      `${timeline}${m.timelineOmitted ? htmlNote(moreRecordsNote(m), 'timeline-truncated') : ''}${
        m.blobs
          ? `<p class="sub">${m.blobs} blob records (stored values shared by several records) are not listed.</p>`
          : ''
      }`,
      m.timeline.length,
    ),
    htmlList(m, MODEL_CALLS),
    htmlList(m, TOOL_CALLS),
  ];
  return `<article class="session" id="s${m.index}" data-session-id="${h(s.sessionId)}" data-verdict="${h(v.verdict)}">\n${parts.join('\n')}\n</article>`;
}

function renderHtml(input: ReportCase, models: readonly SessionModel[]): string {
  const title = `Audit report${input.caseId ? ` — case ${input.caseId}` : ''}`;
  const style = STYLE.trim();
  const styleHash = createHash('sha256').update(style).digest('base64');
  const csp = `default-src 'none'; style-src 'sha256-${styleHash}'; img-src 'none'; font-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'`;
  const summary = kvTable([...caseRows(input), ['Sessions', String(models.length), 'sessions']]);
  const sessionRows = models
    .map((m) => {
      const v = m.source.verification;
      return `<tr data-session-id="${h(m.source.sessionId)}"><td><a href="#s${m.index}">${h(m.source.sessionId)}</a></td><td>${h(
        m.workflow,
      )}</td><td><span class="verdict verdict-${verdictClass(v.verdict)}">${h(v.verdict)}</span></td><td class="n">${v.records}</td><td class="n">${Math.max(
        m.source.withheld,
        m.withheldSeen,
      )}</td><td class="n">${m.decisions.total}</td><td class="n">${m.totals.counts.denials}</td><td class="n">${m.errors.total}</td></tr>`;
    })
    .join('\n');
  const contents = models
    .map(
      (m) =>
        `<li><a href="#s${m.index}">${h(m.source.sessionId)}</a>: ${[
          ['verification', 'verification'],
          ['identities', 'identities'],
          ['totals', 'totals'],
          ['decisions', 'decisions'],
          ['errors', 'errors'],
          ['withheld', 'withheld'],
          ['timeline', 'timeline'],
          ['model-calls', 'model calls'],
          ['tool-calls', 'tool calls'],
        ]
          .map(([id, label]) => `<a href="#s${m.index}-${id}">${label}</a>`)
          .join(' · ')}</li>`,
    )
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${h(title)}</title>
<style>${style}</style>
</head>
<body>
<header>
<h1>${h(title)}</h1>
<p class="sub">Produced by ${h(input.producer.name)} ${h(input.producer.version)} at ${h(input.createdAt)}. Every value below comes from the recorded sessions; long values are cut, control characters are shown as \\u{…}.</p>
</header>
<section id="summary" data-section="summary">
<h2>Case summary</h2>
${summary}
<table id="sessions"><thead><tr><th>session</th><th>workflow</th><th>verdict</th><th>records</th><th>withheld</th><th>decisions</th><th>denials</th><th>errors</th></tr></thead><tbody>
${sessionRows}
</tbody></table>
</section>
<nav id="contents"><h2>Contents</h2><ul>
${contents}
</ul></nav>
${models.map(htmlSession).join('\n')}
<footer>To check this bundle without this tool, follow VERIFY.md: the SHA256SUMS, the signed manifest and the session files prove what this report shows. The full record stream is in transcript.jsonl.</footer>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------------------------
// report.md
// ---------------------------------------------------------------------------------------------------------------

function mdTable(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  return [
    `| ${head.map(md).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map((cell) => (cell === '' ? ' ' : md(cell))).join(' | ')} |`),
  ].join('\n');
}

const mdKv = (rows: readonly KvRow[]): string =>
  mdTable(
    ['', ''],
    rows.map(([k, v]) => [k, v]),
  );

function mdColumns<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const shown = columns.filter((c) => c.md !== false);
  return mdTable(
    shown.map((c) => c.head),
    rows.map((row) => shown.map((c) => (c.md || c.cell)(row))),
  );
}

function mdList<T extends { seq: number }>(m: SessionModel, list: ListSection<T>): string[] {
  const entries = list.list(m);
  return [
    `### ${list.title} (${entries.total})`,
    entries.items.length ? mdColumns(list.columns, entries.items) : `_${list.empty}_`,
    ...(entries.dropped ? [`_${md(cappedNote(entries, list.what))}_`] : []),
  ];
}

function mdSession(m: SessionModel): string {
  const s = m.source;
  const v = s.verification;
  const withheld = Math.max(s.withheld, m.withheldSeen);
  const out: string[] = [
    `## Session ${md(s.sessionId)}${m.workflow ? ` — ${md(m.workflow)}` : ''}`,
    '### Verification',
    `${VERDICT_MARK[verdictClass(v.verdict)]} **${md(v.verdict)}** — ${md(v.summary)}`,
    mdKv(verificationRows(m)),
    '### Session',
    mdKv(detailRows(m)),
    ...mdList(m, IDENTITIES),
    '### Totals',
    mdKv(totalsKvRows(m)),
  ];
  if (m.recordedCounts) out.push(`The session's own session.end says: ${md(m.recordedCounts)}`);
  if (m.withheldSeen > 0) out.push('_Computed from the disclosed records only._');
  out.push(...mdList(m, DECISIONS), ...mdList(m, ERRORS));
  out.push(
    '### Withheld records',
    md(withheld > 0 ? withheldText(m) : 'No record withheld: every record of the session is in the bundle.'),
  );
  out.push(
    `### Timeline (${m.timeline.length} rows)`,
    m.timeline.length ? mdColumns(TIMELINE_COLUMNS, m.timeline) : '_No record._',
  );
  if (m.timelineOmitted) out.push(md(moreRecordsNote(m)));
  out.push(...mdList(m, MODEL_CALLS), ...mdList(m, TOOL_CALLS));
  return out.join('\n\n');
}

function renderMarkdown(input: ReportCase, models: readonly SessionModel[]): string {
  const out: string[] = [];
  out.push(`# Audit report${input.caseId ? ` — case ${md(input.caseId)}` : ''}`);
  out.push(mdKv(caseRows(input)));
  out.push(
    mdTable(
      ['session', 'workflow', 'verdict', 'records', 'withheld', 'decisions', 'denials', 'errors'],
      models.map((m) => [
        m.source.sessionId,
        m.workflow,
        `${VERDICT_MARK[verdictClass(m.source.verification.verdict)]} ${m.source.verification.verdict}`,
        String(m.source.verification.records),
        String(Math.max(m.source.withheld, m.withheldSeen)),
        String(m.decisions.total),
        String(m.totals.counts.denials),
        String(m.errors.total),
      ]),
    ),
  );
  out.push(
    'Values come from the recorded sessions: long values are cut, control characters are shown as \\\\u{…}. ' +
      'To check the bundle without this tool, follow VERIFY.md; the full record stream is in transcript.jsonl.',
  );
  for (const m of models) out.push(mdSession(m));
  return `${out.join('\n\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * report.html and report.md of a case. Each session's records are iterated exactly once, sessions one after the
 * other; memory stays bounded by the limits whatever the size of the sessions.
 */
export async function renderReports(
  input: ReportCase,
  options: ReportOptions = {},
): Promise<RenderedReports> {
  const limits: ReportLimits = { ...DEFAULT_REPORT_LIMITS, ...options.limits };
  const sessions = Math.max(1, input.sessions.length);
  const share = (budget: number) => Math.min(budget, Math.max(MIN_SHARE, Math.floor(budget / sessions)));
  const perSession: ReportLimits = {
    ...limits,
    timelineRows: share(limits.timelineRows),
    callEntries: share(limits.callEntries),
  };
  const models: SessionModel[] = [];
  let index = 0;
  for (const session of input.sessions) models.push(await readSession(session, ++index, perSession));
  return { html: renderHtml(input, models), markdown: renderMarkdown(input, models) };
}
