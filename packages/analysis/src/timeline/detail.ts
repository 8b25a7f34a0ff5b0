/**
 * The detail of one timeline row as a reader wants it: a model call as a chat transcript (items new since the
 * previous model call of the same agent marked), tool arguments and output pretty-printed, policy decisions with
 * rule, reason, policy version and who decided, identities field by field. Text is returned raw: whoever prints it
 * must make it safe for its medium (the TUI sanitizes every string).
 */
import { asObj, compactValue, modelCallIO, type Obj, parseIfJson, str } from '../values.js';
import { KIND_CODE, type TimelineRow } from './rows.js';
import type { SessionTimeline } from './timeline.js';

export type Tone = 'plain' | 'dim' | 'key' | 'new' | 'error' | 'denied' | 'approval' | 'ok';

export interface DetailLine {
  text: string;
  tone: Tone;
}

export interface DetailSection {
  title: string;
  lines: DetailLine[];
}

export interface RowDetail {
  row: TimelineRow;
  sections: DetailSection[];
}

/** Lines of pretty JSON kept per value; the rest is counted, and `cat --resolve` shows it whole. */
export const MAX_VALUE_LINES = 5000;

const line = (text: string, tone: Tone = 'plain'): DetailLine => ({ text, tone });

function field(lines: DetailLine[], key: string, value: unknown, tone: Tone = 'plain'): void {
  if (value === undefined || value === null || value === '') return;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  lines.push({ text: `${key}: ${text}`, tone });
}

/** A value as readable text: JSON strings are parsed and pretty-printed, long texts keep their own lines. */
export function prettyValue(value: unknown, tone: Tone = 'plain', limit = MAX_VALUE_LINES): DetailLine[] {
  const shown = parseIfJson(value);
  const text = typeof shown === 'string' ? shown : (JSON.stringify(shown, null, 2) ?? String(shown));
  const all = text.split('\n');
  const lines = all.slice(0, limit).map((t) => line(t, tone));
  if (all.length > limit) lines.push(line(`… ${all.length - limit} more lines`, 'dim'));
  return lines;
}

/** One input/output item of a model call, as transcript lines. */
function itemLines(item: unknown, tone: Tone): DetailLine[] {
  const obj = asObj(item);
  if (!obj) return prettyValue(item, tone);
  const type = str(obj.type);
  const role = str(obj.role);
  if (type === 'function_call' || type === 'tool_call' || obj.arguments !== undefined) {
    return [
      line(`→ call ${str(obj.name) ?? '?'}`, tone === 'new' ? 'new' : 'key'),
      ...prettyValue(obj.arguments, tone),
    ];
  }
  if (type === 'function_call_result' || type === 'function_call_output' || role === 'tool') {
    const output = asObj(obj.output);
    const text = output?.text ?? obj.output ?? obj.content;
    return [
      line(
        `← result ${str(obj.name) ?? str(obj.callId) ?? str(obj.tool_call_id) ?? ''}`,
        tone === 'new' ? 'new' : 'key',
      ),
      ...prettyValue(text, tone),
    ];
  }
  if (role) {
    const content = obj.content;
    const parts = Array.isArray(content)
      ? content.map((part) => str(asObj(part)?.text) ?? str(asObj(part)?.refusal) ?? JSON.stringify(part))
      : [typeof content === 'string' ? content : JSON.stringify(content ?? '')];
    const head = line(`${role}:`, tone === 'new' ? 'new' : 'key');
    return [head, ...parts.flatMap((part) => prettyValue(part, tone))];
  }
  return prettyValue(obj, tone);
}

const asItems = (value: unknown): unknown[] =>
  Array.isArray(value)
    ? value
    : value === undefined || value === null || value === ''
      ? []
      : [{ role: 'user', content: value }];

/** Input and output items of a model-call span, whichever API produced it. */
function modelIO(data: Obj): { input: unknown[]; output: unknown[] } {
  const { input, output } = modelCallIO(data);
  return { input: asItems(input), output: asItems(output) };
}

