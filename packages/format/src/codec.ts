/**
 * zstd codecs: node:zlib (Node >= 22.15 / 23.8, native, runs on the libuv threadpool) and zstd-codec (WASM, any
 * Node). Both write one standard zstd frame per call and read what the other, and the zstd CLI, write.
 */
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { scanZstdFrame, scanZstdFrameBlocks, type ZstdFrameScan } from './zstd-frame.js';

export type CodecName = 'node:zlib' | 'zstd-codec';

export interface Codec {
  readonly name: CodecName;
  /** true when frames this codec writes carry the zstd content checksum */
  readonly writesChecksum: boolean;
  /** Highest level used as given; higher levels are lowered to it (zstd-codec's fixed heap cannot hold them). */
  readonly maxLevel: number;
  /** Compress `data` into exactly ONE standard zstd frame (magic 0xFD2FB528), content-size field set when the codec allows, content checksum ON where the codec allows. Any size must work (50 MiB and more). */
  compress(data: Uint8Array, level: number): Promise<Buffer>;
  /** Decompress exactly one zstd frame. `expectedSize` is the exact uncompressed size the caller expects: output larger than that must abort early (never allocate unbounded memory for a hostile frame), and output of a different size is an error. Throws CodecError with a one-line reason on any malformed input; never hangs. */
  decompress(frame: Uint8Array, expectedSize: number): Promise<Buffer>;
}

export class CodecError extends Error {
  override name = 'CodecError';
}

type ScanOk = Extract<ZstdFrameScan, { ok: true }>;

const MIB = 1024 * 1024;
/** ZSTD_minCLevel() and ZSTD_maxCLevel(); libzstd reads 0 as its default level (3). */
const MIN_LEVEL = -131072;
const MAX_LEVEL = 22;

const oneLine = (value: unknown): string => {
  const text = value instanceof Error ? value.message : String(value);
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
};

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < MIN_LEVEL || level > MAX_LEVEL) {
    throw new RangeError(
      `zstd level must be an integer from ${MIN_LEVEL} to ${MAX_LEVEL}, got ${String(level)}`,
    );
  }
}

function checkExpectedSize(expectedSize: number): void {
  if (!Number.isSafeInteger(expectedSize) || expectedSize < 0) {
    throw new RangeError(`expected size must be a non-negative integer, got ${String(expectedSize)}`);
  }
}

/**
 * Everything that can be refuted without decoding, checked before any decoder sees the bytes: exactly one
 * frame (Node's decoder would silently ignore anything after it), no dictionary, and sizes consistent with the
 * caller's expectation, which rejects most decompression bombs before they cost memory or time.
 */
function checkFrame(
  frame: Uint8Array,
  expectedSize: number,
  onBlock?: (end: number, max: number) => void,
): ScanOk {
  const scan = scanZstdFrameBlocks(frame, 0, onBlock);
  if (!scan.ok)
    throw new CodecError(`${scan.incomplete ? 'truncated' : 'malformed'} zstd frame: ${scan.reason}`);
  if (scan.length !== frame.length) {
    throw new CodecError(`${frame.length - scan.length} unexpected bytes after the zstd frame`);
  }
  if (scan.dictionaryId !== 0) throw new CodecError(`zstd frame needs dictionary ${scan.dictionaryId}`);
  if (scan.contentSize !== null && scan.contentSize !== expectedSize) {
    throw new CodecError(`zstd frame holds ${scan.contentSize} bytes, expected ${expectedSize}`);
  }
  if (scan.decodedSizeMin > expectedSize) {
    throw new CodecError(
      `zstd frame decodes to at least ${scan.decodedSizeMin} bytes, expected ${expectedSize}`,
    );
  }
  if (scan.decodedSizeMax < expectedSize) {
    throw new CodecError(
      `zstd frame decodes to at most ${scan.decodedSizeMax} bytes, expected ${expectedSize}`,
    );
  }
  return scan;
}

/**
 * Streaming compressors that are not told the input size leave Frame_Content_Size out. The field is the last
 * one of the header and nothing after it depends on the header's length, so it can be added afterwards; this
 * lets readers (and `zstd -l`) see the size whichever codec wrote the frame.
 */
