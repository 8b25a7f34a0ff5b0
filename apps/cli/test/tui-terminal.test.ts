/**
 * `agent-replay open` in a real terminal. The built CLI runs in tmux panes (a private tmux server), keys are typed
 * with `tmux send-keys`, and what a person would see is read back with `tmux capture-pane` (`-e` for colours).
 * Sessions are recorded by the real recorder from real Agents SDK runs with scripted models; the one followed
 * live is written by a child process that is still running its agent.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Identity, POLICY_DECISION_SPAN, SessionRecorder } from '@agent-replay/recorder';
import { fc, SpanEmittingScriptedModel, say, TmuxTerminal } from '@agent-replay/testkit';
import {
  Agent,
  Runner,
  setTraceProcessors,
  setTracingDisabled,
  tool,
  withCustomSpan,
  withTrace,
} from '@openai/agents';
import stringWidth from 'string-width';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const bin = fileURLToPath(new URL('../dist/main.js', import.meta.url));
/** The CLI package: bare imports in the follow child (`node -e`) resolve from its node_modules. */
const cliPackageDir = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'arec-tui-terminal-'));
const configDir = join(work, 'config');
const liveDir = join(work, 'live');

type Rec = Record<string, any>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------------
// the terminal

const terminal = new TmuxTerminal(work);
const children: ChildProcess[] = [];
const EXITED = TmuxTerminal.EXITED;

/**
 * Runs `agent-replay open <file>` in a new tmux pane of the given size, as a person would from a shell: colours
 * allowed (NO_COLOR unset), TERM=xterm-256color, CI=true (as in a CI job's shell: Ink would draw nothing until exit
 * if it believed no one was watching). When the CLI ends, the pane says so and a shell takes over.
 */
function openInTmux(
  file: string,
  options: { dir?: string; columns?: number; rows?: number; follow?: boolean } = {},
): string {
  return terminal.open(
    [
      process.execPath,
      bin,
      '--dir',
      options.dir ?? configDir,
      'open',
      file,
      ...(options.follow ? ['--follow'] : []),
    ],
    {
      ...(options.columns ? { columns: options.columns } : {}),
      ...(options.rows ? { rows: options.rows } : {}),
      env: {
        NO_COLOR: undefined,
        FORCE_COLOR: undefined,
        NODE_ENV: undefined,
        TERM: 'xterm-256color',
        CI: 'true',
      },
    },
  );
}

const closePane = (pane: string) => terminal.close(pane);
const press = (pane: string, ...keys: string[]) => terminal.press(pane, ...keys);
const typeText = (pane: string, text: string) => terminal.type(pane, text);
const capture = (pane: string, flags: { escapes?: boolean; joined?: boolean } = {}) =>
  terminal.capture(pane, flags);
const tmux = (...args: string[]) => terminal.tmux(...args);

const linesOf = (screen: string): string[] => screen.replace(/\n$/, '').split('\n');
const statusBar = (screen: string): string => linesOf(screen).at(-1) ?? '';

/** `seq N/M` of the status bar. */
function seqOf(screen: string): { seq: number; total: number } | undefined {
  const match = /^ seq ([\d,]+)\/([\d,]+) /.exec(statusBar(screen));
  if (!match) return undefined;
  return { seq: Number(match[1]!.replace(/,/g, '')), total: Number(match[2]!.replace(/,/g, '')) };
}

const waitForScreen = (
  pane: string,
  what: string,
  predicate: (screen: string) => boolean,
  options: { escapes?: boolean; timeoutMs?: number; exitExpected?: boolean } = {},
) => terminal.waitFor(pane, what, predicate, options);

/** Waits until the status bar shows the cursor on `seq`. */
const waitForSeq = (pane: string, seq: number, what = `the cursor on seq ${seq}`) =>
  waitForScreen(pane, what, (screen) => seqOf(screen)?.seq === seq);

/** The first full screen of a session: header, rows with their previews, the first row detailed, the status bar. */
const waitForFirstScreen = (pane: string) =>
  waitForScreen(
    pane,
    'the first screen',
    (screen) =>
      /^ agent-replay /.test(linesOf(screen)[0] ?? '') &&
      seqOf(screen)?.seq === 1 &&
      screen.includes('session completed') &&
      // Previews (arguments, reasons, answers) come just after the rows.
      screen.includes('policy push_config deny') &&
      screen.includes('tool read_audit ()') &&
      screen.includes('scripted “Pu') &&
      screen.includes('│Session start'),
  );

/** The detail pane: what is right of the tree's separator on each body line. */
function detailPane(screen: string): string[] {
  return linesOf(screen)
    .slice(2, -1)
    .map((line) => {
      const at = line.indexOf('│');
      return at >= 0 ? line.slice(at + 1) : '';
    });
}

