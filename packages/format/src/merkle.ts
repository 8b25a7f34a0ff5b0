/**
 * Merkle tree of RFC 9162 §2.1 (hashing identical to RFC 6962 §2.1) over the records of a session file.
 *
 * Leaves handed to this module are already leaf hashes (`leafHash(record bytes)`); everything here
 * operates on 32-byte SHA-256 values. Tree sizes are plain numbers: all size/index arithmetic uses
 * `% 2` and division rather than bitwise operators, because JS bitwise operators truncate to 32 bits
 * and a long-running session may in principle exceed 2^32 records.
 */
import { createHash, hash } from 'node:crypto';

/** Length in bytes of every hash in the tree (SHA-256). */
export const HASH_BYTES = 32;

/** Inputs up to this size are hashed from a reused buffer; larger ones get their own. */
const SCRATCH_BYTES = 64 * 1024;
// Hashing runs once per record (leaf, chain step, and about one interior node) when writing and verifying, and
// allocating each input costs as much as the small hashes themselves, so the prefixed inputs are assembled in
// buffers reused across calls (everything here is synchronous, so no call can see another's bytes).
const leafScratch = Buffer.allocUnsafe(SCRATCH_BYTES);
leafScratch[0] = 0x00;
const nodeScratch = Buffer.allocUnsafe(1 + 2 * HASH_BYTES);
nodeScratch[0] = 0x01;

/** SHA-256(0x00 ‖ data): the RFC 9162 leaf hash; the prefix keeps leaves and interior nodes apart. */
export function leafHash(data: Uint8Array): Buffer {
  // One-shot crypto.hash (Node >= 20.12) costs a third less than createHash for record-sized inputs.
  if (data.length < SCRATCH_BYTES) {
    leafScratch.set(data, 1);
    return hash('sha256', leafScratch.subarray(0, data.length + 1), 'buffer');
  }
  return hash('sha256', Buffer.concat([leafScratch.subarray(0, 1), data]), 'buffer');
}

/** SHA-256(0x01 ‖ left ‖ right): the RFC 9162 interior node hash. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES)
    return hash('sha256', Buffer.concat([nodeScratch.subarray(0, 1), left, right]), 'buffer');
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_BYTES);
  return hash('sha256', nodeScratch, 'buffer');
}

// Internal copy: EMPTY_ROOT is exported as a (necessarily mutable) Buffer, and a caller scribbling on it
// must not change what this module computes or compares against.
const EMPTY: Buffer = createHash('sha256').digest();

/** MTH({}) = SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = Buffer.from(EMPTY);

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_BYTES;
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function requireHash(value: Uint8Array, what: string): void {
  if (!isHash(value)) {
    throw new RangeError(`${what} must be a ${HASH_BYTES}-byte hash`);
  }
}

function requireHashes(values: readonly Uint8Array[], what: string): void {
  for (let i = 0; i < values.length; i++) requireHash(values[i]!, `${what}[${i}]`);
}

function requireSize(value: number, what: string): void {
  if (!isSize(value)) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${String(value)}`);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Largest power of two strictly less than n (n >= 2): the RFC 9162 split point k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isOdd(x: number): boolean {
  return x % 2 === 1;
}

function half(x: number): number {
  return Math.floor(x / 2);
}

/**
 * Incremental tree over leaf hashes in O(log n) memory: the "frontier" of perfect subtrees.
 *
 * `frontier` holds the roots of the maximal perfect subtrees that tile [0, size), left to right, i.e.
 * one per set bit of `size` from the most significant down. That is exactly the state a writer must
 * persist to resume a session file without re-reading its records.
 */
export class MerkleAccumulator {
  #size: number;
  #frontier: Buffer[];

