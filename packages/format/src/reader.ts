import { createHash } from 'node:crypto';
import { type Codec, type CodecName, resolveCodec } from './codec.js';
import {
  INDEX_TRAILER_BYTES,
  MAGIC_INDEX,
  MAGIC_SEGMENT,
  MAX_METADATA_BYTES,
  MAX_SEGMENT_BYTES,
  SKIPPABLE_HEADER_BYTES,
} from './constants.js';
import { SessionFileError } from './errors.js';
import { type ByteSource, type FileSource, openFileSource } from './file-source.js';
import { leafHash } from './merkle.js';
import {
  blobRecordHash,
  type ScanFailure,
  scanSession,
  type TornTail,
  trailerOffset,
  validSegmentHeader,
} from './scan.js';
import { isTimestamp, toTimestamp } from './time.js';
import type {
  IndexSegmentEntry,
  SegmentHeader,
  SessionHeader,
  SessionIndex,
  SessionRecord,
} from './types.js';

export interface ReaderOptions {
  codec?: Codec | 'auto' | CodecName;
  /** How many decoded segments to keep for random access (default 4). */
  cacheSegments?: number;
}

export interface RecordQuery {
  /** First seq to return (inclusive). */
  fromSeq?: number;
  /** Last seq to return (inclusive). */
  toSeq?: number;
  /** Only records at or after this time (ISO string, Date or epoch ms). */
  since?: string | Date | number;
  /** Only records at or before this time. */
  until?: string | Date | number;
  /** Only these record types. */
  types?: readonly string[];
}

export interface SegmentRef {
  segment: number;
  offset: number;
  firstSeq: number;
  lastSeq: number;
  tFirst: string;
  tLast: string;
}

export interface RawRecord {
  seq: number;
  /** The record's canonical JSON text exactly as stored. */
  line: string;
}

interface DecodedSegment {
  ref: SegmentRef;
  content: Buffer;
  /** starts[i] = byte offset of record firstSeq+i; starts[count] = content length */
  starts: number[];
}

/**
 * Reads a session file without loading it: the index (when the file is sealed) or a scan of segment headers
 * (no decompression) locates every segment, and segments are decoded one at a time on demand.
 */
export class SessionReader {
  readonly path: string;
  readonly header: SessionHeader;
  readonly stats = { segmentsDecoded: 0 };
  private readonly source: FileSource;
  private readonly codec: Codec;
  private readonly cacheLimit: number;
  private segmentList: SegmentRef[];
  private indexed: boolean;
  private stopReason: ScanFailure | TornTail | undefined;
  private scannedTo: number;
  private blobSeqs = new Map<string, number>();
  /** Without an index, blobs are found by decoding segments in order up to here. */
  private blobsKnownThroughSegment = 0;
  private cache = new Map<number, DecodedSegment>();

  private constructor(init: {
    source: FileSource;
    header: SessionHeader;
    codec: Codec;
    segments: SegmentRef[];
    indexed: boolean;
    scannedTo: number;
    stopReason?: ScanFailure | TornTail;
    blobs?: Map<string, number>;
    cacheSegments: number;
  }) {
    this.source = init.source;
    this.path = init.source.path;
    this.header = init.header;
    this.codec = init.codec;
    this.segmentList = init.segments;
    this.indexed = init.indexed;
    this.scannedTo = init.scannedTo;
    this.stopReason = init.stopReason;
    this.cacheLimit = Math.max(1, init.cacheSegments);
    if (init.blobs) {
      this.blobSeqs = init.blobs;
      this.blobsKnownThroughSegment = Number.POSITIVE_INFINITY;
    }
  }

  static async open(path: string, options: ReaderOptions = {}): Promise<SessionReader> {
    const codec = await resolveCodec(options.codec);
    const source = openFileSource(path);
    try {
      const init = await SessionReader.locate(source, codec);
      return new SessionReader({ ...init, source, codec, cacheSegments: options.cacheSegments ?? 4 });
    } catch (error) {
      source.close();
      throw error;
    }
  }

