import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SessionFileError } from '../src/errors.js';
import { SessionReader } from '../src/reader.js';
import { verifySessionBytes } from '../src/verify.js';
import { SessionWriter } from '../src/writer.js';
import { rng, tempDir, variedRecords } from './support.js';

const dir = tempDir('arec-fuzz-');
let original: Buffer;

beforeAll(async () => {
  const path = join(dir, 'seed.arec');
  const writer = await SessionWriter.create(path, { segmentBytes: 1500, checkpointEverySegments: 3 });
  for (const r of variedRecords(11, 40)) writer.append(r.type, r.fields);
  await writer.close();
  original = readFileSync(path);
});

type Mutation = (bytes: Buffer, random: () => number) => Buffer;

const at = (bytes: Buffer, random: () => number) => Math.floor(random() * bytes.length);
const mutations: Record<string, Mutation> = {
  'delete a byte range': (b, r) => {
    const start = at(b, r);
    return Buffer.concat([b.subarray(0, start), b.subarray(start + 1 + Math.floor(r() * 64))]);
  },
  'insert random bytes': (b, r) => {
    const start = at(b, r);
    const junk = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 32) }, () => Math.floor(r() * 256)));
    return Buffer.concat([b.subarray(0, start), junk, b.subarray(start)]);
  },
  'duplicate a range': (b, r) => {
    const start = at(b, r);
    const end = Math.min(b.length, start + 1 + Math.floor(r() * 400));
    return Buffer.concat([b.subarray(0, end), b.subarray(start, end), b.subarray(end)]);
  },
  'hostile u32 at a random offset': (b, r) => {
    const copy = Buffer.from(b);
    const offset = Math.min(copy.length - 4, at(b, r));
    copy.writeUInt32LE([0xffffffff, 0x7fffffff, 0, 1, 0x10000000][Math.floor(r() * 5)]!, offset);
    return copy;
  },
  'swap two halves': (b, r) => {
    const cut = at(b, r);
    return Buffer.concat([b.subarray(cut), b.subarray(0, cut)]);
  },
  'truncate and append garbage': (b, r) => {
    const cut = at(b, r);
    return Buffer.concat([
      b.subarray(0, cut),
      Buffer.alloc(1 + Math.floor(r() * 100), Math.floor(r() * 256)),
    ]);
  },
};

describe('fuzzed files', () => {
  it.each(Object.keys(mutations))(
    '%s: verify and reader never crash, never hang, never say VALID',
    async (name) => {
      const random = rng(name.length * 7919);
      const path = join(dir, `${name.replace(/\W+/g, '-')}.arec`);
      const mutate = mutations[name]!;
      for (let round = 0; round < 150; round++) {
        const bytes = mutate(original, random);
        if (bytes.equals(original)) continue;
        const report = await verifySessionBytes(bytes, 'fuzz');
        expect(report.verdict, `${name} round ${round}: ${report.summary}`).not.toBe('VALID');
        expect(report.summary).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/); // one safe line

        writeFileSync(path, bytes);
        try {
          const reader = await SessionReader.open(path);
          try {
            for await (const record of reader.records()) await reader.resolve(record);
          } catch (error) {
            // Reading past damage that only a full verification detects must fail with a clear, located error.
            if (!(error instanceof SessionFileError)) throw error;
          } finally {
            reader.close();
          }
        } catch (error) {
          if (!(error instanceof SessionFileError)) throw error;
          expect(error.message.startsWith(path)).toBe(true);
        }
      }
    },
  );
});
