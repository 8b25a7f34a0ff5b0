import { createHash, hash, type KeyObject } from 'node:crypto';
import { canonicalize, isCanonical } from './canonical-json.js';
import type { Codec } from './codec.js';
import {
  CHAIN_DOMAIN,
  CHECKPOINT_PAYLOAD_TYPE,
  FORMAT_NAME,
  FORMAT_VERSION,
  HEADER_PREFIX,
  INDEX_TRAILER_BYTES,
  INDEX_TRAILER_MAGIC,
  KNOWN_INCOMPAT_FEATURES,
  MAGIC_HEADER,
  MAX_METADATA_BYTES,
  MAX_SEGMENT_BYTES,
  SKIPPABLE_HEADER_BYTES,
} from './constants.js';
import type { ByteSource } from './file-source.js';
import { frameKind, hex32 } from './frames.js';
import { keyIdOf, publicKeyFingerprint, publicKeyFromHeader, verifyDsse } from './keys.js';
import { leafHash, MerkleAccumulator } from './merkle.js';
import { isTimestamp } from './time.js';
import type {
  Checkpoint,
  IndexBlobEntry,
  IndexCheckpointEntry,
  IndexSegmentEntry,
  SegmentHeader,
  SessionHeader,
  SessionIndex,
  Verdict,
} from './types.js';
import { scanZstdFrame } from './zstd-frame.js';

/** Where and why a scan stopped trusting the file. */
export interface ScanFailure {
  verdict: 'TAMPERED' | 'UNREADABLE';
  offset: number;
  message: string;
  segment?: number;
  seq?: number;
  checkpoint?: number;
}

export interface TornTail {
  offset: number;
  bytes: number;
  message: string;
}

/** The running state of a file: everything a writer needs to continue it. */
export interface ChainState {
  seq: number;
  chain: Buffer;
  merkle: MerkleAccumulator;
  segment: number;
  checkpoint: number;
  prevCheckpointHash: string | null;
  lastTs: string;
  /** tree size named by the last checkpoint, and whether it was final */
  checkpointedSize: number;
  lastCheckpointFinal: boolean;
  segments: IndexSegmentEntry[];
  checkpoints: IndexCheckpointEntry[];
  blobs: Map<string, number>;
}

export type SignatureStatus = 'none' | 'embedded-key' | 'trusted-key' | 'unverifiable';

export interface ScanResult {
  file: string;
  fileSize: number;
  header?: SessionHeader;
  headerBytes?: number;
  state: ChainState;
  verdict: Verdict;
  failure?: ScanFailure;
  torn?: TornTail;
  /** Offset just after the last frame that checked out completely. */
  validEnd: number;
  /** True when the file ends with an index frame that matches the file. */
  endsWithIndex: boolean;
  indexOffset?: number;
  reservedFramesSkipped: number;
  signatures: { status: SignatureStatus; keyId?: string; signedCheckpoints: number };
  /** The last checkpoint that checked out (its signature too, when one could be checked). */
  lastCheckpoint?: Checkpoint;
  /** Deep scans decompress and hash every record; shallow scans read frame headers only. */
  deep: boolean;
}