  private static async locate(source: FileSource, codec: Codec) {
    // Headers and structure come from a shallow scan unless a trustworthy index lets us skip it.
    const fromIndex = readIndex(source);
    const scan = await scanSession(fromIndex ? headerOnly(source, fromIndex.headerEnd) : source, {
      deep: false,
      codec,
    });
    if (!scan.header) {
      const why = scan.failure ?? scan.torn;
      throw new SessionFileError('EUNREADABLE', source.path, why?.message ?? 'unreadable', why?.offset);
    }
    if (fromIndex) {
      return {
        header: scan.header,
        segments: fromIndex.index.segments.map(toRef),
        indexed: true,
        scannedTo: source.size,
        blobs: new Map(fromIndex.index.blobs),
      };
    }
    const stopReason = scan.failure ?? scan.torn;
    return {
      header: scan.header,
      segments: scan.state.segments.map(toRef),
      indexed: false,
      scannedTo: scan.validEnd,
      ...(stopReason ? { stopReason } : {}),
    };
  }

  /** True when the file was opened through its index (sealed, O(1) open). */
  get hasIndex(): boolean {
    return this.indexed;
  }

  get segments(): readonly SegmentRef[] {
    return this.segmentList;
  }

  get recordCount(): number {
    return this.segmentList.at(-1)?.lastSeq ?? 0;
  }

  get fileSize(): number {
    return this.source.size;
  }

  /** Why reading stopped before the end of the file (torn tail, damage), if it did. */
  get stoppedAt(): ScanFailure | TornTail | undefined {
    return this.stopReason;
  }

  /**
   * Picks up segments appended since the last look (follow mode). Returns true when new records appeared.
   * A torn tail seen earlier may since have been completed by the writer.
   */
  async refresh(): Promise<boolean> {
    const before = this.recordCount;
    const segmentsBefore = this.segmentList.length;
    if (this.source.refreshSize() === this.scannedTo) return false;
    const scan = await scanSession(this.source, { deep: false, codec: this.codec });
    this.segmentList = scan.state.segments.map(toRef);
    this.indexed = false;
    // Blobs in segments that appeared since are unknown, also when the index listed every blob before.
    this.blobsKnownThroughSegment = Math.min(this.blobsKnownThroughSegment, segmentsBefore);
    this.scannedTo = scan.validEnd;
    this.stopReason = scan.failure ?? scan.torn;
    return this.recordCount > before;
  }

  /** Records in order, decoded one segment at a time. */
  async *records(query: RecordQuery = {}): AsyncGenerator<SessionRecord> {
    for await (const raw of this.lines(query)) yield JSON.parse(raw.line) as SessionRecord;
  }

  /** Records as stored (canonical JSON text), for byte-exact output. */
  async *lines(query: RecordQuery = {}): AsyncGenerator<RawRecord> {
    const since = query.since === undefined ? undefined : toTimestamp(query.since);
    const until = query.until === undefined ? undefined : toTimestamp(query.until);
    if ((query.since !== undefined && !since) || (query.until !== undefined && !until)) {
      throw new RangeError('since/until must be a valid time');
    }
    const types = query.types ? new Set(query.types) : undefined;
    const from = query.fromSeq ?? 1;
    const to = query.toSeq ?? Number.POSITIVE_INFINITY;
    let i = this.firstSegmentFor(from, since);
    for (; i < this.segmentList.length; i++) {
      const ref = this.segmentList[i]!;
      if (ref.firstSeq > to || (until && ref.tFirst > until)) break;
      const decoded = await this.decode(i);
      for (let seq = Math.max(from, ref.firstSeq); seq <= Math.min(to, ref.lastSeq); seq++) {
        const line = lineOf(decoded, seq);
        if (since || until || types) {
          const head = JSON.parse(line) as SessionRecord;
          if ((since && head.ts < since) || (until && head.ts > until) || (types && !types.has(head.type)))
            continue;
        }
        yield { seq, line };
      }
    }
  }

  /** Random access by seq: decodes exactly the one segment holding it (or none if cached). */
  async get(seq: number): Promise<SessionRecord | undefined> {
    const line = await this.getLine(seq);
    return line === undefined ? undefined : (JSON.parse(line) as SessionRecord);
  }

