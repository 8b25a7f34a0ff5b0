/**
 * The shape of a session as a tree of rows, held in typed arrays indexed by seq (about 35 bytes per record, so a
 * million-record session costs ~35 MB and no strings but the distinct names). Records are folded in file order
 * (`ingest`); a segment far ahead of that order can be placed provisionally (`ingestAhead`) so that a jump to the end
 * of a huge file does not wait for everything before it, and is overwritten when the ordered pass gets there.
 */
import {
  ATTENTION,
  decisionFlags,
  Flag,
  isApprovalDecision,
  KIND_CODE,
  kindBit,
  ROW_KINDS,
  type RowKind,
  spanRowKind,
  type TimelineRow,
} from './rows.js';

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

const redactionFlag = (line: string): number => (line.includes('[REDACTED:') ? Flag.REDACTED : 0);
/** Distinct names kept; beyond this (hostile data) rows show their kind only. */
const MAX_NAMES = 65_536;

/** Depth of each kind when its ancestors are not known yet (provisional rows of a crashed or live session). */
const TYPICAL_DEPTH: Partial<Record<RowKind, number>> = { session: 0, trace: 0, task: 1, agent: 2, turn: 3 };
const MAX_DEPTH = 255;
/** Ended spans remembered for decisions that name them after they end (a policy span ends, then its record). */
const RECENT_SPANS = 4096;

/** The tokens of a model-call span (input + output), whichever API produced it. */
function tokensOf(data: Obj): number {
  const usage = asObj(data.usage) ?? asObj(asObj(data._response)?.usage);
  if (!usage) return 0;
  return (
    num(usage.input_tokens) + num(usage.output_tokens) ||
    num(usage.prompt_tokens) + num(usage.completion_tokens) ||
    num(usage.total_tokens)
  );
}

function spanName(kind: RowKind, data: Obj): string {
  switch (kind) {
    case 'model':
      return str(data.model) ?? str(asObj(data._response)?.model) ?? '';
    case 'handoff':
      return `${str(data.from_agent) ?? '?'} → ${str(data.to_agent) ?? '?'}`;
    case 'policy':
      return str(asObj(asObj(data.data)?.subject)?.name) ?? '';
    case 'mcp':
      return str(data.server) ?? '';
    default:
      return str(data.name) ?? '';
  }
}

class Columns {
  kind: Uint8Array;
  flags: Uint8Array;
  subtreeFlags: Uint8Array;
  depth: Uint8Array;
  parent: Int32Array;
  /** The row a record belongs to: itself for row records, the span's start for `span.end`, 0 for blobs. */
  owner: Int32Array;
  endSeq: Int32Array;
  tokens: Int32Array;
  /** A turn's number. */
  ordinal: Int32Array;
  name: Int32Array;
  subtreeKinds: Uint32Array;
  /** When each record happened (span start/end times; else the record's ts). */
  time: Float64Array;

  constructor(capacity: number) {
    this.kind = new Uint8Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.subtreeFlags = new Uint8Array(capacity);
    this.depth = new Uint8Array(capacity);
    this.parent = new Int32Array(capacity);
    this.owner = new Int32Array(capacity);
    this.endSeq = new Int32Array(capacity);
    this.tokens = new Int32Array(capacity);
    this.ordinal = new Int32Array(capacity);
    this.name = new Int32Array(capacity);
    this.subtreeKinds = new Uint32Array(capacity);
    this.time = new Float64Array(capacity).fill(Number.NaN);
  }

  get capacity(): number {
    return this.kind.length;
  }