/** The tree pane: what is left of the separator on each body line. */
function treePane(screen: string): string[] {
  return linesOf(screen)
    .slice(2, -1)
    .map((line) => {
      const at = line.indexOf('│');
      return at >= 0 ? line.slice(0, at) : line;
    });
}

/** The display column of the tree/detail separator on the first body line. */
function separatorColumn(screen: string): number {
  const line = linesOf(screen)[2] ?? '';
  const at = line.indexOf('│');
  return at < 0 ? -1 : stringWidth(line.slice(0, at));
}

/** One character on screen and the foreground colour tmux reports for it (SGR code, undefined for default). */
interface Cell {
  char: string;
  fg: string | undefined;
}

/** A `capture-pane -e` screen as lines of cells, following the SGR state across the whole capture. */
function styledLines(screen: string): Cell[][] {
  const lines: Cell[][] = [[]];
  let fg: string | undefined;
  for (const match of screen.matchAll(/\u001b\[([\d;:]*)m|\n|[\s\S]/gu)) {
    const token = match[0];
    if (token === '\n') {
      lines.push([]);
      continue;
    }
    if (match[1] === undefined) {
      lines.at(-1)!.push({ char: token, fg });
      continue;
    }
    const params = (match[1] || '0').split(/[;:]/).map(Number);
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      if (p === 0 || p === 39) fg = undefined;
      else if ((p >= 30 && p <= 37) || (p >= 90 && p <= 97)) fg = String(p);
      else if (p === 38 || p === 48) {
        const extended = params[i + 1] === 5 ? params.slice(i, i + 3) : params.slice(i, i + 5);
        if (p === 38) fg = extended.join(';');
        i += extended.length - 1;
      }
    }
  }
  return lines;
}

const RED = new Set(['31', '91', '38;5;1', '38;5;9']);

/** The foreground colours of `needle` where it first appears on screen (undefined when it is not there). */
function coloursOf(lines: Cell[][], needle: string): Set<string | undefined> | undefined {
  for (const line of lines) {
    const text = line.map((cell) => cell.char).join('');
    const at = text.indexOf(needle);
    if (at < 0) continue;
    // Cells are code points; `at` is in UTF-16 units: map it.
    let units = 0;
    let start = 0;
    while (units < at) units += line[start++]!.char.length;
    return new Set(line.slice(start, start + [...needle].length).map((cell) => cell.fg));
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions

/** ANSI/OSC escapes, a C1 CSI and bidi overrides, as a hostile tool could return them. */
const BOMB = '\u001b]0;pwned\u0007\u001b[2J\u001b[31mred alert\u009b31m \u202eevil\u202c';
/** The same text as the TUI must show it: every control character escaped, visibly. */
const BOMB_SHOWN = String.raw`\x1b]0;pwned\x07\x1b[2J\x1b[31mred alert\x9b31m \u202eevil\u202c`;
/** Said by one tool only (the next model call reads it back, as its input). */
const RUNBOOK_WORD = 'quokkaline';

/**
 * The config agent: a policy engine denies pushing the config to production ("push to staging first"), then the
 * model pushes to staging (which takes a moment), looks up a runbook, renders a hostile banner and reads an audit
 * log that fails.
 */
async function recordConfigAgent(): Promise<void> {
  const recorder = new SessionRecorder({
    dir: configDir,
    redactionKeyFile: join(work, 'redaction.key'),
    closeDelayMs: 20,
    identity: (trace) =>
      trace.name === 'config-agent'
        ? ({ subject: 'dana@example.com', kind: 'human', verified: false, method: 'static' } as Identity)
        : undefined,
  });
  setTracingDisabled(false); // vitest sets NODE_ENV=test, which turns SDK tracing off
  setTraceProcessors([recorder]);
  const pushConfig = tool({
    name: 'push_config',
    description: 'push the service config to an environment',
    parameters: z.object({ environment: z.string() }),
    execute: async ({ environment }) => {
      await sleep(1000); // a real push takes a while: playback has something to wait for
      return `pushed config v42 to ${environment}`;
    },
  });
  const runbook = tool({
    name: 'lookup_runbook',
    description: 'the runbook for a topic',
    parameters: z.object({ topic: z.string() }),
    execute: async () => `rollback: drain the ${RUNBOOK_WORD} pool first`,
  });
  const banner = tool({
    name: 'render_banner',
    description: 'render the release banner',
    parameters: z.object({}),
    execute: async () => BOMB,
  });
  const audit = tool({
    name: 'read_audit',
    description: 'the audit log',
    parameters: z.object({}),
    execute: async () => {
      throw new Error('audit store unreachable');
    },
    // The SDK's default error function keeps the error text out of the trace; this one passes it on.
    errorFunction: (_context, error) => `read_audit failed: ${String(error)}`,
  });
  const model = new SpanEmittingScriptedModel([
    () => [fc('p1', 'push_config', { environment: 'staging' })],
    () => [
      fc('r1', 'lookup_runbook', { topic: 'rollback' }),
      fc('b1', 'render_banner', {}),
      fc('a1', 'read_audit', {}),
    ],
    () => [say('Pushed to staging.')],
  ]);
  await withTrace('config-agent', async () => {
    await withCustomSpan(async () => {}, {
      data: {
        name: POLICY_DECISION_SPAN,
        data: {
          decision: 'deny',
          subject: { kind: 'tool', name: 'push_config', args: { environment: 'production' } },
          rule: 'no-prod-writes',
          reason: 'push to staging first',
          decided_by: { kind: 'engine', id: 'policy-engine' },
        },
      },
    });
    await new Runner().run(
      new Agent({ name: 'Configurator', model, tools: [pushConfig, runbook, banner, audit] }),
      'push the new config to production',
    );
  });
  await recorder.shutdown();
  setTraceProcessors([]);
}

/** Records of a session as `cat --json --resolve` prints them. */
function catRecords(dir: string, file: string): Rec[] {
  const result = spawnSync(process.execPath, [bin, '--dir', dir, 'cat', file, '--json', '--resolve'], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    maxBuffer: 1 << 26,
  });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Rec);
}