  async getLine(seq: number): Promise<string | undefined> {
    const i = this.segmentIndexOf(seq);
    if (i < 0) return undefined;
    return lineOf(await this.decode(i), seq);
  }

  /**
   * Returns a copy of `value` with blob references ({"$blob": hash}) replaced by the values they name and
   * escaped user objects ({"$lit": {...}}) unwrapped. Blobs are decoded only when referenced.
   */
  async resolve<T = unknown>(value: unknown): Promise<T> {
    return (await this.resolveValue(value, 0, { nodes: 0 })) as T;
  }

  /**
   * Leaf hashes SHA-256(0x00 ‖ record) of records 1..n in order, for Merkle inclusion proofs against a checkpoint
   * root. 32 bytes per record are held in memory.
   */
  async leafHashes(): Promise<Buffer[]> {
    const leaves: Buffer[] = [];
    for (let i = 0; i < this.segmentList.length; i++) {
      const decoded = await this.decode(i);
      for (let k = 0; k + 1 < decoded.starts.length; k++) {
        leaves.push(leafHash(decoded.content.subarray(decoded.starts[k]!, decoded.starts[k + 1]! - 1)));
      }
    }
    return leaves;
  }

  close(): void {
    this.cache.clear();
    this.source.close();
  }

  private async resolveValue(value: unknown, depth: number, budget: { nodes: number }): Promise<unknown> {
    if (depth > 1000) throw new SessionFileError('EBLOB', this.path, 'blob references nest too deeply');
    // A hostile file can make references form a DAG that doubles at every level; stop long before memory runs out.
    if (++budget.nodes > MAX_RESOLVED_NODES) {
      throw new SessionFileError(
        'EBLOB',
        this.path,
        `blob references expand to more than ${MAX_RESOLVED_NODES} values`,
      );
    }
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (const item of value) out.push(await this.resolveValue(item, depth + 1, budget));
      return out;
    }
    if (value === null || typeof value !== 'object') return value;
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === '$blob' && typeof obj.$blob === 'string') {
      return this.resolveValue(await this.blobValue(obj.$blob), depth + 1, budget);
    }
    const target = keys.length === 1 && keys[0] === '$lit' && isPlainObject(obj.$lit) ? obj.$lit : obj;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(target))
      out[key] = await this.resolveValue(item, depth + 1, budget);
    return out;
  }

  private async blobValue(hash: string): Promise<unknown> {
    let seq = this.blobSeqs.get(hash);
    while (seq === undefined && this.blobsKnownThroughSegment < this.segmentList.length) {
      const decoded = await this.decode(this.blobsKnownThroughSegment);
      for (let s = decoded.ref.firstSeq; s <= decoded.ref.lastSeq; s++) {
        const i = s - decoded.ref.firstSeq;
        const blob = blobRecordHash(
          decoded.content.subarray(decoded.starts[i]!, decoded.starts[i + 1]! - 1),
          s,
        );
        if (blob && !this.blobSeqs.has(blob.hash)) this.blobSeqs.set(blob.hash, s);
      }
      this.blobsKnownThroughSegment++;
      seq = this.blobSeqs.get(hash);
    }
    if (seq === undefined) throw new SessionFileError('EBLOB', this.path, `blob ${hash} is not in this file`);
    const record = (await this.get(seq)) as { sha256?: string; value?: unknown } | undefined;
    if (!record || record.sha256 !== hash) {
      throw new SessionFileError('EBLOB', this.path, `blob ${hash} is not at seq ${seq} as the index says`);
    }
    return record.value;
  }

  private segmentIndexOf(seq: number): number {
    let lo = 0;
    let hi = this.segmentList.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const ref = this.segmentList[mid]!;
      if (seq < ref.firstSeq) hi = mid - 1;
      else if (seq > ref.lastSeq) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** First segment that may hold records with seq >= from and ts >= since (timestamps never decrease). */
  private firstSegmentFor(from: number, since: string | undefined): number {
    let lo = 0;
    let hi = this.segmentList.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const ref = this.segmentList[mid]!;
      if (ref.lastSeq < from || (since !== undefined && ref.tLast < since)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private async decode(i: number): Promise<DecodedSegment> {
    const cached = this.cache.get(i);
    if (cached) {
      this.cache.delete(i);
      this.cache.set(i, cached);
      return cached;
    }
    const ref = this.segmentList[i];
    if (!ref) throw new RangeError(`no segment ${i + 1}`);
    const at = ref.offset;
    const head = this.source.read(at, SKIPPABLE_HEADER_BYTES);
    if (head.length < SKIPPABLE_HEADER_BYTES || head.readUInt32LE(0) !== MAGIC_SEGMENT) {
      throw new SessionFileError(
        'EFORMAT',
        this.path,
        `no segment header where segment ${ref.segment} should be`,
        at,
      );
    }
    const size = head.readUInt32LE(4);
    if (size > MAX_METADATA_BYTES)
      throw new SessionFileError('EFORMAT', this.path, 'segment header too large', at);
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.source.read(at + SKIPPABLE_HEADER_BYTES, size).toString('utf8'));
    } catch {
      throw new SessionFileError('EFORMAT', this.path, `segment ${ref.segment} header is not valid JSON`, at);
    }
    if (
      parsed === null ||
      typeof parsed !== 'object' ||
      !validSegmentHeader(parsed as Record<string, unknown>) ||
      (parsed as SegmentHeader).count !==
        (parsed as SegmentHeader).last_seq - (parsed as SegmentHeader).first_seq + 1 ||
      (parsed as SegmentHeader).ulen > MAX_SEGMENT_BYTES ||
      (parsed as SegmentHeader).clen > MAX_SEGMENT_BYTES
    ) {
      throw new SessionFileError('EFORMAT', this.path, `segment ${ref.segment} header is malformed`, at);
    }
    const header = parsed as SegmentHeader;
    if (
      header.segment !== ref.segment ||
      header.first_seq !== ref.firstSeq ||
      header.last_seq !== ref.lastSeq
    ) {
      throw new SessionFileError(
        'EFORMAT',
        this.path,
        `segment ${ref.segment} header does not match the index`,
        at,
      );
    }
    const frameAt = at + SKIPPABLE_HEADER_BYTES + size;
    const frame = this.source.read(frameAt, header.clen);
    if (frame.length !== header.clen) {
      throw new SessionFileError('ETORN', this.path, `segment ${ref.segment} is incomplete`, frameAt);
    }
    let content: Buffer;
    try {
      content = await this.codec.decompress(frame, header.ulen);
    } catch (error) {
      throw new SessionFileError(
        'EFORMAT',
        this.path,
        `segment ${ref.segment}: ${(error as Error).message}`,
        frameAt,
      );
    }
    if (createHash('sha256').update(content).digest('hex') !== header.sha256) {
      throw new SessionFileError(
        'ETAMPERED',
        this.path,
        `segment ${ref.segment} content does not match its hash`,
        at,
      );
    }
    const starts: number[] = [0];
    for (let pos = content.indexOf(0x0a); pos >= 0; pos = content.indexOf(0x0a, pos + 1))
      starts.push(pos + 1);
    if (starts.length - 1 !== header.count) {
      throw new SessionFileError('EFORMAT', this.path, `segment ${ref.segment} record count mismatch`, at);
    }
    this.stats.segmentsDecoded++;
    const decoded: DecodedSegment = { ref, content, starts };
    this.cache.set(i, decoded);
    if (this.cache.size > this.cacheLimit) this.cache.delete(this.cache.keys().next().value as number);
    return decoded;
  }
}

