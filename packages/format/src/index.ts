export { BoundedStringCache } from './bounded-cache.js';
export {
  type CanonicalOptions,
  type CanonicalStats,
  canonicalize,
  isCanonical,
  newCanonicalStats,
} from './canonical-json.js';
export { type Codec, CodecError, type CodecName, getCodec, nativeZstdAvailable } from './codec.js';
export * from './constants.js';
export { SessionFileError, SessionLockedError } from './errors.js';
export {
  dssePae,
  generateSigningKey,
  type HeaderKey,
  keyIdOf,
  loadPublicKey,
  loadSigningKey,
  publicKeyFingerprint,
  publicKeyFromHeader,
  type SigningKey,
  signDsse,
  verifyDsse,
} from './keys.js';
export { lockHolder } from './lock.js';
export {
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  MerkleAccumulator,
  MerkleTree,
  merkleRoot,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
export { holdsReferences, peekSpanRecord, type SpanRecordHead } from './peek.js';
export {
  type RawRecord,
  type ReaderOptions,
  type RecordQuery,
  type SegmentRef,
  SessionReader,
} from './reader.js';
export { checkpointBody, type ScanFailure, type SignatureStatus, type TornTail } from './scan.js';
export { formatTimestamp, isTimestamp, toTimestamp } from './time.js';
export * from './types.js';
export { type VerifyOptions, type VerifyReport, verifySession, verifySessionBytes } from './verify.js';
export { SessionVerifierPool, type VerifierPoolOptions } from './verify-pool.js';
export {
  type AppendOptions,
  type Durability,
  type RecoveryInfo,
  SessionWriter,
  type WriterOptions,
  type WriterStats,
} from './writer.js';