  grow(capacity: number): void {
    const grown = <T extends Uint8Array | Int32Array | Uint32Array | Float64Array>(
      old: T,
      make: (n: number) => T,
    ) => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    const filler = new Float64Array(capacity).fill(Number.NaN);
    filler.set(this.time);
    this.time = filler;
    this.kind = grown(this.kind, (n) => new Uint8Array(n));
    this.flags = grown(this.flags, (n) => new Uint8Array(n));
    this.subtreeFlags = grown(this.subtreeFlags, (n) => new Uint8Array(n));
    this.depth = grown(this.depth, (n) => new Uint8Array(n));
    this.parent = grown(this.parent, (n) => new Int32Array(n));
    this.owner = grown(this.owner, (n) => new Int32Array(n));
    this.endSeq = grown(this.endSeq, (n) => new Int32Array(n));
    this.tokens = grown(this.tokens, (n) => new Int32Array(n));
    this.ordinal = grown(this.ordinal, (n) => new Int32Array(n));
    this.name = grown(this.name, (n) => new Int32Array(n));
    this.subtreeKinds = grown(this.subtreeKinds, (n) => new Uint32Array(n));
  }
}

export interface OutlinedRecord {
  seq: number;
  /** The parsed record. */
  record: Obj;
  /** Its stored text (to spot redaction markers without walking the object). */
  line: string;
}

/** Span facts seen in a provisionally placed segment: enough to work out depths from `span.end` records. */
export interface AheadSpan {
  parentId: string | null;
  /** seq of its `span.start` if seen, else 0. */
  startSeq: number;
  /** seq of its `span.end` when that end was placed as a row of its own (start not seen yet). */
  endSeq: number;
}

export class TimelineOutline {
  private cols: Columns;
  private readonly names: string[] = [''];
  private readonly nameIds = new Map<string, number>();
  /** Spans started and not yet ended, by span id → seq of their row (ordered pass). */
  private readonly openSpans = new Map<string, number>();
  private readonly recentSpans = new Map<string, number>();
  /** The row of the trace being read: spans without a parent hang under it. */
  private currentTrace = 0;
  /** Records 1..orderedThrough are folded in order; rows beyond it are provisional. */
  orderedThrough = 0;

  constructor(capacity: number) {
    this.cols = new Columns(Math.max(16, capacity + 1));
  }

  /** Makes room for records up to `seq` (a growing file). */
  reserve(seq: number): void {
    if (seq < this.cols.capacity) return;
    this.cols.grow(Math.max(seq + 1, Math.ceil(this.cols.capacity * 1.5)));
  }

  isRow(seq: number): boolean {
    return seq > 0 && seq < this.cols.capacity && this.cols.kind[seq] !== 0;
  }

  kindCode(seq: number): number {
    return this.cols.kind[seq] ?? 0;
  }

  flags(seq: number): number {
    return this.cols.flags[seq] ?? 0;
  }

  subtreeFlags(seq: number): number {
    return this.cols.subtreeFlags[seq] ?? 0;
  }

  subtreeKinds(seq: number): number {
    return this.cols.subtreeKinds[seq] ?? 0;
  }

  parent(seq: number): number {
    return this.cols.parent[seq] ?? 0;
  }

  owner(seq: number): number {
    return this.cols.owner[seq] ?? 0;
  }

  endSeq(seq: number): number {
    return this.cols.endSeq[seq] ?? 0;
  }

  time(seq: number): number {
    return this.cols.time[seq] ?? Number.NaN;
  }

  row(seq: number): TimelineRow | undefined {
    const c = this.cols;
    if (!this.isRow(seq)) return undefined;
    const endSeq = c.endSeq[seq]!;
    return {
      seq,
      kind: ROW_KINDS[c.kind[seq]!]!,
      depth: c.depth[seq]!,
      parent: c.parent[seq]!,
      flags: c.flags[seq]!,
      subtreeFlags: c.subtreeFlags[seq]!,
      endSeq,
      name: c.kind[seq] === KIND_CODE.turn ? `turn ${c.ordinal[seq]}` : (this.names[c.name[seq]!] ?? ''),
      startMs: c.time[seq]!,
      // A span placed by its end alone (start not read yet) has no start time of its own: no duration.
      endMs: endSeq > 0 && endSeq !== seq ? c.time[endSeq]! : Number.NaN,
      tokens: c.tokens[seq]!,
    };
  }

