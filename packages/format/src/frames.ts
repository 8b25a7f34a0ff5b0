import {
  MAGIC_CHECKPOINT,
  MAGIC_HEADER,
  MAGIC_INDEX,
  MAGIC_RESERVED_FIRST,
  MAGIC_RESERVED_LAST,
  MAGIC_SEGMENT,
  SKIPPABLE_HEADER_BYTES,
} from './constants.js';
import { ZSTD_MAGIC } from './zstd-frame.js';

export function skippableFrame(magic: number, payload: Uint8Array): Buffer {
  const head = Buffer.allocUnsafe(SKIPPABLE_HEADER_BYTES);
  head.writeUInt32LE(magic, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

export type FrameKind = 'header' | 'segment' | 'checkpoint' | 'index' | 'reserved' | 'zstd' | 'unknown';

export function frameKind(magic: number): FrameKind {
  switch (magic) {
    case MAGIC_HEADER:
      return 'header';
    case MAGIC_SEGMENT:
      return 'segment';
    case MAGIC_CHECKPOINT:
      return 'checkpoint';
    case MAGIC_INDEX:
      return 'index';
    case ZSTD_MAGIC:
      return 'zstd';
    default:
      return magic >= MAGIC_RESERVED_FIRST && magic <= MAGIC_RESERVED_LAST ? 'reserved' : 'unknown';
  }
}

export function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}