  constructor(state?: { size: number; frontier: readonly Uint8Array[] }) {
    if (state === undefined) {
      this.#size = 0;
      this.#frontier = [];
      return;
    }
    requireSize(state.size, 'accumulator size');
    let bits = 0;
    for (let s = state.size; s > 0; s = half(s)) if (isOdd(s)) bits++;
    if (!Array.isArray(state.frontier) || state.frontier.length !== bits) {
      throw new RangeError(`accumulator of size ${state.size} needs ${bits} frontier hashes`);
    }
    requireHashes(state.frontier, 'frontier');
    this.#size = state.size;
    // Copies, so later mutation of the caller's buffers cannot alter our state.
    this.#frontier = state.frontier.map((h) => Buffer.from(h));
  }

  /** Append one leaf HASH (not record bytes). */
  push(leaf: Uint8Array): void {
    requireHash(leaf, 'leaf');
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('accumulator is full');
    // Adding a leaf is binary increment: every trailing 1 bit of size is a perfect subtree of the same
    // height as the carry, so it merges (left sibling first) into a subtree one level higher.
    let carry: Buffer = Buffer.from(leaf);
    for (let s = this.#size; isOdd(s); s = half(s)) {
      const left = this.#frontier.pop();
      if (left === undefined) throw new Error('MerkleAccumulator: frontier out of sync with size');
      carry = nodeHash(left, carry);
    }
    this.#frontier.push(carry);
    this.#size++;
  }

  get size(): number {
    return this.#size;
  }

  /** MTH of all leaves pushed so far; EMPTY_ROOT when empty. O(log n) hashes. */
  root(): Buffer {
    const f = this.#frontier;
    const last = f[f.length - 1];
    if (last === undefined) return Buffer.from(EMPTY);
    // RFC 9162 splits at the largest power of two, so the unbalanced right edge is folded first:
    // MTH = H(f0, H(f1, H(f2, ...))).
    let acc: Buffer = Buffer.from(last);
    for (let i = f.length - 2; i >= 0; i--) acc = nodeHash(f[i]!, acc);
    return acc;
  }

  /** State to persist; `new MerkleAccumulator(snapshot)` continues identically. */
  snapshot(): { size: number; frontier: Buffer[] } {
    return { size: this.#size, frontier: this.#frontier.map((h) => Buffer.from(h)) };
  }
}

/** Reference (non-incremental) MTH of RFC 9162 §2.1.1 over leaf hashes; O(n) hashes, O(log n) stack. */
export function merkleRoot(leaves: readonly Uint8Array[]): Buffer {
  requireHashes(leaves, 'leaves');
  if (leaves.length === 0) return Buffer.from(EMPTY);
  // A one-leaf root is the caller's own buffer, so it is copied; deeper leaves are only read.
  if (leaves.length === 1) return Buffer.from(leaves[0]!);
  const mth = (start: number, n: number): Uint8Array => {
    if (n === 1) return leaves[start]!;
    const k = splitPoint(n);
    return nodeHash(mth(start, k), mth(start + k, n - k));
  };
  const k = splitPoint(leaves.length);
  return nodeHash(mth(0, k), mth(k, leaves.length - k));
}

/**
 * Merkle tree with every perfect subtree hash precomputed, to serve many roots and proofs after one
 * O(n) build. Level l is a single contiguous Buffer of floor(n / 2^l) hashes: for a million leaves
 * that is ~64 MB instead of millions of small Buffer objects.
 */
export class MerkleTree {
  readonly #size: number;
  readonly #levels: Buffer[];

  constructor(leaves: readonly Uint8Array[]) {
    const n = leaves.length;
    const base = Buffer.allocUnsafe(n * HASH_BYTES);
    leaves.forEach((h, i) => {
      requireHash(h, `leaves[${i}]`);
      base.set(h, i * HASH_BYTES);
    });
    this.#size = n;
    this.#levels = [base];
    let prev = base;
    for (let count = half(n); count > 0; count = half(count)) {
      const level = Buffer.allocUnsafe(count * HASH_BYTES);
      for (let j = 0; j < count; j++) {
        const l = 2 * j * HASH_BYTES;
        nodeHash(prev.subarray(l, l + HASH_BYTES), prev.subarray(l + HASH_BYTES, l + 2 * HASH_BYTES)).copy(
          level,
          j * HASH_BYTES,
        );
      }
      this.#levels.push(level);
      prev = level;
    }
  }

