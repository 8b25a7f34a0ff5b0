import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A fresh temporary directory, removed after the test file finishes. */
export function tempDir(prefix = 'arec-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Deterministic PRNG (mulberry32) so every failure reproduces. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic xorshift32 stream of unsigned 32-bit integers. */
export function rngU32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

const WORDS = [
  'deploy',
  'config',
  'staging',
  'production',
  'agent',
  'tool',
  'policy',
  'denied',
  'ok',
  'résumé',
  '数据',
  '🚀',
];

export function words(random: () => number, n: number): string {
  return Array.from({ length: n }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
}

/** Varied records in the shapes the recorder writes: spans with model input/output, tool calls, decisions. */
export function variedRecords(
  seed: number,
  count: number,
): Array<{ type: string; fields: Record<string, unknown> }> {
  const random = rng(seed);
  const history: Array<Record<string, unknown>> = [];
  const out: Array<{ type: string; fields: Record<string, unknown> }> = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    if (kind === 0) {
      history.push({ role: 'user', content: words(random, 200 + Math.floor(random() * 200)) });
      out.push({
        type: 'span.end',
        fields: { span: { kind: 'response', data: { _input: [...history], model: 'gpt-test' } } },
      });
    } else if (kind === 1) {
      out.push({
        type: 'span.end',
        fields: {
          span: {
            kind: 'function',
            data: {
              name: 'push_config',
              input: JSON.stringify({ environment: 'staging', n: i }),
              output: words(random, 30),
            },
          },
        },
      });
    } else if (kind === 2) {
      out.push({
        type: 'policy.decision',
        fields: {
          decision: random() < 0.5 ? 'allow' : 'deny',
          rule: `r${i}`,
          reason: 'push to staging first',
        },
      });
    } else {
      out.push({
        type: 'note',
        fields: { text: '\u001b]0;evil\u0007 tab\t nul\u0000 ünïcödé 𝄞', n: random() * 1e6 },
      });
    }
  }
  return out;
}

/** Positions of each segment's bytes [start, end) in a file, from the reader's segment list. */
export function frameRanges(bytes: Buffer, offsets: number[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const start of offsets) {
    const headerSize = bytes.readUInt32LE(start + 4);
    const header = JSON.parse(bytes.subarray(start + 8, start + 8 + headerSize).toString('utf8')) as {
      clen: number;
    };
    ranges.push([start, start + 8 + headerSize + header.clen]);
  }
  return ranges;
}
