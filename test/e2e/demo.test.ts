import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const cwd = mkdtempSync(join(tmpdir(), 'arec-demo-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('pnpm demo (the README main command, after its build step)', () => {
  it('without a terminal: records the samples, shows the denied production push, catches tampering, lists next steps', () => {
    const result = spawnSync(process.execPath, [join(root, 'scripts/demo.mjs')], {
      cwd,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('7/7 sessions valid');
    expect(result.stdout).toMatch(/DENY tool push_config rule staging-first — push to staging first/);
    expect(result.stdout).toMatch(/^TAMPERED +\.agent-replay\/demo\/config-agent\.tampered\.arec/m);
    // No terminal: the TUI is not started, and the next commands are listed.
    expect(result.stdout).not.toContain('$ agent-replay open');
    for (const command of ['agent-replay diff', 'agent-replay export', 'agent-replay verify case-123.zip'])
      expect(result.stdout).toContain(command);
  });
});
