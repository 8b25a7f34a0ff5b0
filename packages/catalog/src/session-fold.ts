import {
  asObj,
  modelCallUsage,
  SessionTotals,
  type SessionTotalsJSON,
  str,
  type TokenUsage,
} from '@agent-replay/analysis';
import { toTimestamp } from '@agent-replay/format';

type Obj = Record<string, unknown>;

/** Session status: the recorder's four, plus what a reader infers for a session without a final `session.end`. */
export type SessionStatus = 'completed' | 'error' | 'interrupted' | 'aborted' | 'recording' | 'incomplete';

export interface SessionIdentity {
  subject: string;
  kind?: string;
  verified: boolean;
  method?: string;
  issuer?: string;
  email?: string;
  name?: string;
  /** Why an OIDC token did not verify (expired, wrong issuer…): what an investigator asks first. */
  verification_error?: string;
}

export interface ModelTally {
  calls: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

export interface ToolTally {
  calls: number;
  errors: number;
  denials: number;
}

/** Everything the fold has learnt from records 1..records; JSON so an incremental index continues from it. */
export interface FoldState {
  records: number;
  session_id: string | null;
  trace_id: string | null;
  group_id: string | null;
  workflow: string | null;
  identity: SessionIdentity | null;
  approvers: string[];
  /** Emails and names of the approvers, so `--identity` finds them by any of the three. */
  approver_aliases: string[];
  first_ts: string | null;
  last_ts: string | null;
  last_trace_start_seq: number;
  /** The last `session.end`: its seq and fields (status and the recorder's cumulative totals). */
  last_end: { seq: number; status: string; totals: SessionTotalsJSON } | null;
  /** Totals recomputed from the records, for sessions whose last segment has no `session.end` yet. */
  totals: SessionTotalsJSON;
  /** `[REDACTED:<kind>:…]` markers seen in records, by kind (what the recorder counted, recovered from the text). */
  redaction_markers: Record<string, number>;
  models: Record<string, ModelTally>;
  tools: Record<string, ToolTally>;
}

/** One full-text document: the searchable text of one record. */
export interface SearchDoc {
  seq: number;
  ts: string;
  kind: string;
  name: string;
  text: string;
}

/** Indexed text per record is capped; the file keeps everything and `cat` shows it. */
export const MAX_DOC_CHARS = 256 * 1024;

const REDACTION_MARKER = /\[REDACTED:([a-z0-9_-]{1,40}):[0-9a-f]{8}\]/g;

/** Records that carry no searchable content of their own. */
const UNSEARCHED = new Set(['span.start', 'trace.start', 'trace.end', 'session.end', 'blob', 'recovery']);

/** Keys whose string values are structure, not content: indexing them would make every query match everything. */
const STRUCTURAL_KEYS = new Set(['type', 'role', 'status', 'object']);

/**
 * When a record's event happened. A record's `ts` is when the recorder's background writer appended it, which can
 * lag the event when the agent keeps the event loop busy; a span carries the SDK's own start and end times.
 */
function eventTime(record: Obj & { ts: string; type: string }): string | undefined {
  const span = record.type === 'span.start' || record.type === 'span.end' ? asObj(record.span) : undefined;
  const when = record.type === 'span.start' ? span?.started_at : span?.ended_at;
  const spanTime = typeof when === 'string' ? toTimestamp(when) : undefined;
  return spanTime ?? (typeof record.ts === 'string' ? toTimestamp(record.ts) : undefined);
}

export function emptyFoldState(): FoldState {
  return {
    records: 0,
    session_id: null,
    trace_id: null,
    group_id: null,
    workflow: null,
    identity: null,
    approvers: [],
    approver_aliases: [],
    first_ts: null,
    last_ts: null,
    last_trace_start_seq: 0,
    last_end: null,
    totals: new SessionTotals().toJSON(),
    redaction_markers: {},
    models: {},
    tools: {},
  };
}

function identityOf(value: unknown): SessionIdentity | null {
  const o = asObj(value);
  const subject = str(o?.subject);
  if (!o || !subject) return null;
  const identity: SessionIdentity = { subject, verified: o.verified === true };
  for (const key of ['kind', 'method', 'issuer', 'email', 'name', 'verification_error'] as const) {
    const v = str(o[key]);
    if (v) identity[key] = v;
  }
  return identity;
}

/** Nesting deeper than this is not searched (a forged file can nest 50,000 levels; agents' data never does). */
const MAX_TEXT_DEPTH = 128;

/** Every string leaf of a value, depth-first, skipping structural keys. Stops collecting at `budget` chars. */
function collectStrings(value: unknown, out: string[], budget: { chars: number }, key = '', depth = 0): void {
  if (budget.chars <= 0 || depth > MAX_TEXT_DEPTH) return;
  if (typeof value === 'string') {
    if (value && !STRUCTURAL_KEYS.has(key)) {
      out.push(value);
      budget.chars -= value.length;
    }
  } else if (typeof value === 'number' || typeof value === 'boolean') {
    if (!STRUCTURAL_KEYS.has(key)) out.push(String(value));
  } else if (Array.isArray(value)) {
    for (const item of value) collectStrings(item, out, budget, key, depth + 1);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collectStrings(v, out, budget, k, depth + 1);
  }
}

function textOf(...values: unknown[]): string {
  const out: string[] = [];
  const budget = { chars: MAX_DOC_CHARS };
  for (const v of values) collectStrings(v, out, budget);
  const text = out.join('\n');
  return text.length > MAX_DOC_CHARS ? text.slice(0, MAX_DOC_CHARS) : text;
}

/**
 * Function results: each is indexed with its tool span (the output is there, under the tool's name). The calls
 * themselves stay: while a tool runs, or after the agent was killed inside it, the model's call is the only place its
 * arguments are recorded.
 */
const FUNCTION_RESULT_ITEMS = new Set(['function_call_result', 'function_call_output']);

function isFunctionResultItem(item: unknown): boolean {
  const o = asObj(item);
  return (
    o !== undefined &&
    ((typeof o.type === 'string' && FUNCTION_RESULT_ITEMS.has(o.type)) || o.role === 'tool')
  );
}

const asItems = (value: unknown): unknown[] =>
  Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];