function withContentSize(frame: Buffer, size: number): Buffer {
  const scan = scanZstdFrame(frame);
  if (!scan.ok || scan.length !== frame.length) {
    throw new CodecError(
      `compressor produced an unreadable zstd frame: ${scan.ok ? 'trailing bytes' : scan.reason}`,
    );
  }
  if (scan.contentSize !== null) return frame;
  // Without Single_Segment the 1-byte form does not exist and the 2-byte form stores size - 256.
  const fieldSize = size >= 256 && size < 256 + 0x10000 ? 2 : size <= 0xffffffff ? 4 : 8;
  const header = Buffer.alloc(scan.headerLength + fieldSize);
  header.set(frame.subarray(0, scan.headerLength));
  header[4] = ((frame[4] ?? 0) & 0x3f) | ((fieldSize === 2 ? 1 : fieldSize === 4 ? 2 : 3) << 6);
  if (fieldSize === 2) header.writeUInt16LE(size - 256, scan.headerLength);
  else if (fieldSize === 4) header.writeUInt32LE(size, scan.headerLength);
  else header.writeBigUInt64LE(BigInt(size), scan.headerLength);
  return Buffer.concat([header, frame.subarray(scan.headerLength)]);
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A plain view: zstd-codec builds heap views with `new chunk.constructor(...)`, which for a Buffer is the deprecated Buffer constructor. */
const plainView = (data: Uint8Array): Uint8Array =>
  new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

// ---------------------------------------------------------------------------------------------------
// node:zlib

/** The zstd part of node:zlib, which @types/node 20 does not declare. */
interface NodeZstdOptions {
  params?: Record<number, number>;
  maxOutputLength?: number;
  pledgedSrcSize?: number;
  chunkSize?: number;
}
type NodeZstdCallback = (error: Error | null, result: Buffer) => void;
interface NodeZstd {
  zstdCompress(data: Uint8Array, options: NodeZstdOptions, callback: NodeZstdCallback): void;
  zstdDecompress(data: Uint8Array, options: NodeZstdOptions, callback: NodeZstdCallback): void;
}

function nodeZstd(): NodeZstd | undefined {
  const candidate = zlib as unknown as Partial<NodeZstd>;
  return typeof candidate.zstdCompress === 'function' && typeof candidate.zstdDecompress === 'function'
    ? (candidate as NodeZstd)
    : undefined;
}

/** node:zlib has zstdCompress (Node >= 22.15 / 23.8). */
export function nativeZstdAvailable(): boolean {
  return nodeZstd() !== undefined;
}

const zstdConstant = (name: string, fallback: number): number =>
  (zlib.constants as unknown as Record<string, number | undefined>)[name] ?? fallback;

/**
 * Output chunk size for node:zlib. Each chunk is a round trip to the threadpool plus a copy; Node's 16 KiB
 * default halves decompression speed, and past 4 MiB nothing is gained (measured on Node 24.9).
 */
const nativeChunkSize = (expectedOutput: number): number =>
  Math.min(4 * MIB, Math.max(64 * 1024, expectedOutput));

class NativeZstdCodec implements Codec {
  readonly name = 'node:zlib';
  readonly writesChecksum = true;
  readonly maxLevel = MAX_LEVEL;
  readonly #zstd: NodeZstd;
  readonly #levelParam = zstdConstant('ZSTD_c_compressionLevel', 100);
  readonly #checksumParam = zstdConstant('ZSTD_c_checksumFlag', 201);

  constructor(zstd: NodeZstd) {
    this.#zstd = zstd;
  }

  async compress(data: Uint8Array, level: number): Promise<Buffer> {
    checkLevel(level);
    const options: NodeZstdOptions = {
      params: { [this.#levelParam]: level, [this.#checksumParam]: 1 },
      // Older Node versions ignore pledgedSrcSize; withContentSize covers them.
      pledgedSrcSize: data.length,
      chunkSize: nativeChunkSize(data.length),
    };
    const frame = await new Promise<Buffer>((resolve, reject) => {
      this.#zstd.zstdCompress(data, options, (error, result) =>
        error ? reject(new CodecError(`zstd compression failed: ${oneLine(error)}`)) : resolve(result),
      );
    });
    return withContentSize(frame, data.length);
  }

  async decompress(frame: Uint8Array, expectedSize: number): Promise<Buffer> {
    checkExpectedSize(expectedSize);
    checkFrame(frame, expectedSize);
    const options: NodeZstdOptions = {
      // Node stops and fails as soon as the output passes this, so a bomb costs at most one chunk more.
      maxOutputLength: Math.max(1, expectedSize),
      // One byte spare, so an exact fit ends in this chunk instead of costing another, empty one.
      chunkSize: nativeChunkSize(expectedSize + 1),
    };
    const out = await new Promise<Buffer>((resolve, reject) => {
      this.#zstd.zstdDecompress(frame, options, (error, result) => {
        if (!error) resolve(result);
        else if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
          reject(new CodecError(`zstd frame decodes to more than ${expectedSize} bytes`));
        } else reject(new CodecError(`corrupt zstd frame: ${oneLine(error)}`));
      });
    });
    if (out.length !== expectedSize) {
      throw new CodecError(`zstd frame decoded to ${out.length} bytes, expected ${expectedSize}`);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------
// zstd-codec (WASM)

/*
 * zstd-codec 0.1.5 is an Emscripten build with a fixed 16 MiB heap (about 11 MiB usable) that cannot grow.
 * Running out of it calls abort(): a thrown string, after which that instance's heap cannot be trusted. So:
 *  - the embind classes are driven directly (its JS wrappers hide errors and can only take whole buffers);
 *  - sizes are chosen so aborts do not happen: one-shot calls while input and output fit, 512 KiB chunks
 *    through the streaming classes beyond that, levels above 9 lowered (they need more than the heap);
 *  - if an abort happens anyway, the instance is dropped and the next call gets a fresh one (about 30 ms);
 *  - calls on one instance run one at a time, since two large ones side by side would not fit in its heap.
 */

interface WasmVector {
  resize(size: number, fill: number): void;
  delete(): void;
}
interface WasmStream {
  begin(level?: number): boolean;
  transform(chunk: Uint8Array, callback: (chunk: Uint8Array) => void): boolean;
  end(callback: (chunk: Uint8Array) => void): boolean;
  delete(): void;
}
interface WasmSimpleCodec {
  compressBound(size: number): number;
  compress(dest: WasmVector, src: WasmVector, level: number): number;
  decompress(dest: WasmVector, src: WasmVector): number;
  delete(): void;
}
interface WasmModule {
  VectorU8: new () => WasmVector;
  ZstdCodec: new () => WasmSimpleCodec;
  ZstdCompressStreamBinding: new () => WasmStream;
  ZstdDecompressStreamBinding: new () => WasmStream;
  cloneToVector(dest: WasmVector, src: Uint8Array): void;
  cloneAsTypedArray(src: WasmVector): Uint8Array;
}
interface WasmInstance {
  readonly module: WasmModule;
  readonly simple: WasmSimpleCodec;
  aborted: boolean;
}
type EmscriptenFactory = (init: Record<string, unknown>) => unknown;

/** Levels 10 and up abort with OOM on inputs over 512 KiB, streamed or not (measured). */
const WASM_MAX_LEVEL = 9;
/** Largest input compressed in one call, by level (measured limits 5.2, 4.9, 4.2, 3.7, 2.2 MiB for levels 1, 3, 5, 6, 9). */
const wasmOneShotCompressMax = (level: number): number =>
  level <= 3 ? 4 * MIB : level <= 5 ? 3 * MIB : level === 6 ? 2.5 * MIB : 1.5 * MIB;
/** Largest frame + output decoded in one call (measured limit about 10.8 MiB). */
const WASM_ONE_SHOT_DECOMPRESS_MAX = 7 * MIB;
/** The streaming decoder keeps one window in the heap; level 19 frames use 8 MiB. */
const WASM_MAX_WINDOW = 8 * MIB;
const WASM_STREAM_CHUNK = 512 * 1024;
/** Bound on what one decoder step may regenerate, so an oversized frame is stopped within ~1 MiB. */
const WASM_FEED_MAX_OUTPUT = MIB;

/** Thrown when the WASM runtime itself failed (abort, binding error): the instance is not reused. */
class WasmFailure extends Error {}

let wasmFactory: EmscriptenFactory | undefined;
function loadWasmFactory(): EmscriptenFactory {
  if (!wasmFactory) {
    // The binding file directly, not the package entry: only it accepts print/printErr/onAbort hooks, and the
    // entry would print "OOM" to stdout on an abort.
    const require = createRequire(import.meta.url);
    wasmFactory = require('zstd-codec/lib/zstd-codec-binding-wasm.js') as EmscriptenFactory;
  }
  return wasmFactory;
}

function instantiateWasm(): Promise<WasmInstance> {
  return new Promise((resolve, reject) => {
    let started = false;
    let instance: WasmInstance | undefined;
    const noop = (): void => {};
    const init: Record<string, unknown> = {
      print: noop,
      printErr: noop,
      onAbort: (what: unknown) => {
        if (instance) instance.aborted = true;
        if (!started) reject(new CodecError(`zstd-codec failed to start: ${oneLine(what)}`));
      },
      onRuntimeInitialized: () => {
        started = true;
        const module = init as unknown as WasmModule;
        try {
          instance = { module, simple: new module.ZstdCodec(), aborted: false };
          // Resolved inside a wrapper: the Emscripten module object has a then() and would be treated as a promise.
          resolve(instance);
        } catch (error) {
          reject(new CodecError(`zstd-codec failed to start: ${oneLine(error)}`));
        }
      },
    };
    try {
      loadWasmFactory()(init);
    } catch (error) {
      reject(new CodecError(`zstd-codec failed to start: ${oneLine(error)}`));
    }
  });
}

/** Frees embind objects; after an abort the destructors may throw too, and the original error matters more. */
function release(...objects: ReadonlyArray<{ delete(): void }>): void {
  for (const object of objects) {
    try {
      object.delete();
    } catch {
      // the instance is being discarded anyway
    }
  }
}

function wasmCompressOneShot(instance: WasmInstance, input: Uint8Array, level: number): Buffer {
  const { module, simple } = instance;
  const src = new module.VectorU8();
  const dest = new module.VectorU8();
  try {
    module.cloneToVector(src, input);
    const bound = simple.compressBound(input.length);
    if (bound < 0) throw new CodecError(`zstd-codec cannot compress ${input.length} bytes in one call`);
    dest.resize(bound, 0);
    const size = simple.compress(dest, src, level);
    if (size < 0) throw new CodecError(`zstd-codec compression failed (code ${size})`);
    dest.resize(size, 0);
    const out = module.cloneAsTypedArray(dest);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  } finally {
    release(dest, src);
  }
}

async function wasmCompressStreaming(
  instance: WasmInstance,
  input: Uint8Array,
  level: number,
): Promise<Buffer> {
  const stream = new instance.module.ZstdCompressStreamBinding();
  const parts: Uint8Array[] = [];
  let total = 0;
  const sink = (chunk: Uint8Array): void => {
    parts.push(chunk);
    total += chunk.length;
  };
  try {
    if (!stream.begin(level)) throw new CodecError('zstd-codec could not start a compression stream');
    for (let at = 0; at < input.length; at += WASM_STREAM_CHUNK) {
      if (!stream.transform(input.subarray(at, at + WASM_STREAM_CHUNK), sink)) {
        throw new CodecError('zstd-codec compression stream failed');
      }
      await yieldToEventLoop();
    }
    if (!stream.end(sink)) throw new CodecError('zstd-codec could not finish the compression stream');
  } finally {
    release(stream);
  }
  return Buffer.concat(parts, total);
}

function wasmDecompressOneShot(instance: WasmInstance, frame: Uint8Array, expectedSize: number): Buffer {
  const { module, simple } = instance;
  const src = new module.VectorU8();
  const dest = new module.VectorU8();
  try {
    module.cloneToVector(src, frame);
    // ZSTD_decompress never writes past the destination, which is what bounds a hostile frame here.
    // One spare byte so that an empty expected output still has a valid destination pointer.
    dest.resize(expectedSize + 1, 0);
    const size = simple.decompress(dest, src);
    if (size < 0) throw new CodecError('corrupt zstd frame (or larger than expected, or checksum mismatch)');
    if (size !== expectedSize)
      throw new CodecError(`zstd frame decoded to ${size} bytes, expected ${expectedSize}`);
    dest.resize(size, 0);
    const out = module.cloneAsTypedArray(dest);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  } finally {
    release(dest, src);
  }
}

async function wasmDecompressStreaming(
  instance: WasmInstance,
  frame: Uint8Array,
  expectedSize: number,
  cuts: readonly number[],
): Promise<Buffer> {
  const out = Buffer.allocUnsafe(expectedSize);
  let produced = 0;
  const sink = (chunk: Uint8Array): void => {
    if (produced + chunk.length <= expectedSize) out.set(chunk, produced);
    produced += chunk.length;
  };
  const stream = new instance.module.ZstdDecompressStreamBinding();
  try {
    if (!stream.begin()) throw new CodecError('zstd-codec could not start a decompression stream');
    let from = 0;
    for (const to of cuts) {
      if (!stream.transform(frame.subarray(from, to), sink)) {
        throw new CodecError(
          `corrupt zstd frame (rejected between bytes ${from} and ${to}, or checksum mismatch)`,
        );
      }
      if (produced > expectedSize)
        throw new CodecError(`zstd frame decodes to more than ${expectedSize} bytes`);
      from = to;
      await yieldToEventLoop();
    }
    if (!stream.end(sink)) throw new CodecError('corrupt zstd frame (rejected at its end)');
  } finally {
    release(stream);
  }
  // The streaming decoder does not report a frame that stops early; the length check is what catches it.
  if (produced !== expectedSize)
    throw new CodecError(`zstd frame decoded to ${produced} bytes, expected ${expectedSize}`);
  return out;
}

class WasmZstdCodec implements Codec {
  readonly name = 'zstd-codec';
  /** ZSTD_compress and the binding's streams cannot set ZSTD_c_checksumFlag. */
  readonly writesChecksum = false;
  readonly maxLevel: number;
  #instance: Promise<WasmInstance> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(maxLevel = WASM_MAX_LEVEL) {
    this.maxLevel = maxLevel;
  }

  /** Starts the WASM runtime now rather than on the first call. */
  async ready(): Promise<void> {
    await this.#exclusive(() => this.#acquire());
  }

  async compress(data: Uint8Array, level: number): Promise<Buffer> {
    checkLevel(level);
    const effective = Math.min(level, this.maxLevel);
    const input = plainView(data);
    return this.#exclusive(async () => {
      let frame: Buffer | undefined;
      if (input.length <= wasmOneShotCompressMax(effective)) {
        frame = await this.#attemptOrUndefined((instance) => wasmCompressOneShot(instance, input, effective));
      }
      frame ??= await this.#attempt((instance) => wasmCompressStreaming(instance, input, effective));
      return withContentSize(frame, input.length);
    });
  }

  async decompress(frame: Uint8Array, expectedSize: number): Promise<Buffer> {
    checkExpectedSize(expectedSize);
    const input = plainView(frame);
    const cuts: number[] = [];
    let lastCut = 0;
    let pendingOutput = 0;
    const scan = checkFrame(input, expectedSize, (end, maxDecoded) => {
      pendingOutput += maxDecoded;
      if (pendingOutput >= WASM_FEED_MAX_OUTPUT || end - lastCut >= WASM_STREAM_CHUNK) {
        cuts.push(end);
        lastCut = end;
        pendingOutput = 0;
      }
    });
    if (lastCut !== input.length) cuts.push(input.length);
    return this.#exclusive(async () => {
      if (input.length + expectedSize <= WASM_ONE_SHOT_DECOMPRESS_MAX) {
        const out = await this.#attemptOrUndefined((instance) =>
          wasmDecompressOneShot(instance, input, expectedSize),
        );
        if (out) return out;
      }
      if (scan.windowSize > WASM_MAX_WINDOW) {
        throw new CodecError(
          `zstd frame needs a ${scan.windowSize}-byte window, more than zstd-codec can hold (${WASM_MAX_WINDOW})`,
        );
      }
      return this.#attempt((instance) => wasmDecompressStreaming(instance, input, expectedSize, cuts));
    });
  }

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #acquire(): Promise<WasmInstance> {
    if (!this.#instance) {
      const starting = instantiateWasm();
      this.#instance = starting;
      starting.catch(() => {
        if (this.#instance === starting) this.#instance = undefined;
      });
    }
    return this.#instance;
  }

  /** Runs `task` on a healthy instance; a failure of the runtime itself becomes a CodecError and retires the instance. */
  async #attempt<T>(task: (instance: WasmInstance) => T | Promise<T>): Promise<T> {
    try {
      return await this.#run(task);
    } catch (error) {
      if (error instanceof WasmFailure) throw new CodecError(error.message);
      throw error;
    }
  }

  /** Like #attempt, but a runtime failure yields undefined so the caller can fall back to the streaming path. */
  async #attemptOrUndefined<T>(task: (instance: WasmInstance) => T | Promise<T>): Promise<T | undefined> {
    try {
      return await this.#run(task);
    } catch (error) {
      if (error instanceof WasmFailure) return undefined;
      throw error;
    }
  }

  async #run<T>(task: (instance: WasmInstance) => T | Promise<T>): Promise<T> {
    const pending = this.#acquire();
    const instance = await pending;
    let result: T;
    try {
      result = await task(instance);
    } catch (error) {
      if (error instanceof CodecError && !instance.aborted) throw error;
      this.#retire(pending);
      throw new WasmFailure(`zstd-codec failed: ${oneLine(error)}`);
    }
    if (instance.aborted) {
      this.#retire(pending);
      throw new WasmFailure('zstd-codec aborted');
    }
    return result;
  }

  #retire(instance: Promise<WasmInstance>): void {
    if (this.#instance === instance) this.#instance = undefined;
  }
}