export interface ScanOptions {
  /** Decompress and hash every record (verification, recovery). Without it only frame headers are read. */
  deep: boolean;
  /**
   * Also parse every record and check its envelope (seq, ts order, type). Hashes already protect every record's
   * bytes; this additionally checks that the writer produced well-formed records (a conformance check). Without it
   * the envelope is checked on each segment's first and last record.
   */
  thorough?: boolean;
  codec: Codec;
  /** Trusted public key: every checkpoint must be signed by it. */
  publicKey?: KeyObject;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest();

/**
 * A value read from the file, quoted for a report: JSON-escaped, C1 controls and bidi overrides escaped too, and cut
 * short, so a hostile file cannot put terminal escapes or a wall of text into a one-line verdict.
 */
export function quoteFromFile(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  const text = JSON.stringify(typeof value === 'string' ? value : String(value)) ?? '""';
  const safe = text.replace(
    /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return safe.length > 80 ? `${safe.slice(0, 79)}…` : safe;
}

const BLOB_REF_PREFIX = Buffer.from('{"$blob":"');
const LIT_PREFIX = Buffer.from('{"$lit":');

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isHex64(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}

/**
 * Node's base64 decoder ignores stray characters and unused low bits, so different texts decode to the same
 * signature. Only the one canonical text of a 64-byte Ed25519 signature is accepted, so no byte goes unchecked.
 */
function isCanonicalSignature(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length === 88 &&
    Buffer.from(value, 'base64').length === 64 &&
    Buffer.from(value, 'base64').toString('base64') === value
  );
}

type JsonParse = { ok: true; value: Record<string, unknown> } | { ok: false; message: string };

/** Parses metadata JSON and insists on canonical form, so that no byte of it goes unchecked. */
function parseCanonicalObject(bytes: Buffer): JsonParse {
  const text = bytes.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the offending bytes; file content never goes into a report, only its position.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    return { ok: false, message: `not valid JSON${position === undefined ? '' : ` (at byte ${position})`}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, message: 'not a JSON object' };
  }
  if (!isCanonical(text) || !bytes.equals(Buffer.from(text, 'utf8'))) {
    return { ok: false, message: 'not in canonical (RFC 8785) form' };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

const chainScratch = Buffer.allocUnsafe(64);

/** chain_i = SHA-256(chain_{i-1} ‖ leaf_i) */
export function chainStep(chain: Buffer, leaf: Buffer): Buffer {
  // Assembled in a reused buffer (synchronous, so never shared between calls): this runs once per record.
  if (chain.length !== 32 || leaf.length !== 32)
    return hash('sha256', Buffer.concat([chain, leaf]), 'buffer');
  chainScratch.set(chain, 0);
  chainScratch.set(leaf, 32);
  return hash('sha256', chainScratch, 'buffer');
}

export function newChainState(headerPayload: Buffer): ChainState {
  return {
    seq: 0,
    chain: sha256(Buffer.concat([Buffer.from(CHAIN_DOMAIN), headerPayload])),
    merkle: new MerkleAccumulator(),
    segment: 0,
    checkpoint: 0,
    prevCheckpointHash: null,
    lastTs: '',
    checkpointedSize: 0,
    lastCheckpointFinal: false,
    segments: [],
    checkpoints: [],
    blobs: new Map(),
  };
}

/** The index a writer would append for this state. Verifiers rebuild it and compare byte for byte. */
export function indexFor(state: ChainState): SessionIndex {
  const blobs: IndexBlobEntry[] = [];
  for (const [hash, seq] of state.blobs) blobs.push([hash, seq]);
  return { segments: state.segments, checkpoints: state.checkpoints, records: state.seq, blobs };
}

export function checkpointBody(checkpoint: Checkpoint): string {
  const { sig: _sig, ...unsigned } = checkpoint;
  return canonicalize(unsigned);
}

function describeForeignFile(head: Buffer): string {
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528)
    return 'a plain zstd file, not an agent-replay session';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b)
    return 'a gzip file, not an agent-replay session';
  if (head.length >= 4 && head.subarray(0, 4).toString('latin1') === 'PK\x03\x04') {
    return 'a zip archive, not an agent-replay session';
  }
  const text = head.toString('utf8').trimStart();
  if (text.startsWith('{') || text.startsWith('[')) return 'a JSON text file, not an agent-replay session';
  return `not an agent-replay session (first bytes ${head.subarray(0, 4).toString('hex') || 'none'})`;
}

function parseHeader(payload: Buffer): { header: SessionHeader } | { message: string } {
  if (!payload.subarray(0, HEADER_PREFIX.length).equals(Buffer.from(HEADER_PREFIX))) {
    return { message: `header does not start with ${JSON.stringify(HEADER_PREFIX)}` };
  }
  const parsed = parseCanonicalObject(payload.subarray(HEADER_PREFIX.length));
  if (!parsed.ok) return { message: `header damaged: ${parsed.message}` };
  const h = parsed.value;
  if (h.format !== FORMAT_NAME) return { message: `header names format ${quoteFromFile(h.format)}` };
  if (h.version !== FORMAT_VERSION)
    return { message: `unsupported format version ${JSON.stringify(h.version)}` };
  if (!Array.isArray(h.incompat) || !h.incompat.every((f) => typeof f === 'string')) {
    return { message: 'header damaged: incompat is not a list of strings' };
  }
  const unknown = (h.incompat as string[]).filter((f) => !KNOWN_INCOMPAT_FEATURES.includes(f));
  if (unknown.length > 0) {
    return {
      message: `file needs unsupported incompatible feature(s): ${unknown.map(quoteFromFile).join(', ')}; upgrade agent-replay`,
    };
  }
  if (typeof h.session_id !== 'string' || h.session_id.length === 0)
    return { message: 'header has no session_id' };
  if (!isTimestamp(h.created_at)) return { message: 'header damaged: bad created_at' };
  if (h.hash !== 'sha256') return { message: `unsupported hash ${quoteFromFile(h.hash)}` };
  const key = h.key as SessionHeader['key'] | undefined;
  if (key !== null) {
    if (!key || typeof key !== 'object' || key.alg !== 'ed25519' || typeof key.public_key !== 'string') {
      return { message: 'header damaged: bad key' };
    }
    try {
      const publicKey = publicKeyFromHeader(key);
      if (keyIdOf(publicKey) !== key.id) return { message: 'header damaged: key id does not match the key' };
    } catch {
      return { message: 'header damaged: key is not an Ed25519 public key' };
    }
  }
  return { header: h as unknown as SessionHeader };
}

export function validSegmentHeader(h: Record<string, unknown>): h is Record<string, unknown> & SegmentHeader {
  return (
    isNonNegativeInt(h.segment) &&
    isNonNegativeInt(h.first_seq) &&
    isNonNegativeInt(h.last_seq) &&
    isNonNegativeInt(h.count) &&
    isNonNegativeInt(h.ulen) &&
    isNonNegativeInt(h.clen) &&
    isHex64(h.sha256) &&
    isHex64(h.zsha256) &&
    isHex64(h.chain) &&
    isTimestamp(h.t_first) &&
    isTimestamp(h.t_last) &&
    Object.keys(h).length === 11
  );
}

function validCheckpoint(c: Record<string, unknown>): c is Record<string, unknown> & Checkpoint {
  const sig = c.sig as Record<string, unknown> | undefined;
  return (
    isNonNegativeInt(c.checkpoint) &&
    isNonNegativeInt(c.tree_size) &&
    isHex64(c.root) &&
    isHex64(c.chain) &&
    isTimestamp(c.ts) &&
    (c.prev === null || isHex64(c.prev)) &&
    typeof c.final === 'boolean' &&
    (c.index === undefined || (c.index === true && c.final === true)) &&
    (sig === undefined ||
      (typeof sig === 'object' &&
        sig !== null &&
        typeof sig.key_id === 'string' &&
        sig.alg === 'ed25519' &&
        isCanonicalSignature(sig.sig) &&
        Object.keys(sig).length === 3))
  );
}

class Stop extends Error {}

/**
 * Walks a session file frame by frame from the start. Every frame is located from its own header and bounds-checked;
 * zstd frames are decoded one at a time. Deep scans re-derive every hash, the chain, the Merkle root, and compare
 * them with segment headers, checkpoints and index, so that every byte of a VALID file is accounted for.
 */
export async function scanSession(source: ByteSource, options: ScanOptions): Promise<ScanResult> {
  const size = source.size;
  const result: ScanResult = {
    file: source.path,
    fileSize: size,
    state: newChainState(Buffer.alloc(0)),
    verdict: 'VALID',
    validEnd: 0,
    endsWithIndex: false,
    reservedFramesSkipped: 0,
    signatures: { status: 'none', signedCheckpoints: 0 },
    deep: options.deep,
  };

  const fail: FailFn = (verdict, offset, message, extra) => {
    result.verdict = verdict;
    result.failure = { verdict, offset, message, ...extra };
    throw new Stop();
  };
  const torn = (offset: number, message: string): never => {
    result.verdict = 'TORN';
    result.torn = { offset, bytes: size - offset, message };
    throw new Stop();
  };

  try {
    // --- header frame ---
    if (size === 0) fail('UNREADABLE', 0, 'empty file, not an agent-replay session');
    const head = source.read(0, SKIPPABLE_HEADER_BYTES);
    const magicBytes = Buffer.alloc(4);
    magicBytes.writeUInt32LE(MAGIC_HEADER, 0);
    if (head.length < SKIPPABLE_HEADER_BYTES) {
      if (magicBytes.subarray(0, Math.min(4, head.length)).equals(head.subarray(0, 4))) {
        torn(0, `file ends inside the header frame (${size} bytes)`);
      }
      fail('UNREADABLE', 0, describeForeignFile(head));
    }
    if (head.readUInt32LE(0) !== MAGIC_HEADER) fail('UNREADABLE', 0, describeForeignFile(source.read(0, 64)));
    const headerSize = head.readUInt32LE(4);
    if (headerSize > MAX_METADATA_BYTES) fail('UNREADABLE', 4, `header frame claims ${headerSize} bytes`);
    if (SKIPPABLE_HEADER_BYTES + headerSize > size) torn(0, 'file ends inside the header frame');
    const headerPayload = source.read(SKIPPABLE_HEADER_BYTES, headerSize);
    const parsedHeader = parseHeader(headerPayload);
    if ('message' in parsedHeader) fail('UNREADABLE', SKIPPABLE_HEADER_BYTES, parsedHeader.message);
    const header = (parsedHeader as { header: SessionHeader }).header;
    result.header = header;
    result.headerBytes = SKIPPABLE_HEADER_BYTES + headerSize;
    const state = newChainState(headerPayload);
    result.state = state;

    // --- signature policy ---
    let verifyKey: KeyObject | undefined;
    if (header.key) verifyKey = publicKeyFromHeader(header.key);
    if (options.publicKey) {
      if (verifyKey && publicKeyFingerprint(verifyKey) !== publicKeyFingerprint(options.publicKey)) {
        fail(
          'TAMPERED',
          SKIPPABLE_HEADER_BYTES,
          `the header names signing key ${header.key?.id}, not the trusted key ${keyIdOf(options.publicKey)}`,
        );
      }
      verifyKey = options.publicKey;
      result.signatures.status = 'trusted-key';
    } else if (verifyKey) {
      result.signatures.status = 'embedded-key';
    }
    const mustBeSigned = header.key !== null || options.publicKey !== undefined;
    if (verifyKey) result.signatures.keyId = keyIdOf(verifyKey);

    let pos = SKIPPABLE_HEADER_BYTES + headerSize;
    result.validEnd = pos;
    let lastFrameWasFinalWithIndex = false;
    // End of the frames that seal the file (final checkpoint, and its index when one was promised). A VALID file
    // ends exactly there: anything after it would be covered by no hash or signature.
    let sealEnd: number | undefined;

    while (pos < size) {
      options.onProgress?.(pos, size);
      if (size - pos < SKIPPABLE_HEADER_BYTES) {
        if (source.read(pos, size - pos).every((b) => b === 0)) torn(pos, 'zero-filled tail');
        torn(pos, `file ends inside a frame header (${size - pos} bytes left)`);
      }
      const frameHead = source.read(pos, SKIPPABLE_HEADER_BYTES);
      const magic = frameHead.readUInt32LE(0);
      const payloadSize = frameHead.readUInt32LE(4);
      const kind = frameKind(magic);
      const payloadStart = pos + SKIPPABLE_HEADER_BYTES;

      const incomplete = (what: string, end: number): never => {
        // A sealed file's trailer proves the file was complete: an overlong frame is then damage, not a torn write.
        const trailerAt = trailerOffset(source);
        if (trailerAt !== undefined && trailerAt > pos && trailerAt < size) {
          fail(
            'TAMPERED',
            pos,
            `${what} at offset ${pos} claims to end at ${end}, past the index at ${trailerAt}`,
          );
        }
        return torn(
          pos,
          `${what} at offset ${pos} is incomplete: needs ${end - pos} bytes, ${size - pos} present`,
        );
      };

      if (kind === 'segment') {
        if (payloadSize > MAX_METADATA_BYTES)
          fail('TAMPERED', pos, `segment header at ${pos} claims ${payloadSize} bytes`);
        if (payloadStart + payloadSize > size) incomplete('segment header', payloadStart + payloadSize);
        const k = state.segment + 1;
        const parsed = parseCanonicalObject(source.read(payloadStart, payloadSize));
        if (!parsed.ok) fail('TAMPERED', pos, `segment ${k} header is ${parsed.message}`, { segment: k });
        const h = (parsed as { value: Record<string, unknown> }).value;
        if (!validSegmentHeader(h))
          fail('TAMPERED', pos, `segment ${k} header has missing or malformed fields`);
        const seg = h as unknown as SegmentHeader;
        const where = { segment: k, seq: state.seq + 1 };
        if (seg.segment !== k)
          fail('TAMPERED', pos, `segment number ${seg.segment} where ${k} was expected`, where);
        if (seg.first_seq !== state.seq + 1) {
          fail(
            'TAMPERED',
            pos,
            `segment ${k} starts at seq ${seg.first_seq}, expected ${state.seq + 1}`,
            where,
          );
        }
        if (seg.count < 1 || seg.last_seq !== seg.first_seq + seg.count - 1) {
          fail('TAMPERED', pos, `segment ${k} has inconsistent seq range/count`, where);
        }
        if (seg.ulen > MAX_SEGMENT_BYTES || seg.clen > MAX_SEGMENT_BYTES) {
          fail('TAMPERED', pos, `segment ${k} claims implausible sizes`, where);
        }
        if (seg.t_first < state.lastTs || seg.t_last < seg.t_first) {
          fail('TAMPERED', pos, `segment ${k} timestamps go backwards`, where);
        }
        const frameStart = payloadStart + payloadSize;
        if (frameStart + seg.clen > size) incomplete(`segment ${k}`, frameStart + seg.clen);
        const frame = source.read(frameStart, seg.clen);
        const zscan = scanZstdFrame(frame);
        if (!zscan.ok) fail('TAMPERED', frameStart, `segment ${k} zstd frame: ${zscan.reason}`, where);
        else if (zscan.length !== seg.clen) {
          fail(
            'TAMPERED',
            frameStart,
            `segment ${k} zstd frame is ${zscan.length} bytes, header says ${seg.clen}`,
            where,
          );
        }
        if (sha256(frame).toString('hex') !== seg.zsha256) {
          fail('TAMPERED', frameStart, `segment ${k} compressed bytes do not match their SHA-256`, where);
        }
        if (options.deep) {
          let content: Buffer;
          try {
            content = await options.codec.decompress(frame, seg.ulen);
          } catch (error) {
            fail(
              'TAMPERED',
              frameStart,
              `segment ${k} does not decompress: ${(error as Error).message}`,
              where,
            );
            throw error;
          }
          if (sha256(content).toString('hex') !== seg.sha256) {
            fail('TAMPERED', frameStart, `segment ${k} content does not match its SHA-256`, where);
          }
          const checked = verifyRecords(content, seg, k, frameStart, state, fail, options.thorough === true);
          if (checked.chain.toString('hex') !== seg.chain) {
            fail('TAMPERED', pos, `segment ${k} chain hash does not match its records`, where);
          }
          // Commit only now: a segment that fails anywhere leaves the state at the end of the previous frame,
          // which is where crash recovery resumes writing.
          for (const leaf of checked.leaves) state.merkle.push(leaf);
          for (const [hash, seq] of checked.blobs) state.blobs.set(hash, seq);
          state.chain = checked.chain;
          state.seq = seg.last_seq;
          state.lastTs = seg.t_last;
        } else {
          state.seq = seg.last_seq;
          state.chain = Buffer.from(seg.chain, 'hex');
          state.lastTs = seg.t_last;
        }
        state.segment = k;
        state.segments.push([k, pos, seg.first_seq, seg.last_seq, seg.t_first, seg.t_last]);
        pos = frameStart + seg.clen;
        result.validEnd = pos;
        lastFrameWasFinalWithIndex = false;
        sealEnd = undefined;
        continue;
      }

      if (kind === 'checkpoint') {
        if (payloadSize > MAX_METADATA_BYTES)
          fail('TAMPERED', pos, `checkpoint at ${pos} claims ${payloadSize} bytes`);
        if (payloadStart + payloadSize > size) incomplete('checkpoint', payloadStart + payloadSize);
        const j = state.checkpoint + 1;
        const payload = source.read(payloadStart, payloadSize);
        const parsed = parseCanonicalObject(payload);
        if (!parsed.ok) fail('TAMPERED', pos, `checkpoint ${j} is ${parsed.message}`, { checkpoint: j });
        const c = (parsed as { value: Record<string, unknown> }).value;
        if (!validCheckpoint(c))
          fail('TAMPERED', pos, `checkpoint ${j} has missing or malformed fields`, { checkpoint: j });
        const cp = c as unknown as Checkpoint;
        const where = { checkpoint: j, seq: state.seq };
        if (cp.checkpoint !== j)
          fail('TAMPERED', pos, `checkpoint number ${cp.checkpoint} where ${j} was expected`, where);
        if (cp.tree_size !== state.seq) {
          fail(
            'TAMPERED',
            pos,
            `checkpoint ${j} covers ${cp.tree_size} records but ${state.seq} precede it`,
            where,
          );
        }
        if (cp.tree_size < state.checkpointedSize)
          fail('TAMPERED', pos, `checkpoint ${j} shrinks the tree`, where);
        if (cp.prev !== state.prevCheckpointHash) {
          fail('TAMPERED', pos, `checkpoint ${j} does not name its predecessor correctly`, where);
        }
        if (cp.ts < state.lastTs)
          fail('TAMPERED', pos, `checkpoint ${j} is dated before the records it covers`, where);
        if (cp.chain !== state.chain.toString('hex'))
          fail('TAMPERED', pos, `checkpoint ${j} chain hash mismatch`, where);
        if (options.deep && cp.root !== state.merkle.root().toString('hex')) {
          fail('TAMPERED', pos, `checkpoint ${j} Merkle root does not match records 1..${state.seq}`, where);
        }
        if (cp.sig) {
          if (!verifyKey) {
            result.signatures.status = 'unverifiable';
          } else {
            if (cp.sig.key_id !== keyIdOf(verifyKey)) {
              fail(
                'TAMPERED',
                pos,
                `checkpoint ${j} is signed by key ${quoteFromFile(cp.sig.key_id)}, not ${keyIdOf(verifyKey)}`,
                where,
              );
            }
            if (
              !verifyDsse(verifyKey, CHECKPOINT_PAYLOAD_TYPE, Buffer.from(checkpointBody(cp)), cp.sig.sig)
            ) {
              fail('TAMPERED', pos, `checkpoint ${j} signature does not verify`, where);
            }
            result.signatures.signedCheckpoints++;
          }
        } else if (mustBeSigned) {
          fail('TAMPERED', pos, `checkpoint ${j} is not signed but the file requires signatures`, where);
        }
        state.checkpoint = j;
        state.checkpointedSize = cp.tree_size;
        state.lastCheckpointFinal = cp.final;
        state.prevCheckpointHash = sha256(payload).toString('hex');
        state.lastTs = cp.ts;
        state.checkpoints.push([j, pos, cp.tree_size]);
        result.lastCheckpoint = cp;
        pos = payloadStart + payloadSize;
        result.validEnd = pos;
        lastFrameWasFinalWithIndex = cp.final && cp.index === true;
        sealEnd = cp.final && cp.index !== true ? pos : undefined;
        continue;
      }

      if (kind === 'index') {
        if (payloadSize < INDEX_TRAILER_BYTES || payloadSize > MAX_METADATA_BYTES) {
          fail('TAMPERED', pos, `index frame at ${pos} has an impossible size ${payloadSize}`);
        }
        if (payloadStart + payloadSize > size) incomplete('index', payloadStart + payloadSize);
        const payload = source.read(payloadStart, payloadSize);
        const trailer = payload.subarray(payloadSize - INDEX_TRAILER_BYTES);
        if (
          trailer.subarray(8).toString('latin1') !== INDEX_TRAILER_MAGIC ||
          Number(trailer.readBigUInt64LE(0)) !== pos
        ) {
          fail(
            'TAMPERED',
            payloadStart + payloadSize - INDEX_TRAILER_BYTES,
            `index trailer at ${pos} is damaged`,
          );
        }
        if (options.deep) {
          const expected = canonicalize(indexFor(state));
          if (!payload.subarray(0, payloadSize - INDEX_TRAILER_BYTES).equals(Buffer.from(expected))) {
            fail(
              'TAMPERED',
              pos,
              `index at ${pos} does not match the segments, checkpoints and blobs before it`,
            );
          }
        }
        pos = payloadStart + payloadSize;
        result.validEnd = pos;
        if (pos === size) {
          result.endsWithIndex = true;
          result.indexOffset = pos - payloadSize - SKIPPABLE_HEADER_BYTES;
        }
        if (lastFrameWasFinalWithIndex) sealEnd = pos;
        lastFrameWasFinalWithIndex = false;
        continue;
      }

      if (kind === 'reserved') {
        if (payloadStart + payloadSize > size)
          incomplete(`reserved frame ${hex32(magic)}`, payloadStart + payloadSize);
        if (lastFrameWasFinalWithIndex) {
          fail(
            'TAMPERED',
            pos,
            `frame ${hex32(magic)} at offset ${pos} sits between the final checkpoint and its index`,
          );
        }
        result.reservedFramesSkipped++;
        pos = payloadStart + payloadSize;
        result.validEnd = pos;
        continue;
      }

      if (kind === 'header') fail('TAMPERED', pos, `a second header frame at offset ${pos}`);
      if (kind === 'zstd') fail('TAMPERED', pos, `zstd frame at offset ${pos} without a segment header`);
      if (source.read(pos, Math.min(size - pos, 1 << 20)).every((b) => b === 0) && size - pos <= 1 << 20) {
        torn(pos, 'zero-filled tail');
      }
      fail('TAMPERED', pos, `unknown frame magic ${hex32(magic)} at offset ${pos}`);
    }
    options.onProgress?.(size, size);

    if (lastFrameWasFinalWithIndex) torn(size, 'file ends after the final checkpoint: its index is missing');
    const sealed = state.lastCheckpointFinal && state.checkpointedSize === state.seq && state.checkpoint > 0;
    if (sealed && sealEnd !== undefined && sealEnd < size) {
      fail(
        'TAMPERED',
        sealEnd,
        `${size - sealEnd} byte(s) after the sealed end at offset ${sealEnd} are covered by no hash or signature`,
      );
    }
    result.verdict = sealed ? 'VALID' : 'UNSEALED';
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
  }
  return result;
}

/** Offset named by a well-formed index trailer at the end of the file, if any. */
export function trailerOffset(source: ByteSource): number | undefined {
  if (source.size < INDEX_TRAILER_BYTES) return undefined;
  const trailer = source.read(source.size - INDEX_TRAILER_BYTES, INDEX_TRAILER_BYTES);
  if (trailer.subarray(8).toString('latin1') !== INDEX_TRAILER_MAGIC) return undefined;
  const offset = Number(trailer.readBigUInt64LE(0));
  return Number.isSafeInteger(offset) && offset < source.size ? offset : undefined;
}

type FailFn = (
  verdict: ScanFailure['verdict'],
  offset: number,
  message: string,
  extra?: Partial<ScanFailure>,
) => never;

interface CheckedSegment {
  leaves: Buffer[];
  chain: Buffer;
  blobs: Map<string, number>;
}

/** Re-derives leaf hashes and the chain from a segment's records and checks their envelopes. */
function verifyRecords(
  content: Buffer,
  seg: SegmentHeader,
  k: number,
  frameStart: number,
  state: ChainState,
  fail: FailFn,
  thorough: boolean,
): CheckedSegment {
  if (content.length !== seg.ulen)
    fail('TAMPERED', frameStart, `segment ${k} decompresses to the wrong size`);
  const checked: CheckedSegment = { leaves: [], chain: state.chain, blobs: new Map() };
  const knownBlob = (hash: string) => state.blobs.has(hash) || checked.blobs.has(hash);
  let lastTs = state.lastTs;
  let start = 0;
  let expected = seg.first_seq;
  while (start < content.length) {
    const end = content.indexOf(0x0a, start);
    const where = { segment: k, seq: expected };
    if (end < 0)
      fail('TAMPERED', frameStart, `segment ${k}: record seq ${expected} is not newline-terminated`, where);
    if (expected > seg.last_seq)
      fail('TAMPERED', frameStart, `segment ${k} holds more records than its header says`, where);
    const line = content.subarray(start, end);
    if (thorough || expected === seg.first_seq || expected === seg.last_seq) {
      lastTs = checkEnvelope(line, expected, lastTs, seg, (message) =>
        fail('TAMPERED', frameStart, `segment ${k}: record seq ${expected} ${message}`, where),
      );
    }
    const blob = blobRecordHash(line, expected);
    const blobProblem = checkBlobs(line, blob, knownBlob);
    if (blobProblem)
      fail('TAMPERED', frameStart, `segment ${k}: record seq ${expected} ${blobProblem}`, where);
    if (blob && !knownBlob(blob.hash)) checked.blobs.set(blob.hash, expected);
    const leaf = leafHash(line);
    checked.chain = chainStep(checked.chain, leaf);
    checked.leaves.push(leaf);
    expected++;
    start = end + 1;
  }
  if (expected !== seg.last_seq + 1) {
    fail('TAMPERED', frameStart, `segment ${k} holds fewer records than its header says`, {
      segment: k,
      seq: expected,
    });
  }
  return checked;
}

/** Parses one record and checks seq, ts (well formed, not decreasing, matching t_first/t_last) and type. */
function checkEnvelope(
  line: Buffer,
  seq: number,
  lastTs: string,
  seg: SegmentHeader,
  bad: (message: string) => never,
): string {
  let record: Record<string, unknown> | null = null;
  try {
    record = JSON.parse(line.toString('utf8')) as Record<string, unknown>;
  } catch {
    bad('is not valid JSON');
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record))
    return bad('is not a JSON object');
  if (record.seq !== seq) bad(`says seq ${quoteFromFile(record.seq)}`);
  const ts = record.ts;
  if (!isTimestamp(ts) || ts < lastTs) bad('has a bad or decreasing timestamp');
  if (typeof record.type !== 'string' || record.type.length === 0) bad('has no type');
  if ((seq === seg.first_seq && ts !== seg.t_first) || (seq === seg.last_seq && ts !== seg.t_last)) {
    bad("does not match its segment's t_first/t_last");
  }
  return ts as string;
}

const BLOB_TS_LENGTH = '2026-01-01T00:00:00.000000Z'.length;
const BLOB_TYPE_PART = Buffer.from('","type":"blob","value":');

/**
 * A blob record's canonical form has a fixed prefix (its keys sort as seq, sha256, ts, type, value), so it is
 * recognised and its value located by position, without parsing the record.
 */
export function blobRecordHash(line: Buffer, seq: number): { hash: string; valueStart: number } | undefined {
  const head = `{"seq":${seq},"sha256":"`;
  if (line.length < head.length + 64 || line.toString('latin1', 0, head.length) !== head) return undefined;
  const hashEnd = head.length + 64;
  if (line.toString('latin1', hashEnd, hashEnd + 8) !== '","ts":"') return undefined;
  const typeAt = hashEnd + 8 + BLOB_TS_LENGTH;
  if (!line.subarray(typeAt, typeAt + BLOB_TYPE_PART.length).equals(BLOB_TYPE_PART)) return undefined;
  return { hash: line.toString('latin1', head.length, hashEnd), valueStart: typeAt + BLOB_TYPE_PART.length };
}

/**
 * `{"$lit":` directly before `{"$blob":"` is the escape wrapper of a user object whose first key is "$blob" — unless
 * that `{"$lit":` is itself a user key "$lit" inside another wrapper. Wrappers and user "$lit" keys alternate, so an
 * odd run of `{"$lit":` means the innermost is a wrapper.
 */
function isEscapedUserObject(line: Buffer, at: number): boolean {
  let run = 0;
  for (
    let p = at - LIT_PREFIX.length;
    p >= 0 && line.subarray(p, p + LIT_PREFIX.length).equals(LIT_PREFIX);
    p -= LIT_PREFIX.length
  ) {
    run++;
  }
  return run % 2 === 1;
}

/**
 * Blob records must hash to their name and precede every reference to them. A reference is found by its exact
 * byte pattern: inside a JSON string the quote would be escaped, so the pattern cannot occur in user text, and a
 * user object with a "$blob" key is always written escaped as {"$lit":{...}}, which the check recognises.
 * Returns a description of the problem, or undefined.
 */
function checkBlobs(
  line: Buffer,
  blob: { hash: string; valueStart: number } | undefined,
  knownBlob: (hash: string) => boolean,
): string | undefined {
  let at = line.indexOf(BLOB_REF_PREFIX);
  while (at >= 0) {
    if (!isEscapedUserObject(line, at)) {
      const start = at + BLOB_REF_PREFIX.length;
      const hash = line.subarray(start, start + 64).toString('latin1');
      if (!isHex64(hash) || line.toString('latin1', start + 64, start + 66) !== '"}')
        return 'has a malformed blob reference';
      if (!knownBlob(hash)) return `references blob ${hash.slice(0, 16)}… that no earlier record defines`;
    }
    at = line.indexOf(BLOB_REF_PREFIX, at + BLOB_REF_PREFIX.length);
  }
  if (!blob) return undefined;
  if (!isHex64(blob.hash)) return 'is a blob record without a valid sha256';
  if (line[line.length - 1] !== 0x7d) return 'is a malformed blob record';
  const value = line.subarray(blob.valueStart, line.length - 1);
  if (sha256(value).toString('hex') !== blob.hash) return 'is a blob whose value does not match its sha256';
  return undefined;
}
