import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getCodec } from '../src/codec.js';
import { scanZstdFrame, scanZstdFrameBlocks, ZSTD_MAGIC, type ZstdFrameScan } from '../src/zstd-frame.js';
import { rngU32 as rng } from './support.js';

const ZSTD_CLI = '/usr/bin/zstd';
const MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const RAW = 0;
const RLE = 1;
const COMPRESSED = 2;
const RESERVED = 3;

const block = (last: boolean, type: number, size: number): number[] => {
  const header = (size << 3) | (type << 1) | (last ? 1 : 0);
  return [header & 255, (header >>> 8) & 255, (header >>> 16) & 255];
};
const bytes = (...parts: Array<number[] | string | Uint8Array>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
const le32 = (n: number): number[] => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];

function traceLike(size: number, seed: number): Buffer {
  const next = rng(seed);
  const words = Array.from({ length: 300 }, () => (next() % 1_000_000).toString(36));
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const word = `${words[next() % words.length]}${next() % 7 === 0 ? '",\n"' : ' '}`;
    parts.push(word);
    length += word.length;
  }
  return Buffer.from(parts.join('').slice(0, size), 'latin1');
}

/** Compresses through a file when `piped` is false: only then does the CLI know, and record, the content size. */
function zstdCli(args: string[], input: Uint8Array, piped: boolean): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'zstd-frame-test-'));
  try {
    const file = join(dir, 'input');
    writeFileSync(file, input);
    const result = piped
      ? spawnSync(ZSTD_CLI, [...args, '-c'], { input, maxBuffer: 1 << 28 })
      : spawnSync(ZSTD_CLI, [...args, '-c', file], { maxBuffer: 1 << 28 });
    if (result.status !== 0) throw new Error(`zstd ${args.join(' ')} failed: ${result.stderr.toString()}`);
    return result.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function expectMalformed(scan: ZstdFrameScan, pattern: RegExp): void {
  expect(scan.ok).toBe(false);
  if (scan.ok) return;
  expect(scan.incomplete).toBe(false);
  expect(scan.reason).toMatch(pattern);
}

function expectIncomplete(scan: ZstdFrameScan, pattern?: RegExp): void {
  expect(scan.ok).toBe(false);
  if (scan.ok) return;
  expect(scan.incomplete).toBe(true);
  if (pattern) expect(scan.reason).toMatch(pattern);
}

describe('scanZstdFrame: header fields', () => {
  it('exports the zstd magic', () => {
    expect(ZSTD_MAGIC).toBe(0xfd2fb528);
    expect(Buffer.from(MAGIC).readUInt32LE(0)).toBe(ZSTD_MAGIC);
  });

  it('single-segment frame with a 1-byte content size and a raw block', () => {
    const frame = bytes(MAGIC, [0x20, 5], block(true, RAW, 5), 'hello');
    expect(scanZstdFrame(frame)).toEqual({
      ok: true,
      length: 14,
      contentSize: 5,
      hasChecksum: false,
      dictionaryId: 0,
      windowSize: 5,
      headerLength: 6,
      blockCount: 1,
      decodedSizeMin: 5,
      decodedSizeMax: 5,
    });
  });

  it('RLE blocks occupy one byte of payload', () => {
    const frame = bytes(MAGIC, [0x20, 200], block(true, RLE, 200), [0x61]);
    expect(scanZstdFrame(frame)).toMatchObject({ ok: true, length: 10, contentSize: 200 });
  });

  it('2-byte content size is stored minus 256', () => {
    const frame = bytes(MAGIC, [0x60, 0x00, 0x01], block(true, RLE, 512), [0]);
    expect(scanZstdFrame(frame)).toMatchObject({
      ok: true,
      contentSize: 512,
      windowSize: 512,
      headerLength: 7,
    });
  });

  it('window descriptor with 4- and 8-byte content sizes', () => {
    // Window 1 KiB (descriptor 0) limits blocks to 1 KiB.
    const blocks = bytes(block(false, RLE, 1024), [1], block(false, RLE, 1024), [2], block(true, RAW, 952));
    const raw = Buffer.alloc(952, 3);
    const four = bytes(MAGIC, [0x80, 0x00], le32(3000), blocks, raw);
    expect(scanZstdFrame(four)).toMatchObject({
      ok: true,
      length: four.length,
      contentSize: 3000,
      windowSize: 1024,
      blockCount: 3,
      decodedSizeMin: 3000,
      decodedSizeMax: 3000,
    });
    const eight = bytes(MAGIC, [0xc0, 0x00], le32(3000), le32(0), blocks, raw);
    expect(scanZstdFrame(eight)).toMatchObject({
      ok: true,
      length: eight.length,
      contentSize: 3000,
      headerLength: 14,
    });
    const huge = bytes(MAGIC, [0xc0, 0x00], le32(0), le32(0x200000), blocks, raw);
    expectMalformed(scanZstdFrame(huge), /does not fit in 53 bits/);
  });

  it('window sizes follow exponent and mantissa', () => {
    const windowOf = (descriptor: number): number | undefined => {
      const scan = scanZstdFrame(bytes(MAGIC, [0x00, descriptor], block(true, RAW, 0)));
      return scan.ok ? scan.windowSize : undefined;
    };
    expect(windowOf(0x00)).toBe(1024);
    expect(windowOf(0x58)).toBe(2 * 1024 * 1024);
    expect(windowOf(0x5f)).toBe(2 * 1024 * 1024 + 7 * 256 * 1024);
    expect(windowOf(0xff)).toBe(2 ** 41 + 7 * 2 ** 38);
    expect(scanZstdFrame(bytes(MAGIC, [0x00, 0x58], block(true, RAW, 0)))).toMatchObject({
      contentSize: null,
    });
  });

  it('dictionary ids of 1, 2 and 4 bytes', () => {
    const withDid = (flag: number, did: number[]): ZstdFrameScan =>
      scanZstdFrame(bytes(MAGIC, [0x20 | flag], did, [3], block(true, RAW, 3), 'abc'));
    expect(withDid(1, [7])).toMatchObject({ ok: true, dictionaryId: 7, headerLength: 7 });
    expect(withDid(2, [0x34, 0x12])).toMatchObject({ ok: true, dictionaryId: 0x1234 });
    expect(withDid(3, [0x78, 0x56, 0x34, 0xf2])).toMatchObject({ ok: true, dictionaryId: 0xf2345678 });
  });

  it('content checksum adds four bytes', () => {
    const frame = bytes(MAGIC, [0x24, 3], block(true, RAW, 3), 'abc', [1, 2, 3, 4]);
    expect(scanZstdFrame(frame)).toMatchObject({ ok: true, length: frame.length, hasChecksum: true });
    expectIncomplete(scanZstdFrame(frame.subarray(0, frame.length - 1)), /checksum/);
  });

  it('reports every block with its end and bound', () => {
    const frame = bytes(MAGIC, [0x00, 0x00], block(false, RAW, 2), 'ab', block(false, RLE, 9), [1]);
    const full = bytes(frame, block(true, COMPRESSED, 4), [1, 2, 3, 4]);
    const seen: Array<[number, number]> = [];
    expect(scanZstdFrameBlocks(full, 0, (end, max) => seen.push([end, max]))).toMatchObject({
      ok: true,
      decodedSizeMin: 11,
      decodedSizeMax: 11 + 1024,
    });
    expect(seen).toEqual([
      [11, 2],
      [15, 9],
      [full.length, 1024],
    ]);
  });
});

describe('scanZstdFrame: malformed and truncated input', () => {
  it('rejects reserved bits, reserved block types and oversized blocks', () => {
    expectMalformed(scanZstdFrame(bytes(MAGIC, [0x28, 1], block(true, RAW, 1), 'a')), /reserved bit/);
    expectMalformed(
      scanZstdFrame(bytes(MAGIC, [0x20, 1], block(true, RESERVED, 1), 'a')),
      /^reserved block type at byte 6 of the frame$/,
    );
    expectMalformed(
      scanZstdFrame(bytes(MAGIC, [0x20, 5], block(true, RAW, 6), 'abcdef')),
      /block size 6 exceeds the maximum 5 at byte 6/,
    );
    expectMalformed(
      scanZstdFrame(bytes(MAGIC, [0x00, 0x00], block(true, RAW, 1025))),
      /exceeds the maximum 1024/,
    );
    expectMalformed(
      scanZstdFrame(bytes(MAGIC, [0x00, 0x58], block(true, COMPRESSED, 128 * 1024 + 1))),
      /exceeds the maximum 131072/,
    );
  });

  it('rejects a content size its blocks cannot produce', () => {
    expectMalformed(scanZstdFrame(bytes(MAGIC, [0x20, 10], block(true, RAW, 5), 'hello')), /disagrees/);
    expectMalformed(
      scanZstdFrame(bytes(MAGIC, [0x80, 0x00], le32(5), block(true, RLE, 9), [1])),
      /content size 5 disagrees with its blocks \(9 to 9 bytes\)/,
    );
  });

  it('tells a cut magic number from a wrong one', () => {
    expectIncomplete(scanZstdFrame(Buffer.alloc(0)), /before the frame starts/);
    expectIncomplete(scanZstdFrame(Buffer.from([0x28, 0xb5])), /magic/);
    expectMalformed(scanZstdFrame(Buffer.from([0x28, 0x00])), /bad magic/);
    expectMalformed(scanZstdFrame(Buffer.from('not zstd at all')), /^bad magic number 0x/);
    expectMalformed(scanZstdFrame(bytes(le32(0x184d2a51), le32(0))), /skippable frame \(magic 0x184d2a51\)/);
  });

  it('handles offsets: frames back to back, trailing bytes, bad offsets', () => {
    const a = bytes(MAGIC, [0x20, 5], block(true, RAW, 5), 'hello');
    const b = bytes(MAGIC, [0x20, 3], block(true, RLE, 3), 'x');
    const buf = bytes(a, b, 'trailing');
    expect(scanZstdFrame(buf)).toMatchObject({ ok: true, length: a.length });
    expect(scanZstdFrame(buf, a.length)).toMatchObject({ ok: true, length: b.length, contentSize: 3 });
    expectMalformed(scanZstdFrame(buf, a.length + b.length), /bad magic/);
    expectIncomplete(scanZstdFrame(buf, buf.length));
    expectMalformed(scanZstdFrame(buf, buf.length + 1), /past the end/);
    expectMalformed(scanZstdFrame(buf, -1), /invalid offset/);
    expectMalformed(scanZstdFrame(buf, 1.5), /invalid offset/);
    expectMalformed(scanZstdFrame(buf, Number.NaN), /invalid offset/);
  });

  it('every prefix of a hand-built frame is incomplete', () => {
    const frame = bytes(
      MAGIC,
      [0xa4],
      le32(6),
      block(false, RAW, 2),
      'ab',
      block(true, RLE, 4),
      [1],
      le32(9),
    );
    expect(scanZstdFrame(frame)).toMatchObject({ ok: true, length: frame.length });
    for (let cut = 0; cut < frame.length; cut++) expectIncomplete(scanZstdFrame(frame.subarray(0, cut)));
  });

  it('never throws or loops on random input', () => {
    const next = rng(1234);
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) {
      const length = next() % 96;
      const buf = Buffer.from(Array.from({ length }, () => next() & 255));
      if (i % 2 === 0 && length >= 4) buf.set(MAGIC);
      const offset = next() % 5;
      const scan = scanZstdFrame(buf, offset);
      if (scan.ok) {
        expect(scan.length).toBeGreaterThanOrEqual(8);
        expect(offset + scan.length).toBeLessThanOrEqual(buf.length);
      } else {
        expect(scan.reason).toMatch(/^[a-z][^\n]*$/);
      }
    }
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('scanZstdFrame: real frames', () => {
  it('frames from the zstd codecs parse to exactly their length', async () => {
    const codec = await getCodec();
    for (const size of [0, 1, 1000, 200_000, 3 * 1024 * 1024]) {
      const frame = await codec.compress(traceLike(size, size + 1), 3);
      const scan = scanZstdFrame(frame);
      expect(scan).toMatchObject({ ok: true, length: frame.length, contentSize: size });
      expect(scanZstdFrame(bytes(frame, frame), frame.length)).toMatchObject({
        ok: true,
        length: frame.length,
      });
    }
  });

  it('agrees with zstd -lv on CLI frames, every prefix is incomplete', () => {
    const cases: Array<[string[], number, boolean]> = [
      [['-3'], 0, false],
      [['-3'], 5000, false],
      [['-3', '--no-check'], 300_000, false],
      [['-19'], 200_000, false],
      [['-3', '--zstd=wlog=23'], 2_000_000, true],
      [['-1'], 600_000, true],
    ];
    for (const [args, size, piped] of cases) {
      const frame = zstdCli(args, traceLike(size, size), piped);
      const scan = scanZstdFrame(frame);
      expect(scan.ok).toBe(true);
      if (!scan.ok) continue;
      expect(scan.length).toBe(frame.length);
      expect(scan.hasChecksum).toBe(!args.includes('--no-check'));
      expect(scan.contentSize).toBe(piped ? null : size);

      const listing = spawnSync(ZSTD_CLI, ['-lv', '-'], { input: frame }).stdout.toString();
      const windowBytes = /Window Size: .*\((\d+) B\)/.exec(listing)?.[1];
      if (windowBytes) expect(scan.windowSize).toBe(Number(windowBytes));

      const step = Math.max(1, Math.floor(frame.length / 400));
      for (let cut = 0; cut < frame.length; cut += step)
        expectIncomplete(scanZstdFrame(frame.subarray(0, cut)));
      for (let cut = frame.length - 8; cut < frame.length; cut++) {
        if (cut >= 0) expectIncomplete(scanZstdFrame(frame.subarray(0, cut)));
      }
    }
  });
});