  /** Folds the next record in file order. */
  ingest({ seq, record, line }: OutlinedRecord): void {
    this.reserve(seq);
    this.clear(seq);
    this.orderedThrough = seq;
    const c = this.cols;
    const type = str(record.type) ?? '';
    const redacted = redactionFlag(line);
    c.time[seq] = Date.parse(str(record.ts) ?? '');
    switch (type) {
      case 'span.start':
      case 'span.end':
        this.ingestSpan(seq, type === 'span.end', asObj(record.span) ?? {}, redacted);
        return;
      case 'trace.start':
        this.currentTrace = seq;
        this.place(seq, 'trace', 0, str(record.workflow) ?? '', redacted);
        if (record.resumed === true) c.name[seq] = this.intern(`${str(record.workflow) ?? ''} (resumed)`);
        return;
      case 'trace.end':
        if (this.currentTrace > 0) c.endSeq[this.currentTrace] = seq;
        c.owner[seq] = this.currentTrace;
        return;
      case 'policy.decision':
        this.ingestDecision(seq, record, redacted);
        return;
      case 'session.start':
        this.place(seq, 'session', 0, 'session started', redacted);
        return;
      case 'session.end':
        this.place(seq, 'session', 0, `session ${str(record.status) ?? 'ended'}`, redacted);
        if (record.status === 'error') c.flags[seq]! |= Flag.ERROR;
        return;
      case 'identity': {
        const who = asObj(record.identity);
        const role = str(record.role);
        this.place(
          seq,
          'identity',
          this.currentTrace,
          `${role ? `${role}: ` : ''}${str(who?.subject) ?? '?'}`,
          redacted,
        );
        return;
      }
      case 'recovery':
        this.place(seq, 'recovery', 0, 'torn tail recovered', redacted | Flag.ERROR);
        return;
      case 'divergence':
        this.place(
          seq,
          'divergence',
          this.currentTrace,
          str(record.reason) ?? 'divergence',
          redacted | Flag.ERROR,
        );
        return;
      case 'blob':
        return;
      default:
        this.place(seq, 'other', this.currentTrace, type, redacted);
    }
  }

  /**
   * Places the records of one segment ahead of the ordered pass. Depths come from the span ids: a span's ancestors
   * end after it, so in a finished session their `span.end` records are in the same tail of the file. `spans`
   * carries what earlier calls learnt (segments placed this way, nearest the end first).
   */
  ingestAhead(records: readonly OutlinedRecord[], spans: Map<string, AheadSpan>): void {
    for (const { seq, record } of records) {
      const span = asObj(record.span);
      const id = str(span?.id);
      if (!span || !id) continue;
      const entry = spans.get(id) ?? { parentId: null, startSeq: 0, endSeq: 0 };
      entry.parentId = str(span.parent_id) ?? null;
      if (record.type === 'span.start') entry.startSeq = seq;
      spans.set(id, entry);
    }
    for (const { seq, record, line } of records) {
      this.reserve(seq);
      this.clear(seq);
      this.cols.time[seq] = Date.parse(str(record.ts) ?? '');
      const span = asObj(record.span);
      if (span) this.placeSpanAhead(seq, record.type === 'span.end', span, spans, redactionFlag(line));
      else this.placeRecordAhead(seq, record);
    }
  }

  private placeRecordAhead(seq: number, record: Obj): void {
    const type = str(record.type) ?? '';
    if (type === 'blob' || type === 'trace.end') return;
    const kind: RowKind =
      type === 'policy.decision'
        ? isApprovalDecision(record.decision)
          ? 'approval'
          : 'policy'
        : (({
            'session.start': 'session',
            'session.end': 'session',
            'trace.start': 'trace',
            identity: 'identity',
          }[type] as RowKind | undefined) ?? 'other');
    const c = this.cols;
    c.kind[seq] = KIND_CODE[kind];
    c.depth[seq] = TYPICAL_DEPTH[kind] ?? 1;
    c.parent[seq] = -1;
    c.owner[seq] = seq;
    c.flags[seq] = Flag.PROVISIONAL | decisionFlags(record.decision);
    const name =
      str(asObj(record.subject)?.name) ??
      str(record.workflow) ??
      str(asObj(record.identity)?.subject) ??
      (type === 'session.end' ? `session ${str(record.status) ?? 'ended'}` : type);
    c.name[seq] = this.intern(name);
  }

