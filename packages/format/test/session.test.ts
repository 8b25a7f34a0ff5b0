import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../src/canonical-json.js';
import { skippableFrame } from '../src/frames.js';
import { generateSigningKey, loadPublicKey } from '../src/keys.js';
import { MerkleTree, verifyInclusion } from '../src/merkle.js';
import { SessionReader } from '../src/reader.js';
import { verifySession } from '../src/verify.js';
import { SessionWriter } from '../src/writer.js';
import { tempDir, variedRecords } from './support.js';

const dir = tempDir();
let counter = 0;
const fresh = (name = 'session') => join(dir, `${name}-${++counter}.arec`);

async function writeSession(path: string, count: number, options = {}) {
  const writer = await SessionWriter.create(path, { segmentBytes: 16 * 1024, ...options });
  const records = variedRecords(counter, count);
  for (const r of records) writer.append(r.type, r.fields);
  await writer.close();
  return { writer, records };
}

async function allLines(path: string): Promise<string[]> {
  const reader = await SessionReader.open(path);
  const lines: string[] = [];
  for await (const raw of reader.lines()) lines.push(raw.line);
  reader.close();
  return lines;
}

describe('session round trip', () => {
  it('reads back every record, resolves blobs to the original values, and zstd -dc prints the records', async () => {
    const path = fresh();
    const { records } = await writeSession(path, 120);
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const reader = await SessionReader.open(path);
    expect(reader.hasIndex).toBe(true);
    const got: unknown[] = [];
    const types: string[] = [];
    for await (const record of reader.records()) {
      types.push(record.type);
      if (record.type === 'blob') continue;
      const { seq: _s, ts: _t, type, ...fields } = await reader.resolve<Record<string, unknown>>(record);
      got.push({ type, fields });
    }
    reader.close();
    expect(types).toContain('blob'); // the growing history was deduplicated
    expect(got).toEqual(records.map((r) => JSON.parse(canonicalize(r))));

    const zstd = spawnSync('zstd', ['-dc', path], { maxBuffer: 1 << 28 });
    expect(zstd.status).toBe(0);
    const lines = await allLines(path);
    expect(zstd.stdout.toString('utf8')).toBe(`${lines.join('\n')}\n`);
    for (const [i, line] of lines.entries()) expect(JSON.parse(line).seq).toBe(i + 1);

    const report = await verifySession(path, { thorough: true });
    expect(report.verdict).toBe('VALID');
    expect(report.records).toBe(lines.length);
  });

  it('keeps a growing conversation linear in size: each history item is stored at most twice', async () => {
    const withDedup = fresh();
    const without = fresh();
    const item = (i: number) => ({ role: 'user', content: `message ${i} `.repeat(200) });
    for (const [path, dedup] of [
      [withDedup, true],
      [without, false],
    ] as const) {
      const writer = await SessionWriter.create(path, { dedup });
      const history: unknown[] = [];
      for (let turn = 0; turn < 60; turn++) {
        history.push(item(turn));
        writer.append('span.end', { span: { data: { _input: [...history] } } });
      }
      await writer.close();
      // first sighting inline, second as a blob, then only references
      if (dedup) expect(writer.stats.blobsStored).toBe(59);
    }
    const zstdOut = (path: string) => spawnSync('zstd', ['-dc', path], { maxBuffer: 1 << 28 }).stdout.length;
    // Uncompressed: 60 turns of ~2.2 KB items is ~4 MB without dedup (quadratic); with it, each item twice plus
    // ~95-byte references (linear in items, quadratic only in the small references).
    const ratio = zstdOut(without) / zstdOut(withDedup);
    expect(ratio).toBeGreaterThan(8);
    const reader = await SessionReader.open(withDedup);
    const last = await reader.get(reader.recordCount);
    const resolved = await reader.resolve<{ span: { data: { _input: unknown[] } } }>(last);
    expect(resolved.span.data._input).toHaveLength(60);
    expect(resolved.span.data._input[37]).toEqual(item(37));
    reader.close();
  });

  it('escapes user objects that look like blob references', async () => {
    const path = fresh();
    const writer = await SessionWriter.create(path);
    const tricky = { $blob: 'not-a-hash', nested: [{ $lit: 1 }, { $blob: 'x'.repeat(64) }] };
    writer.append('note', { value: tricky });
    await writer.close();
    const reader = await SessionReader.open(path);
    expect(await reader.resolve(await reader.get(1))).toMatchObject({ value: tricky });
    reader.close();
    expect((await verifySession(path)).verdict).toBe('VALID');
  });

  it('never throws on hostile values and records them as I-JSON', async () => {
    const path = fresh();
    const writer = await SessionWriter.create(path);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    writer.append('note', {
      cyclic,
      lone: 'x\ud800y',
      nan: Number.NaN,
      big: 10n ** 30n,
      fn: () => 1,
      deep: JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`),
    });
    await writer.close();
    expect(writer.stats.canonical.loneSurrogates).toBe(1);
    const reader = await SessionReader.open(path);
    const record = await reader.get(1);
    expect(record).toMatchObject({ lone: 'x\ufffdy', nan: 'NaN', big: '1000000000000000000000000000000' });
    reader.close();
    expect((await verifySession(path)).verdict).toBe('VALID');
  });
});

describe('random access and queries', () => {
  it('reads record N by decoding exactly one segment, and answers time-range queries', async () => {
    const path = fresh();
    const writer = await SessionWriter.create(path, { segmentBytes: 4096 });
    const stamps: string[] = [];
    for (let i = 1; i <= 2000; i++) {
      writer.append('tick', { i, pad: 'x'.repeat(50) });
      if (i % 500 === 0) {
        await writer.flush();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    await writer.close();
    const reader = await SessionReader.open(path);
    expect(reader.segments.length).toBeGreaterThan(20);
    const record = await reader.get(1234);
    expect(record).toMatchObject({ seq: 1234, i: 1234 });
    expect(reader.stats.segmentsDecoded).toBe(1);
    expect(await reader.get(999_999)).toBeUndefined();

    const t500 = (await reader.get(500))!.ts;
    const t1500 = (await reader.get(1500))!.ts;
    stamps.push(t500, t1500);
    const inRange: number[] = [];
    for await (const r of reader.records({ since: t500, until: t1500, types: ['tick'] })) inRange.push(r.seq);
    expect(inRange[0]).toBe(500);
    expect(inRange.at(-1)).toBeGreaterThanOrEqual(1500);
    expect(inRange.every((seq, i) => i === 0 || seq === inRange[i - 1]! + 1)).toBe(true);
    const slice: number[] = [];
    for await (const r of reader.records({ fromSeq: 10, toSeq: 12 })) slice.push(r.seq);
    expect(slice).toEqual([10, 11, 12]);
    reader.close();
  });

  it('opens an unsealed file by scanning segment headers, and follows a growing file', async () => {
    const path = fresh();
    const writer = await SessionWriter.create(path, { segmentBytes: 1024, flushIntervalMs: 20 });
    for (let i = 0; i < 100; i++) writer.append('tick', { i });
    await writer.flush();
    const reader = await SessionReader.open(path);
    expect(reader.hasIndex).toBe(false);
    expect(reader.recordCount).toBe(100);
    writer.append('tick', { i: 100 });
    // buffered mode writes within the flush interval without an explicit flush
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await reader.refresh()).toBe(true);
    expect(await reader.get(101)).toMatchObject({ i: 100 });
    reader.close();
    await writer.abandon();
    expect((await verifySession(path)).verdict).toBe('UNSEALED');
  });

  it('gives Merkle inclusion proofs that verify against the sealing checkpoint root', async () => {
    const path = fresh();
    await writeSession(path, 50);
    const reader = await SessionReader.open(path);
    const leaves = await reader.leafHashes();
    reader.close();
    const report = await verifySession(path);
    const tree = new MerkleTree(leaves);
    const root = Buffer.from(report.merkleRoot, 'hex');
    expect(tree.root().equals(root)).toBe(true);
    for (const index of [0, 7, leaves.length - 1]) {
      const proof = tree.inclusionProof(index);
      expect(verifyInclusion(leaves[index]!, index, leaves.length, proof, root)).toBe(true);
      expect(verifyInclusion(leaves[(index + 1) % leaves.length]!, index, leaves.length, proof, root)).toBe(
        false,
      );
    }
  });
});

describe('signatures', () => {
  const key = generateSigningKey();
  const other = generateSigningKey();

  it('signs every checkpoint; verifies with the embedded or a trusted key; rejects another key', async () => {
    const path = fresh('signed');
    await writeSession(path, 40, { signingKey: key.privateKeyPem, checkpointEverySegments: 2 });
    const embedded = await verifySession(path);
    expect(embedded.verdict).toBe('VALID');
    expect(embedded.signatures.status).toBe('embedded-key');
    expect(embedded.signatures.signedCheckpoints).toBe(embedded.checkpoints);
    const trusted = await verifySession(path, { publicKey: key.publicKeyPem });
    expect(trusted.verdict).toBe('VALID');
    expect(trusted.signatures.status).toBe('trusted-key');
    const wrong = await verifySession(path, { publicKey: loadPublicKey(other.publicKeyPem) });
    expect(wrong.verdict).toBe('TAMPERED');
    expect(wrong.summary).toContain(other.keyId);
  });

  it('requires signatures when a trusted key is given, and detects a stripped signature', async () => {
    const unsigned = fresh();
    await writeSession(unsigned, 5);
    const report = await verifySession(unsigned, { publicKey: key.publicKeyPem });
    expect(report.verdict).toBe('TAMPERED');
    expect(report.summary).toMatch(/not signed/);

    // An unsealed signed file ending in a checkpoint: strip that checkpoint's signature and fix the frame size.
    const signed = fresh('signed');
    const writer = await SessionWriter.create(signed, { signingKey: key.privateKeyPem });
    writer.append('tick', {});
    await writer.checkpoint();
    await writer.abandon();
    const bytes = readFileSync(signed);
    const text = bytes.toString('latin1');
    const at = text.lastIndexOf(',"sig":{');
    const end = text.indexOf('}', at) + 1;
    const frameStart = text.lastIndexOf('R*M\u0018', at);
    const stripped = Buffer.concat([bytes.subarray(0, at), bytes.subarray(end)]);
    stripped.writeUInt32LE(stripped.readUInt32LE(frameStart + 4) - (end - at), frameStart + 4);
    const strippedPath = fresh('stripped');
    writeFileSync(strippedPath, stripped);
    const result = await verifySession(strippedPath);
    expect(result.verdict).toBe('TAMPERED');
    expect(result.summary).toMatch(/checkpoint 1 is not signed/);
  });

  it('writes signed checkpoints on the interval even when nothing new was recorded', async () => {
    const path = fresh('idle');
    const writer = await SessionWriter.create(path, {
      signingKey: key.privateKeyPem,
      checkpointIntervalMs: 30,
    });
    writer.append('tick', {});
    await new Promise((resolve) => setTimeout(resolve, 250));
    await writer.close();
    const report = await verifySession(path, { publicKey: key.publicKeyPem });
    expect(report.verdict).toBe('VALID');
    expect(report.checkpoints).toBeGreaterThanOrEqual(4);
  });
});

describe('append, lock and recovery', () => {
  it('refuses a second writer with a clear error, in this process and from another one', async () => {
    const path = fresh();
    const writer = await SessionWriter.create(path);
    await expect(SessionWriter.open(path)).rejects.toThrow(/already open for writing/);
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { SessionWriter } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
         try { await SessionWriter.open(${JSON.stringify(path)}); console.log('opened'); }
         catch (e) { console.log(e.message); process.exit(2); }`,
      ],
      { encoding: 'utf8' },
    );
    expect(child.status).toBe(2);
    expect(child.stdout).toContain(`locked by pid ${process.pid}`);
    await writer.close();
    const again = await SessionWriter.open(path); // the lock was released
    await again.close();
  });

  it('lets exactly one of 12 racing processes take over a stale lock', async () => {
    const path = fresh('race');
    await writeSession(path, 3);
    const dead = 2 ** 22 + 12345; // above pid_max on default Linux: certainly not a live process
    writeFileSync(
      `${path}.lock`,
      JSON.stringify({ pid: dead, host: hostname(), since: 'long ago', token: 'x' }),
    );
    const script = `
      import { SessionWriter } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      try {
        const w = await SessionWriter.open(${JSON.stringify(path)});
        w.append('tick', { winner: process.pid });
        await new Promise((r) => setTimeout(r, 2500));
        await w.close();
        console.log('won');
      } catch (e) { console.log(e.name); }`;
    const runs = await Promise.all(
      Array.from(
        { length: 12 },
        () =>
          new Promise<string>((resolve) => {
            const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
              stdio: ['ignore', 'pipe', 'inherit'],
            });
            let out = '';
            child.stdout.on('data', (d) => {
              out += d;
            });
            child.on('exit', () => resolve(out.trim()));
          }),
      ),
    );
    expect(runs.filter((r) => r === 'won')).toHaveLength(1);
    expect(runs.filter((r) => r === 'SessionLockedError')).toHaveLength(11);
    const report = await verifySession(path);
    expect(report.verdict, report.summary).toBe('VALID');
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('re-opens a sealed file to append after its index (resumed run), and stays VALID', async () => {
    const path = fresh();
    await writeSession(path, 30);
    const first = await verifySession(path);
    const writer = await SessionWriter.open(path);
    expect(writer.recovery).toBeUndefined();
    const seq = writer.append('trace.start', { resumed: true });
    expect(seq).toBe(first.records + 1);
    await writer.close();
    const report = await verifySession(path);
    expect(report.verdict).toBe('VALID');
    expect(report.records).toBe(first.records + 1);
    const reader = await SessionReader.open(path);
    expect(reader.hasIndex).toBe(true);
    expect(await reader.get(seq)).toMatchObject({ type: 'trace.start', resumed: true });
    reader.close();
  });

  it('moves a torn tail to a sidecar, truncates, records the recovery and continues', async () => {
    const path = fresh();
    const writer = await SessionWriter.create(path, { segmentBytes: 2048 });
    for (let i = 0; i < 50; i++) writer.append('tick', { i, pad: 'y'.repeat(100) });
    await writer.flush();
    await writer.abandon();
    const full = readFileSync(path);
    const cut = full.length - 37; // inside the last segment's zstd frame
    writeFileSync(path, full.subarray(0, cut));
    const torn = await verifySession(path);
    expect(torn.verdict).toBe('TORN');
    expect(torn.exitCode).toBe(3);

    const resumed = await SessionWriter.open(path);
    const info = resumed.recovery!;
    expect(info.verdict).toBe('TORN');
    expect(info.sidecar).toBe(`${path}.torn-${info.validEnd}`);
    expect(readFileSync(info.sidecar!)).toEqual(full.subarray(info.validEnd, cut));
    expect(statSync(info.sidecar!).mode & 0o777).toBe(0o600);
    resumed.append('tick', { after: true });
    await resumed.close();

    const report = await verifySession(path);
    expect(report.verdict).toBe('VALID');
    const reader = await SessionReader.open(path);
    const recovery = [];
    for await (const r of reader.records({ types: ['recovery'] })) recovery.push(r);
    expect(recovery).toHaveLength(1);
    expect(recovery[0]).toMatchObject({
      dropped_bytes: info.droppedBytes,
      sidecar: `${path.split('/').pop()}.torn-${info.validEnd}`,
    });
    expect(recovery[0]!.seq).toBe(torn.records + 1);
    reader.close();
  });
});

