import { createHash, randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { BoundedStringCache } from './bounded-cache.js';
import { type CanonicalStats, canonicalize, newCanonicalStats } from './canonical-json.js';
import { type Codec, type CodecName, resolveCodec } from './codec.js';
import {
  CHECKPOINT_PAYLOAD_TYPE,
  FORMAT_NAME,
  FORMAT_VERSION,
  HEADER_PREFIX,
  INDEX_TRAILER_MAGIC,
  MAGIC_CHECKPOINT,
  MAGIC_HEADER,
  MAGIC_INDEX,
  MAGIC_SEGMENT,
} from './constants.js';
import { SessionFileError } from './errors.js';
import { FileSource } from './file-source.js';
import { skippableFrame } from './frames.js';
import { headerKeyOf, loadSigningKey, type SigningKey, signDsse } from './keys.js';
import { FileLock } from './lock.js';
import { leafHash } from './merkle.js';
import { type ChainState, chainStep, checkpointBody, indexFor, newChainState, scanSession } from './scan.js';
import { MonotonicClock } from './time.js';
import type { Checkpoint, SegmentHeader, SessionHeader } from './types.js';
import { WRITER_NAME, WRITER_VERSION } from './version.js';

export type Durability = 'strict' | 'buffered' | 'none';

export interface WriterOptions {
  /** Stable id of the session; defaults to a random UUID. Ignored when re-opening. */
  sessionId?: string;
  /** 'auto' (default) picks node:zlib zstd where present, else zstd-codec. */
  codec?: Codec | 'auto' | CodecName;
  /** zstd level, default 3. */
  level?: number;
  /** Target uncompressed segment size, default 256 KiB. A larger record gets a segment of its own. */
  segmentBytes?: number;
  /**
   * strict: fdatasync after every segment; buffered (default): segments written every flushIntervalMs or when full,
   * fdatasync at checkpoints and close; none: never fdatasync.
   */
  durability?: Durability;
  flushIntervalMs?: number;
  checkpointEverySegments?: number;
  checkpointIntervalMs?: number;
  /** Ed25519 private key (PEM or loaded) used to sign checkpoints. */
  signingKey?: SigningKey | string | Buffer;
  /** Store repeated large values once as blob records (default true). */
  dedup?: boolean;
  /** Minimum canonical size of a value to be deduplicated, default 1024 bytes. */
  blobThreshold?: number;
  /** Background failures (disk full, I/O error) are reported here once; flush()/close() also reject with them. */
  onError?: (error: Error) => void;
}

export interface AppendOptions {
  /** Write the current segment at once (policy decisions, errors and session end use this). */
  flush?: boolean;
}

export interface RecoveryInfo {
  /** Verdict of the file before recovery. */
  verdict: string;
  reason: string;
  validEnd: number;
  droppedBytes: number;
  droppedSha256: string;
  /** Path of the sidecar holding the dropped bytes, when there were any. */
  sidecar?: string;
}

export interface WriterStats {
  records: number;
  segments: number;
  checkpoints: number;
  bytesWritten: number;
  blobsStored: number;
  blobRefs: number;
  canonical: CanonicalStats;
}

/** Envelope names, and the keys that mark blob references and escapes: a record's own fields cannot use them. */
const RESERVED_FIELDS = new Set(['seq', 'ts', 'type', '$blob', '$lit']);
/** Record types the format itself writes; callers cannot forge them. */
const RESERVED_TYPES = new Set(['blob', 'recovery']);
const SEEN_ONCE_LIMIT = 200_000;
/**
 * JSON text of long strings, and SHA-256 of large values' JSON: both recur in every model call of a session.
 * Pure functions of their keys, so every writer of the process shares them and one budget bounds the memory
 * (8 Mi characters of keys each, plus values of about the same size).
 */
const stringCache = new BoundedStringCache<string>(8 * 1024 * 1024);
const hashCache = new BoundedStringCache<string>(8 * 1024 * 1024);

interface WriterInit {
  path: string;
  header: SessionHeader;
  handle: FileHandle;
  lock: FileLock;
  codec: Codec;
  options: WriterOptions;
  signingKey: SigningKey | undefined;
  state: ChainState;
  offset: number;
  recovery?: RecoveryInfo;
}

/** What create() and open() each work out for themselves; the rest of WriterInit is common to both. */
type FileState = Pick<WriterInit, 'header' | 'handle' | 'state' | 'offset' | 'recovery'>;

interface SealedSegment {
  header: Omit<SegmentHeader, 'clen' | 'zsha256'>;
  compressed: Promise<Buffer>;
}

function fsyncDirectory(path: string): void {
  try {
    const fd = openSync(dirname(path), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the file itself is still synced.
  }
}

/**
 * Appends records to a session file (docs/FORMAT.md). `append` is synchronous and cheap: it canonicalizes the
 * record, deduplicates large values and batches it; hashing happens when a segment is sealed, and compression and
 * I/O run in the background, in order. Nothing already written is ever rewritten.
 */
export class SessionWriter {
  readonly path: string;
  readonly sessionId: string;
  readonly header: SessionHeader;
  /** Set when re-opening found a torn or damaged tail and moved it aside. */
  readonly recovery: RecoveryInfo | undefined;

  private readonly handle: FileHandle;
  private readonly lock: FileLock;
  private readonly codec: Codec;
  private readonly level: number;
  private readonly segmentBytes: number;
  private readonly durability: Durability;
  private readonly checkpointEverySegments: number;
  private readonly signingKey: SigningKey | undefined;
  private readonly dedup: boolean;
  private readonly blobThreshold: number;
  private readonly onError: ((error: Error) => void) | undefined;
  private readonly clock: MonotonicClock;
  private readonly state: ChainState;

  private offset: number;
  private nextSeq: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private pendingFirstTs = '';
  private pendingLastTs = '';
  private segmentsSinceCheckpoint = 0;
  private recordsSinceCheckpoint = 0;
  private seenOnce = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closed = false;
  private timers: NodeJS.Timeout[] = [];
  private readonly statsData: WriterStats;

  private constructor(init: WriterInit) {
    const { options } = init;
    this.path = init.path;
    this.header = init.header;
    this.sessionId = init.header.session_id;
    this.handle = init.handle;
    this.lock = init.lock;
    this.codec = init.codec;
    this.level = options.level ?? 3;
    this.segmentBytes = Math.max(1, options.segmentBytes ?? 256 * 1024);
    this.durability = options.durability ?? 'buffered';
    this.checkpointEverySegments = Math.max(1, options.checkpointEverySegments ?? 16);
    this.signingKey = init.signingKey;
    this.dedup = options.dedup ?? true;
    this.blobThreshold = options.blobThreshold ?? 1024;
    this.onError = options.onError;
    this.state = init.state;
    this.offset = init.offset;
    this.nextSeq = init.state.seq + 1;
    this.clock = new MonotonicClock(init.state.lastTs || undefined);
    this.recovery = init.recovery;
    this.statsData = {
      records: 0,
      segments: 0,
      checkpoints: 0,
      bytesWritten: 0,
      blobsStored: 0,
      blobRefs: 0,
      canonical: newCanonicalStats(),
    };

    const flushEvery = options.flushIntervalMs ?? 250;
    if (flushEvery > 0) {
      this.timers.push(setInterval(() => this.sealIfPending(), flushEvery).unref());
    }
    const checkpointEvery = options.checkpointIntervalMs ?? 30_000;
    if (checkpointEvery > 0) {
      this.timers.push(setInterval(() => this.intervalCheckpoint(), checkpointEvery).unref());
    }
  }

  /** Creates a new session file (mode 0600). Fails if the file exists. */
  static async create(path: string, options: WriterOptions = {}): Promise<SessionWriter> {
    return SessionWriter.openLocked(path, options, async ({ signingKey, adopt }) => {
      const handle = adopt(await open(path, 'wx', 0o600));
      const clock = new MonotonicClock();
      const header: SessionHeader = {
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        session_id: options.sessionId ?? randomUUID(),
        created_at: clock.now(),
        writer: { name: WRITER_NAME, version: WRITER_VERSION },
        codec: { name: 'zstd', level: options.level ?? 3 },
        hash: 'sha256',
        incompat: [],
        compat: [],
        key: signingKey ? headerKeyOf(signingKey) : null,
      };
      const payload = Buffer.from(HEADER_PREFIX + canonicalize(header));
      const frame = skippableFrame(MAGIC_HEADER, payload);
      await writeFully(handle, frame, 0);
      if ((options.durability ?? 'buffered') !== 'none') {
        await handle.datasync();
        fsyncDirectory(path);
      }
      return { header, handle, state: newChainState(payload), offset: frame.length };
    });
  }

  /**
   * Re-opens an existing session to append (a resumed run). The file is verified from the start; anything after
   * the last frame that checks out (a torn write from a crash) is moved to `<file>.torn-<offset>`, the file is
   * truncated there, and the first new record is a `recovery` record describing what was moved.
   */
  static async open(path: string, options: WriterOptions = {}): Promise<SessionWriter> {
    const writer = await SessionWriter.openLocked(path, options, async ({ codec, signingKey, adopt }) => {
      const source = new FileSource(path);
      let scan: Awaited<ReturnType<typeof scanSession>>;
      try {
        scan = await scanSession(source, { deep: true, codec });
      } finally {
        source.close();
      }
      if (scan.verdict === 'UNREADABLE' || !scan.header) {
        throw new SessionFileError(
          'EUNREADABLE',
          path,
          `cannot append: ${scan.failure?.message ?? scan.torn?.message ?? 'unreadable'}`,
          scan.failure?.offset ?? scan.torn?.offset,
        );
      }
      const header = scan.header;
      if ((header.key?.id ?? null) !== (signingKey?.keyId ?? null)) {
        throw new SessionFileError(
          'EKEY',
          path,
          `cannot append: the file is signed by key ${header.key?.id ?? '(none)'} but the writer has key ${signingKey?.keyId ?? '(none)'}`,
        );
      }
      const handle = adopt(await open(path, 'r+'));
      const recovery =
        scan.verdict === 'TORN' || scan.verdict === 'TAMPERED'
          ? await moveTailAside(path, handle, scan.validEnd, scan.fileSize, {
              verdict: scan.verdict,
              reason: scan.failure?.message ?? scan.torn?.message ?? '',
            })
          : undefined;
      return { header, handle, state: scan.state, offset: scan.validEnd, ...(recovery ? { recovery } : {}) };
    });
    const recovery = writer.recovery;
    if (recovery) {
      writer.appendRecord(
        'recovery',
        {
          reason: recovery.reason,
          previous_verdict: recovery.verdict,
          offset: recovery.validEnd,
          dropped_bytes: recovery.droppedBytes,
          dropped_sha256: recovery.droppedSha256,
          sidecar: recovery.sidecar ? basename(recovery.sidecar) : null,
        },
        { flush: true },
      );
      // On disk before the caller goes on: the file was just truncated, and until this record is durable a crash
      // would leave the sidecar as the only trace of the recovery.
      await writer.sync();
    }
    return writer;
  }

  /**
   * The part create() and open() share: resolve codec and key, hold the file's lock while `prepare` sets the file
   * up, and on any failure close what `prepare` opened (handed over through `adopt`) and release the lock.
   */
  private static async openLocked(
    path: string,
    options: WriterOptions,
    prepare: (env: {
      codec: Codec;
      signingKey: SigningKey | undefined;
      adopt: (handle: FileHandle) => FileHandle;
    }) => Promise<FileState>,
  ): Promise<SessionWriter> {
    const codec = await resolveCodec(options.codec);
    const signingKey = resolveSigningKey(options.signingKey);
    const lock = FileLock.acquire(path);
    let opened: FileHandle | undefined;
    try {
      const file = await prepare({
        codec,
        signingKey,
        adopt: (handle) => {
          opened = handle;
          return handle;
        },
      });
      return new SessionWriter({ path, lock, codec, options, signingKey, ...file });
    } catch (error) {
      await opened?.close().catch(() => {});
      lock.release();
      throw error;
    }
  }

  /** Opens the file for append if it exists, else creates it. */
  static async openOrCreate(path: string, options: WriterOptions = {}): Promise<SessionWriter> {
    try {
      return await SessionWriter.create(path, options);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return SessionWriter.open(path, options);
    }
  }

  get stats(): Readonly<WriterStats> {
    return { ...this.statsData, records: this.nextSeq - 1 };
  }

  /** The last sequence number handed out. */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /**
   * Appends one record and returns its seq. `fields` must not use the envelope names (seq, ts, type) nor `$blob` /
   * `$lit`, and `type` cannot be one the format writes itself (blob, recovery): those are programming errors and
   * throw a TypeError. Any field VALUE works: it is converted to I-JSON (see canonical-json.ts) rather than rejected.
   */
  append(type: string, fields: Record<string, unknown> = {}, options: AppendOptions = {}): number {
    if (typeof type !== 'string' || type.length === 0 || RESERVED_TYPES.has(type)) {
      throw new TypeError(
        `record type must be a non-empty string other than ${[...RESERVED_TYPES].join(', ')}`,
      );
    }
    return this.appendRecord(type, fields, options);
  }

  private appendRecord(type: string, fields: Record<string, unknown>, options: AppendOptions): number {
    if (this.failure) throw this.failure;
    if (this.closed) throw new SessionFileError('ECLOSED', this.path, 'writer is closed');
    // key (well-formed: a lone surrogate becomes U+FFFD like anywhere else) -> canonical JSON of its value
    const parts = new Map<string, string>();
    for (const key of Object.keys(fields)) {
      if (RESERVED_FIELDS.has(key))
        throw new TypeError(`record field "${key}" is reserved by the session format`);
      const value = fields[key];
      if (value === undefined) continue;
      const wellFormed = toWellFormed(key);
      if (wellFormed !== key) this.statsData.canonical.loneSurrogates++;
      if (!parts.has(wellFormed)) parts.set(wellFormed, this.canonicalField(value));
    }
    const ts = this.clock.now();
    const seq = this.nextSeq++;
    parts.set('seq', String(seq));
    parts.set('ts', JSON.stringify(ts));
    parts.set('type', canonicalize(type, { stats: this.statsData.canonical }));
    const sorted = [...parts.keys()].sort(); // UTF-16 code unit order, as RFC 8785 requires
    let line = '{';
    for (let i = 0; i < sorted.length; i++) {
      const key = sorted[i]!;
      line += `${i === 0 ? '' : ','}${JSON.stringify(key)}:${parts.get(key)}`;
    }
    line += '}';
    this.push(line, ts);
    if (options.flush) this.sealIfPending();
    return seq;
  }

  /** Resolves when every record appended so far has been written (and, in strict mode, synced). */
  async flush(): Promise<void> {
    this.sealIfPending();
    await this.queue;
    if (this.failure) throw this.failure;
  }

  /** flush() followed by fdatasync, whatever the durability mode. */
  async sync(): Promise<void> {
    await this.flush();
    await this.handle.datasync();
  }

  /** Writes a checkpoint now (sealing pending records first). */
  async checkpoint(): Promise<void> {
    this.enqueueCheckpoint(false);
    await this.queue;
    if (this.failure) throw this.failure;
  }

  /** Seals the session: final checkpoint, index, fdatasync, unlock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stopTimers();
    if (!this.failure) {
      this.enqueueCheckpoint(true);
      this.enqueue(async () => {
        const index = Buffer.from(canonicalize(indexFor(this.state)));
        const trailer = Buffer.alloc(16);
        trailer.writeBigUInt64LE(BigInt(this.offset), 0);
        trailer.write(INDEX_TRAILER_MAGIC, 8, 'latin1');
        await this.writeFrame(skippableFrame(MAGIC_INDEX, Buffer.concat([index, trailer])));
        if (this.durability !== 'none') await this.handle.datasync();
      });
    }
    this.closed = true;
    try {
      await this.queue;
    } finally {
      await this.handle.close().catch(() => {});
      this.lock.release();
    }
    if (this.failure) throw this.failure;
  }

  /**
   * Stops writing without sealing: what was written stays (UNSEALED) and the lock is released. For callers that
   * must give up quickly, e.g. on a fatal signal.
   */
  async abandon(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTimers();
    await this.queue.catch(() => {});
    await this.handle.close().catch(() => {});
    this.lock.release();
  }

  private stopTimers(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  private canonicalField(value: unknown): string {
    const stats = this.statsData.canonical;
    if (!this.dedup) return canonicalize(value, { stats, escapeReservedKeys: true, stringCache });
    return canonicalize(value, {
      stats,
      escapeReservedKeys: true,
      stringCache,
      largeThreshold: this.blobThreshold,
      onLarge: (json) => this.dedupLarge(json),
    });
  }

  /**
   * Second-sighting dedup: the first occurrence of a large value stays inline (no overhead for unique data); from
   * the second on, it is stored once as a blob record and referenced by hash.
   */
  private dedupLarge(json: string): string | undefined {
    let hash = hashCache.get(json);
    if (hash === undefined) {
      hash = createHash('sha256').update(json).digest('hex');
      hashCache.set(json, hash);
    }
    const ref = `{"$blob":"${hash}"}`;
    if (this.state.blobs.has(hash)) {
      this.statsData.blobRefs++;
      return ref;
    }
    if (!this.seenOnce.has(hash)) {
      if (this.seenOnce.size >= SEEN_ONCE_LIMIT) this.seenOnce.clear();
      this.seenOnce.add(hash);
      return undefined;
    }
    this.seenOnce.delete(hash);
    const ts = this.clock.now();
    const seq = this.nextSeq++;
    this.push(`{"seq":${seq},"sha256":"${hash}","ts":"${ts}","type":"blob","value":${json}}`, ts);
    this.state.blobs.set(hash, seq);
    this.statsData.blobsStored++;
    this.statsData.blobRefs++;
    return ref;
  }

  private push(line: string, ts: string): void {
    const bytes = line.length;
    if (this.pending.length > 0 && this.pendingBytes + bytes > this.segmentBytes) this.sealIfPending();
    if (this.pending.length === 0) this.pendingFirstTs = ts;
    this.pending.push(line);
    this.pendingBytes += bytes + 1;
    this.pendingLastTs = ts;
    if (this.pendingBytes >= this.segmentBytes) this.sealIfPending();
  }

  /** Hashes the pending records into the chain and Merkle tree and queues the segment for compression and write. */
  private sealIfPending(): void {
    if (this.pending.length === 0 || this.failure) return;
    const content = Buffer.from(`${this.pending.join('\n')}\n`, 'utf8');
    const count = this.pending.length;
    const firstSeq = this.state.seq + 1;
    this.pending = [];
    this.pendingBytes = 0;

    let start = 0;
    let chain = this.state.chain;
    while (start < content.length) {
      const end = content.indexOf(0x0a, start);
      const leaf = leafHash(content.subarray(start, end));
      chain = chainStep(chain, leaf);
      this.state.merkle.push(leaf);
      start = end + 1;
    }
    this.state.chain = chain;
    this.state.seq = firstSeq + count - 1;
    this.state.lastTs = this.pendingLastTs;
    this.state.segment++;
    const sealed: SealedSegment = {
      header: {
        segment: this.state.segment,
        first_seq: firstSeq,
        last_seq: this.state.seq,
        count,
        ulen: content.length,
        sha256: createHash('sha256').update(content).digest('hex'),
        chain: chain.toString('hex'),
        t_first: this.pendingFirstTs,
        t_last: this.pendingLastTs,
      },
      // Compression starts now (node:zlib runs it on the thread pool); writes still happen strictly in order.
      compressed: this.codec.compress(content, this.level),
    };
    sealed.compressed.catch(() => {}); // handled where awaited; avoid an unhandled-rejection warning meanwhile
    this.enqueue(() => this.writeSegment(sealed));
    this.segmentsSinceCheckpoint++;
    this.recordsSinceCheckpoint += count;
    if (this.segmentsSinceCheckpoint >= this.checkpointEverySegments) this.enqueueCheckpoint(false, true);
  }

  private async writeSegment(sealed: SealedSegment): Promise<void> {
    const frame = await sealed.compressed;
    const header: SegmentHeader = {
      ...sealed.header,
      clen: frame.length,
      zsha256: createHash('sha256').update(frame).digest('hex'),
    };
    const segmentOffset = this.offset;
    // Header and frame in ONE write call, so a crash cannot leave a header without its frame start.
    await this.writeFrame(
      Buffer.concat([skippableFrame(MAGIC_SEGMENT, Buffer.from(canonicalize(header))), frame]),
    );
    this.state.segments.push([
      header.segment,
      segmentOffset,
      header.first_seq,
      header.last_seq,
      header.t_first,
      header.t_last,
    ]);
    this.statsData.segments++;
    if (this.durability === 'strict') await this.handle.datasync();
  }

  private intervalCheckpoint(): void {
    if (this.closed || this.failure) return;
    // Without a key an idle interval adds nothing; with one, signed empty epochs prove nothing was truncated.
    if (this.pending.length === 0 && this.recordsSinceCheckpoint === 0 && !this.signingKey) return;
    this.enqueueCheckpoint(false);
  }

  /**
   * `datedByLastRecord`: the checkpoint is triggered while a record being appended already holds its timestamp, so
   * "now" would date the checkpoint after a record that follows it; it is dated by the last record it covers instead.
   */
  private enqueueCheckpoint(final: boolean, datedByLastRecord = false): void {
    this.sealIfPending();
    if (this.failure) return;
    const state = this.state;
    const checkpoint: Checkpoint = {
      checkpoint: state.checkpoint + 1,
      tree_size: state.seq,
      root: state.merkle.root().toString('hex'),
      chain: state.chain.toString('hex'),
      ts: datedByLastRecord && state.lastTs ? state.lastTs : this.clock.now(),
      prev: state.prevCheckpointHash,
      final,
      ...(final ? { index: true as const } : {}),
    };
    if (this.signingKey) {
      checkpoint.sig = {
        key_id: this.signingKey.keyId,
        alg: 'ed25519',
        sig: signDsse(
          this.signingKey.privateKey,
          CHECKPOINT_PAYLOAD_TYPE,
          Buffer.from(checkpointBody(checkpoint)),
        ),
      };
    }
    const payload = Buffer.from(canonicalize(checkpoint));
    state.checkpoint = checkpoint.checkpoint;
    state.prevCheckpointHash = createHash('sha256').update(payload).digest('hex');
    state.checkpointedSize = checkpoint.tree_size;
    state.lastCheckpointFinal = final;
    state.lastTs = checkpoint.ts;
    this.segmentsSinceCheckpoint = 0;
    this.recordsSinceCheckpoint = 0;
    this.enqueue(async () => {
      const at = this.offset;
      await this.writeFrame(skippableFrame(MAGIC_CHECKPOINT, payload));
      state.checkpoints.push([checkpoint.checkpoint, at, checkpoint.tree_size]);
      this.statsData.checkpoints++;
      if (this.durability !== 'none') await this.handle.datasync();
    });
  }

  private enqueue(operation: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.failure) return;
      try {
        await operation();
      } catch (error) {
        this.fail(error as Error);
      }
    });
  }

  private async writeFrame(bytes: Buffer): Promise<void> {
    await writeFully(this.handle, bytes, this.offset);
    this.offset += bytes.length;
    this.statsData.bytesWritten += bytes.length;
  }

  /** After a failed write the file is cut back to the last complete frame, so it stays a valid (unsealed) prefix. */
  private fail(error: Error): void {
    const wrapped = new SessionFileError(
      (error as NodeJS.ErrnoException).code ?? 'EIO',
      this.path,
      `write failed: ${error.message}`,
      this.offset,
    );
    this.failure = wrapped;
    this.stopTimers();
    this.handle.truncate(this.offset).catch(() => {});
    try {
      this.onError?.(wrapped);
    } catch {
      // a throwing error callback must not take the writer down with it
    }
  }
}