export async function rowDetail(timeline: SessionTimeline, row: TimelineRow): Promise<RowDetail> {
  const start = asObj(await timeline.record(row.seq)) ?? {};
  const end = row.endSeq > 0 && row.endSeq !== row.seq ? asObj(await timeline.record(row.endSeq)) : undefined;
  const record = end ?? start;
  const span = asObj(record.span);
  const data = asObj(span?.data) ?? {};
  const sections: DetailSection[] = [];
  switch (row.kind) {
    case 'model':
      sections.push(...(await modelSections(timeline, row, data)));
      break;
    case 'tool': {
      const lines: DetailLine[] = [];
      field(lines, 'tool', data.name, 'key');
      sections.push({ title: 'Tool call', lines });
      sections.push({ title: 'Arguments', lines: prettyValue(data.input) });
      sections.push({ title: 'Output', lines: prettyValue(data.output) });
      break;
    }
    case 'policy':
    case 'approval': {
      const decision = asObj(asObj(span ? data.data : undefined)) ?? record;
      sections.push(decisionSection(decision));
      break;
    }
    case 'identity':
      sections.push({ title: 'Identity', lines: identityLines(asObj(record.identity), record.role) });
      break;
    case 'session':
      sections.push(...sessionSections(record));
      break;
    default:
      if (span) sections.push({ title: `${String(span.kind)} span`, lines: prettyValue(data) });
      else sections.push({ title: String(record.type ?? 'record'), lines: prettyValue(record) });
  }
  const error = span?.error;
  if (error !== null && error !== undefined)
    sections.push({ title: 'Error', lines: prettyValue(error, 'error') });
  sections.push(recordSection(row, span, row.kind === 'policy' ? decisionRecords(timeline, row) : []));
  return { row, sections };
}