let configFile = '';
let records: Rec[] = [];

/** The row (seq of its span.start) of the span whose data has this name. */
function spanRow(name: string): number {
  const found = records.filter((r) => r.type === 'span.start' && r.span?.data?.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!.seq as number;
}

/** Rows whose records mention `word` (a span.end counts for its span's row), in seq order. */
function rowsMentioning(word: string): number[] {
  const startOf = new Map<string, number>();
  for (const r of records) if (r.type === 'span.start') startOf.set(r.span.id, r.seq);
  const rows = new Set<number>();
  for (const r of records) {
    if (r.type === 'blob') continue;
    const { seq, ts: _ts, type: _type, ...fields } = r;
    if (!JSON.stringify(fields).toLowerCase().includes(word.toLowerCase())) continue;
    rows.add(r.type === 'span.end' ? startOf.get(r.span.id)! : seq);
  }
  return [...rows].sort((a, b) => a - b);
}

beforeAll(async () => {
  expect(TmuxTerminal.available(), 'tmux must be installed').toBe(true);
  await recordConfigAgent();
  const names = readdirSync(join(configDir, 'sessions')).filter((n) => n.endsWith('.arec'));
  expect(names).toHaveLength(1);
  configFile = join(configDir, 'sessions', names[0]!);
  records = catRecords(configDir, configFile);
}, 60_000);

afterAll(() => {
  terminal.closeAll();
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  setTraceProcessors([]);
  rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------

describe('agent-replay open in a real terminal (tmux)', () => {
  it('first screen: header (workflow, identity, totals), the tree of rows, the detail pane and the status bar', async () => {
    const pane = openInTmux(configFile);
    const screen = await waitForFirstScreen(pane);
    const lines = linesOf(screen);
    expect(lines).toHaveLength(30);
    expect(lines[0]).toMatch(
      /^ agent-replay +(?:VALID|verifying…) +config-agent +dana@example\.com \(human\) unverified +trace_[0-9a-f]+/,
    );
    expect(lines[1]).toMatch(
      /^ completed +3 model calls · 4 tool calls · 1 denial · 1 error · 45 tokens · (\d+) records$/,
    );
    expect(lines[1]).toContain(`${records.length} records`);

    const tree = treePane(screen).join('\n');
    for (const row of [
      'session started',
      'trace config-agent',
      'policy push_config deny: push to staging first',
      'agent Configurator',
      'turn 1',
      'tool push_config (environment=staging)',
      'tool lookup_runbook (topic=rollback)',
      'tool render_banner ()',
      'tool read_audit ()',
      'model scripted “Pushed to staging.”',
      'session completed',
    ]) {
      // Rows are cut to the tree's width with an ellipsis: compare up to it.
      const shown = row.slice(0, 24);
      expect(tree, row).toContain(shown);
    }
    // The first row is selected and detailed; the status bar is the last line.
    expect(detailPane(screen).join('\n')).toMatch(/Session start\n {2}workflow: config-agent/);
    expect(detailPane(screen).join('\n')).toContain('subject: dana@example.com');
    expect(statusBar(screen)).toMatch(/^ seq 1\/\d+ +\d\d:\d\d:\d\d\.\d{3} +\[tree\] +\? help +\/ search/);
    expect(seqOf(screen)).toEqual({ seq: 1, total: records.length });
    closePane(pane);
  });

  it('the header shows the verification verdict (VALID) once verification finishes, at 100 columns', async () => {
    const pane = openInTmux(configFile);
    await waitForFirstScreen(pane);
    const screen = await waitForScreen(
      pane,
      'the verdict VALID in the header',
      (s) => linesOf(s)[0]!.includes('VALID'),
      { timeoutMs: 5000 }, // verifying this small file takes a fraction of that (see the 140-column test)
    );
    expect(linesOf(screen)[0]).toMatch(/^ agent-replay +VALID +config-agent /);
    closePane(pane);
  });

  it('the denial is red and tagged DENIED; d jumps to it and the detail shows decision and reason; d/D walk errors', async () => {
    const pane = openInTmux(configFile);
    await waitForFirstScreen(pane);
    const denial = spanRow(POLICY_DECISION_SPAN);
    const failing = spanRow('read_audit');

    const coloured = capture(pane, { escapes: true });
    const rawDenialLine = linesOf(coloured).find((line) => line.includes('DENIED'));
    expect(rawDenialLine, coloured).toBeDefined();
    expect(rawDenialLine).toMatch(/\u001b\[(?:[\d;]*;)?31m(?:\u001b\[[\d;]*m)*[^\u001b]*policy push_config/);
    const cells = styledLines(coloured);
    expect(coloursOf(cells, 'policy push_config')).toEqual(new Set(['31']));
    expect(coloursOf(cells, 'DENIED')).toEqual(new Set(['31']));
    expect(coloursOf(cells, 'tool read_audit ()')).toEqual(new Set(['31']));
    expect(coloursOf(cells, 'ERROR')).toEqual(new Set(['31']));
    // Rows that went fine are not red.
    for (const row of ['tool push_config', 'tool lookup_runbook', 'agent Configurator', 'session completed'])
      expect(
        [...coloursOf(cells, row)!].some((fg) => RED.has(fg ?? '')),
        row,
      ).toBe(false);
    const plainDenial = linesOf(capture(pane)).find((line) => line.includes('DENIED'))!;
    expect(plainDenial).toMatch(/¶ policy push_config deny: push to st.* DENIED /);

    press(pane, 'd');
    let screen = await waitForSeq(pane, denial, 'd to select the denial');
    screen = await waitForScreen(pane, 'the decision in the detail pane', (s) =>
      detailPane(s).some((line) => line.includes('decision: deny')),
    );
    const detail = detailPane(screen).map((line) => line.trimEnd());
    expect(detail).toContain('Policy decision');
    expect(detail).toContain('  decision: deny');
    expect(detail).toContain('  subject: tool push_config');
    expect(detail).toContain('  rule: no-prod-writes');
    expect(detail).toContain('  reason: push to staging first');
    expect(detail.join('\n')).toMatch(/"environment": "production"/);

    // The next problem is the failing tool, its error text kept; D goes back to the denial.
    press(pane, 'd');
    screen = await waitForSeq(pane, failing, 'd to select the failing tool');
    screen = await waitForScreen(pane, "the failing tool's detail", (s) =>
      detailPane(s).some((line) => line.includes('tool: read_audit')),
    );
    const failure = detailPane(screen).map((line) => line.trimEnd());
    expect(failure).toContain('Error');
    // The error text the tool threw (wrapped to the pane's width).
    expect(failure.join('').replace(/\s+/g, '')).toContain('read_auditfailed:Error:auditstoreunreachable');
    expect(failure.join('').replace(/\s+/g, '')).toContain('"error":"Error:auditstoreunreachable"');
    press(pane, 'd');
    screen = await waitForScreen(pane, 'no later denial or error', (s) =>
      statusBar(s).includes('no later denial or error'),
    );
    expect(seqOf(screen)?.seq).toBe(failing);
    press(pane, 'D');
    await waitForSeq(pane, denial, 'D to go back to the denial');
    closePane(pane);
  });

  it('search: / and a word from one tool output jumps to that row with the hit count; n walks the hits and wraps', async () => {
    const pane = openInTmux(configFile);
    await waitForFirstScreen(pane);
    const runbookRow = spanRow('lookup_runbook');
    const hits = rowsMentioning(RUNBOOK_WORD);
    // The tool's output, and the next model call that read it back.
    expect(hits[0]).toBe(runbookRow);
    expect(hits.length).toBeGreaterThanOrEqual(2);

    press(pane, '/');
    await waitForScreen(pane, 'the search prompt', (s) => statusBar(s).startsWith(' /▏'));
    typeText(pane, RUNBOOK_WORD);
    await waitForScreen(pane, 'the query typed', (s) => statusBar(s).startsWith(` /${RUNBOOK_WORD}▏`));
    press(pane, 'Enter');
    let screen = await waitForScreen(
      pane,
      'the first hit',
      (s) => seqOf(s)?.seq === runbookRow && statusBar(s).includes(`"${RUNBOOK_WORD}" 1/${hits.length} hits`),
    );
    // The hit is marked in the tree and its output is in the detail pane.
    screen = await waitForScreen(pane, "the runbook's output in the detail pane", (s) =>
      detailPane(s).some((line) => line.includes('rollback: drain the')),
    );
    const runbookLine = treePane(screen).find((line) => line.includes('tool lookup_runbook'))!;
    expect(runbookLine.startsWith('*')).toBe(true);
    expect(detailPane(screen).join('\n')).toContain(`rollback: drain the ${RUNBOOK_WORD} pool first`);

    for (let i = 1; i < hits.length; i++) {
      press(pane, 'n');
      screen = await waitForScreen(
        pane,
        `hit ${i + 1}`,
        (s) =>
          seqOf(s)?.seq === hits[i] &&
          statusBar(s).includes(`"${RUNBOOK_WORD}" ${i + 1}/${hits.length} hits`),
      );
    }
    press(pane, 'n');
    await waitForScreen(
      pane,
      'n to wrap around to the first hit',
      (s) => seqOf(s)?.seq === hits[0] && statusBar(s).includes(`1/${hits.length} hits`),
    );
    press(pane, 'N');
    await waitForScreen(
      pane,
      'N to wrap back to the last hit',
      (s) => seqOf(s)?.seq === hits.at(-1) && statusBar(s).includes(`${hits.length}/${hits.length} hits`),
    );
    closePane(pane);
  });

  it('keys read together are handled in order: Tab then ↓ scrolls the detail pane, the tree cursor stays', async () => {
    const pane = openInTmux(configFile);
    await waitForFirstScreen(pane);
    const traceRow = records.find((r) => r.type === 'trace.start')!.seq as number; // the second row
    // Tab (focus the detail pane) and ↓ typed in quick succession: one write, so one read.
    tmux('send-keys', '-t', pane, 'Tab', 'Down');
    await waitForScreen(pane, 'the focus on the detail pane', (s) => statusBar(s).includes('[detail]'));
    press(pane, 'Tab');
    let screen = await waitForScreen(pane, 'the focus back on the tree', (s) =>
      statusBar(s).includes('[tree]'),
    );
    // j is queued behind whatever ↓ did: once it has moved the cursor, ↓ is accounted for.
    const before = seqOf(screen)!.seq;
    press(pane, 'j');
    screen = await waitForScreen(pane, 'j to move the cursor', (s) => (seqOf(s)?.seq ?? before) !== before);
    expect(
      seqOf(screen)!.seq,
      '↓ typed with the detail pane focused moved the tree cursor (so j went from the second row to the third)',
    ).toBe(traceRow);
    closePane(pane);
  });

  it('keys that arrive together (typeahead, a slow link) are each acted on: "jjj" in one read moves three rows', async () => {
    const pane = openInTmux(configFile);
    await waitForFirstScreen(pane);
    // Where three separate presses of j lead, each waited for.
    let expected = 1;
    for (let i = 0; i < 3; i++) {
      const from = expected;
      press(pane, 'j');
      const screen = await waitForScreen(pane, `j #${i + 1}`, (s) => (seqOf(s)?.seq ?? from) !== from);
      expected = seqOf(screen)!.seq;
    }
    press(pane, 'g');
    await waitForSeq(pane, 1);
    // The same three keys in one write (one send-keys command): a terminal delivers them in one read.
    tmux('send-keys', '-t', pane, 'j', 'j', 'j');
    await waitForScreen(
      pane,
      `"jjj" to move the cursor three rows down (to seq ${expected})`,
      (s) => seqOf(s)?.seq === expected,
      { timeoutMs: 3000 },
    );
    closePane(pane);
  });

  it('playback: g then p plays from the first record, the seq advances on its own, + speeds up, x leaves', async () => {
    const pane = openInTmux(configFile);
    await waitForFirstScreen(pane);
    // Somewhere down the tree first, then back to the top: each key once the screen has answered the last.
    press(pane, 'j');
    await waitForScreen(pane, 'the cursor to move down', (s) => (seqOf(s)?.seq ?? 1) > 1);
    press(pane, 'g');
    await waitForSeq(pane, 1);
    press(pane, 'p');
    let screen = await waitForScreen(pane, 'playing', (s) => statusBar(s).includes('▶ playing 1×'));
    const first = seqOf(screen)!;
    // What has not happened yet is not shown.
    if (first.seq < first.total) expect(screen).not.toContain('session completed');

    press(pane, '+');
    await waitForScreen(pane, 'speed 2×', (s) => /(▶ playing|❚❚ paused) 2×/.test(statusBar(s)));
    screen = await waitForScreen(
      pane,
      'the playback to move the cursor on',
      (s) => (seqOf(s)?.seq ?? first.seq) !== first.seq,
    );
    expect(statusBar(screen)).toMatch(/(▶ playing|❚❚ paused) 2×/);
    // The end: paused on the last record, everything shown.
    screen = await waitForScreen(
      pane,
      'the playback to reach the end',
      (s) => seqOf(s)?.seq === records.length && statusBar(s).includes('❚❚ paused 2×'),
    );
    expect(screen).toContain('session completed');

    press(pane, 'x');
    screen = await waitForScreen(
      pane,
      'playback left',
      (s) => !/playing|paused/.test(statusBar(s)) && seqOf(s) !== undefined,
    );
    expect(screen).toContain('session completed');
    closePane(pane);
  });

  it('a hostile tool output renders inert: no OSC, clear-screen, C1 or bidi reaches the terminal; escapes shown', async () => {
    const pane = openInTmux(configFile);
    await waitForFirstScreen(pane);
    const bannerRow = spanRow('render_banner');
    press(pane, '/');
    await waitForScreen(pane, 'the search prompt', (s) => statusBar(s).startsWith(' /▏'));
    typeText(pane, 'pwned');
    await waitForScreen(pane, 'the query typed', (s) => statusBar(s).startsWith(' /pwned▏'));
    press(pane, 'Enter');
    await waitForSeq(pane, bannerRow, 'the render_banner row');
    let screen = await waitForScreen(pane, 'the banner output in the detail pane', (s) =>
      detailPane(s).some((line) => line.includes('\\x1b]0;pwned\\x07')),
    );
    const coloured = capture(pane, { escapes: true });
    for (const text of [screen, coloured]) {
      expect(text).not.toContain('\u001b]');
      expect(text).not.toContain('\u001b[2J');
      expect(text).not.toMatch(/[\u0007\u009b\u202a-\u202e\u2066-\u2069]/);
    }
    expect(screen).not.toContain('\u001b');
    // Only SGR colour codes (tmux's own rendering of the TUI's styles) are in the coloured capture.
    expect(coloured.replace(/\u001b\[[\d;:]*m/g, '')).not.toContain('\u001b');
    // The header is still there (nothing cleared the screen) and "red alert" is not red.
    expect(linesOf(screen)[0]).toMatch(/^ agent-replay +(?:VALID|verifying…) +config-agent/);
    const redAlert = coloursOf(styledLines(coloured), 'red alert');
    expect(redAlert).toBeDefined();
    expect([...redAlert!].some((fg) => RED.has(fg ?? ''))).toBe(false);
    expect(tmux('display', '-p', '-t', pane, '#{pane_title}').trim()).not.toBe('pwned');

    // Zoomed, the detail shows the whole output on one line, every control character escaped.
    press(pane, 'z');
    screen = await waitForScreen(pane, 'the zoomed detail', (s) =>
      statusBar(s).includes('[detail (zoomed)]'),
    );
    expect(linesOf(screen).map((line) => line.trim())).toContain(BOMB_SHOWN);
    expect(screen).not.toMatch(/[\u0007\u001b\u009b\u202a-\u202e\u2066-\u2069]/);
    expect(tmux('display', '-p', '-t', pane, '#{pane_title}').trim()).not.toBe('pwned');
    closePane(pane);
  });

  it('80×24: header, rows and status bar fit (no line wider than 80); a resize to 140×40 is laid out anew', async () => {
    const pane = openInTmux(configFile, { columns: 80, rows: 24 });
    await waitForFirstScreen(pane);
    let screen = capture(pane, { joined: true }); // wrapped lines joined: a line wider than the pane shows
    let lines = linesOf(screen);
    expect(lines).toHaveLength(24);
    for (const line of lines) expect(stringWidth(line), line).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^ agent-replay +(?:VALID|verifying…) +config-agent /);
    expect(lines[1]).toMatch(/^ completed +3 model calls/);
    expect(statusBar(screen)).toMatch(/^ seq 1\/\d+ /);
    const narrowTree = treePane(screen).join('\n');
    expect(narrowTree).toContain('tool read_audit ()');
    expect(narrowTree).toMatch(/policy push_config deny.* DENIED/);
    expect(narrowTree).toContain('session completed');
    const narrowSeparator = separatorColumn(screen);
    expect(narrowSeparator).toBeGreaterThan(20);

    tmux('resize-window', '-t', pane, '-x', '140', '-y', '40');
    screen = await waitForScreen(
      pane,
      'the layout at 140×40',
      (s) => linesOf(s).length === 40 && seqOf(s)?.seq === 1 && separatorColumn(s) > narrowSeparator,
    );
    screen = capture(pane, { joined: true });
    lines = linesOf(screen);
    expect(lines).toHaveLength(40);
    expect(lines[0]).toMatch(/^ agent-replay +(?:VALID|verifying…) +config-agent /);
    expect(statusBar(screen)).toMatch(/^ seq 1\/\d+ .* q quit$/);
    for (const line of lines) expect(stringWidth(line), line).toBeLessThanOrEqual(140);
    expect(Math.max(...lines.map((line) => stringWidth(line.trimEnd())))).toBeGreaterThan(100);
    // What was cut at 80 columns is whole now.
    await waitForScreen(pane, 'the verdict in the wide header', (s) =>
      /^ agent-replay +VALID /.test(linesOf(s)[0] ?? ''),
    );
    expect(treePane(screen).join('\n')).toMatch(/policy push_config deny: push to staging first +DENIED/);
    // Nothing of the 24-line layout is left over: one header, one status bar.
    expect(lines.filter((line) => line.startsWith(' agent-replay '))).toHaveLength(1);
    expect(lines.filter((line) => /^ seq \d+\//.test(line))).toHaveLength(1);
    closePane(pane);
  });

  describe('--follow, on a session another process is still recording', () => {
    let child: ChildProcess;
    let said: (text: string) => Promise<void>;
    let liveFile = '';
    let pane: string | undefined;

    beforeAll(async () => {
      child = spawn(process.execPath, ['--input-type=module', '-e', FOLLOW_CHILD], {
        cwd: cliPackageDir,
        env: { ...process.env, NODE_ENV: 'production', FOLLOW_DIR: liveDir }, // NODE_ENV=test turns tracing off
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      let err = '';
      child.stdout!.on('data', (chunk) => {
        out += chunk;
      });
      child.stderr!.on('data', (chunk) => {
        err += chunk;
      });
      said = (text: string) =>
        new Promise<void>((resolve, reject) => {
          const check = () => {
            if (out.includes(text)) resolve();
          };
          child.stdout!.on('data', check);
          check();
          child.once('exit', (code) => reject(new Error(`the recording child exited (${code}): ${err}`)));
        });
      await said('waiting\n');
      const [name] = readdirSync(join(liveDir, 'sessions')).filter((n) => n.endsWith('.arec'));
      expect(name).toBeDefined();
      liveFile = join(liveDir, 'sessions', name!);
    });

    afterAll(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (pane) closePane(pane);
    });

    it('shows the live session, then a record the writer appends, within 5 s', async () => {
      pane = openInTmux(liveFile, { dir: liveDir, follow: true });
      let screen = await waitForScreen(
        pane,
        'the live session',
        (s) => s.includes('tool wait_for_signal') && statusBar(s).includes('following'),
      );
      expect(linesOf(screen)[0]).toMatch(
        /^ agent-replay +(?:UNSEALED|verifying…) +night-shift +svc-nightwatch \(service\)/,
      );
      expect(linesOf(screen)[1]).toMatch(/^ recording /);
      expect(treePane(screen).find((line) => line.includes('tool wait_for_signal'))).toMatch(/running\s*$/);
      expect(screen).not.toContain('late_arrival');
      const before = seqOf(screen)!.total;

      child.stdin!.write('go\n');
      await said('arrived\n'); // late_arrival has started and the recorder has flushed it to disk
      screen = await waitForScreen(
        pane,
        'the appended late_arrival row',
        (s) => treePane(s).some((line) => line.includes('tool late_arrival')),
        { timeoutMs: 5000 },
      );
      expect(seqOf(screen)!.total).toBeGreaterThan(before);
      expect(seqOf(screen)!.total).toBe(catRecords(liveDir, liveFile).length);
      expect(treePane(screen).find((line) => line.includes('tool late_arrival'))).toMatch(/running\s*$/);
      // wait_for_signal has ended meanwhile; the session is still being recorded.
      expect(treePane(screen).find((line) => line.includes('tool wait_for_signal'))).not.toMatch(
        /running\s*$/,
      );
      expect(linesOf(screen)[1]).toMatch(/^ recording /);
      expect(statusBar(screen)).toContain('following');
    });

    it('a turn still running is labelled with its number, as recorded in its span.start', async () => {
      expect(pane, 'needs the pane of the previous test').toBeDefined();
      const live = catRecords(liveDir, liveFile);
      const ended = new Set(live.filter((r) => r.type === 'span.end').map((r) => r.span.id));
      const running = live.filter(
        (r) => r.type === 'span.start' && r.span.kind === 'turn' && !ended.has(r.span.id),
      );
      expect(running).toHaveLength(1);
      const turn = running[0]!.span.data.turn as number;
      expect(turn).toBe(2);
      const screen = await waitForScreen(pane!, 'the appended rows', (s) => s.includes('tool late_arrival'));
      const turns = treePane(screen).filter((line) => /↻ turn /.test(line));
      expect(turns.map((line) => line.trim().replace(/\s{2,}.*$/, ''))).toEqual([
        '▾ ↻ turn 1',
        `▾ ↻ turn ${turn}`,
      ]);
      expect(turns[1]).toMatch(/running\s*$/);
    });
  });

  it('not a terminal: with stdout piped, open exits non-zero with one line pointing to show and cat', () => {
    const result = spawnSync(process.execPath, [bin, '--dir', configDir, 'open', configFile], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: undefined, TERM: 'xterm-256color' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    expect(result.status).not.toBe(0);
    expect(result.status).not.toBeNull();
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/\bshow\b/);
    expect(lines[0]).toMatch(/\bcat\b/);
    expect(result.stderr).not.toContain('\u001b');
  });

  it('q quits and gives the terminal back: normal screen, cursor shown, the shell reads lines again', async () => {
    const pane = openInTmux(configFile);
    await waitForFirstScreen(pane);
    expect(tmux('display', '-p', '-t', pane, '#{alternate_on}').trim()).toBe('1');
    press(pane, 'q');
    const screen = await waitForScreen(pane, 'the CLI to exit', (s) => s.includes(`${EXITED} 0`), {
      exitExpected: true,
    });
    // The TUI's screen is gone with the alternate screen.
    expect(screen).not.toContain('session completed');
    expect(screen).not.toMatch(/^ seq \d+\//m);
    expect(tmux('display', '-p', '-t', pane, '#{alternate_on}').trim()).toBe('0');
    expect(tmux('display', '-p', '-t', pane, '#{cursor_flag}').trim()).toBe('1');
    expect(tmux('display', '-p', '-t', pane, '#{pane_current_command}').trim()).not.toBe('node');
    // Echo and line editing are back: the shell sees the typed line and runs it on Enter.
    typeText(pane, 'echo restored-$((6*7))');
    press(pane, 'Enter');
    await waitForScreen(pane, 'the shell to run a command', (s) => /^restored-42$/m.test(s), {
      exitExpected: true,
    });
    closePane(pane);
  });
});

/**
 * The followed session's writer: the real recorder in a child process running an agent. Its first tool flushes,
 * says "waiting" and waits for a line on stdin; then the model calls `late_arrival`, which flushes, says "arrived"
 * and never returns, so the session stays open (recording) until the test kills the process.
 */
const FOLLOW_CHILD = `
import { createInterface } from 'node:readline';
import { SessionRecorder } from '@agent-replay/recorder';
import { fc, SpanEmittingScriptedModel, say, TmuxTerminal } from '@agent-replay/testkit';
import { Agent, Runner, setTraceProcessors, tool } from '@openai/agents';
import { z } from 'zod';

const dir = process.env.FOLLOW_DIR;
const recorder = new SessionRecorder({
  dir,
  redactionKeyFile: dir + '/redaction.key',
  identity: { subject: 'svc-nightwatch', kind: 'service', verified: false, method: 'static' },
});
setTraceProcessors([recorder]);
setTimeout(() => process.exit(2), 60_000).unref();

const signal = new Promise((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
const waitForSignal = tool({
  name: 'wait_for_signal',
  description: 'wait for the go signal',
  parameters: z.object({}),
  execute: async () => {
    await recorder.forceFlush();
    process.stdout.write('waiting\\n');
    await signal;
    return 'signal received';
  },
});
const lateArrival = tool({
  name: 'late_arrival',
  description: 'arrives late',
  parameters: z.object({ gate: z.string() }),
  execute: async () => {
    await recorder.forceFlush();
    process.stdout.write('arrived\\n');
    await new Promise(() => setInterval(() => {}, 1000));
    return 'never';
  },
});
const model = new SpanEmittingScriptedModel([
  () => [fc('w1', 'wait_for_signal', {})],
  () => [fc('l1', 'late_arrival', { gate: 'B7' })],
  () => [say('done')],
]);
await new Runner({ workflowName: 'night-shift' }).run(
  new Agent({ name: 'Nightwatch', model, tools: [waitForSignal, lateArrival] }),
  'wait for the signal, then meet the late arrival',
);
`;
