import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const cwd = mkdtempSync(join(tmpdir(), 'arec-demo-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('pnpm demo (the README main command, after its build step)', () => {
  it('runs non-interactively and shows VALID, TAMPERED, TORN and a recovered VALID file', () => {
    const result = spawnSync(process.execPath, [join(root, 'scripts/demo.mjs')], {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(result.status, result.stderr).toBe(0);
    const verdicts = [...result.stdout.matchAll(/^(VALID|TAMPERED|TORN)\s{2,}/gm)].map((m) => m[1]);
    expect(verdicts).toEqual(['VALID', 'TAMPERED', 'TORN', 'VALID']);
    expect(result.stdout).toMatch(/recovered: moved \d+ bytes to .*\.torn-\d+/);
    expect(result.stdout).toContain('"reason":"push to staging first"');
  });
});