async function modelSections(
  timeline: SessionTimeline,
  row: TimelineRow,
  data: Obj,
): Promise<DetailSection[]> {
  const { input, output } = modelIO(data);
  const before = await previousModelInput(timeline, row);
  const seen = new Map<string, number>();
  for (const item of before ?? []) {
    const key = JSON.stringify(item);
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  let fresh = 0;
  const transcript: DetailLine[] = [];
  for (const item of input) {
    const key = JSON.stringify(item);
    const count = seen.get(key) ?? 0;
    const isNew = before !== undefined && count === 0;
    if (count > 0) seen.set(key, count - 1);
    if (isNew) fresh++;
    transcript.push(...itemLines(item, isNew ? 'new' : 'plain'));
  }
  const summary: DetailLine[] = [];
  field(summary, 'model', data.model ?? asObj(data._response)?.model, 'key');
  if (row.tokens) field(summary, 'tokens', String(row.tokens));
  field(summary, 'usage', data.usage ?? asObj(data._response)?.usage, 'dim');
  summary.push(
    line(
      before === undefined
        ? `${input.length} input items (first model call)`
        : `${input.length} input items, ${fresh} new since the previous model call (marked +)`,
      'dim',
    ),
  );
  return [
    { title: 'Model call', lines: summary },
    { title: 'Input', lines: transcript },
    { title: 'Output', lines: output.flatMap((item) => itemLines(item, 'plain')) },
  ];
}

/** Input items of the previous model call of the same agent (the turn's parent), if there is one. */
async function previousModelInput(
  timeline: SessionTimeline,
  row: TimelineRow,
): Promise<unknown[] | undefined> {
  const o = timeline.outline;
  const agentOf = (seq: number) => o.parent(o.parent(seq));
  const agent = agentOf(row.seq);
  for (let seq = row.seq - 1; seq >= 1 && seq > row.seq - 5_000_000; seq--) {
    if (!timeline.isKnown(seq)) return undefined;
    if (o.kindCode(seq) !== KIND_CODE.model || agentOf(seq) !== agent) continue;
    const endSeq = o.endSeq(seq);
    const record = asObj(await timeline.record(endSeq > 0 ? endSeq : seq));
    return modelIO(asObj(asObj(record?.span)?.data) ?? {}).input;
  }
  return undefined;
}

/** seqs of the `policy.decision` records a policy span became (the span and its record are one decision). */
function decisionRecords(timeline: SessionTimeline, row: TimelineRow): number[] {
  const out: number[] = [];
  const from = Math.max(row.seq, row.endSeq) + 1;
  for (let seq = from; seq < from + 16 && seq <= timeline.recordCount; seq++) {
    if (timeline.isKnown(seq) && timeline.outline.owner(seq) === row.seq) out.push(seq);
  }
  return out;
}

export function decisionSection(decision: Obj, title = 'Policy decision'): DetailSection {
  const lines: DetailLine[] = [];
  const verdict = str(decision.decision) ?? '?';
  const tone: Tone =
    verdict === 'deny' || verdict === 'rejected' ? 'denied' : verdict === 'allow' ? 'ok' : 'approval';
  lines.push(line(`decision: ${verdict}`, tone));
  const subject = asObj(decision.subject);
  if (subject)
    field(lines, 'subject', `${str(subject.kind) ?? '?'} ${str(subject.name) ?? ''}`.trim(), 'key');
  if (subject?.args !== undefined) {
    lines.push(line('arguments:', 'dim'));
    lines.push(...prettyValue(subject.args));
  }
  field(lines, 'rule', decision.rule);
  field(lines, 'reason', decision.reason, tone === 'denied' ? 'denied' : 'plain');
  const policy = asObj(decision.policy);
  if (policy) {
    const sha = str(policy.sha256);
    field(
      lines,
      'policy',
      `${str(policy.id) ?? '?'} v${String(policy.version ?? '?')}${sha ? ` (sha256 ${sha.slice(0, 12)}…)` : ''}`,
    );
  }
  const by = asObj(decision.decided_by);
  if (by) field(lines, 'decided by', `${str(by.kind) ?? '?'}: ${str(by.id) ?? '?'}`, 'key');
  field(lines, 'call id', decision.call_id, 'dim');
  field(lines, 'span id', decision.span_id, 'dim');
  return { title, lines };
}

export function identityLines(identity: Obj | undefined, role?: unknown): DetailLine[] {
  if (!identity) return [line('no identity recorded', 'dim')];
  const lines: DetailLine[] = [];
  field(lines, 'role', role, 'key');
  field(lines, 'subject', identity.subject, 'key');
  for (const key of ['name', 'email', 'kind', 'issuer', 'method', 'groups'] as const)
    field(lines, key, identity[key]);
  lines.push(
    identity.verified === true
      ? line('verified: yes', 'ok')
      : line('verified: no (as claimed, not proven)', 'approval'),
  );
  if (identity.claims !== undefined) {
    lines.push(line('claims:', 'dim'));
    lines.push(...prettyValue(identity.claims, 'dim'));
  }
  return lines;
}

function sessionSections(record: Obj): DetailSection[] {
  if (record.type === 'session.end') {
    const lines: DetailLine[] = [];
    field(lines, 'status', record.status, record.status === 'completed' ? 'ok' : 'error');
    field(lines, 'counts', record.counts);
    field(lines, 'usage', record.usage);
    field(lines, 'redactions', record.redactions);
    field(lines, 'models', record.models);
    field(lines, 'tools', record.tools);
    return [{ title: 'Session end', lines }];
  }
  const lines: DetailLine[] = [];
  field(lines, 'workflow', record.workflow, 'key');
  field(lines, 'session', record.session_id);
  field(lines, 'trace', record.trace_id, 'dim');
  field(lines, 'group', record.group_id, 'dim');
  const host = asObj(record.host);
  if (host)
    field(
      lines,
      'host',
      `${str(host.user) ?? '?'}@${str(host.hostname) ?? '?'} pid ${String(host.pid ?? '?')} node ${str(host.node) ?? '?'}`,
    );
  field(lines, 'policy', record.policy);
  field(lines, 'redaction', asObj(record.redaction)?.profile);
  field(lines, 'metadata', record.metadata, 'dim');
  return [
    { title: 'Session start', lines },
    { title: 'Identity', lines: identityLines(asObj(record.identity)) },
  ];
}

function recordSection(row: TimelineRow, span: Obj | undefined, decisions: readonly number[]): DetailSection {
  const lines: DetailLine[] = [];
  lines.push(
    line(`seq ${row.seq}${row.endSeq > 0 && row.endSeq !== row.seq ? ` … ${row.endSeq}` : ''}`, 'dim'),
  );
  if (decisions.length > 0) lines.push(line(`policy.decision record: seq ${decisions.join(', ')}`, 'dim'));
  if (Number.isFinite(row.startMs)) lines.push(line(`at ${new Date(row.startMs).toISOString()}`, 'dim'));
  if (Number.isFinite(row.endMs) && Number.isFinite(row.startMs)) {
    lines.push(line(`took ${Math.max(0, row.endMs - row.startMs)} ms`, 'dim'));
  }
  if (span) {
    field(lines, 'span', span.id, 'dim');
    field(lines, 'parent', span.parent_id, 'dim');
  }
  return { title: 'Record', lines };
}

/** A one-line hint shown next to a row in the tree: a tool's arguments, a decision's reason, a model's answer. */
export async function rowPreview(timeline: SessionTimeline, row: TimelineRow): Promise<string> {
  const seq = row.endSeq > 0 ? row.endSeq : row.seq;
  const record = asObj(await timeline.record(seq)) ?? {};
  const data = asObj(asObj(record.span)?.data) ?? {};
  switch (row.kind) {
    case 'tool':
      return `(${compactValue(data.input)})`;
    case 'policy':
    case 'approval': {
      const decision = asObj(data.data) ?? record;
      const reason = str(decision.reason);
      return `${str(decision.decision) ?? ''}${reason ? `: ${reason}` : ''}`;
    }
    case 'model': {
      const last = modelIO(data).output.at(-1);
      const item = asObj(last);
      if (!item) return '';
      if (item.arguments !== undefined) return `→ ${str(item.name) ?? '?'}(${compactValue(item.arguments)})`;
      const content = item.content;
      const text = Array.isArray(content) ? (str(asObj(content[0])?.text) ?? '') : (str(content) ?? '');
      return text ? `“${text}”` : '';
    }
    default:
      return '';
  }
}