/**
 * Folds the records of one session, in seq order, into its summary and search documents. Model calls repeat the
 * whole conversation in their input on every turn; `isNewText` lets the caller keep only the first occurrence of each
 * message in the index, so indexing stays linear in the conversation, not quadratic.
 */
export class SessionFold {
  readonly state: FoldState;
  private readonly totals: SessionTotals;

  constructor(state: FoldState = emptyFoldState()) {
    this.state = state;
    this.totals = SessionTotals.from(state.totals);
  }

  /**
   * Adds one record (blob references already resolved). `line` is its stored JSON text, scanned for redaction
   * markers. Returns the record's search document, if it has searchable content.
   */
  add(
    record: Obj & { seq: number; ts: string; type: string },
    line: string,
    isNewText: (text: string) => boolean,
  ) {
    const s = this.state;
    s.records = Math.max(s.records, record.seq);
    const at = eventTime(record);
    if (at) {
      if (!s.first_ts || at < s.first_ts) s.first_ts = at;
      if (!s.last_ts || at > s.last_ts) s.last_ts = at;
    }
    if (line.includes('[REDACTED:')) {
      for (const match of line.matchAll(REDACTION_MARKER)) {
        const kind = match[1] as string;
        s.redaction_markers[kind] = (s.redaction_markers[kind] ?? 0) + 1;
      }
    }
    this.totals.add(record);
    this.tally(record);
    return UNSEARCHED.has(record.type) ? undefined : this.searchDoc(record, isNewText);
  }

  /** The totals recomputed so far (the recorder's own, when the session ended). */
  finish(): FoldState {
    this.state.totals = this.totals.toJSON();
    this.state.totals.redactions = { ...this.state.redaction_markers };
    return this.state;
  }

  private tally(record: Obj & { seq: number; type: string }): void {
    const s = this.state;
    switch (record.type) {
      case 'session.start':
        s.session_id ??= str(record.session_id) ?? null;
        s.trace_id ??= str(record.trace_id) ?? null;
        s.group_id ??= str(record.group_id) ?? null;
        s.workflow ??= str(record.workflow) ?? null;
        s.identity ??= identityOf(record.identity);
        break;
      case 'trace.start':
        s.last_trace_start_seq = record.seq;
        s.workflow ??= str(record.workflow) ?? null;
        s.identity ??= identityOf(record.identity);
        break;
      case 'identity': {
        const who = identityOf(record.identity ?? record);
        if (who && !s.approvers.includes(who.subject)) s.approvers.push(who.subject);
        for (const alias of [who?.email, who?.name])
          if (alias && !s.approver_aliases.includes(alias)) s.approver_aliases.push(alias);
        break;
      }
      case 'session.end':
        s.last_end = {
          seq: record.seq,
          status: str(record.status) ?? 'completed',
          totals: SessionTotals.from(record).toJSON(),
        };
        break;
      case 'policy.decision': {
        const subject = asObj(record.subject);
        const name = str(subject?.name);
        if (
          subject?.kind === 'tool' &&
          name &&
          (record.decision === 'deny' || record.decision === 'rejected')
        )
          this.toolTally(name).denials++;
        break;
      }
      case 'span.end': {
        const span = asObj(record.span);
        const data = asObj(span?.data) ?? {};
        const kind = str(span?.kind);
        if (kind === 'function' && typeof data.name === 'string') {
          const tool = this.toolTally(data.name);
          tool.calls++;
          if (span?.error != null) tool.errors++;
        } else if (kind === 'response' || kind === 'generation') {
          const { model, usage } = modelCallUsage(kind, data);
          const tally = this.modelTally(model ?? 'unknown');
          tally.calls++;
          for (const key of ['input_tokens', 'output_tokens', 'total_tokens'] as const)
            tally[key] += (usage as TokenUsage)[key];
        }
        break;
      }
    }
  }

