/**
 * Finds where one zstd frame ends without decompressing it (RFC 8878, section 3.1.1).
 *
 * Session files are a sequence of frames; a reader has to walk them one at a time because Node's zstd decoder
 * silently stops after the first frame, and a crash can leave a torn frame at the tail. Everything here reads
 * untrusted bytes, so every access is bounds-checked, nothing allocates in proportion to declared sizes, and
 * every loop advances by at least three bytes.
 */

export const ZSTD_MAGIC = 0xfd2fb528;

export type ZstdFrameScan =
  | {
      ok: true;
      /** Bytes from the magic number up to and including the checksum, if any. */
      length: number;
      /** Frame_Content_Size, or null when the writer did not record it. */
      contentSize: number | null;
      hasChecksum: boolean;
      /** 0 when the frame does not need a dictionary. */
      dictionaryId: number;
      /** Window the decoder must keep; equals contentSize for single-segment frames. */
      windowSize: number;
      /** Magic number plus frame header, i.e. where the first block starts. */
      headerLength: number;
      blockCount: number;
      /** Raw and RLE blocks regenerate exactly their declared size; compressed blocks at least nothing. */
      decodedSizeMin: number;
      /** Compressed blocks regenerate at most Block_Maximum_Size each. */
      decodedSizeMax: number;
    }
  | { ok: false; incomplete: true; reason: string }
  | { ok: false; incomplete: false; reason: string };

/**
 * Called once per block with the absolute offset just past the block and the most bytes it can regenerate,
 * so a decoder can be fed in steps whose output is bounded.
 */
export type ZstdBlockVisitor = (blockEnd: number, maxDecodedSize: number) => void;

const BLOCK_SIZE_MAX = 128 * 1024;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC_BASE = 0x184d2a50;
const MAGIC_BYTES = [0x28, 0xb5, 0x2f, 0xfd] as const;

const incomplete = (reason: string): ZstdFrameScan => ({ ok: false, incomplete: true, reason });
const malformed = (reason: string): ZstdFrameScan => ({ ok: false, incomplete: false, reason });
const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** Reads `size` bytes little-endian; callers guarantee the bytes exist and size <= 4. */
function readLE(buf: Uint8Array, at: number, size: number): number {
  let value = 0;
  for (let i = size - 1; i >= 0; i--) value = value * 256 + (buf[at + i] ?? 0);
  return value;
}

/** Scans one zstd frame starting at `offset` (default 0). Never throws. */
export function scanZstdFrame(buf: Uint8Array, offset = 0): ZstdFrameScan {
  return scanZstdFrameBlocks(buf, offset);
}

/** Like scanZstdFrame, and reports each block to `onBlock` as it is walked (also for frames that later fail). */
export function scanZstdFrameBlocks(buf: Uint8Array, offset = 0, onBlock?: ZstdBlockVisitor): ZstdFrameScan {
  const end = buf.length;
  if (!Number.isSafeInteger(offset) || offset < 0) return malformed(`invalid offset ${String(offset)}`);
  if (offset > end) return malformed(`offset ${offset} is past the end of the buffer (${end} bytes)`);
  if (offset === end) return incomplete('buffer ends before the frame starts');

  // A torn write can leave a prefix of the magic; that is a cut frame, anything else is not a zstd frame.
  if (end - offset < 4) {
    for (let i = 0; i < end - offset; i++) {
      if (buf[offset + i] !== MAGIC_BYTES[i]) return malformed('bad magic number');
    }
    return incomplete('buffer ends inside the magic number');
  }
  const magic = readLE(buf, offset, 4);
  if (magic !== ZSTD_MAGIC) {
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC_BASE) {
      return malformed(`skippable frame (magic ${hex32(magic)}) where a zstd frame was expected`);
    }
    return malformed(`bad magic number ${hex32(magic)}`);
  }

  if (end - offset < 5) return incomplete('buffer ends inside the frame header');
  const descriptor = buf[offset + 4] ?? 0;
  const fcsFlag = descriptor >>> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  if ((descriptor & 0x08) !== 0) return malformed('reserved bit set in the frame header descriptor');
  const hasChecksum = (descriptor & 0x04) !== 0;
  const didSize = [0, 1, 2, 4][descriptor & 0x03] ?? 0;
  const fcsSize = fcsFlag === 0 ? (singleSegment ? 1 : 0) : ([0, 2, 4, 8][fcsFlag] ?? 0);
  const headerLength = 5 + (singleSegment ? 0 : 1) + didSize + fcsSize;
  if (end - offset < headerLength) {
    return incomplete(`buffer ends inside the frame header (${headerLength} bytes, ${end - offset} present)`);
  }

  let pos = offset + 5;
  let windowSize = 0;
  if (!singleSegment) {
    const wd = buf[pos] ?? 0;
    const windowBase = 2 ** (10 + (wd >>> 3));
    windowSize = windowBase + (windowBase / 8) * (wd & 0x07);
    pos += 1;
  }
  const dictionaryId = readLE(buf, pos, didSize);
  pos += didSize;

  let contentSize: number | null = null;
  if (fcsSize === 8) {
    const low = readLE(buf, pos, 4);
    const high = readLE(buf, pos + 4, 4);
    // Beyond 2^53 a JS number cannot hold the size exactly; no real session segment comes near it.
    if (high >= 0x200000) return malformed('frame content size does not fit in 53 bits');
    contentSize = high * 0x100000000 + low;
  } else if (fcsSize > 0) {
    contentSize = readLE(buf, pos, fcsSize) + (fcsSize === 2 ? 256 : 0);
  }
  pos += fcsSize;
  if (singleSegment) windowSize = contentSize ?? 0;

  const blockMax = Math.min(windowSize, BLOCK_SIZE_MAX);
  let blockCount = 0;
  let decodedSizeMin = 0;
  let decodedSizeMax = 0;
  for (;;) {
    const at = pos - offset;
    if (end - pos < 3) return incomplete(`buffer ends inside a block header at byte ${at} of the frame`);
    const header = readLE(buf, pos, 3);
    const last = (header & 1) !== 0;
    const type = (header >>> 1) & 3;
    const size = header >>> 3;
    if (type === 3) return malformed(`reserved block type at byte ${at} of the frame`);
    if (size > blockMax) {
      return malformed(`block size ${size} exceeds the maximum ${blockMax} at byte ${at} of the frame`);
    }
    const payload = type === 1 ? 1 : size;
    if (end - pos - 3 < payload) {
      return incomplete(
        `buffer ends inside the block at byte ${at} of the frame (${payload} bytes of payload)`,
      );
    }
    pos += 3 + payload;
    blockCount++;
    const maxDecoded = type === 2 ? blockMax : size;
    if (type !== 2) decodedSizeMin += size;
    decodedSizeMax += maxDecoded;
    onBlock?.(pos, maxDecoded);
    if (last) break;
  }

  if (contentSize !== null && (decodedSizeMin > contentSize || decodedSizeMax < contentSize)) {
    return malformed(
      `frame content size ${contentSize} disagrees with its blocks (${decodedSizeMin} to ${decodedSizeMax} bytes)`,
    );
  }
  if (hasChecksum) {
    if (end - pos < 4) return incomplete('buffer ends inside the content checksum');
    pos += 4;
  }

  return {
    ok: true,
    length: pos - offset,
    contentSize,
    hasChecksum,
    dictionaryId,
    windowSize,
    headerLength,
    blockCount,
    decodedSizeMin,
    decodedSizeMax,
  };
}