  private placeSpanAhead(
    seq: number,
    ended: boolean,
    span: Obj,
    spans: Map<string, AheadSpan>,
    redacted: number,
  ) {
    const c = this.cols;
    const id = str(span.id) ?? '';
    const entry = spans.get(id)!;
    const data = asObj(span.data) ?? {};
    const kind = spanRowKind(str(span.kind) ?? '', str(data.name));
    const time = Date.parse(str(ended ? span.ended_at : span.started_at) ?? '');
    if (Number.isFinite(time)) c.time[seq] = time;
    if (ended && entry.startSeq > 0 && entry.startSeq < seq) {
      // The end of a span whose start is placed: complete that row.
      c.owner[seq] = entry.startSeq;
      c.endSeq[entry.startSeq] = seq;
      c.flags[entry.startSeq]! &= ~Flag.OPEN;
      this.finishSpan(entry.startSeq, kind, data, span, redacted);
      return;
    }
    c.kind[seq] = KIND_CODE[kind];
    c.depth[seq] = this.depthAhead(entry.parentId, spans) ?? TYPICAL_DEPTH[kind] ?? 4;
    c.parent[seq] = -1;
    c.owner[seq] = seq;
    c.flags[seq] = Flag.PROVISIONAL | Flag.OPEN | redacted;
    c.name[seq] = this.intern(spanName(kind, data));
    c.time[seq] = Date.parse(str(span.started_at) ?? '') || c.time[seq]!;
    if (ended) {
      // Its start is further back: this end stands for the span until the start is placed.
      entry.endSeq = seq;
      c.endSeq[seq] = seq;
      c.flags[seq]! &= ~Flag.OPEN;
      this.finishSpan(seq, kind, data, span, redacted);
    } else if (entry.endSeq > seq) {
      // Its end was placed first (as a row of its own): the start takes over.
      const end = entry.endSeq;
      c.endSeq[seq] = end;
      c.flags[seq] = (c.flags[end]! & ~Flag.OPEN) | Flag.PROVISIONAL;
      c.tokens[seq] = c.tokens[end]!;
      c.ordinal[seq] = c.ordinal[end]!;
      if (c.name[end]) c.name[seq] = c.name[end]!;
      const endTime = c.time[end]!;
      this.clear(end);
      c.time[end] = endTime;
      c.owner[end] = seq;
      c.endSeq[seq] = end;
    }
  }

  /** Depth of a child of `parentId`, from spans placed ahead and the ordered pass's open spans; undefined if unknown. */
  private depthAhead(parentId: string | null, spans: Map<string, AheadSpan>): number | undefined {
    let depth = 1;
    for (let cursor = parentId; cursor !== null; depth++) {
      const ordered = this.openSpans.get(cursor) ?? this.recentSpans.get(cursor);
      if (ordered !== undefined) return Math.min(MAX_DEPTH, depth + this.cols.depth[ordered]!);
      const next = spans.get(cursor);
      if (!next || depth >= MAX_DEPTH) return undefined;
      cursor = next.parentId;
    }
    return depth;
  }

  private ingestSpan(seq: number, ended: boolean, span: Obj, redacted: number): void {
    const c = this.cols;
    const id = str(span.id) ?? '';
    const data = asObj(span.data) ?? {};
    const kind = spanRowKind(str(span.kind) ?? '', str(data.name));
    const time = Date.parse(str(ended ? span.ended_at : span.started_at) ?? '');
    if (Number.isFinite(time)) c.time[seq] = time;
    if (!ended) {
      const parentId = str(span.parent_id);
      const parent = parentId
        ? (this.openSpans.get(parentId) ?? this.recentSpans.get(parentId) ?? this.currentTrace)
        : this.currentTrace;
      this.place(seq, kind, parent, spanName(kind, data), redacted | Flag.OPEN);
      this.openSpans.set(id, seq);
      return;
    }
    let start = this.openSpans.get(id);
    if (start === undefined) {
      // An end without a start (a recorder attached mid-trace): the end record is the row.
      const parentId = str(span.parent_id);
      const parent = parentId ? (this.openSpans.get(parentId) ?? this.currentTrace) : this.currentTrace;
      this.place(seq, kind, parent, spanName(kind, data), 0);
      start = seq;
    } else {
      this.openSpans.delete(id);
      c.owner[seq] = start;
      c.endSeq[start] = seq;
    }
    this.recentSpans.set(id, start);
    if (this.recentSpans.size > RECENT_SPANS) this.recentSpans.delete(this.recentSpans.keys().next().value!);
    c.flags[start]! &= ~Flag.OPEN;
    const extra = this.finishSpan(start, kind, data, span, redacted);
    this.propagate(start, extra, 0);
  }