describe('forward compatibility and bad input', () => {
  it('skips unknown reserved skippable frames', async () => {
    const path = fresh();
    const writer = await SessionWriter.create(path, { segmentBytes: 1024 });
    for (let i = 0; i < 20; i++) writer.append('tick', { i, pad: 'z'.repeat(100) });
    await writer.flush();
    await writer.abandon();
    const extra = skippableFrame(0x184d2a5a, Buffer.from('future metadata'));
    writeFileSync(path, Buffer.concat([readFileSync(path), extra]));
    const resumed = await SessionWriter.open(path);
    resumed.append('tick', { i: 20 });
    await resumed.close();
    const report = await verifySession(path);
    expect(report.verdict).toBe('VALID');
    expect(report.reservedFramesSkipped).toBe(1);
    expect(report.records).toBe(21);
    expect((await allLines(path)).length).toBe(21);
  });

  it('refuses a file that needs an unknown incompatible feature', async () => {
    const path = fresh();
    await writeSession(path, 3);
    const bytes = readFileSync(path);
    const size = bytes.readUInt32LE(4);
    const header = JSON.parse(bytes.subarray(8 + 6, 8 + size).toString('utf8'));
    header.incompat = ['zstd-dictionary'];
    const payload = Buffer.from(`AREC1\n${canonicalize(header)}`);
    const patched = Buffer.concat([skippableFrame(0x184d2a50, payload), bytes.subarray(8 + size)]);
    const out = fresh('incompat');
    writeFileSync(out, patched);
    const report = await verifySession(out);
    expect(report.verdict).toBe('UNREADABLE');
    expect(report.summary).toContain('zstd-dictionary');
    await expect(SessionReader.open(out)).rejects.toThrow(
      /unsupported incompatible feature.*zstd-dictionary/,
    );
  });

  it.each([
    [
      'random bytes',
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)),
      /not an agent-replay session/,
    ],
    ['a JSON file', Buffer.from('{"seq":1,"type":"span.start"}\n'), /JSON text file/],
    ['an empty file', Buffer.alloc(0), /empty file/],
    ['a gzip file', Buffer.from('1f8b0800000000000003030000000000000000', 'hex'), /gzip file/],
  ])('reports %s as UNREADABLE with a one-line reason', async (_name, bytes, reason) => {
    const path = fresh('bad');
    writeFileSync(path, bytes);
    const report = await verifySession(path);
    expect(report.verdict).toBe('UNREADABLE');
    expect(report.exitCode).toBe(1);
    expect(report.summary).toMatch(reason);
    expect(report.summary).not.toContain('\n');
  });

  it('reports a directory and a missing file as UNREADABLE', async () => {
    expect((await verifySession(dir)).summary).toMatch(/directory/);
    expect((await verifySession(join(dir, 'missing.arec'))).summary).toMatch(/no such file/);
    await expect(SessionReader.open(dir)).rejects.toThrow(/directory/);
  });
});
