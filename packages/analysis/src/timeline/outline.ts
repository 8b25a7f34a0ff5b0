/**
 * The shape of a session as a tree of rows, held in typed arrays indexed by seq (about 35 bytes per record, so a
 * million-record session costs ~35 MB and no strings but the distinct names). Records are folded in file order
 * (`ingest`); a segment far ahead of that order can be placed provisionally (`ingestAhead`) so that a jump to the end
 * of a huge file does not wait for everything before it, and is overwritten when the ordered pass gets there.
 */
import { modelCallTokens } from '../totals.js';
import { asObj, num, type Obj, str } from '../values.js';
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

const redactionFlag = (line: string): number => (line.includes('[REDACTED:') ? Flag.REDACTED : 0);
/** Distinct names kept; beyond this (hostile data) rows show their kind only. */
const MAX_NAMES = 65_536;

/** Kind, name and flags of a row for a record that is not a span (the same whichever pass places it). */
function recordRow(type: string, record: Obj): { kind: RowKind; name: string; flags: number } {
  switch (type) {
    case 'policy.decision':
      return {
        kind: isApprovalDecision(record.decision) ? 'approval' : 'policy',
        name: str(asObj(record.subject)?.name) ?? '',
        flags: decisionFlags(record.decision),
      };
    case 'trace.start':
      return {
        kind: 'trace',
        name: `${str(record.workflow) ?? ''}${record.resumed === true ? ' (resumed)' : ''}`,
        flags: 0,
      };
    case 'session.start':
      return { kind: 'session', name: 'session started', flags: 0 };
    case 'session.end':
      return {
        kind: 'session',
        name: `session ${str(record.status) ?? 'ended'}`,
        flags: record.status === 'error' ? Flag.ERROR : 0,
      };
    case 'identity': {
      const role = str(record.role);
      return {
        kind: 'identity',
        name: `${role ? `${role}: ` : ''}${str(asObj(record.identity)?.subject) ?? '?'}`,
        flags: 0,
      };
    }
    case 'recovery':
      return { kind: 'recovery', name: 'torn tail recovered', flags: Flag.ERROR };
    case 'divergence':
      return { kind: 'divergence', name: str(record.reason) ?? 'divergence', flags: Flag.ERROR };
    default:
      return { kind: 'other', name: type, flags: 0 };
  }
}

/** Depth of each kind when its ancestors are not known yet (provisional rows of a crashed or live session). */
const TYPICAL_DEPTH: Partial<Record<RowKind, number>> = { session: 0, trace: 0, task: 1, agent: 2, turn: 3 };
const MAX_DEPTH = 255;
/** Ended spans remembered for decisions that name them after they end (a policy span ends, then its record). */
const RECENT_SPANS = 4096;

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
      case 'trace.end':
        if (this.currentTrace > 0) c.endSeq[this.currentTrace] = seq;
        c.owner[seq] = this.currentTrace;
        return;
      case 'policy.decision':
        this.ingestDecision(seq, record, redacted);
        return;
      case 'blob':
        return;
      default: {
        const row = recordRow(type, record);
        const topLevel = row.kind === 'session' || row.kind === 'recovery' || row.kind === 'trace';
        this.place(seq, row.kind, topLevel ? 0 : this.currentTrace, row.name, redacted | row.flags);
        if (row.kind === 'trace') this.currentTrace = seq;
      }
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
      else this.placeRecordAhead(seq, record, spans);
    }
  }

  private placeRecordAhead(seq: number, record: Obj, spans: Map<string, AheadSpan>): void {
    const type = str(record.type) ?? '';
    if (type === 'blob' || type === 'trace.end') return;
    const c = this.cols;
    const row = recordRow(type, record);
    // A decision names the span it is about: a policy span's own record is that span's row, as in the ordered pass.
    const about = type === 'policy.decision' ? spans.get(str(record.span_id) ?? '') : undefined;
    const aboutRow = about ? about.startSeq || about.endSeq : 0;
    if (aboutRow > 0 && c.kind[aboutRow] === KIND_CODE.policy) {
      c.owner[seq] = aboutRow;
      c.flags[aboutRow]! |= row.flags;
      return;
    }
    c.kind[seq] = KIND_CODE[row.kind];
    c.depth[seq] =
      aboutRow > 0 ? Math.min(MAX_DEPTH, c.depth[aboutRow]! + 1) : (TYPICAL_DEPTH[row.kind] ?? 1);
    c.parent[seq] = -1;
    c.owner[seq] = seq;
    c.flags[seq] = Flag.PROVISIONAL | row.flags;
    c.name[seq] = this.intern(row.name);
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
    if (kind === 'turn') c.ordinal[seq] = num(data.turn);
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
      // A turn knows its number from the start (a running turn in a live or cut-short session is "turn 2").
      if (kind === 'turn') c.ordinal[seq] = num(data.turn);
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
    const spanKind = str(span.kind) ?? '';
    const name = spanName(kind, data);
    if (name) c.name[start] = this.intern(name);
    if (kind === 'model') c.tokens[start] = modelCallTokens(spanKind, data);
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
    const row = recordRow('policy.decision', record);
    const flags = row.flags | redacted;
    if (target !== undefined && c.kind[target] === KIND_CODE.policy) {
      // The record a policy span became: the same decision, shown once.
      c.owner[seq] = target;
      c.flags[target]! |= flags;
      this.propagate(target, flags, 0);
      return;
    }
    this.place(seq, row.kind, target ?? this.currentTrace, row.name, flags);
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

  /**
   * Tells the ancestors of `seq` what lies below them. An ancestor that already knows stops the walk (its own
   * ancestors were told when it learnt), so a deep chain costs O(1) per row. Parents always precede their children
   * in the ordered pass, so the walk ends.
   */
  private propagate(seq: number, flags: number, kinds: number): void {
    const c = this.cols;
    const attention = flags & ATTENTION;
    for (let p = c.parent[seq]!; p > 0; p = c.parent[p]!) {
      if ((c.subtreeFlags[p]! & attention) === attention && (c.subtreeKinds[p]! & kinds) === kinds) return;
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