  /** Completes a span row from its `span.end`: name, tokens, error, guardrail trips and policy-span decisions. */
  private finishSpan(start: number, kind: RowKind, data: Obj, span: Obj, redacted: number): number {
    const c = this.cols;
    const name = spanName(kind, data);
    if (name) c.name[start] = this.intern(name);
    if (kind === 'model') c.tokens[start] = tokensOf(data);
    if (kind === 'turn') c.ordinal[start] = num(data.turn);
    let flags = redacted;
    if (span.error !== null && span.error !== undefined) flags |= Flag.ERROR;
    if (kind === 'guardrail' && data.triggered === true) flags |= Flag.DENIED;
    if (kind === 'policy') flags |= decisionFlags(asObj(data.data)?.decision);
    c.flags[start]! |= flags;
    return flags;
  }

  private ingestDecision(seq: number, record: Obj, redacted: number): void {
    const c = this.cols;
    const spanId = str(record.span_id);
    const target = spanId ? (this.openSpans.get(spanId) ?? this.recentSpans.get(spanId)) : undefined;
    const flags = decisionFlags(record.decision) | redacted;
    if (target !== undefined && c.kind[target] === KIND_CODE.policy) {
      // The record a policy span became: the same decision, shown once.
      c.owner[seq] = target;
      c.flags[target]! |= flags;
      this.propagate(target, flags, 0);
      return;
    }
    const kind: RowKind = isApprovalDecision(record.decision) ? 'approval' : 'policy';
    this.place(seq, kind, target ?? this.currentTrace, str(asObj(record.subject)?.name) ?? '', flags);
  }

  /** A new row under `parent`. */
  private place(seq: number, kind: RowKind, parent: number, name: string, flags: number): void {
    const c = this.cols;
    c.kind[seq] = KIND_CODE[kind];
    c.parent[seq] = parent;
    c.depth[seq] = parent > 0 ? Math.min(MAX_DEPTH, c.depth[parent]! + 1) : 0;
    c.owner[seq] = seq;
    c.flags[seq] = flags;
    c.name[seq] = this.intern(name);
    if (parent > 0) c.flags[parent]! |= Flag.HAS_CHILDREN;
    this.propagate(seq, flags & ATTENTION, kindBit(kind));
  }

  /** Tells the ancestors of `seq` what lies below them. */
  private propagate(seq: number, flags: number, kinds: number): void {
    const c = this.cols;
    const attention = flags & ATTENTION;
    for (let p = c.parent[seq]!, guard = 0; p > 0 && guard < MAX_DEPTH; p = c.parent[p]!, guard++) {
      c.subtreeFlags[p]! |= attention;
      c.subtreeKinds[p]! |= kinds;
    }
  }

  private clear(seq: number): void {
    const c = this.cols;
    c.kind[seq] = 0;
    c.flags[seq] = 0;
    c.subtreeFlags[seq] = 0;
    c.subtreeKinds[seq] = 0;
    c.depth[seq] = 0;
    c.parent[seq] = 0;
    c.owner[seq] = 0;
    c.endSeq[seq] = 0;
    c.tokens[seq] = 0;
    c.ordinal[seq] = 0;
    c.name[seq] = 0;
  }

  private intern(name: string): number {
    const text = name.length > 200 ? `${name.slice(0, 199)}…` : name;
    let id = this.nameIds.get(text);
    if (id === undefined) {
      if (this.names.length >= MAX_NAMES) return 0;
      id = this.names.length;
      this.names.push(text);
      this.nameIds.set(text, id);
    }
    return id;
  }
}
