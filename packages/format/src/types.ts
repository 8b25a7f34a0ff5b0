import type { HeaderKey } from './keys.js';

/** The JSON of the header frame (after the "AREC1\n" prefix). */
export interface SessionHeader {
  format: 'agent-replay.session';
  version: 1;
  session_id: string;
  created_at: string;
  writer: { name: string; version: string };
  codec: { name: 'zstd'; level: number };
  hash: 'sha256';
  incompat: string[];
  compat: string[];
  key: HeaderKey | null;
}

/** The JSON of a segment-header frame. `zsha256` (hash of the compressed frame) is our addition, see docs/FORMAT.md. */
export interface SegmentHeader {
  segment: number;
  first_seq: number;
  last_seq: number;
  count: number;
  ulen: number;
  clen: number;
  sha256: string;
  zsha256: string;
  chain: string;
  t_first: string;
  t_last: string;
}

export interface CheckpointSignature {
  key_id: string;
  alg: 'ed25519';
  sig: string;
}

export interface Checkpoint {
  checkpoint: number;
  tree_size: number;
  root: string;
  chain: string;
  ts: string;
  prev: string | null;
  final: boolean;
  /** On final checkpoints written by a writer that appends an index next: the file must not end before it. */
  index?: true;
  sig?: CheckpointSignature;
}

/** [k, offset of the segment-header frame, first_seq, last_seq, t_first, t_last] */
export type IndexSegmentEntry = [number, number, number, number, string, string];
/** [j, offset of the checkpoint frame, tree_size] */
export type IndexCheckpointEntry = [number, number, number];
/** [sha256 of the blob value, seq of the blob record] */
export type IndexBlobEntry = [string, number];

export interface SessionIndex {
  segments: IndexSegmentEntry[];
  checkpoints: IndexCheckpointEntry[];
  records: number;
  blobs: IndexBlobEntry[];
}

/** A decoded record. Every record has seq, ts and type; the rest depends on the type. */
export interface SessionRecord {
  seq: number;
  ts: string;
  type: string;
  [field: string]: unknown;
}

export type Verdict = 'VALID' | 'UNSEALED' | 'TORN' | 'TAMPERED' | 'UNREADABLE';

export const VERDICT_EXIT_CODES: Readonly<Record<Verdict, number>> = {
  VALID: 0,
  TAMPERED: 1,
  UNREADABLE: 1,
  UNSEALED: 3,
  TORN: 3,
};