/** String.prototype.toWellFormed (Node >= 20), which the ES2023 type library does not declare. */
function toWellFormed(text: string): string {
  return (text as unknown as { toWellFormed(): string }).toWellFormed();
}

async function writeFully(handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten === 0) throw new Error('write returned 0 bytes');
    done += bytesWritten;
  }
}

function resolveSigningKey(key: WriterOptions['signingKey']): SigningKey | undefined {
  if (key === undefined) return undefined;
  if (typeof key === 'string' || Buffer.isBuffer(key)) return loadSigningKey(key);
  return key;
}

/**
 * Moves bytes after the valid prefix to a sidecar (never silently discarded), then truncates. The sidecar and its
 * directory entry are made durable before the original is cut, so a crash in between loses nothing.
 */
async function moveTailAside(
  path: string,
  handle: FileHandle,
  validEnd: number,
  fileSize: number,
  why: { verdict: string; reason: string },
): Promise<RecoveryInfo> {
  const droppedBytes = fileSize - validEnd;
  const digest = createHash('sha256');
  let sidecar: string | undefined;
  if (droppedBytes > 0) {
    let sidecarHandle: FileHandle | undefined;
    for (let n = 0; !sidecarHandle; n++) {
      sidecar = n === 0 ? `${path}.torn-${validEnd}` : `${path}.torn-${validEnd}.${n}`;
      try {
        sidecarHandle = await open(sidecar, 'wx', 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    try {
      const chunk = Buffer.allocUnsafe(Math.min(droppedBytes, 1 << 20));
      for (let done = 0; done < droppedBytes; ) {
        const { bytesRead } = await handle.read(
          chunk,
          0,
          Math.min(chunk.length, droppedBytes - done),
          validEnd + done,
        );
        if (bytesRead === 0)
          throw new Error(`file shrank while moving its tail aside at offset ${validEnd + done}`);
        digest.update(chunk.subarray(0, bytesRead));
        await writeFully(sidecarHandle, chunk.subarray(0, bytesRead), done);
        done += bytesRead;
      }
      await sidecarHandle.sync();
    } finally {
      await sidecarHandle.close();
    }
    fsyncDirectory(path);
  }
  await handle.truncate(validEnd);
  await handle.datasync();
  return {
    verdict: why.verdict,
    reason: why.reason,
    validEnd,
    droppedBytes,
    droppedSha256: digest.digest('hex'),
    ...(sidecar ? { sidecar } : {}),
  };
}