  private toolTally(name: string): ToolTally {
    this.state.tools[name] ??= { calls: 0, errors: 0, denials: 0 };
    return this.state.tools[name];
  }

  private modelTally(name: string): ModelTally {
    this.state.models[name] ??= { calls: 0, input_tokens: 0, output_tokens: 0, total_tokens: 0 };
    return this.state.models[name];
  }

  private searchDoc(
    record: Obj & { seq: number; ts: string; type: string },
    isNewText: (text: string) => boolean,
  ): SearchDoc | undefined {
    const doc = (kind: string, name: string, text: string): SearchDoc | undefined =>
      text || name ? { seq: record.seq, ts: record.ts, kind, name, text } : undefined;
    switch (record.type) {
      case 'session.start': {
        const host = asObj(record.host);
        return doc(
          'session',
          str(record.workflow) ?? '',
          textOf(record.identity, record.metadata, host?.argv),
        );
      }
      case 'identity':
        return doc('identity', '', textOf(record.identity ?? record));
      case 'policy.decision': {
        const subject = asObj(record.subject);
        return doc(
          'policy',
          str(subject?.name) ?? '',
          textOf(record.decision, record.rule, record.reason, subject?.args, asObj(record.decided_by)?.id),
        );
      }
      case 'span.end':
        return this.spanDoc(record, isNewText, doc);
      default: {
        const { seq: _seq, ts: _ts, type, ...fields } = record;
        return doc(type, '', textOf(fields));
      }
    }
  }

  private spanDoc(
    record: Obj,
    isNewText: (text: string) => boolean,
    doc: (kind: string, name: string, text: string) => SearchDoc | undefined,
  ): SearchDoc | undefined {
    const span = asObj(record.span) ?? {};
    const data = asObj(span.data) ?? {};
    const kind = str(span.kind) ?? '';
    const error = span.error == null ? '' : textOf(span.error);
    const withError = (text: string) => (error ? (text ? `${text}\n${error}` : error) : text);
    switch (kind) {
      case 'function':
        return doc('tool', str(data.name) ?? '', withError(textOf(data.input, data.output)));
      case 'response':
      case 'generation': {
        // Each message is indexed at the model call that first saw it.
        const response = asObj(data._response);
        const items = [
          ...asItems(kind === 'response' ? data._input : data.input),
          ...asItems(kind === 'response' ? response?.output : data.output),
        ];
        const fresh: string[] = [];
        for (const item of items) {
          if (isFunctionResultItem(item)) continue;
          const text = textOf(item);
          if (text && isNewText(text)) fresh.push(text);
        }
        const model = str(kind === 'response' ? response?.model : data.model) ?? '';
        return doc('message', model, withError(fresh.join('\n').slice(0, MAX_DOC_CHARS)));
      }
      case 'handoff':
        return doc('handoff', str(data.to_agent) ?? '', withError(textOf(data.from_agent, data.to_agent)));
      case 'guardrail':
        return doc('guardrail', str(data.name) ?? '', withError(data.triggered === true ? 'triggered' : ''));
      // Structure only (names and usage figures): indexing them would double the index and match nothing useful.
      case 'agent':
      case 'task':
      case 'turn':
        return error ? doc('error', str(data.name) ?? '', error) : undefined;
      case 'custom':
        return doc('custom', str(data.name) ?? '', withError(textOf(data.data)));
      default:
        return doc(kind || 'span', str(data.name) ?? '', withError(textOf(data)));
    }
  }
}

/** The status a reader can state: the last `session.end` if nothing was appended after it, else inferred. */
export function statusOf(state: FoldState, writerAlive: boolean): SessionStatus {
  const end = state.last_end;
  if (end && end.seq > state.last_trace_start_seq) {
    const s = end.status;
    if (s === 'completed' || s === 'error' || s === 'interrupted' || s === 'aborted') return s;
    return 'completed';
  }
  return writerAlive ? 'recording' : 'incomplete';
}

/** The totals to show: the recorder's when the session ended cleanly, else recomputed from the records. */
export function totalsOf(state: FoldState): SessionTotalsJSON {
  const end = state.last_end;
  return end && end.seq > state.last_trace_start_seq ? end.totals : state.totals;
}
