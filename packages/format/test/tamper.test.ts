import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../src/keys.js';
import { SessionReader } from '../src/reader.js';
import { verifySession, verifySessionBytes } from '../src/verify.js';
import { SessionWriter } from '../src/writer.js';
import { frameRanges, tempDir } from './support.js';

const dir = tempDir();
const key = generateSigningKey();

/**
 * A small sealed, signed file with everything in it: header with key, several segments, a blob and references,
 * intermediate and final checkpoints, and the index.
 */
interface SmallFile {
  bytes: Buffer;
  lines: string[];
  /** [end offset, last seq] of each segment */
  segments: Array<[number, number]>;
}

async function smallSealedFile(path: string): Promise<SmallFile> {
  const writer = await SessionWriter.create(path, {
    segmentBytes: 600,
    checkpointEverySegments: 2,
    signingKey: key.privateKeyPem,
  });
  const shared = { role: 'system', content: 'You validate deployment configs. '.repeat(40) };
  for (let i = 0; i < 6; i++) {
    writer.append('span.end', {
      span: { data: { _input: [shared, { role: 'user', content: `turn ${i}` }] } },
    });
  }
  await writer.close();
  const reader = await SessionReader.open(path);
  const lines: string[] = [];
  for await (const raw of reader.lines()) lines.push(raw.line);
  const bytes = readFileSync(path);
  const ranges = frameRanges(
    bytes,
    reader.segments.map((s) => s.offset),
  );
  const segments = ranges.map(([, end], i): [number, number] => [end, reader.segments[i]!.lastSeq]);
  reader.close();
  return { bytes, lines, segments };
}

describe('tamper evidence', () => {
  let file: SmallFile;
  beforeAll(async () => {
    file = await smallSealedFile(join(dir, 'small.arec'));
  });

  it('starts from a VALID file with blobs, several segments and checkpoints', async () => {
    const report = await verifySessionBytes(file.bytes, 'small.arec', { publicKey: key.publicKeyPem });
    expect(report.verdict).toBe('VALID');
    expect(report.segments).toBeGreaterThanOrEqual(3);
    expect(report.checkpoints).toBeGreaterThanOrEqual(2);
    expect(file.lines.some((line) => line.includes('"type":"blob"'))).toBe(true);
  });

  it('detects every single-byte flip at every offset (never VALID)', async () => {
    const verdicts = new Map<string, number>();
    for (let offset = 0; offset < file.bytes.length; offset++) {
      for (const mask of [0x01, 0x20, 0xff]) {
        const copy = Buffer.from(file.bytes);
        copy[offset] = copy[offset]! ^ mask;
        const report = await verifySessionBytes(copy, 'flip');
        if (report.verdict === 'VALID') {
          throw new Error(
            `flip ${mask.toString(16)} at offset ${offset} of ${file.bytes.length} went undetected`,
          );
        }
        verdicts.set(report.verdict, (verdicts.get(report.verdict) ?? 0) + 1);
      }
    }
    expect(verdicts.get('TAMPERED')).toBeGreaterThan(file.bytes.length);
  });

  it('reports truncation at every offset as TORN/UNSEALED with the whole valid prefix readable', async () => {
    const path = join(dir, 'truncated.arec');
    for (let offset = 0; offset < file.bytes.length; offset++) {
      const cut = file.bytes.subarray(0, offset);
      const report = await verifySessionBytes(cut, 'cut');
      const expectedRecords = file.segments.filter(([end]) => end <= offset).at(-1)?.[1] ?? 0;
      if (offset === 0) {
        expect(report.verdict).toBe('UNREADABLE');
        continue;
      }
      expect(['TORN', 'UNSEALED'], `offset ${offset}: ${report.summary}`).toContain(report.verdict);
      expect(report.records, `offset ${offset}`).toBe(expectedRecords);
      if (report.records > 0) {
        writeFileSync(path, cut);
        const reader = await SessionReader.open(path);
        const lines: string[] = [];
        for await (const raw of reader.lines()) lines.push(raw.line);
        reader.close();
        expect(lines).toEqual(file.lines.slice(0, expectedRecords));
      }
    }
  });

  describe('segment surgery', () => {
    async function surgery(edit: (segments: Buffer[], head: Buffer, tail: Buffer) => Buffer) {
      const path = join(dir, `surgery-${Math.random()}.arec`);
      const writer = await SessionWriter.create(path, { segmentBytes: 200, checkpointEverySegments: 100 });
      for (let i = 0; i < 12; i++) writer.append('tick', { i, pad: 'p'.repeat(150) });
      await writer.flush();
      await writer.abandon(); // unsealed, no index: only the chain and segment numbering can catch this
      const bytes = readFileSync(path);
      const reader = await SessionReader.open(path);
      const ranges = frameRanges(
        bytes,
        reader.segments.map((s) => s.offset),
      );
      reader.close();
      const segments = ranges.map(([start, end]) => bytes.subarray(start, end));
      const head = bytes.subarray(0, ranges[0]![0]);
      const tail = bytes.subarray(ranges.at(-1)![1]);
      const edited = edit(segments, head, tail);
      return verifySessionBytes(edited, 'surgery');
    }

    it('detects a deleted segment', async () => {
      const report = await surgery((s, head, tail) => Buffer.concat([head, s[0]!, ...s.slice(2), tail]));
      expect(report.verdict).toBe('TAMPERED');
      expect(report.failure).toMatchObject({ segment: 2 });
    });

    it('detects reordered segments', async () => {
      const report = await surgery((s, head, tail) =>
        Buffer.concat([head, s[0]!, s[2]!, s[1]!, ...s.slice(3), tail]),
      );
      expect(report.verdict).toBe('TAMPERED');
      expect(report.failure).toMatchObject({ segment: 2 });
    });

    it('detects a duplicated segment', async () => {
      const report = await surgery((s, head, tail) =>
        Buffer.concat([head, s[0]!, s[1]!, s[1]!, ...s.slice(2), tail]),
      );
      expect(report.verdict).toBe('TAMPERED');
      expect(report.failure).toMatchObject({ segment: 3 });
    });

    it('detects a dropped final segment only as UNSEALED, never VALID', async () => {
      const report = await surgery((s, head) => Buffer.concat([head, ...s.slice(0, -1)]));
      expect(report.verdict).toBe('UNSEALED');
    });
  });

  it('names the failing segment, offset and seq in the summary', async () => {
    const path = join(dir, 'named.arec');
    writeFileSync(path, file.bytes);
    const copy = Buffer.from(file.bytes);
    // flip a byte inside the second segment's compressed frame
    const reader = await SessionReader.open(path);
    const second = reader.segments[1]!;
    reader.close();
    const [[, end]] = frameRanges(copy, [second.offset]) as [[number, number]];
    copy[end - 5] = copy[end - 5]! ^ 0xff;
    writeFileSync(path, copy);
    const report = await verifySession(path);
    expect(report.verdict).toBe('TAMPERED');
    expect(report.summary).toMatch(new RegExp(`segment 2, offset \\d+, record seq ${second.firstSeq}`));
  });
});

