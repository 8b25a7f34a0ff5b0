import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Codec,
  CodecError,
  type CodecName,
  createWasmCodecForTests,
  getCodec,
  nativeZstdAvailable,
} from '../src/codec.js';
import { scanZstdFrame } from '../src/zstd-frame.js';
import { rngU32 as rng } from './support.js';

const MIB = 1024 * 1024;
const BIG = 50 * MIB;
const ZSTD_CLI = '/usr/bin/zstd';
const NATIVE = nativeZstdAvailable();
const CODECS: CodecName[] = NATIVE ? ['node:zlib', 'zstd-codec'] : ['zstd-codec'];

/**
 * Agent-trace-like bytes: skewed words from a fixed vocabulary, JSON punctuation and random ids, which
 * compresses about 3x at level 3 like real JSONL traces (random bytes would not exercise the matchers).
 */
function traceLike(size: number, seed = 1): Buffer {
  const next = rng(seed);
  const vocab: Buffer[] = [];
  for (let i = 0; i < 1024; i++) {
    const length = 2 + (next() % 9);
    vocab.push(Buffer.from(Array.from({ length }, () => 97 + (next() % 26))));
  }
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  while (pos < size) {
    const r = next();
    if ((r & 31) === 0) {
      pos += out.write(`"},\n{"id":"${next().toString(16)}","text":"`, pos, 'latin1');
    } else {
      const word = vocab[Math.min(r >>> 22, (r >>> 12) & 1023)] ?? vocab[0]!;
      pos += word.copy(out, pos);
      if (pos < size) out[pos++] = 0x20;
    }
  }
  return out;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function zstdCli(args: string[], input: Uint8Array): Buffer {
  const result = spawnSync(ZSTD_CLI, args, { input, maxBuffer: 256 * MIB });
  if (result.status !== 0) throw new Error(`zstd ${args.join(' ')} failed: ${result.stderr.toString()}`);
  return result.stdout;
}

/** Through a file, the CLI knows the size and records it in the frame (piped input has no content size). */
function zstdCliFile(args: string[], input: Uint8Array): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'codec-test-'));
  try {
    writeFileSync(join(dir, 'input'), input);
    return zstdCli([...args, join(dir, 'input')], Buffer.alloc(0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

async function expectCodecError(promise: Promise<unknown>, pattern?: RegExp): Promise<void> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(CodecError);
  const message = (error as Error).message;
  expect(message).not.toMatch(/\n/);
  if (pattern) expect(message).toMatch(pattern);
}

const big = traceLike(BIG, 7);
const oneMiB = big.subarray(0, MIB);

describe('getCodec', () => {
  it('caches instances and picks the native codec only when node:zlib has zstd', async () => {
    const auto = await getCodec();
    expect(auto.name).toBe(NATIVE ? 'node:zlib' : 'zstd-codec');
    expect(await getCodec('zstd-codec')).toBe(await getCodec('zstd-codec'));
    expect(await getCodec('auto')).toBe(auto);
  });

  it.skipIf(NATIVE)('rejects node:zlib on a Node without zstd', async () => {
    await expectCodecError(getCodec('node:zlib'), /no zstd in Node/);
  });

  it('rejects invalid levels and sizes as caller errors', async () => {
    const codec = await getCodec('zstd-codec');
    await expect(codec.compress(Buffer.from('x'), 1.5)).rejects.toBeInstanceOf(RangeError);
    await expect(codec.compress(Buffer.from('x'), 23)).rejects.toBeInstanceOf(RangeError);
    await expect(codec.decompress(Buffer.alloc(0), -1)).rejects.toBeInstanceOf(RangeError);
  });
});

describe.each(CODECS)('codec %s', (name) => {
  const codec = (): Promise<Codec> => getCodec(name);

  it(`${name}: round-trips empty, tiny and small inputs as exactly one frame`, async () => {
    const c = await codec();
    for (const data of [
      Buffer.alloc(0),
      Buffer.from('x'),
      Buffer.from('hello, zstd'),
      traceLike(70_000, 3),
    ]) {
      const frame = await c.compress(data, 3);
      const scan = scanZstdFrame(frame);
      expect(scan).toMatchObject({
        ok: true,
        length: frame.length,
        contentSize: data.length,
        dictionaryId: 0,
      });
      expect(scan.ok && scan.hasChecksum).toBe(c.writesChecksum);
      expect(frame.readUInt32LE(0)).toBe(0xfd2fb528);
      expect((await c.decompress(frame, data.length)).equals(data)).toBe(true);
    }
  });

  it(`${name}: round-trips 1 MiB at levels 1, 3, 9 and 19`, async () => {
    const c = await codec();
    for (const level of [1, 3, 9, 19]) {
      const frame = await c.compress(oneMiB, level);
      expect(frame.length).toBeLessThan(oneMiB.length / 2);
      expect(scanZstdFrame(frame)).toMatchObject({ ok: true, length: frame.length, contentSize: MIB });
      expect((await c.decompress(frame, MIB)).equals(oneMiB)).toBe(true);
    }
  });

  it(`${name}: round-trips 50 MiB (one frame, zstd -dc reads it)`, { timeout: 120_000 }, async () => {
    const c = await codec();
    const frame = await c.compress(big, 3);
    const scan = scanZstdFrame(frame);
    expect(scan).toMatchObject({ ok: true, length: frame.length, contentSize: BIG });
    expect(frame.length).toBeLessThan(BIG / 2);
    const out = await c.decompress(frame, BIG);
    expect(out.length).toBe(BIG);
    expect(sha(out)).toBe(sha(big));
    expect(sha(zstdCli(['-dc'], frame))).toBe(sha(big));
  });

  it(`${name}: frames from every available codec decode (small and 8 MiB)`, { timeout: 60_000 }, async () => {
    const c = await codec();
    for (const other of CODECS) {
      const writer = await getCodec(other);
      for (const data of [oneMiB.subarray(0, 5000), big.subarray(0, 8 * MIB)]) {
        const frame = await writer.compress(data, 3);
        expect((await c.decompress(frame, data.length)).equals(data)).toBe(true);
      }
    }
  });

  it(`${name}: output decodes with the zstd CLI`, async () => {
    const c = await codec();
    for (const data of [Buffer.alloc(0), Buffer.from('a'), oneMiB, big.subarray(0, 6 * MIB)]) {
      const frame = await c.compress(data, 3);
      expect(zstdCli(['-dc'], frame).equals(data)).toBe(true);
      expect(zstdCli(['-t'], frame).length).toBe(0);
    }
  });

  it(`${name}: decodes frames written by the zstd CLI`, { timeout: 60_000 }, async () => {
    const c = await codec();
    const cases: Array<[string[], Buffer]> = [
      [['-3', '-c'], Buffer.alloc(0)],
      [['-3', '-c'], oneMiB.subarray(0, 1000)],
      [['-3', '-c'], oneMiB],
      [['-1', '-c', '--no-check'], oneMiB],
      [['-19', '-c'], big.subarray(0, 300_000)],
      [['-3', '-c'], big.subarray(0, 12 * MIB)],
    ];
    for (const [args, data] of cases) {
      const frame = zstdCliFile(args, data);
      const scan = scanZstdFrame(frame);
      expect(scan).toMatchObject({
        ok: true,
        length: frame.length,
        contentSize: data.length,
        hasChecksum: !args.includes('--no-check'),
      });
      expect((await c.decompress(frame, data.length)).equals(data)).toBe(true);
    }
    // Piped input: the CLI cannot know the size, so the frame has no content size field. An 8 MiB window
    // (what level 19 uses on large inputs) is the most the zstd-codec streaming decoder is allowed to need.
    const data = big.subarray(0, 12 * MIB);
    const piped = zstdCli(['-3', '--zstd=wlog=23', '-c', '-'], data);
    expect(scanZstdFrame(piped)).toMatchObject({ ok: true, contentSize: null, windowSize: 8 * MIB });
    expect(sha(await c.decompress(piped, data.length))).toBe(sha(data));
  });

  it(`${name}: a 16 MiB window frame`, async () => {
    const c = await codec();
    const data = big.subarray(0, 12 * MIB);
    const frame = zstdCli(['-3', '--zstd=wlog=24', '-c', '-'], data);
    expect(scanZstdFrame(frame)).toMatchObject({ ok: true, windowSize: 16 * MIB });
    if (name === 'zstd-codec') {
      // Its 16 MiB heap cannot hold the window: refused up front rather than aborting mid-way.
      await expectCodecError(c.decompress(frame, data.length), /16777216-byte window/);
    } else {
      expect(sha(await c.decompress(frame, data.length))).toBe(sha(data));
    }
  });

  it(`${name}: rejects a checksum mismatch (one-shot and streamed sizes)`, async () => {
    const c = await codec();
    for (const data of [oneMiB, big.subarray(0, 9 * MIB)]) {
      const frame = zstdCliFile(['-3', '-c'], data);
      frame[frame.length - 1]! ^= 0x40;
      await expectCodecError(c.decompress(frame, data.length));
    }
  });

  it(`${name}: truncated frames are rejected as truncated at every cut`, async () => {
    const c = await codec();
    const frame = await c.compress(oneMiB.subarray(0, 300_000), 3);
    const cuts = new Set([0, 1, 3, 4, 5, 6, 8, 12, 20, frame.length - 4, frame.length - 1]);
    for (let cut = 0; cut < frame.length; cut += 997) cuts.add(cut);
    for (const cut of cuts) {
      const part = frame.subarray(0, cut);
      const scan = scanZstdFrame(part);
      expect(scan.ok === false && scan.incomplete).toBe(true);
      await expectCodecError(c.decompress(part, 300_000), /^truncated zstd frame/);
    }
  });

  it(`${name}: rejects trailing bytes and a second frame`, async () => {
    const c = await codec();
    const data = oneMiB.subarray(0, 50_000);
    const frame = await c.compress(data, 3);
    await expectCodecError(
      c.decompress(Buffer.concat([frame, Buffer.from('garbage')]), data.length),
      /7 unexpected/,
    );
    await expectCodecError(c.decompress(Buffer.concat([frame, frame]), data.length), /unexpected bytes/);
    await expectCodecError(c.decompress(Buffer.concat([frame, frame]), 2 * data.length), /unexpected bytes/);
  });

  it(`${name}: expectedSize mismatches are errors, including a decompression bomb`, async () => {
    const c = await codec();
    const data = oneMiB.subarray(0, 100_000);
    const frame = await c.compress(data, 3);
    await expectCodecError(c.decompress(frame, data.length - 1), /expected 99999/);
    await expectCodecError(c.decompress(frame, data.length + 1), /expected 100001/);
    await expectCodecError(c.decompress(frame, 0));

    // 128 MiB of a repeated 4 KiB pattern in a few KB: compressed blocks, no content size (piped), so nothing
    // short of decoding can tell its size. It must fail after about expectedSize bytes, not after 128 MiB.
    const pattern = traceLike(4096, 11);
    const bomb = zstdCli(['-3', '-c', '-'], Buffer.concat(Array.from({ length: 32 * 1024 }, () => pattern)));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(scanZstdFrame(bomb)).toMatchObject({ ok: true, contentSize: null });
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    for (const expected of [1000, 3 * MIB, 20 * MIB]) {
      await expectCodecError(c.decompress(bomb, expected), /more than|corrupt|larger/);
    }
    expect(performance.now() - started).toBeLessThan(5000);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(128 * MIB);
  });

  it(`${name}: random and hostile bytes are CodecErrors, never crashes or hangs`, async () => {
    const c = await codec();
    const next = rng(99);
    const random = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => next() & 255));
    const magic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
    const inputs = [
      Buffer.alloc(0),
      Buffer.alloc(64),
      random(1),
      random(5000),
      Buffer.concat([magic, random(300)]),
    ];
    for (let i = 0; i < 50; i++) inputs.push(Buffer.concat([magic, random(1 + (next() % 64))]));
    for (const input of inputs) await expectCodecError(c.decompress(input, 1000));

    // Bit flips in a real frame: either the exact size comes back or a CodecError, nothing else. Without the
    // content checksum most flips in literals go unnoticed by zstd (SHA-256 in the session format catches them).
    const data = oneMiB.subarray(0, 20_000);
    const frame = await c.compress(data, 3);
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      const bad = Buffer.from(frame);
      const at = next() % bad.length;
      bad[at] = bad[at]! ^ (1 << (next() % 8));
      try {
        expect((await c.decompress(bad, data.length)).length).toBe(data.length);
      } catch (error) {
        expect(error).toBeInstanceOf(CodecError);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(c.writesChecksum ? 290 : 50);
  });
});

describe('node:zlib codec', () => {
  it.skipIf(!NATIVE)('node:zlib: writes the content checksum and content size', async () => {
    const c = await getCodec('node:zlib');
    expect(c.writesChecksum).toBe(true);
    for (const data of [Buffer.alloc(0), oneMiB, big.subarray(0, 6 * MIB)]) {
      const frame = await c.compress(data, 3);
      expect(scanZstdFrame(frame)).toMatchObject({ ok: true, hasChecksum: true, contentSize: data.length });
    }
  });
});

describe('zstd-codec (wasm) codec', () => {
  it('zstd-codec: lowers levels its heap cannot hold instead of aborting', async () => {
    const c = await getCodec('zstd-codec');
    expect(c.maxLevel).toBe(9);
    const data = big.subarray(0, 6 * MIB);
    const frame = await c.compress(data, 22);
    expect(sha(await c.decompress(frame, data.length))).toBe(sha(data));
  });

  it('zstd-codec: a wasm abort becomes a CodecError and the codec keeps working', {
    timeout: 60_000,
  }, async () => {
    const c = createWasmCodecForTests(22);
    const writes: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      // Level 22 needs far more than the 16 MiB wasm heap: the one-shot and the streaming attempt both abort.
      await expectCodecError(c.compress(big.subarray(0, 4 * MIB), 22), /zstd-codec failed/);
    } finally {
      process.stdout.write = write;
    }
    expect(writes.join('')).not.toMatch(/OOM|abort/);
    for (const data of [oneMiB, big.subarray(0, 9 * MIB)]) {
      const frame = await c.compress(data, 3);
      expect(sha(await c.decompress(frame, data.length))).toBe(sha(data));
    }
  });

  it('zstd-codec: concurrent calls share one heap safely', { timeout: 60_000 }, async () => {
    const c = await getCodec('zstd-codec');
    const inputs = [1, 9, 2, 12, 3, 4].map((mib, i) => big.subarray(i * MIB, i * MIB + mib * MIB));
    const frames = await Promise.all(inputs.map((data) => c.compress(data, 3)));
    const outputs = await Promise.all(frames.map((frame, i) => c.decompress(frame, inputs[i]!.length)));
    expect(outputs.map((out, i) => out.equals(inputs[i]!))).toEqual(inputs.map(() => true));
  });

  it('zstd-codec: large inputs leave the event loop running', { timeout: 60_000 }, async () => {
    const c = await getCodec('zstd-codec');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const frame = await c.compress(big.subarray(0, 16 * MIB), 3);
      await c.decompress(frame, 16 * MIB);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(10);
  });
});
