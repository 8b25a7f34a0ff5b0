import type { KeyObject } from 'node:crypto';
import { type Codec, type CodecName, resolveCodec } from './codec.js';
import { SessionFileError } from './errors.js';
import { type ByteSource, type FileSource, openFileSource } from './file-source.js';
import { isKeyObject, loadPublicKey } from './keys.js';
import { type ScanFailure, type SignatureStatus, scanSession, type TornTail } from './scan.js';
import { type Checkpoint, VERDICT_EXIT_CODES, type Verdict } from './types.js';

export interface VerifyOptions {
  /** Trusted Ed25519 public key (KeyObject or PEM): every checkpoint must carry a valid signature by it. */
  publicKey?: KeyObject | string | Buffer;
  codec?: Codec | 'auto' | CodecName;
  /** Parse every record and check its envelope too (conformance); integrity checks are complete without it. */
  thorough?: boolean;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface VerifyReport {
  file: string;
  verdict: Verdict;
  /** 0 VALID, 1 TAMPERED/UNREADABLE, 3 UNSEALED/TORN */
  exitCode: number;
  /** One line a person can act on. */
  summary: string;
  sessionId?: string;
  fileSize: number;
  /** Records 1..records were verified. */
  records: number;
  segments: number;
  checkpoints: number;
  /** Records covered by the last checkpoint, and whether it sealed the file. */
  checkpointedRecords: number;
  sealed: boolean;
  /** Merkle root over the verified records (hex). */
  merkleRoot: string;
  signatures: { status: SignatureStatus; keyId?: string; signedCheckpoints: number };
  failure?: ScanFailure;
  torn?: TornTail;
  reservedFramesSkipped: number;
  /** The last checkpoint that checked out: its tree size, Merkle root and signature are what an export proves against. */
  lastCheckpoint?: Checkpoint;
}

/**
 * Verifies one session file completely: every frame, hash, the chain, Merkle roots, checkpoint links, signatures and
 * the index. Never throws for a bad file: problems are verdicts.
 */
export async function verifySession(path: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { codec, publicKey } = await resolveInputs(options);
  let source: FileSource;
  try {
    source = openFileSource(path);
  } catch (error) {
    if (error instanceof SessionFileError) return unreadable(path, error.reason);
    throw error;
  }
  try {
    return await verifySource(source, publicKey, codec, options);
  } finally {
    source.close();
  }
}

/** Verifies a session held in memory (e.g. a member of an evidence bundle); `name` labels the report. */
export async function verifySessionBytes(
  bytes: Uint8Array,
  name: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const { codec, publicKey } = await resolveInputs(options);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const source: ByteSource = {
    path: name,
    size: buffer.length,
    read: (position, length) => buffer.subarray(position, Math.min(buffer.length, position + length)),
  };
  return verifySource(source, publicKey, codec, options);
}

async function verifySource(
  source: ByteSource,
  publicKey: KeyObject | undefined,
  codec: Codec,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const scan = await scanSession(source, {
    deep: true,
    codec,
    thorough: options.thorough === true,
    ...(publicKey ? { publicKey } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const state = scan.state;
  const report: VerifyReport = {
    file: source.path,
    verdict: scan.verdict,
    exitCode: VERDICT_EXIT_CODES[scan.verdict],
    summary: '',
    fileSize: scan.fileSize,
    records: state.seq,
    segments: state.segment,
    checkpoints: state.checkpoint,
    checkpointedRecords: state.checkpointedSize,
    sealed: scan.verdict === 'VALID',
    merkleRoot: state.merkle.root().toString('hex'),
    signatures: scan.signatures,
    reservedFramesSkipped: scan.reservedFramesSkipped,
    ...(scan.header ? { sessionId: scan.header.session_id } : {}),
    ...(scan.failure ? { failure: scan.failure } : {}),
    ...(scan.torn ? { torn: scan.torn } : {}),
    ...(scan.lastCheckpoint ? { lastCheckpoint: scan.lastCheckpoint } : {}),
  };
  report.summary = summarize(report);
  return report;
}

async function resolveInputs(
  options: VerifyOptions,
): Promise<{ codec: Codec; publicKey: KeyObject | undefined }> {
  const key = options.publicKey;
  return {
    codec: await resolveCodec(options.codec),
    publicKey: key === undefined || isKeyObject(key) ? key : loadPublicKey(key),
  };
}

function unreadable(path: string, message: string): VerifyReport {
  const report: VerifyReport = {
    file: path,
    verdict: 'UNREADABLE',
    exitCode: VERDICT_EXIT_CODES.UNREADABLE,
    summary: '',
    fileSize: 0,
    records: 0,
    segments: 0,
    checkpoints: 0,
    checkpointedRecords: 0,
    sealed: false,
    merkleRoot: '',
    signatures: { status: 'none', signedCheckpoints: 0 },
    failure: { verdict: 'UNREADABLE', offset: 0, message },
    reservedFramesSkipped: 0,
  };
  report.summary = summarize(report);
  return report;
}

function range(n: number): string {
  return n === 0 ? 'no records' : n === 1 ? 'record 1' : `records 1..${n}`;
}

function signatureNote(report: VerifyReport): string {
  const { status, keyId, signedCheckpoints } = report.signatures;
  if (status === 'trusted-key')
    return `, ${signedCheckpoints} checkpoint signature(s) verified with trusted key ${keyId}`;
  if (status === 'embedded-key') {
    return `, ${signedCheckpoints} checkpoint signature(s) verified with the file's own key ${keyId} (pass --key to trust it)`;
  }
  if (status === 'unverifiable') return ', signed but no key was given to check the signatures';
  return ', unsigned';
}

function summarize(report: VerifyReport): string {
  const where = (f: ScanFailure) =>
    [
      f.segment !== undefined ? `segment ${f.segment}` : undefined,
      f.checkpoint !== undefined ? `checkpoint ${f.checkpoint}` : undefined,
      `offset ${f.offset}`,
      f.seq !== undefined && f.seq > 0 ? `record seq ${f.seq}` : undefined,
    ]
      .filter(Boolean)
      .join(', ');
  switch (report.verdict) {
    case 'VALID':
      return `VALID: ${range(report.records)} in ${report.segments} segment(s), sealed by checkpoint ${report.checkpoints}${signatureNote(report)}`;
    case 'UNSEALED':
      return `UNSEALED: ${range(report.records)} verified, not sealed (last checkpoint covers ${report.checkpointedRecords})`;
    case 'TORN':
      return `TORN: ${range(report.records)} verified; ${report.torn?.message ?? 'incomplete tail'} (${report.torn?.bytes ?? 0} byte(s) at offset ${report.torn?.offset ?? 0})`;
    case 'TAMPERED':
      return `TAMPERED at ${where(report.failure!)}: ${report.failure!.message}; ${range(report.records)} verified before it`;
    case 'UNREADABLE':
      return `UNREADABLE: ${report.failure?.message ?? 'not a session file'}`;
  }
}
