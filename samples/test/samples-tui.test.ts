/**
 * Each sample's checked-in session opens in the TUI, in a real terminal (tmux), with its story on screen: the
 * denied production push, the leftover CI agent's identity and its redacted secrets, the governed assistant's
 * denials.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TmuxTerminal } from '@agent-replay/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bin = join(root, 'apps/cli/dist/main.js');
const work = mkdtempSync(join(tmpdir(), 'agent-replay-samples-tui-'));
const terminal = new TmuxTerminal(work);
afterAll(() => {
  terminal.closeAll();
  rmSync(work, { recursive: true, force: true });
});

function open(sample: string): string {
  return terminal.open(
    [
      process.execPath,
      bin,
      '--dir',
      join(work, 'dir'),
      'open',
      join(root, 'samples/sessions', `${sample}.arec`),
    ],
    { columns: 140, rows: 40, env: { NO_COLOR: undefined, NODE_ENV: undefined, TERM: 'xterm-256color' } },
  );
}

/** The first full screen: header, rows, and the verdict once the background verification is done. */
const firstScreen = (pane: string) =>
  terminal.waitFor(
    pane,
    'the first screen with its verdict',
    (s) => /^ agent-replay +VALID /.test(s) && / seq 1\//.test(s),
  );

describe.skipIf(!TmuxTerminal.available())('the samples in the TUI', () => {
  it('config-agent: the production push is DENIED; d jumps to it and the detail shows the rule and the reason', async () => {
    const pane = open('config-agent');
    const screen = await firstScreen(pane);
    expect(screen).toMatch(/config-agent +svc-config-agent \(service\)/);
    terminal.press(pane, 'd');
    const denial = await terminal.waitFor(
      pane,
      'the denial selected',
      (s) => /staging-first/.test(s) && /push to staging first/.test(s),
    );
    expect(denial).toMatch(/DENIED/);
    expect(denial).toContain('production');
    terminal.close(pane);
  });

  it('ci-exfil: the service identity, its bucket writes, and the secrets as [REDACTED] tags', async () => {
    const pane = open('ci-exfil');
    const screen = await firstScreen(pane);
    expect(screen).toMatch(/svc-eval-pipeline \(service\)/);
    // The rows whose records hold redacted secrets carry the REDACTED tag; the bucket writes are among them.
    expect(screen).toMatch(/ƒ tool write_bucket \(bucket=gs:\/\/acme-shared-scratc.*REDACTED/);
    terminal.type(pane, '/REDACTED:aws');
    terminal.press(pane, 'Enter');
    const hit = await terminal.waitFor(
      pane,
      'a search hit with the tag in its detail',
      (s) => /\d+\/\d+ hits?/.test(s) && /REDACTED:aws_(access|secret)_key/.test(s),
    );
    expect(hit).toMatch(/REDACTED:aws_(access|secret)_key/);
    terminal.close(pane);
  });

  it('research-assistant: the rate-limit denial is found by searching for its rule, tagged DENIED', async () => {
    const pane = open('research-assistant-rate-limit');
    await firstScreen(pane);
    terminal.type(pane, '/per-agent-rpm');
    terminal.press(pane, 'Enter');
    const denial = await terminal.waitFor(pane, 'the rate-limit decision', (s) => /\d+\/\d+ hits?/.test(s));
    expect(denial).toMatch(/¶ policy gpt-4o-mini deny: 4 model calls a minute.*DENIED/);
    terminal.close(pane);
  });
});