  /** Number of leaves. */
  get size(): number {
    return this.#size;
  }

  /** MTH of the first `size` leaves (default: all). */
  root(size: number = this.#size): Buffer {
    this.#checkSize(size, 'size');
    return size === 0 ? Buffer.from(EMPTY) : this.#rangeHash(0, size);
  }

  /** RFC 9162 §2.1.3.1 PATH(index, D[0:size]), ordered leaf-to-root as the verifier consumes it. */
  inclusionProof(index: number, size: number = this.#size): Buffer[] {
    this.#checkSize(size, 'size');
    requireSize(index, 'index');
    if (index >= size) throw new RangeError(`index ${index} is outside a tree of size ${size}`);
    // Walk the RFC recursion top-down, collecting the sibling of each subtree containing `index`;
    // the recursion emits them innermost first, hence the reverse.
    const path: Buffer[] = [];
    let start = 0;
    let n = size;
    while (n > 1) {
      const k = splitPoint(n);
      if (index - start < k) {
        path.push(this.#rangeHash(start + k, n - k));
        n = k;
      } else {
        path.push(this.#rangeHash(start, k));
        start += k;
        n -= k;
      }
    }
    return path.reverse();
  }

  /** RFC 9162 §2.1.4.1 PROOF(m, D[0:n]); empty when m is 0 or m equals n. */
  consistencyProof(m: number, n: number = this.#size): Buffer[] {
    this.#checkSize(n, 'n');
    requireSize(m, 'm');
    if (m > n) throw new RangeError(`consistency proof needs m <= n, got m=${m} n=${n}`);
    if (m === 0 || m === n) return [];
    // Iterative SUBPROOF(m, D[start:start+len], b), collected outermost first and reversed at the end.
    const proof: Buffer[] = [];
    let start = 0;
    let len = n;
    let rest = m;
    let wholeTreeKnown = true; // the RFC's `b`: the old root is already known to the verifier
    while (rest !== len) {
      const k = splitPoint(len);
      if (rest <= k) {
        proof.push(this.#rangeHash(start + k, len - k));
        len = k;
      } else {
        proof.push(this.#rangeHash(start, k));
        start += k;
        len -= k;
        rest -= k;
        wholeTreeKnown = false;
      }
    }
    if (!wholeTreeKnown) proof.push(this.#rangeHash(start, len));
    return proof.reverse();
  }

  #checkSize(size: number, what: string): void {
    requireSize(size, what);
    if (size > this.#size) throw new RangeError(`${what} ${size} exceeds the tree's ${this.#size} leaves`);
  }

  /**
   * MTH(D[start:start+len]) for the ranges the RFC recursion produces: `start` is aligned to every
   * perfect subtree in the range, so the range is tiled by the perfect subtrees of len's set bits.
   */
  #rangeHash(start: number, len: number): Buffer {
    const parts: Buffer[] = [];
    let offset = start;
    let width = 1;
    let level = 0;
    while (width * 2 <= len) {
      width *= 2;
      level++;
    }
    for (let remaining = len; remaining > 0; width /= 2, level--) {
      if (remaining < width) continue;
      if (offset % width !== 0) throw new Error('MerkleTree: unaligned subtree range');
      const at = (offset / width) * HASH_BYTES;
      const levelBuf = this.#levels[level];
      if (levelBuf === undefined || at + HASH_BYTES > levelBuf.length) {
        throw new Error('MerkleTree: subtree outside the tree');
      }
      parts.push(levelBuf.subarray(at, at + HASH_BYTES));
      offset += width;
      remaining -= width;
    }
    let acc: Buffer = Buffer.from(parts[parts.length - 1]!);
    for (let i = parts.length - 2; i >= 0; i--) acc = nodeHash(parts[i]!, acc);
    return acc;
  }
}

function checkedPrefix(leaves: readonly Uint8Array[], size: number | undefined): readonly Uint8Array[] {
  if (size === undefined) return leaves;
  requireSize(size, 'tree size');
  if (size > leaves.length) throw new RangeError(`tree size ${size} exceeds ${leaves.length} leaves`);
  // Only the first `size` leaves are hashed, so a proof against an old checkpoint stays O(size).
  return size === leaves.length ? leaves : leaves.slice(0, size);
}

/**
 * RFC 9162 §2.1.3.1 inclusion proof for leaf `index` (0-based) in the tree of the first `treeSize`
 * leaves. O(treeSize) hashing; build a `MerkleTree` once to serve many proofs.
 */
export function inclusionProof(leaves: readonly Uint8Array[], index: number, treeSize?: number): Buffer[] {
  return new MerkleTree(checkedPrefix(leaves, treeSize)).inclusionProof(index);
}

/** RFC 9162 §2.1.3.2 verification algorithm. Never throws on bad input; returns false. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  // Inputs may come straight from an untrusted file, so anything odd is a failed proof, never an
  // exception; the try/catch covers exotic runtime values (getters, proxies) the checks cannot foresee.
  try {
    if (!isHash(leaf) || !isHash(root) || !isSize(index) || !isSize(treeSize)) return false;
    if (!Array.isArray(proof) || !proof.every(isHash)) return false;
    if (index >= treeSize) return false;
    let fn = index;
    let sn = treeSize - 1;
    let r: Buffer = Buffer.from(leaf);
    for (const p of proof) {
      if (sn === 0) return false;
      if (isOdd(fn) || fn === sn) {
        r = nodeHash(p, r);
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        r = nodeHash(r, p);
      }
      fn = half(fn);
      sn = half(sn);
    }
    return sn === 0 && bytesEqual(r, root);
  } catch {
    return false;
  }
}

/**
 * RFC 9162 §2.1.4 consistency proof between the trees of the first m and first n leaves (m <= n).
 * O(n) hashing; build a `MerkleTree` once to serve many proofs.
 */
export function consistencyProof(leaves: readonly Uint8Array[], m: number, n?: number): Buffer[] {
  return new MerkleTree(checkedPrefix(leaves, n)).consistencyProof(m);
}

/**
 * RFC 9162 §2.1.4.2 verification of a consistency proof. Never throws on bad input; returns false.
 *
 * The RFC algorithm covers 0 < m < n. The edge cases are decided here: m === n needs an empty proof
 * and equal roots; m === 0 needs an empty proof and rootM === EMPTY_ROOT (any tree extends the empty
 * one, but a claimed non-empty root for size 0 is a lie we should not bless).
 */
export function verifyConsistency(
  m: number,
  n: number,
  rootM: Uint8Array,
  rootN: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  try {
    if (!isSize(m) || !isSize(n) || !isHash(rootM) || !isHash(rootN)) return false;
    if (!Array.isArray(proof) || !proof.every(isHash)) return false;
    if (m > n) return false;
    if (m === 0) return proof.length === 0 && bytesEqual(rootM, EMPTY) && (n > 0 || bytesEqual(rootN, EMPTY));
    if (m === n) return proof.length === 0 && bytesEqual(rootM, rootN);

    // Step 1 and 2: an empty path never proves anything; when m is a power of two the old root is
    // itself a node of the new tree and the prover left it out, so it starts the path.
    if (proof.length === 0) return false;
    let path: readonly Uint8Array[] = proof;
    let isPowerOfTwo = true;
    for (let x = m; x > 1; x = half(x)) {
      if (isOdd(x)) {
        isPowerOfTwo = false;
        break;
      }
    }
    if (isPowerOfTwo) path = [rootM, ...proof];

    // Steps 3-7.
    let fn = m - 1;
    let sn = n - 1;
    while (isOdd(fn)) {
      fn = half(fn);
      sn = half(sn);
    }
    let fr: Buffer = Buffer.from(path[0]!);
    let sr: Buffer = fr;
    for (let i = 1; i < path.length; i++) {
      const c = path[i]!;
      if (sn === 0) return false;
      if (isOdd(fn) || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn = half(fn);
      sn = half(sn);
    }
    return sn === 0 && bytesEqual(fr, rootM) && bytesEqual(sr, rootN);
  } catch {
    return false;
  }
}
