import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The pool runs the compiled worker (dist/verify-worker.js), so it is imported from the build `pnpm test` makes
// first; the in-process verifier it is compared with comes from the sources like everywhere else in these tests.
import { SessionVerifierPool } from '../dist/index.js';
import { generateSigningKey } from '../src/keys.js';
import { type VerifyReport, verifySession, verifySessionBytes } from '../src/verify.js';
import { SessionWriter } from '../src/writer.js';
import { tempDir } from './support.js';

const dir = tempDir();
const key = generateSigningKey();
const other = generateSigningKey();

async function write(name: string, records: number, close = true): Promise<string> {
  const path = join(dir, name);
  const writer = await SessionWriter.create(path, { segmentBytes: 2048, signingKey: key.privateKeyPem });
  for (let i = 0; i < records; i++)
    writer.append('span.end', { span: { id: `span_${i}`, data: { output: `answer ${i} `.repeat(20) } } });
  if (close) await writer.close();
  else await writer.flush();
  return path;
}

/** The report as it crosses threads: plain data, compared field by field with the in-process one. */
const plain = (report: VerifyReport) => JSON.parse(JSON.stringify(report)) as unknown;

describe('SessionVerifierPool', () => {
  const files: Record<string, string> = {};
  let pool: SessionVerifierPool;

  beforeAll(async () => {
    files.valid = await write('valid.arec', 300);
    files.second = await write('second.arec', 120);
    const tampered = await write('tampered.arec', 300);
    const bytes = readFileSync(tampered);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(tampered, bytes);
    files.tampered = tampered;
    files.unsealed = await write('unsealed.arec', 50, false);
    files.notASession = join(dir, 'notes.txt');
    writeFileSync(files.notASession, 'not a session file\n');
    pool = new SessionVerifierPool({ threads: 2, publicKey: key.publicKeyPem });
  });
  afterAll(async () => {
    await pool.close();
  });

  it('gives the same report as verifySession for valid, tampered, unsealed and foreign files', async () => {
    const names = Object.keys(files);
    const reports = await Promise.all(names.map((name) => pool.verify(files[name]!)));
    const verdicts = Object.fromEntries(names.map((name, i) => [name, reports[i]!.verdict]));
    expect(verdicts).toEqual({
      valid: 'VALID',
      second: 'VALID',
      tampered: 'TAMPERED',
      unsealed: 'UNSEALED',
      notASession: 'UNREADABLE',
    });
    for (const [i, name] of names.entries()) {
      const inProcess = await verifySession(files[name]!, { publicKey: key.publicKeyPem });
      expect(plain(reports[i]!), name).toEqual(plain(inProcess));
    }
    expect(reports[0]!.signatures.status).toBe('trusted-key');
    expect(reports[2]!.failure?.offset).toBeGreaterThan(0);
  });

  it('verifies bytes held in memory and leaves the caller its buffer', async () => {
    const bytes = readFileSync(files.valid!);
    const before = Buffer.from(bytes);
    const report = await pool.verifyBytes(bytes, 'bundle/valid.arec');
    expect(plain(report)).toEqual(
      plain(await verifySessionBytes(bytes, 'bundle/valid.arec', { publicKey: key.publicKeyPem })),
    );
    expect(report.file).toBe('bundle/valid.arec');
    expect(bytes.equals(before)).toBe(true);
    const torn = readFileSync(files.tampered!);
    expect((await pool.verifyBytes(torn.subarray(0, 2000), 'cut.arec')).verdict).not.toBe('VALID');
  });

  it('checks signatures against the trusted key it was given, as PEM or KeyObject', async () => {
    const wrong = new SessionVerifierPool({ threads: 1, publicKey: createPublicKey(other.publicKeyPem) });
    const right = new SessionVerifierPool({ threads: 1, publicKey: createPublicKey(key.publicKeyPem) });
    try {
      const [bad, good] = await Promise.all([wrong.verify(files.valid!), right.verify(files.valid!)]);
      expect(bad.verdict).toBe('TAMPERED');
      expect(bad.signatures.status).not.toBe('trusted-key');
      expect(good.signatures.status).toBe('trusted-key');
      expect(good.verdict).toBe('VALID');
    } finally {
      await Promise.all([wrong.close(), right.close()]);
    }
  });

  it('runs many more sessions than threads, in the order asked', async () => {
    const paths = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? files.valid! : files.second!));
    const reports = await Promise.all(paths.map((path) => pool.verify(path)));
    expect(reports.map((r) => r.records)).toEqual(paths.map((p) => (p === files.valid ? 300 : 120)));
  });
});