/** Upper bound on values produced by one resolve() (real records resolve to far fewer). */
const MAX_RESOLVED_NODES = 5_000_000;

function lineOf(decoded: DecodedSegment, seq: number): string {
  const i = seq - decoded.ref.firstSeq;
  return decoded.content.toString('utf8', decoded.starts[i]!, decoded.starts[i + 1]! - 1);
}

function toRef(entry: IndexSegmentEntry): SegmentRef {
  const [segment, offset, firstSeq, lastSeq, tFirst, tLast] = entry;
  return { segment, offset, firstSeq, lastSeq, tFirst, tLast };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Reads the index named by the trailer, if it is the last frame and structurally sound. The reader uses it only to
 * locate segments (each decoded segment is still checked against its own header); verification never trusts it.
 */
function readIndex(source: FileSource): { index: SessionIndex; headerEnd: number } | undefined {
  const at = trailerOffset(source);
  if (at === undefined) return undefined;
  const head = source.read(at, SKIPPABLE_HEADER_BYTES);
  if (head.length < SKIPPABLE_HEADER_BYTES || head.readUInt32LE(0) !== MAGIC_INDEX) return undefined;
  const size = head.readUInt32LE(4);
  if (at + SKIPPABLE_HEADER_BYTES + size !== source.size || size < INDEX_TRAILER_BYTES) return undefined;
  let index: SessionIndex;
  try {
    index = JSON.parse(source.read(at + SKIPPABLE_HEADER_BYTES, size - INDEX_TRAILER_BYTES).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!wellFormedIndex(index, at) || !lastSegmentMatches(source, index)) return undefined;
  const firstFrame = index.segments[0]?.[1] ?? index.checkpoints[0]?.[1] ?? at;
  return { index, headerEnd: firstFrame };
}

const isSeq = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isTs = (value: unknown): boolean => typeof value === 'string' && isTimestamp(value);

/**
 * Every entry is type-checked and ordered before the reader relies on it: offsets increase and lie before the
 * index, seq ranges are contiguous from 1, timestamps do not decrease, blobs name earlier records.
 */
function wellFormedIndex(index: SessionIndex, indexAt: number): boolean {
  if (index === null || typeof index !== 'object') return false;
  const { segments, checkpoints, blobs, records } = index;
  if (!Array.isArray(segments) || !Array.isArray(checkpoints) || !Array.isArray(blobs) || !isSeq(records))
    return false;
  let seq = 0;
  let offset = 0;
  let ts = '';
  for (const [i, entry] of segments.entries()) {
    if (!Array.isArray(entry) || entry.length !== 6) return false;
    const [k, at, first, last, tFirst, tLast] = entry;
    if (k !== i + 1 || !isSeq(at) || first !== seq + 1 || !isSeq(last) || last < first) return false;
    if (at <= offset || at >= indexAt || !isTs(tFirst) || !isTs(tLast) || tFirst < ts || tLast < tFirst)
      return false;
    seq = last;
    offset = at;
    ts = tLast;
  }
  for (const entry of checkpoints) {
    if (!Array.isArray(entry) || entry.length !== 3 || !entry.every(isSeq) || entry[1] >= indexAt)
      return false;
  }
  for (const entry of blobs) {
    if (!Array.isArray(entry) || entry.length !== 2 || !/^[0-9a-f]{64}$/.test(String(entry[0]))) return false;
    if (!isSeq(entry[1]) || entry[1] < 1 || entry[1] > seq) return false;
  }
  return records === seq;
}

/** The index's last segment entry agrees with that segment's own header (one small read, no decompression). */
function lastSegmentMatches(source: FileSource, index: SessionIndex): boolean {
  const last = index.segments.at(-1);
  if (!last) return true;
  const [k, at, first, lastSeq] = last;
  const head = source.read(at, SKIPPABLE_HEADER_BYTES);
  if (head.length < SKIPPABLE_HEADER_BYTES || head.readUInt32LE(0) !== MAGIC_SEGMENT) return false;
  const size = head.readUInt32LE(4);
  if (size > MAX_METADATA_BYTES) return false;
  try {
    const header = JSON.parse(
      source.read(at + SKIPPABLE_HEADER_BYTES, size).toString('utf8'),
    ) as SegmentHeader;
    return header.segment === k && header.first_seq === first && header.last_seq === lastSeq;
  } catch {
    return false;
  }
}

/** Presents only the start of a file to the scanner, so opening a sealed file does not walk every frame. */
function headerOnly(source: FileSource, end: number): ByteSource {
  return {
    path: source.path,
    size: end,
    read: (position, length) => source.read(position, Math.max(0, Math.min(length, end - position))),
  };
}
