/** Magic numbers and fixed strings of the session file format, version 1 (see docs/FORMAT.md). */

/** zstd skippable frame magics: 0x184D2A50..0x184D2A5F. zstd -d ignores all of them. */
export const MAGIC_HEADER = 0x184d2a50;
export const MAGIC_SEGMENT = 0x184d2a51;
export const MAGIC_CHECKPOINT = 0x184d2a52;
export const MAGIC_INDEX = 0x184d2a53;
export const MAGIC_RESERVED_FIRST = 0x184d2a54;
export const MAGIC_RESERVED_LAST = 0x184d2a5f;

/** Bytes of a skippable frame header: magic u32 LE + payload size u32 LE. */
export const SKIPPABLE_HEADER_BYTES = 8;

export const HEADER_PREFIX = 'AREC1\n';
export const FORMAT_NAME = 'agent-replay.session';
export const FORMAT_VERSION = 1;

/** Domain separation for the hash chain: chain_0 = SHA-256(CHAIN_DOMAIN ‖ header payload). */
export const CHAIN_DOMAIN = 'agent-replay.session.v1\n';

/** The index payload ends with offset_of_index_frame:u64 LE ‖ INDEX_TRAILER_MAGIC. */
export const INDEX_TRAILER_MAGIC = 'ARIDX001';
export const INDEX_TRAILER_BYTES = 16;

/** DSSE payload type of a checkpoint signature. */
export const CHECKPOINT_PAYLOAD_TYPE = 'application/vnd.agent-replay.checkpoint+json';

/** Upper bound for any skippable-frame payload we parse as JSON (headers, checkpoints, segment headers, index). */
export const MAX_METADATA_BYTES = 256 * 1024 * 1024;
/** Upper bound for one segment's uncompressed content; protects readers from hostile headers. */
export const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024;

/** Incompatible features this reader understands (none yet: version 1 has no optional incompatible features). */
export const KNOWN_INCOMPAT_FEATURES: readonly string[] = [];
