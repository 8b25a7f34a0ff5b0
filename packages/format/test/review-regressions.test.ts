// Regression tests for defects found in review: each reproduces the original failure.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../src/canonical-json.js';
import { skippableFrame } from '../src/frames.js';
import { generateSigningKey } from '../src/keys.js';
import { SessionReader } from '../src/reader.js';
import { verifySession, verifySessionBytes } from '../src/verify.js';
import { SessionWriter } from '../src/writer.js';
import { tempDir } from './support.js';

const dir = tempDir('arec-review-');
let n = 0;
const fresh = () => join(dir, `r${++n}.arec`);

async function sealed(path: string, options = {}) {
  const writer = await SessionWriter.create(path, { segmentBytes: 512, ...options });
  for (let i = 0; i < 12; i++) writer.append('tick', { i, pad: 'p'.repeat(80) });
  await writer.close();
  return readFileSync(path);
}

/** Offset of the index frame, from the trailer. */
const indexOffset = (bytes: Buffer) => Number(bytes.readBigUInt64LE(bytes.length - 16));

describe('nothing can be added to a sealed file without changing its verdict', () => {
  it('a reserved frame appended after the index makes a signed file TAMPERED', async () => {
    const key = generateSigningKey();
    const bytes = await sealed(fresh(), { signingKey: key.privateKeyPem });
    const appended = Buffer.concat([bytes, skippableFrame(0x184d2a5e, Buffer.from('ATTACKER CONTROLLED'))]);
    const report = await verifySessionBytes(appended, 'x', { publicKey: key.publicKeyPem });
    expect(report.verdict).toBe('TAMPERED');
    expect(report.summary).toMatch(/after the sealed end/);
  });

  it('a reserved frame between the final checkpoint and its index is TAMPERED', async () => {
    const bytes = await sealed(fresh());
    const at = indexOffset(bytes);
    const extra = skippableFrame(0x184d2a5a, Buffer.from('x'));
    const index = Buffer.from(bytes.subarray(at));
    index.writeBigUInt64LE(BigInt(at + extra.length), index.length - 16); // keep the trailer self-consistent
    const report = await verifySessionBytes(Buffer.concat([bytes.subarray(0, at), extra, index]), 'x');
    expect(report.verdict).toBe('TAMPERED');
    expect(report.summary).toMatch(/between the final checkpoint and its index/);
  });
});

describe('the writer cannot produce a file its own verifier rejects', () => {
  it('refuses the reserved types and field names instead of writing them', async () => {
    const writer = await SessionWriter.create(fresh());
    expect(() => writer.append('blob', { sha256: '0'.repeat(64), value: 'x' })).toThrow(TypeError);
    expect(() => writer.append('recovery', {})).toThrow(TypeError);
    expect(() => writer.append('tool.call', { $blob: 'abc' })).toThrow(/reserved/);
    expect(() => writer.append('tool.call', { $lit: 1 })).toThrow(/reserved/);
    writer.append('tool.call', { nested: { $blob: 'abc', $lit: { $blob: 'x'.repeat(64) } } });
    await writer.close();
    expect((await verifySession(writer.path, { thorough: true })).verdict).toBe('VALID');
  });

  it('writes lone surrogates in types and field names as U+FFFD (I-JSON)', async () => {
    const writer = await SessionWriter.create(fresh());
    writer.append('tool\ud800', { 'key\udfff': 1, 'a\n': 2, 'a!': 3 });
    await writer.close();
    const reader = await SessionReader.open(writer.path);
    const line = (await reader.getLine(1))!;
    reader.close();
    expect(line).toContain('"type":"tool\ufffd"');
    expect(line).toContain('"key\ufffd":1');
    expect(line).toBe(canonicalize(JSON.parse(line))); // keys in RFC 8785 order, "a\n" before "a!"
    expect((await verifySession(writer.path, { thorough: true })).verdict).toBe('VALID');
  });
});

describe('reader', () => {
  it('resolves blobs in segments appended after it opened a sealed file (follow a resumed session)', async () => {
    const path = fresh();
    const big = (tag: string) => ({ text: `${tag} `.repeat(400) });
    const first = await SessionWriter.create(path);
    first.append('note', { v: big('first') });
    first.append('note', { v: big('first') });
    await first.close();
    const reader = await SessionReader.open(path);
    expect(reader.hasIndex).toBe(true);
    const resumed = await SessionWriter.open(path);
    resumed.append('note', { v: big('second') });
    const seq = resumed.append('note', { v: big('second') });
    await resumed.flush();
    expect(await reader.refresh()).toBe(true);
    expect(await reader.resolve(await reader.get(seq))).toMatchObject({ v: big('second') });
    reader.close();
    await resumed.close();
  });

  it('does not mistake a user record with a "sha256" field and a nested type "blob" for a blob', async () => {
    const path = fresh();
    const writer = await SessionWriter.create(path);
    const value = { text: 'real value '.repeat(200) };
    const hash = (await import('node:crypto')).createHash('sha256').update(canonicalize(value)).digest('hex');
    writer.append('decoy', { sha256: hash, x: { type: 'blob' } });
    writer.append('note', { v: value });
    writer.append('note', { v: value });
    await writer.flush();
    await writer.abandon(); // no index: blobs are found by scanning
    const reader = await SessionReader.open(path);
    expect(await reader.resolve(await reader.get(reader.recordCount))).toMatchObject({ v: value });
    reader.close();
  });

  it.each([
    ['a blob entry that is not a pair', (index: Record<string, unknown>) => ({ ...index, blobs: [5] })],
    [
      'a fractional offset',
      (index: Record<string, unknown>) => ({
        ...index,
        segments: (index.segments as unknown[][]).map((s, i) =>
          i === 1 ? [s[0], (s[1] as number) + 0.5, ...s.slice(2)] : s,
        ),
      }),
    ],
    [
      'a string offset',
      (index: Record<string, unknown>) => ({
        ...index,
        segments: (index.segments as unknown[][]).map((s, i) =>
          i === 0 ? [s[0], String(s[1]), ...s.slice(2)] : s,
        ),
      }),
    ],
    [
      'an absurd seq range',
      (index: Record<string, unknown>) => ({
        ...index,
        segments: (index.segments as unknown[][]).map((s, i, all) =>
          i === all.length - 1 ? [s[0], s[1], s[2], 1e12, s[4], s[5]] : s,
        ),
        records: 1e12,
      }),
    ],
  ])('ignores a hostile index (%s) and still reads every record', async (_name, edit) => {
    const path = fresh();
    const bytes = await sealed(path);
    const at = indexOffset(bytes);
    const index = JSON.parse(bytes.subarray(at + 8, bytes.length - 16).toString('utf8'));
    const json = Buffer.from(JSON.stringify(edit(index)));
    const trailer = Buffer.alloc(16);
    trailer.writeBigUInt64LE(BigInt(at), 0);
    trailer.write('ARIDX001', 8, 'latin1');
    writeFileSync(
      path,
      Buffer.concat([bytes.subarray(0, at), skippableFrame(0x184d2a53, Buffer.concat([json, trailer]))]),
    );
    const reader = await SessionReader.open(path);
    expect(reader.hasIndex).toBe(false);
    const seqs: number[] = [];
    for await (const record of reader.records()) seqs.push(record.seq);
    reader.close();
    expect(seqs).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect((await verifySession(path)).verdict).toBe('TAMPERED');
  });
});