describe('thorough verification', () => {
  it('catches a hash-consistent record whose envelope is wrong (a buggy or forging writer)', async () => {
    // Forge an unsigned file by hand: the hashes are all consistent, but the middle record claims the wrong seq.
    const { createHash } = await import('node:crypto');
    const { getCodec } = await import('../src/codec.js');
    const { skippableFrame } = await import('../src/frames.js');
    const { canonicalize } = await import('../src/canonical-json.js');
    const path = join(dir, 'forge-base.arec');
    const writer = await SessionWriter.create(path);
    await writer.abandon();
    const headerFrame = readFileSync(path);
    const headerPayload = headerFrame.subarray(8);
    const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
    const ts = '2026-11-21T10:00:00.000000Z';
    const lines = [1, 5, 3].map((seq) => `{"seq":${seq},"ts":"${ts}","type":"tick"}`);
    const content = Buffer.from(`${lines.join('\n')}\n`);
    let chain = sha(Buffer.from('agent-replay.session.v1\n'), headerPayload);
    for (const line of lines) chain = sha(chain, sha(Buffer.from([0]), Buffer.from(line)));
    const frame = await (await getCodec('auto')).compress(content, 3);
    const segmentHeader = canonicalize({
      segment: 1,
      first_seq: 1,
      last_seq: 3,
      count: 3,
      ulen: content.length,
      clen: frame.length,
      sha256: sha(content).toString('hex'),
      zsha256: sha(frame).toString('hex'),
      chain: chain.toString('hex'),
      t_first: ts,
      t_last: ts,
    });
    const forged = Buffer.concat([
      headerFrame,
      skippableFrame(0x184d2a51, Buffer.from(segmentHeader)),
      frame,
    ]);
    expect((await verifySessionBytes(forged, 'forged')).verdict).toBe('UNSEALED');
    const thorough = await verifySessionBytes(forged, 'forged', { thorough: true });
    expect(thorough.verdict).toBe('TAMPERED');
    expect(thorough.summary).toMatch(/record seq 2 says seq 5/);
  });
});
