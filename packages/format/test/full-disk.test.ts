import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SessionReader } from '../src/reader.js';
import { verifySession } from '../src/verify.js';
import { SessionWriter } from '../src/writer.js';
import { tempDir } from './support.js';

const dir = tempDir('arec-full-');
const child = new URL('./fixtures/full-disk-writer.mjs', import.meta.url).pathname;

describe('a full disk', () => {
  it('fails once with a located error, keeps a valid prefix, and the file continues after space returns', async () => {
    const path = join(dir, 'full.arec');
    // ulimit -f counts 1024-byte blocks: writes past 64 KiB fail with EFBIG instead of killing the process.
    const run = spawnSync(
      'bash',
      ['-c', `ulimit -f 64; trap '' XFSZ; exec "$0" "$1" "$2"`, process.execPath, child, path],
      {
        encoding: 'utf8',
      },
    );
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim());
    expect(result.errors).toHaveLength(1); // reported once, not per record
    expect(result.errors[0]).toMatch(new RegExp(`^${path} @\\d+: write failed`));
    expect(result.flushError ?? result.closeError).toMatch(/write failed/);
    expect(result.appendError).toMatch(/write failed/); // later appends refuse instead of silently dropping
    expect(statSync(path).size).toBeLessThanOrEqual(64 * 1024);

    // What reached the disk is a clean valid prefix, not a torn tail.
    const report = await verifySession(path);
    expect(report.verdict, report.summary).toBe('UNSEALED');
    expect(report.records).toBeGreaterThan(10);
    const reader = await SessionReader.open(path);
    expect(reader.recordCount).toBe(report.records);
    reader.close();

    // With space back, a resumed writer continues the same file and seals it.
    const writer = await SessionWriter.open(path);
    expect(writer.recovery).toBeUndefined();
    writer.append('tick', { after: 'disk freed' });
    await writer.close();
    expect((await verifySession(path)).verdict).toBe('VALID');
  });
});