/**
 * @internal A fresh, uncached zstd-codec codec. Tests lift `maxLevel` with it to provoke a WASM abort and check
 * that the codec survives; everything else should use getCodec('zstd-codec').
 */
export function createWasmCodecForTests(maxLevel = WASM_MAX_LEVEL): Codec {
  return new WasmZstdCodec(maxLevel);
}

// ---------------------------------------------------------------------------------------------------

let nativeCodec: NativeZstdCodec | undefined;
let wasmCodec: Promise<WasmZstdCodec> | undefined;

/** 'auto' = node:zlib when available, else zstd-codec. Instances are cached (zstd-codec's WASM start is async). */
export async function getCodec(choice: 'auto' | CodecName = 'auto'): Promise<Codec> {
  const name: CodecName = choice === 'auto' ? (nativeZstdAvailable() ? 'node:zlib' : 'zstd-codec') : choice;
  if (name === 'node:zlib') {
    const zstd = nodeZstd();
    if (!zstd) {
      throw new CodecError(
        `node:zlib has no zstd in Node ${process.versions.node} (needs 22.15, 23.8 or later)`,
      );
    }
    nativeCodec ??= new NativeZstdCodec(zstd);
    return nativeCodec;
  }
  if (name === 'zstd-codec') {
    if (!wasmCodec) {
      const codec = new WasmZstdCodec();
      const starting = codec.ready().then(() => codec);
      wasmCodec = starting;
      starting.catch(() => {
        if (wasmCodec === starting) wasmCodec = undefined;
      });
    }
    return wasmCodec;
  }
  throw new RangeError(`unknown codec ${String(choice)}`);
}

/** Accepts a codec instance or a choice as given in reader/writer/verify options. */
export async function resolveCodec(choice: Codec | 'auto' | CodecName | undefined): Promise<Codec> {
  return choice && typeof choice === 'object' ? choice : getCodec(choice ?? 'auto');
}
