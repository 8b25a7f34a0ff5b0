/** docs/CLI.md is generated from the CLI's commander tree; it must match what the CLI says now. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../../scripts/cli-reference.mjs', import.meta.url));

it('docs/CLI.md matches the CLI (regenerate with `node scripts/cli-reference.mjs`)', async () => {
  // Another terminal width or environment must not change the text.
  const run = promisify(execFile)(process.execPath, [script, '--check'], {
    env: { ...process.env, COLUMNS: '37', AGENT_REPLAY_DIR: '/elsewhere' },
  });
  await expect(run).resolves.toBeDefined();
});

it('lists every command, subcommands included', async () => {
  const { cliReference } = (await import(script)) as { cliReference: () => string };
  const text = cliReference();
  for (const command of [
    'ls',
    'open',
    'diff',
    'replay',
    'policy lint',
    'policy test',
    'verify',
    'export',
    'keys generate',
  ])
    expect(text).toContain(`## \`agent-replay ${command}\``);
});
