/**
 * The catalog commands (ls, show, cat, search, verify, stats, index) of the built CLI, on sessions recorded by the
 * real recorder from real Agents SDK runs with scripted models. Every figure the CLI prints as JSON is checked
 * against the records themselves (read back with `cat --json`), not against the catalog's own idea of them.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SearchHit, SessionSummary } from '@agent-replay/catalog';
import {
  approveToolCall,
  type Identity,
  POLICY_DECISION_SPAN,
  recordInterruptions,
  rejectToolCall,
  SessionRecorder,
} from '@agent-replay/recorder';
import { fc, SpanEmittingScriptedModel, say } from '@agent-replay/testkit';
import {
  Agent,
  InputGuardrailTripwireTriggered,
  Runner,
  setTraceProcessors,
  setTracingDisabled,
  tool,
  withCustomSpan,
  withTrace,
} from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const bin = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const pausedAgent = fileURLToPath(new URL('./fixtures/paused-agent.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'arec-catalog-cli-'));
const redactionKeyFile = join(work, 'redaction.key');
/** Five sessions: different workflows, identities, models, tools, a failing tool, denials, an approval flow. */
const mainDir = join(work, 'main');
/** One session of more than 10,000 records. */
const bigDir = join(work, 'big');
/** Thirty small sessions. */
const crowdDir = join(work, 'crowd');

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  setTraceProcessors([]);
  rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// Running the CLI

type Env = Record<string, string | undefined>;
type Rec = Record<string, any>;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cliEnv(overrides: Env = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  delete env.AGENT_REPLAY_DIR;
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** The built binary, as a user runs it: `agent-replay --dir <dir> <args…>`, stdout a pipe (no TTY). */
function cli(dir: string, args: string[], env?: Env): CliResult {
  const result = spawnSync(process.execPath, [bin, '--dir', dir, ...args], {
    cwd: work,
    encoding: 'utf8',
    env: cliEnv(env),
    maxBuffer: 1 << 28,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A command with --json that must succeed; its stdout parsed. */
function cliJson<T>(dir: string, args: string[]): T {
  const result = cli(dir, [...args, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as T;
}

const ls = (dir: string, ...filters: string[]) => cliJson<SessionSummary[]>(dir, ['ls', ...filters]);
const search = (dir: string, ...args: string[]) => cliJson<SearchHit[]>(dir, ['search', ...args]);

/** Records of a session as `cat --json` prints them (one JSON object per line). */
function catRecords(dir: string, ref: string, ...args: string[]): Rec[] {
  const result = cli(dir, ['cat', ref, '--json', ...args]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Rec);
}

/** The record at one seq, fetched the way a search hit tells the user to: `cat --json --from seq --to seq`. */
function recordAt(dir: string, ref: string, seq: number): { record: Rec; line: string } {
  const result = cli(dir, ['cat', ref, '--json', '--from', String(seq), '--to', String(seq)]);
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stdout.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  return { record: JSON.parse(lines[0]!) as Rec, line: lines[0]! };
}

/** A user error: one line on stderr, no stack trace, the given exit code. */
function expectOneLineError(result: CliResult, code: number, message: RegExp): void {
  expect(result.code, result.stdout + result.stderr).toBe(code);
  expect(result.stderr).toMatch(message);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).not.toContain('\n    at ');
  expect(result.stderr).not.toMatch(/internal error/);
}

const byWorkflow = (sessions: SessionSummary[], workflow: string): SessionSummary => {
  const found = sessions.filter((s) => s.workflow === workflow);
  expect(found, workflow).toHaveLength(1);
  return found[0]!;
};
const workflowsOf = (sessions: SessionSummary[]) => sessions.map((s) => s.workflow).sort();

// ---------------------------------------------------------------------------------------------------------------
// Recording real sessions

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const person = (subject: string, kind: Identity['kind'] = 'human'): Identity => ({
  subject,
  kind,
  verified: false,
  method: 'static',
});

/** The real recorder as the only trace processor; identities by workflow (trace name). */
function startRecorder(dir: string, identities: Record<string, Identity> = {}): SessionRecorder {
  const recorder = new SessionRecorder({
    dir,
    redactionKeyFile,
    closeDelayMs: 20,
    identity: (trace) => identities[trace.name],
  });
  setTracingDisabled(false); // vitest sets NODE_ENV=test, which turns SDK tracing off
  setTraceProcessors([recorder]);
  return recorder;
}

/** ANSI/OSC escapes, C1 CSI and bidi overrides, as a hostile tool could return them. */
const BOMB =
  '\u001b]0;pwned\u0007\u001b[2J\u001b[31mred alert\u009b31m \u202eevil\u202c \u2066isolated\u2069';
const BOMB_WORKFLOW = 'banner\u001b[31m\u009b1m\u202e';

const BOB = person('bob@example.com');
const MAIN_IDENTITIES: Record<string, Identity> = {
  'weather-desk': person('alice@example.com'),
  'deploy-bot': person('svc-deployer', 'service'),
  janitor: person('svc-cleanup', 'service'),
  'guarded-chat': person('carol@example.com'),
  [BOMB_WORKFLOW]: person(`mallory\u001b[2J\u009b2J`),
};
/** Long instructions: repeated in every model call's input, so the file stores them once as a blob. */
const WEATHER_INSTRUCTIONS = 'You are a terse weather assistant for travellers. '.repeat(40);

async function recordWeatherDesk(): Promise<void> {
  const weather = tool({
    name: 'get_weather',
    description: 'weather for a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => `sunny in ${city}, 21°C`,
  });
  const model = new SpanEmittingScriptedModel(
    [
      () => [fc('w1', 'get_weather', { city: 'Quillmere' }), fc('w2', 'get_weather', { city: 'Oslo' })],
      () => [say('Sunny in Quillmere and Oslo.')],
    ],
    { model: 'scripted-4', usage: (_req, call) => ({ inputTokens: 100 * call, outputTokens: 7 }) },
  );
  const agent = new Agent({ name: 'Weather', instructions: WEATHER_INSTRUCTIONS, model, tools: [weather] });
  const result = await new Runner({ workflowName: 'weather-desk' }).run(
    agent,
    'Weather in Quillmere and Oslo?',
  );
  expect(result.finalOutput).toBe('Sunny in Quillmere and Oslo.');
}

/** A policy engine denies a tool (custom policy-decision span), then a tool throws. */
async function recordDeployBot(): Promise<void> {
  const fetchLogs = tool({
    name: 'fetch_logs',
    description: 'recent logs of a service',
    parameters: z.object({ service: z.string() }),
    execute: async () => {
      throw new Error('log store unreachable: basaltwren timeout');
    },
    // The SDK's default error function keeps the error text out of the trace; this one passes it on.
    errorFunction: (_context, error) => `fetch_logs failed: ${String(error)}`,
  });
  const model = new SpanEmittingScriptedModel(
    [() => [fc('l1', 'fetch_logs', { service: 'billing' })], () => [say('Logs unavailable; not deploying.')]],
    { model: 'scripted-mini' },
  );
  await withTrace('deploy-bot', async () => {
    await withCustomSpan(async () => {}, {
      data: {
        name: POLICY_DECISION_SPAN,
        data: {
          decision: 'deny',
          subject: { kind: 'tool', name: 'push_config', args: { environment: 'production' } },
          rule: 'no-prod-writes',
          reason: 'push to staging first (change freeze tamarisk)',
          decided_by: { kind: 'engine', id: 'policy-engine' },
        },
      },
    });
    await new Runner().run(new Agent({ name: 'Deployer', model, tools: [fetchLogs] }), 'ship the config');
  });
}

const deletePath = tool({
  name: 'delete_path',
  description: 'delete a path',
  parameters: z.object({ path: z.string() }),
  needsApproval: true,
  execute: async ({ path }) => `deleted ${path}`,
});

/** The first half of an approval flow: the run stops with two tool calls waiting for a human. */
async function interruptJanitor(recorder: SessionRecorder) {
  const model = new SpanEmittingScriptedModel((req) =>
    JSON.stringify(req.input).includes('function_call_result')
      ? [say('cleanup finished')]
      : [
          fc('call_a', 'delete_path', { path: '/srv/tmp' }),
          fc('call_b', 'delete_path', { path: '/srv/prod-db' }),
        ],
  );
  const agent = new Agent({ name: 'Janitor', instructions: 'clean up', model, tools: [deletePath] });
  const runner = new Runner({ workflowName: 'janitor' });
  const result = await runner.run(agent, 'free some disk space');
  expect(recordInterruptions(recorder, result)).toBe(2);
  return { agent, runner, state: result.state };
}

/** The second half: bob approves one call, rejects the other, and the run finishes in the same session file. */
async function resumeJanitor(
  recorder: SessionRecorder,
  { agent, runner, state }: Awaited<ReturnType<typeof interruptJanitor>>,
  reason: string,
): Promise<void> {
  const [tmp, prod] = state.getInterruptions();
  approveToolCall(recorder, state, tmp!, { approver: BOB, reason });
  rejectToolCall(recorder, state, prod!, { approver: BOB, message: 'never delete the production database' });
  const result = await runner.run(agent, state);
  expect(result.finalOutput).toBe('cleanup finished');
}

async function recordGuardedChat(): Promise<void> {
  const agent = new Agent({
    name: 'Guarded',
    model: new SpanEmittingScriptedModel([() => [say('never')]]),
    inputGuardrails: [
      { name: 'no_exfiltration', execute: async () => ({ tripwireTriggered: true, outputInfo: {} }) },
    ],
  });
  await expect(
    new Runner({ workflowName: 'guarded-chat' }).run(agent, 'upload the customer table'),
  ).rejects.toBeInstanceOf(InputGuardrailTripwireTriggered);
}

/** A tool output, a tool error and the final answer full of terminal escapes. */
async function recordBomb(): Promise<void> {
  const banner = tool({
    name: 'render_banner',
    description: 'render a banner',
    parameters: z.object({ text: z.string() }),
    execute: async () => BOMB,
  });
  const explode = tool({
    name: 'explode',
    description: 'fails',
    parameters: z.object({}),
    execute: async () => {
      throw new Error(`boom ${BOMB}`);
    },
    errorFunction: (_context, error) => `explode failed: ${String(error)}`,
  });
  const model = new SpanEmittingScriptedModel([
    () => [fc('b1', 'render_banner', { text: 'hello' }), fc('b2', 'explode', {})],
    () => [say(`done ${BOMB}`)],
  ]);
  await new Runner({ workflowName: BOMB_WORKFLOW }).run(
    new Agent({ name: 'Banner', model, tools: [banner, explode] }),
    'make a banner',
  );
}

/** A small completed session whose tool output carries `word`. */
async function recordInventory(workflow: string, shelf: string, word: string): Promise<void> {
  const count = tool({
    name: 'count_items',
    description: 'count the items on a shelf',
    parameters: z.object({ shelf: z.string() }),
    execute: async ({ shelf }) => `counted 12 ${word} on ${shelf}`,
  });
  const model = new SpanEmittingScriptedModel([
    () => [fc('c1', 'count_items', { shelf })],
    () => [say('12 items')],
  ]);
  await new Runner({ workflowName: workflow }).run(
    new Agent({ name: 'Inventory', model, tools: [count] }),
    `count shelf ${shelf}`,
  );
}

/**
 * One trace of 421 runs: 420 runs of 10 parallel probes each (more than 10,000 records), then one run whose only
 * tool call carries an argument that occurs nowhere before it. (Thousands of parallel calls in one model response
 * make the SDK itself quadratic, so the depth comes from many runs in one session.)
 */
const DEEP_TERM = 'xylophonequasar';
async function recordDeepSession(): Promise<void> {
  const runs = 420;
  let batch = 0;
  const model = new SpanEmittingScriptedModel((req) => {
    if (JSON.stringify(req.input).includes('function_call_result')) return [say('batch done')];
    const b = batch++;
    if (b === runs) return [fc('deep', 'probe', { target: DEEP_TERM })];
    return Array.from({ length: 10 }, (_, i) => fc(`c${b}_${i}`, 'probe', { target: `host-${b}-${i}` }));
  });
  const probe = tool({
    name: 'probe',
    description: 'probe a host',
    parameters: z.object({ target: z.string() }),
    execute: async ({ target }) => `reachable ${target}`,
  });
  const agent = new Agent({ name: 'Prober', model, tools: [probe] });
  const runner = new Runner();
  await withTrace('mass-probe', async () => {
    for (let i = 0; i <= runs; i++) await runner.run(agent, `batch ${i}`);
  });
}

beforeAll(async () => {
  // Two sessions, a gap, then three more: --since/--until have a boundary to find.
  let recorder = startRecorder(mainDir, MAIN_IDENTITIES);
  await recordWeatherDesk();
  await recordDeployBot();
  await recorder.shutdown();
  await sleep(30);
  recorder = startRecorder(mainDir, MAIN_IDENTITIES);
  await resumeJanitor(recorder, await interruptJanitor(recorder), 'scratch space');
  await recordGuardedChat();
  await recordBomb();
  await recorder.shutdown();

  recorder = startRecorder(crowdDir);
  for (let i = 0; i < 30; i++) await recordInventory(`inventory-${i % 3}`, `shelf-${i}`, 'widgetfalcon');
  await recorder.shutdown();

  recorder = startRecorder(bigDir);
  await recordDeepSession();
  await recorder.shutdown();
  setTraceProcessors([]);
}, 90_000);

interface IndexReport {
  catalog: string;
  files: number;
  indexed: number;
  records: number;
  documents: number;
  unchanged: number;
  concurrent: number;
  removed: number;
  failures: { path: string; message: string }[];
}

/** The last `session.end` of a session, read from the file (cumulative over resumed runs). */
const lastEnd = (dir: string, ref: string): Rec => catRecords(dir, ref, '--type', 'session.end').at(-1)!;

describe('ls, show, cat, search, verify, stats and index on recorded sessions', () => {
  it('ls lists every session newest first; --json counts, usage and status are those of its last session.end', () => {
    const sessions = ls(mainDir);
    expect(workflowsOf(sessions)).toEqual(
      ['weather-desk', 'deploy-bot', 'janitor', 'guarded-chat', BOMB_WORKFLOW].sort(),
    );
    const starts = sessions.map((s) => s.started_at!);
    expect(starts).toEqual([...starts].sort().reverse());
    for (const s of sessions) {
      const all = catRecords(mainDir, s.path);
      const end = all.filter((r) => r.type === 'session.end').at(-1)!;
      expect(end.seq, s.workflow!).toBe(all.length); // sealed: session.end is the last record
      expect(s.records).toBe(all.length);
      expect(s.counts).toEqual(end.counts);
      expect(s.usage).toEqual(end.usage);
      expect(s.status).toBe(end.status);
      expect(s.verdict).toBe('VALID');
      expect(s.session_id).toBe(all[0]!.session_id);
      // When things happened: the SDK's span times where a record has them (the record's ts is when the background
      // writer appended it, which can lag), else the record's ts.
      const times = all
        .map((r) => {
          const spanTime =
            r.type === 'span.start' ? r.span.started_at : r.type === 'span.end' ? r.span.ended_at : null;
          return spanTime ? `${new Date(spanTime).toISOString().slice(0, 23)}000Z` : r.ts;
        })
        .sort();
      expect(s.started_at).toBe(times[0]);
      expect(s.ended_at).toBe(times.at(-1));
      expect(s.started_at! <= all[0]!.ts).toBe(true);
      expect(s.identity?.subject).toBe(MAIN_IDENTITIES[s.workflow!]!.subject);
    }
    const weather = byWorkflow(sessions, 'weather-desk');
    expect(weather.counts).toMatchObject({ model_calls: 2, tool_calls: 2, errors: 0, denials: 0 });
    expect(weather.usage).toMatchObject({ input_tokens: 300, output_tokens: 14, total_tokens: 314 });
    expect(byWorkflow(sessions, 'guarded-chat').status).toBe('error');
    expect(byWorkflow(sessions, 'janitor').approvers).toEqual(['bob@example.com']);

    // The table: a header, then one row per session in the same order, with its figures.
    const text = cli(mainDir, ['ls']);
    expect(text.code).toBe(0);
    const [header, ...rows] = text.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^STARTED\s+SESSION\s+WORKFLOW\s+IDENTITY\s+STATUS\s+MODEL\s+TOOLS\s+TOKENS/);
    expect(rows).toHaveLength(5);
    expect(rows.map((row) => row.split(/\s+/)[2])).toEqual(sessions.map((s) => s.session_id!.slice(0, 14)));
    const weatherRow = rows.find((row) => row.includes('weather-desk'))!;
    expect(weatherRow).toMatch(/alice@example\.com\s+completed\s+2\s+2\s+314\s+0\s+0\s+VALID/);
    const guarded = byWorkflow(sessions, 'guarded-chat').counts;
    expect(rows.find((row) => row.includes('guarded-chat'))).toMatch(
      new RegExp(`carol@example\\.com\\s+error\\s.*\\s${guarded.denials}\\s+${guarded.errors}\\s+VALID$`),
    );
  });

  it('ls filters by time, identity, workflow, tool, model, status and denials', () => {
    const all = ls(mainDir);
    const first = ['weather-desk', 'deploy-bot'];
    const second = ['janitor', 'guarded-chat', BOMB_WORKFLOW];
    // The boundary between the two recording batches, from the records themselves.
    const lastOfFirst = all
      .filter((s) => first.includes(s.workflow!))
      .map((s) => s.ended_at!)
      .sort()
      .at(-1)!;
    const firstOfSecond = all
      .filter((s) => second.includes(s.workflow!))
      .map((s) => s.started_at!)
      .sort()[0]!;
    expect(lastOfFirst < firstOfSecond).toBe(true);
    // Some also run without --json: the table must show exactly the same sessions.
    const cases: [string[], string[], 'text'?][] = [
      [['--since', firstOfSecond], second, 'text'],
      [['--until', lastOfFirst], first],
      [
        ['--since', '1h'],
        [...first, ...second],
      ],
      [
        ['--since', '2000-01-01'],
        [...first, ...second],
      ],
      [['--until', '1h'], [], 'text'],
      [['--identity', 'alice@example.com'], ['weather-desk']],
      [['--identity', 'bob@example.com'], ['janitor'], 'text'], // the approver
      [
        ['--identity', '*@example.com'],
        ['weather-desk', 'janitor', 'guarded-chat'],
      ],
      [
        ['--identity', 'svc-*'],
        ['deploy-bot', 'janitor'],
      ],
      [['--workflow', 'weather-*'], ['weather-desk']],
      [['--workflow', 'janitor'], ['janitor']],
      [['--tool', 'get_weather'], ['weather-desk']],
      [['--tool', 'delete_*'], ['janitor']],
      [['--tool', 'push_config'], ['deploy-bot'], 'text'], // denied, never called
      [['--model', 'scripted-mini'], ['deploy-bot']],
      [
        ['--model', 'scripted-*'],
        ['weather-desk', 'deploy-bot'],
      ],
      [
        ['--model', 'scripted'],
        ['janitor', BOMB_WORKFLOW],
      ],
      [['--status', 'error'], ['guarded-chat'], 'text'],
      [
        ['--status', 'completed'],
        ['weather-desk', 'deploy-bot', 'janitor', BOMB_WORKFLOW],
      ],
      [['--status', 'interrupted,recording'], []],
      [['--denied'], ['deploy-bot', 'janitor', 'guarded-chat'], 'text'],
      [
        ['--denied', '--since', firstOfSecond],
        ['janitor', 'guarded-chat'],
      ],
    ];
    for (const [filter, expected, text] of cases) {
      const sessions = ls(mainDir, ...filter);
      expect(workflowsOf(sessions), filter.join(' ')).toEqual([...expected].sort());
      if (!text) continue;
      const table = cli(mainDir, ['ls', ...filter]);
      expect(table.code).toBe(0);
      const rows = table.stdout ? table.stdout.trimEnd().split('\n').slice(1) : [];
      expect(
        rows.map((row) => row.split(/\s+/)[2]),
        filter.join(' '),
      ).toEqual(sessions.map((s) => s.session_id!.slice(0, 14)));
    }
    expect(cli(mainDir, ['ls', '--until', '1h']).stderr).toMatch(/no sessions match/);
  });

  it('show summarizes a session (text and --json) and its events point at the records that caused them', () => {
    const deploy = byWorkflow(ls(mainDir), 'deploy-bot');
    const shown = cliJson<SessionSummary & { events: Rec[]; more_events: number }>(mainDir, [
      'show',
      deploy.session_id!,
    ]);
    const { events, more_events, ...summary } = shown;
    expect(summary).toEqual(deploy);
    expect(more_events).toBe(0);
    expect(events.map((e) => e.kind)).toEqual(['policy', 'error']);
    expect(events[0]!.text).toBe(
      'DENY tool push_config rule no-prod-writes — push to staging first (change freeze tamarisk) (by engine policy-engine)',
    );
    expect(events[1]!.text).toMatch(/^function fetch_logs: /);
    const denial = recordAt(mainDir, deploy.path, events[0]!.seq).record;
    expect(denial).toMatchObject({ type: 'policy.decision', decision: 'deny', rule: 'no-prod-writes' });
    const failure = recordAt(mainDir, deploy.path, events[1]!.seq).record;
    expect(failure).toMatchObject({
      type: 'span.end',
      span: { kind: 'function', data: { name: 'fetch_logs' } },
    });
    expect(failure.span.error).not.toBeNull();

    const text = cli(mainDir, ['show', deploy.session_id!]);
    expect(text.code).toBe(0);
    const out = text.stdout;
    expect(out).toMatch(new RegExp(`^Session\\s+${deploy.session_id}$`, 'm'));
    expect(out).toMatch(/^Workflow\s+deploy-bot$/m);
    expect(out).toMatch(/^Identity\s+svc-deployer \(service, static, unverified\)$/m);
    expect(out).toMatch(/^Status\s+completed$/m);
    expect(out).toMatch(new RegExp(`^Verdict\\s+VALID: records 1\\.\\.${deploy.records} `, 'm'));
    expect(out).toMatch(
      new RegExp(
        `^Counts\\s+${deploy.records} records · 2 model calls · 1 tool call · .*1 denied · 1 error$`,
        'm',
      ),
    );
    expect(out).toMatch(/^Models\s+scripted-mini \(2 calls, 30 tokens\)$/m);
    expect(out).toMatch(/^Tools\s+.*push_config ×0 \(1 denied\)/m);
    expect(out).toMatch(/^Tools\s+.*fetch_logs ×1 \(1 failed\)/m);
    expect(out).toMatch(
      new RegExp(`^  seq ${events[0]!.seq}\\s.*DENY tool push_config rule no-prod-writes`, 'm'),
    );

    const janitor = cli(mainDir, ['show', byWorkflow(ls(mainDir), 'janitor').path]);
    expect(janitor.stdout).toMatch(/^Approvers\s+bob@example\.com$/m);
    expect(janitor.stdout).toMatch(/, 2 runs$/m);
    expect(janitor.stdout).toMatch(
      /REJECTED tool delete_path rule needs_approval — never delete the production database/,
    );
  });

  it('cat prints the records: all, by type, by seq range, resolved, and as text lines', () => {
    const weather = byWorkflow(ls(mainDir), 'weather-desk');
    const raw = cli(mainDir, ['cat', weather.session_id!, '--json']);
    expect(raw.code).toBe(0);
    const all = raw.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Rec);
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: weather.records }, (_, i) => i + 1));
    expect(all[0]!.type).toBe('session.start');
    expect(all.at(-1)!.type).toBe('session.end');

    const types = (records: Rec[]) => records.map((r) => `${r.seq}:${r.type}`);
    expect(types(catRecords(mainDir, weather.path, '--type', 'span.end,trace.start'))).toEqual(
      types(all.filter((r) => r.type === 'span.end' || r.type === 'trace.start')),
    );
    expect(types(catRecords(mainDir, weather.path, '--type', 'span.start', '--type', 'session.end'))).toEqual(
      types(all.filter((r) => r.type === 'span.start' || r.type === 'session.end')),
    );
    expect(catRecords(mainDir, weather.path, '--from', '3', '--to', '5')).toEqual(all.slice(2, 5));

    // The long instructions, repeated in the second model call's input, are stored once and referenced.
    expect(raw.stdout).toContain('"$blob"');
    const resolved = cli(mainDir, ['cat', weather.path, '--json', '--resolve']);
    expect(resolved.code).toBe(0);
    expect(resolved.stdout).not.toContain('"$blob"');
    const generations = resolved.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Rec)
      .filter((r) => r.type === 'span.end' && r.span.kind === 'generation');
    expect(generations).toHaveLength(2);
    for (const g of generations) expect(g.span.data.input[0].content).toBe(WEATHER_INSTRUCTIONS);

    const text = cli(mainDir, ['cat', weather.path, '--type', 'span.end']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    const spanEnds = all.filter((r) => r.type === 'span.end');
    expect(lines).toHaveLength(spanEnds.length);
    lines.forEach((line, i) => {
      expect(line).toMatch(/^\s*\d+\s+\d{4}-\d\d-\d\dT\S+Z\s+span\.end\s+\{"span":/);
      expect(Number(line.trim().split(/\s+/)[0])).toBe(spanEnds[i]!.seq);
    });
    expect(lines.some((line) => line.includes('"input":"{\\"city\\":\\"Quillmere\\"}"'))).toBe(true);
  });

  it('search finds tool arguments, policy reasons and tool errors; each hit names a record that contains the term', () => {
    const sessions = ls(mainDir);
    const weather = byWorkflow(sessions, 'weather-desk');
    const deploy = byWorkflow(sessions, 'deploy-bot');
    const expectations: [string, SessionSummary, string][] = [
      ['Quillmere', weather, 'tool'],
      ['tamarisk', deploy, 'policy'],
      ['basaltwren', deploy, 'tool'],
    ];
    for (const [term, session, kind] of expectations) {
      const hits = search(mainDir, term);
      expect(hits.length, term).toBeGreaterThan(0);
      expect(hits.map((h) => h.kind)).toContain(kind);
      for (const hit of hits) {
        expect(hit.session_id).toBe(session.session_id);
        expect(hit.path).toBe(session.path);
        const { record, line } = recordAt(mainDir, hit.path, hit.seq);
        expect(record.seq).toBe(hit.seq);
        expect(line.toLowerCase()).toContain(term.toLowerCase());
        // The highlighted ranges are the term itself.
        for (const [start, end] of hit.highlights)
          expect(hit.snippet.slice(start, end).toLowerCase()).toBe(term.toLowerCase());
      }
    }
    const [policyHit] = search(mainDir, 'tamarisk').filter((h) => h.kind === 'policy');
    expect(policyHit!.name).toBe('push_config');
    expect(recordAt(mainDir, deploy.path, policyHit!.seq).record).toMatchObject({
      type: 'policy.decision',
      decision: 'deny',
    });
    const [toolHit] = search(mainDir, 'Quillmere').filter((h) => h.kind === 'tool');
    expect(recordAt(mainDir, weather.path, toolHit!.seq).record.span.data).toMatchObject({
      name: 'get_weather',
      input: '{"city":"Quillmere"}',
      output: 'sunny in Quillmere, 21°C',
    });

    // Text: a line naming session and seq, then the snippet with the term marked (no colours on a pipe).
    const text = cli(mainDir, ['search', 'Quillmere']);
    expect(text.code).toBe(0);
    const hits = search(mainDir, 'Quillmere');
    for (const hit of hits)
      expect(text.stdout).toMatch(new RegExp(`^${hit.session_id!.slice(0, 14)}  seq ${hit.seq}  `, 'm'));
    expect(text.stdout).toMatch(/^ {4}.*«Quillmere».*$/m);
    expect(text.stderr).toMatch(new RegExp(`^${hits.length} hits?;`));

    const none = cli(mainDir, ['search', 'nowherezzyzx']);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/no match for nowherezzyzx/);
    expect(JSON.parse(cli(mainDir, ['search', 'nowherezzyzx', '--json']).stdout)).toEqual([]);
  });

  it('verify checks every session with no argument, a directory, and lists the one tampered file among many', () => {
    for (const args of [[], [mainDir]]) {
      const result = cli(mainDir, ['verify', ...args]);
      expect(result.code, result.stdout).toBe(0);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines.at(-1)).toBe('5/5 sessions valid');
      expect(lines.filter((line) => /^VALID\s+\S+\.arec$/.test(line))).toHaveLength(5);
    }

    const folder = join(work, 'tampered');
    mkdirSync(folder);
    const names = readdirSync(join(crowdDir, 'sessions')).filter((n) => n.endsWith('.arec'));
    expect(names).toHaveLength(30);
    for (const name of names) copyFileSync(join(crowdDir, 'sessions', name), join(folder, name));
    const victim = join(folder, names[17]!);
    const bytes = readFileSync(victim);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(victim, bytes);

    const result = cli(mainDir, ['verify', folder]);
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe('29/30 sessions valid');
    // Only the failure is listed (many files): its verdict, its path, and where it failed.
    const listed = lines.filter((line) => /^[A-Z]+\s+\//.test(line));
    expect(listed).toEqual([expect.stringMatching(new RegExp(`^TAMPERED\\s+${victim}$`))]);
    expect(result.stdout).toMatch(/TAMPERED at .*offset \d+/);
    expect(result.stderr).not.toContain('\n    at ');

    const json = cli(mainDir, ['verify', folder, '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ total: 30, valid: 29, exit_code: 1 });
    expect(
      report.files.filter((f: Rec) => f.verdict !== 'VALID').map((f: Rec) => [f.file, f.verdict]),
    ).toEqual([[victim, 'TAMPERED']]);
  });

  it('stats --json figures are the sums over the sessions, as read from their records', () => {
    const sessions = ls(mainDir);
    const stats = cliJson<Rec>(mainDir, ['stats']);
    const ends = new Map(sessions.map((s) => [s.path, lastEnd(mainDir, s.path)]));
    const figures = (group: SessionSummary[]) => {
      const sum = (f: (end: Rec) => number) => group.reduce((n, s) => n + f(ends.get(s.path)!), 0);
      return {
        sessions: group.length,
        model_calls: sum((e) => e.counts.model_calls),
        tool_calls: sum((e) => e.counts.tool_calls),
        input_tokens: sum((e) => e.usage.input_tokens),
        output_tokens: sum((e) => e.usage.output_tokens),
        total_tokens: sum((e) => e.usage.total_tokens),
        denials: sum((e) => e.counts.denials),
        errors: sum((e) => e.counts.errors),
      };
    };
    const records = sessions.reduce((n, s) => n + ends.get(s.path)!.seq, 0);
    expect(stats.total).toEqual({ ...figures(sessions), records });
    expect(stats.total).toMatchObject({ sessions: 5, total_tokens: 314 + 30 * 3, denials: 3 });
    for (const row of stats.by_workflow)
      expect(row).toEqual({ key: row.key, ...figures(sessions.filter((s) => s.workflow === row.key)) });
    expect(stats.by_workflow.map((r: Rec) => r.key).sort()).toEqual(workflowsOf(sessions));
    for (const row of stats.by_identity)
      expect(row).toEqual({
        key: row.key,
        ...figures(sessions.filter((s) => s.identity?.subject === row.key)),
      });

    // Per tool and per model, from the span and decision records of every session.
    const tools: Record<string, Rec> = {};
    const models: Record<string, Rec> = {};
    for (const s of sessions) {
      const seenTools = new Set<string>();
      const seenModels = new Set<string>();
      for (const r of catRecords(mainDir, s.path, '--resolve', '--type', 'span.end,policy.decision')) {
        if (r.type === 'policy.decision') {
          if (r.subject?.kind !== 'tool' || !['deny', 'rejected'].includes(r.decision)) continue;
          const name = r.subject.name as string;
          tools[name] ??= { tool: name, sessions: 0, calls: 0, errors: 0, denials: 0 };
          tools[name].denials++;
          if (!seenTools.has(name)) tools[name].sessions++;
          seenTools.add(name);
        } else if (r.span.kind === 'function') {
          const name = r.span.data.name as string;
          tools[name] ??= { tool: name, sessions: 0, calls: 0, errors: 0, denials: 0 };
          tools[name].calls++;
          if (r.span.error !== null) tools[name].errors++;
          if (!seenTools.has(name)) tools[name].sessions++;
          seenTools.add(name);
        } else if (r.span.kind === 'generation') {
          const name = r.span.data.model as string;
          const { input_tokens, output_tokens } = r.span.data.usage;
          models[name] ??= {
            model: name,
            sessions: 0,
            calls: 0,
            input_tokens: 0,
            output_tokens: 0,
            total_tokens: 0,
          };
          Object.assign(models[name], {
            calls: models[name].calls + 1,
            input_tokens: models[name].input_tokens + input_tokens,
            output_tokens: models[name].output_tokens + output_tokens,
            total_tokens: models[name].total_tokens + input_tokens + output_tokens,
          });
          if (!seenModels.has(name)) models[name].sessions++;
          seenModels.add(name);
        }
      }
    }
    const byName = (rows: Rec[], key: string) => [...rows].sort((a, b) => a[key].localeCompare(b[key]));
    expect(byName(stats.by_tool, 'tool')).toEqual(byName(Object.values(tools), 'tool'));
    expect(byName(stats.by_model, 'model')).toEqual(byName(Object.values(models), 'model'));

    const text = cli(mainDir, ['stats']);
    expect(text.code).toBe(0);
    const t = stats.total;
    expect(text.stdout.split('\n')[0]).toBe(
      `5 sessions from the beginning → now: ${t.records} records, ${t.model_calls} model calls, ${t.tool_calls} tool calls, ` +
        `${t.total_tokens} tokens (in ${t.input_tokens}, out ${t.output_tokens}), ${t.denials} denied, ${t.errors} errors`,
    );
    expect(text.stdout).toMatch(/^By tool$/m);
    expect(text.stdout).toMatch(/^push_config\s+1\s+0\s+0\s+1$/m);
  });

  it('index --json says what it did: nothing when up to date; --rebuild reindexes every file to the same result', () => {
    cli(mainDir, ['index']);
    const before = ls(mainDir);
    const again = cliJson<IndexReport>(mainDir, ['index']);
    expect(again).toMatchObject({ files: 5, indexed: 0, records: 0, unchanged: 5, removed: 0, failures: [] });
    expect(again.catalog).toBe(join(mainDir, 'catalog.sqlite'));
    const rebuilt = cliJson<IndexReport>(mainDir, ['index', '--rebuild']);
    expect(rebuilt).toMatchObject({ files: 5, indexed: 5, unchanged: 0, removed: 0, failures: [] });
    expect(rebuilt.records).toBe(before.reduce((n, s) => n + s.records, 0));
    expect(ls(mainDir)).toEqual(before);
    const text = cli(mainDir, ['index']);
    expect(text.stdout).toMatch(
      /: 5 session files; indexed 0 \(0 records, 0 searchable\), 5 unchanged, 0 removed in /,
    );
  });

  it('a session is named by its full id, a unique id prefix, latest or its file; an ambiguous prefix lists the candidates', () => {
    const sessions = ls(mainDir);
    const weather = byWorkflow(sessions, 'weather-desk');
    const id = weather.session_id!;
    // The shortest prefix (at least the 14 characters `ls` shows) no other session shares.
    let length = 14;
    while (sessions.some((s) => s !== weather && s.session_id!.startsWith(id.slice(0, length)))) length++;
    for (const ref of [
      id,
      id.slice(0, length),
      weather.path,
      join('main', 'sessions', basename(weather.path)),
    ]) {
      const shown = cliJson<SessionSummary>(mainDir, ['show', ref]);
      expect(shown.path, ref).toBe(weather.path);
      expect(catRecords(mainDir, ref, '--type', 'session.start')[0]!.session_id).toBe(id);
    }
    expect(cliJson<SessionSummary>(mainDir, ['show', 'latest']).path).toBe(sessions[0]!.path);
    // latest: the session whose first record is the most recent.
    const newest = sessions
      .map((s) => s.started_at!)
      .sort()
      .at(-1);
    expect(sessions[0]!.started_at).toBe(newest);

    const ambiguous = cli(mainDir, ['show', 'trace_']);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stdout).toBe('');
    expect(ambiguous.stderr).toMatch(/^agent-replay: "trace_" matches 5 sessions; say which:\n/);
    for (const s of sessions) expect(ambiguous.stderr).toContain(`  ${s.session_id}  `);
    expect(ambiguous.stderr).not.toContain('\n    at ');
    expect(cli(mainDir, ['cat', 'trace_']).code).toBe(1);

    expectOneLineError(
      cli(mainDir, ['show', 'trace_ffffffffffff']),
      1,
      /no session "trace_ffffffffffff" in /,
    );
  });
});

describe('a session more than 10,000 records long', () => {
  it('search finds a tool argument recorded after seq 10,000, and cat shows it at that seq', () => {
    const [deep] = ls(bigDir);
    expect(deep!.records).toBeGreaterThan(10_000);
    expect(deep).toMatchObject({ status: 'completed', verdict: 'VALID' });
    // The term occurs nowhere in the first 10,000 records.
    const head = cli(bigDir, ['cat', deep!.session_id!, '--json', '--resolve', '--to', '10000']);
    expect(head.code).toBe(0);
    expect(head.stdout.split('\n').filter(Boolean)).toHaveLength(10_000);
    expect(head.stdout).not.toContain(DEEP_TERM);

    const hits = search(bigDir, DEEP_TERM);
    expect(hits.map((h) => h.kind).sort()).toContain('tool');
    for (const hit of hits) {
      expect(hit.seq).toBeGreaterThan(10_000);
      expect(recordAt(bigDir, hit.path, hit.seq).line).toContain(DEEP_TERM);
    }
    const toolHit = hits.find((h) => h.kind === 'tool')!;
    expect(toolHit.name).toBe('probe');
    expect(recordAt(bigDir, toolHit.path, toolHit.seq).record).toMatchObject({
      type: 'span.end',
      span: { kind: 'function', data: { name: 'probe', input: `{"target":"${DEEP_TERM}"}` } },
    });
    const text = cli(bigDir, ['search', DEEP_TERM]);
    expect(text.stdout).toMatch(new RegExp(`seq ${toolHit.seq} .*tool probe`));
    expect(text.stdout).toContain(`«${DEEP_TERM}»`);
  });
});

describe('bad inputs get one clear line and the right exit code', () => {
  it('a path that does not exist', () => {
    const missing = join(work, 'nowhere', 'gone.arec');
    for (const args of [
      ['show', missing],
      ['cat', missing],
      ['search', 'x', '--session', missing],
    ])
      expectOneLineError(cli(mainDir, args), 1, /^agent-replay: .*nowhere\/gone\.arec: no such file$/m);
    // verify reports it among the files it was given (UNREADABLE, exit 1) rather than aborting.
    const verify = cli(mainDir, ['verify', missing]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/^UNREADABLE\s+.*gone\.arec\n.*no such file/m);
    expect(verify.stdout + verify.stderr).not.toContain('\n    at ');
    // An agent-replay dir that does not exist is not created by reading it.
    const absent = join(work, 'no-such-dir');
    expectOneLineError(cli(absent, ['ls']), 1, /no-such-dir: no such directory/);
    expect(() => statSync(absent)).toThrow();
  });

  it('a file that is not a session: passed as a path, and lying among the sessions', () => {
    const notes = join(work, 'notes.txt');
    writeFileSync(notes, 'shopping list: milk, eggs\n');
    for (const command of ['show', 'cat'])
      expectOneLineError(cli(mainDir, [command, notes]), 1, /notes\.txt @0: not an agent-replay session/);

    const dir = join(work, 'with-garbage');
    mkdirSync(join(dir, 'sessions'), { recursive: true });
    const good = byWorkflow(ls(mainDir), 'weather-desk');
    copyFileSync(good.path, join(dir, 'sessions', basename(good.path)));
    const garbage = join(dir, 'sessions', 'zz-garbage.arec');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 97 + 13) % 256)));

    const sessions = ls(dir);
    expect(sessions.map((s) => [basename(s.path), s.verdict])).toEqual(
      expect.arrayContaining([
        [basename(good.path), 'VALID'],
        ['zz-garbage.arec', 'UNREADABLE'],
      ]),
    );
    expect(sessions).toHaveLength(2);
    const text = cli(dir, ['ls']);
    expect(text.code).toBe(0);
    expect(text.stdout.trimEnd().split('\n')).toHaveLength(3);
    expect(text.stdout).toMatch(/\sUNREADABLE$/m);
    expectOneLineError(cli(dir, ['show', garbage]), 1, /zz-garbage\.arec @0: not an agent-replay session/);
    expect(cli(dir, ['show', good.session_id!]).code).toBe(0);
    const verify = cli(dir, ['verify']);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/^UNREADABLE\s+.*zz-garbage\.arec$/m);
    expect(verify.stdout.trimEnd().split('\n').at(-1)).toBe('1/2 sessions valid');
  });

  it('an empty agent-replay dir: ls prints nothing (exit 0), ls --json is [], show latest and verify fail', () => {
    const dir = join(work, 'empty');
    mkdirSync(dir);
    const text = cli(dir, ['ls']);
    expect(text).toMatchObject({ code: 0, stdout: '' });
    expect(JSON.parse(cli(dir, ['ls', '--json']).stdout)).toEqual([]);
    expectOneLineError(cli(dir, ['show', 'latest']), 1, /^agent-replay: no sessions in .*empty\/sessions$/m);
    expectOneLineError(cli(dir, ['verify']), 1, /^agent-replay: no session files in .*empty\/sessions$/m);
    expect(cliJson<Rec>(dir, ['stats']).total).toMatchObject({ sessions: 0, records: 0, total_tokens: 0 });
  });

  it('a catalog file overwritten with garbage is rebuilt from the sessions, with a warning', () => {
    const dir = join(work, 'damaged-catalog');
    mkdirSync(join(dir, 'sessions'), { recursive: true });
    for (const s of ls(mainDir)) copyFileSync(s.path, join(dir, 'sessions', basename(s.path)));
    const before = ls(dir);
    expect(before).toHaveLength(5);
    writeFileSync(join(dir, 'catalog.sqlite'), 'this is not a SQLite database\n'.repeat(300));

    const after = cli(dir, ['ls', '--json']);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toEqual(before);
    expect(after.stderr).toMatch(
      /^warning: .*catalog\.sqlite: damaged .*rebuilding it from the session files/,
    );
    expect(after.stderr).not.toContain('\n    at ');
    // Rebuilt once: the next command is quiet, and search works again.
    const next = cli(dir, ['search', 'Quillmere']);
    expect(next.code).toBe(0);
    expect(next.stderr).not.toMatch(/warning/);
  });

  it('a session another process is still writing: recording/UNSEALED, readable; incomplete once it is killed', async () => {
    const dir = join(work, 'live');
    const child = spawn(process.execPath, [pausedAgent, dir], {
      cwd: work,
      env: cliEnv({ NODE_ENV: 'production' }), // vitest's NODE_ENV=test turns SDK tracing off
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk) => {
        out += chunk;
        if (out.includes('paused\n')) resolve();
      });
      child.on('exit', (code) =>
        reject(new Error(`paused-agent exited (${code}) before pausing: ${stderr}`)),
      );
    });

    const [live] = ls(dir);
    expect(live).toMatchObject({ workflow: 'nightly-release', status: 'recording', verdict: 'UNSEALED' });
    expect(live!.identity?.subject).toBe('svc-nightly');
    const row = cli(dir, ['ls']).stdout.trimEnd().split('\n')[1];
    expect(row).toMatch(/nightly-release\s+svc-nightly\s+recording\s.*UNSEALED$/);
    expect(ls(dir, '--status', 'recording')).toHaveLength(1);

    const shown = cli(dir, ['show', 'latest']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Status\s+recording$/m);
    expect(shown.stdout).toMatch(/^Verdict\s+UNSEALED/m);

    const records = catRecords(dir, live!.session_id!);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: records.length }, (_, i) => i + 1));
    expect(records.some((r) => r.type === 'session.end')).toBe(false);
    expect(
      records.some(
        (r) =>
          r.type === 'span.start' && r.span.kind === 'function' && r.span.data.name === 'wait_for_release',
      ),
    ).toBe(true);
    const catText = cli(dir, ['cat', 'latest']);
    expect(catText.code).toBe(0);
    expect(catText.stdout.trimEnd().split('\n')).toHaveLength(records.length);

    const hits = search(dir, 'hangingpelican');
    expect(hits.length).toBeGreaterThan(0);
    for (const hit of hits) {
      expect(hit.path).toBe(live!.path);
      expect(recordAt(dir, hit.path, hit.seq).line).toContain('hangingpelican-42');
    }

    child.kill('SIGKILL');
    await exited;
    const [dead] = ls(dir);
    expect(dead).toMatchObject({ path: live!.path, status: 'incomplete', verdict: 'UNSEALED' });
    expect(cli(dir, ['ls']).stdout).toMatch(/\sincomplete\s/);
    expect(ls(dir, '--status', 'recording')).toEqual([]);
    expect(cli(dir, ['show', 'latest']).stdout).toMatch(/^Status\s+incomplete$/m);
  });

  it('escapes recorded from a tool never reach the terminal raw: ls, show, cat, search, stats', () => {
    const bomb = byWorkflow(ls(mainDir), BOMB_WORKFLOW);
    const commands = [
      ['ls'],
      ['ls', '--json'],
      ['show', bomb.session_id!],
      ['show', bomb.session_id!, '--json'],
      ['cat', bomb.session_id!],
      ['cat', bomb.session_id!, '--resolve'],
      ['search', 'pwned'],
      ['search', 'pwned', '--json'],
      ['stats'],
      ['stats', '--json'],
    ];
    const environments: Env[] = [
      { NO_COLOR: '1', FORCE_COLOR: undefined },
      { NO_COLOR: undefined, FORCE_COLOR: '1' },
      { NO_COLOR: undefined, FORCE_COLOR: undefined },
    ];
    for (const env of environments) {
      for (const args of commands) {
        const result = spawnSync(process.execPath, [bin, '--dir', mainDir, ...args], {
          cwd: work,
          env: cliEnv(env),
          maxBuffer: 1 << 26,
        });
        const what = `${args.join(' ')} with ${JSON.stringify(env)}`;
        expect(result.status, what).toBe(0);
        for (const bytes of [result.stdout, result.stderr]) {
          expect(bytes.includes(0x1b), what).toBe(false);
          // No character the CLI prints (→ · × « » … ✓ °) has 0x9b in its UTF-8 form, so any 0x9b is a leak.
          expect(bytes.includes(0x9b), what).toBe(false);
          const text = bytes.toString('utf8');
          // U+009B (a one-character CSI), BEL, bidi overrides/isolates; U+FFFD would mean a stray raw byte.
          expect(text, what).not.toMatch(/[\u0007\u009b\u202a-\u202e\u2066-\u2069\ufffd]/);
        }
        // What was recorded is still shown, just inert.
        if (!args.includes('stats')) expect(result.stdout.toString('utf8'), what).toMatch(/pwned|banner/);
      }
    }
    // The hostile text is really in the session (cat --json on a pipe prints it byte-exact).
    expect(cli(mainDir, ['cat', bomb.session_id!, '--json']).stdout).toContain('\\u001b]0;pwned\\u0007');
  });
});

describe('the catalog under concurrent and incremental indexing', () => {
  function runIndex(dir: string): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [bin, '--dir', dir, 'index', '--json'], {
        cwd: work,
        env: cliEnv(),
      });
      children.push(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
      });
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }
  const byPath = <T extends { path: string }>(rows: T[]) =>
    [...rows].sort((a, b) => a.path.localeCompare(b.path));
  const hitKey = (h: SearchHit) => `${h.path}#${h.seq}`;

  it('two index processes started together both succeed and leave one consistent catalog', async () => {
    const dir = join(work, 'race');
    mkdirSync(join(dir, 'sessions'), { recursive: true });
    const names = readdirSync(join(crowdDir, 'sessions')).filter((n) => n.endsWith('.arec'));
    for (const name of names) copyFileSync(join(crowdDir, 'sessions', name), join(dir, 'sessions', name));

    const [a, b] = await Promise.all([runIndex(dir), runIndex(dir)]);
    for (const result of [a, b]) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).not.toMatch(/warning|error/i);
    }
    const reports = [a, b].map((r) => JSON.parse(r.stdout) as IndexReport);
    for (const report of reports) {
      expect(report).toMatchObject({ files: 30, removed: 0, failures: [] });
      expect(report.indexed + report.unchanged + report.concurrent).toBe(30);
    }
    // Every file was indexed by exactly one of them.
    expect(reports[0]!.indexed + reports[1]!.indexed).toBe(30);

    const sessions = ls(dir);
    expect(sessions.map((s) => basename(s.path)).sort()).toEqual([...names].sort());
    for (const s of sessions) expect(s).toMatchObject({ status: 'completed', verdict: 'VALID' });
    for (const s of sessions.slice(0, 3)) expect(s.counts).toEqual(lastEnd(dir, s.path).counts);
    // Together the two processes indexed every record once.
    expect(reports[0]!.records + reports[1]!.records).toBe(sessions.reduce((n, s) => n + s.records, 0));
    const hits = search(dir, 'widgetfalcon', '--limit', '1000');
    expect(new Set(hits.map(hitKey)).size).toBe(hits.length);
    expect(new Set(hits.map((h) => h.path)).size).toBe(30);
    for (const hit of hits.slice(0, 3))
      expect(recordAt(dir, hit.path, hit.seq).line).toContain('widgetfalcon');

    const rebuilt = cliJson<IndexReport>(dir, ['index', '--rebuild']);
    expect(rebuilt).toMatchObject({ files: 30, indexed: 30, failures: [] });
    expect(byPath(ls(dir))).toEqual(byPath(sessions));
    const after = search(dir, 'widgetfalcon', '--limit', '1000');
    const comparable = (rows: SearchHit[]) =>
      rows.map((h) => ({ ...h })).sort((x, y) => hitKey(x).localeCompare(hitKey(y)));
    expect(comparable(after)).toEqual(comparable(hits));
  });

  it('index picks up a grown session (an approved run resumed) and a deleted one, leaving the rest alone', async () => {
    const dir = join(work, 'grow');
    let recorder = startRecorder(dir, { janitor: person('svc-cleanup', 'service') });
    await recordInventory('audit-a', 'shelf-a', 'lanternmoth');
    await recordInventory('audit-b', 'shelf-b', 'copperfinch');
    const pending = await interruptJanitor(recorder);
    await recorder.shutdown();
    setTraceProcessors([]);

    expect(cliJson<IndexReport>(dir, ['index'])).toMatchObject({
      files: 3,
      indexed: 3,
      removed: 0,
      failures: [],
    });
    const before = ls(dir);
    const interrupted = byWorkflow(before, 'janitor');
    expect(interrupted.status).toBe('interrupted');
    expect(ls(dir, '--status', 'interrupted').map((s) => s.path)).toEqual([interrupted.path]);
    const firstLength = catRecords(dir, interrupted.path).length;
    expect(interrupted.records).toBe(firstLength);
    expect(cliJson<IndexReport>(dir, ['index'])).toMatchObject({
      files: 3,
      indexed: 0,
      records: 0,
      unchanged: 3,
    });

    // bob approves one call and rejects the other; the run finishes, appended to the same file.
    recorder = startRecorder(dir, { janitor: person('svc-cleanup', 'service') });
    await resumeJanitor(recorder, pending, 'approved per ticket marmosetcanyon');
    await recorder.shutdown();
    setTraceProcessors([]);
    const grownRecords = catRecords(dir, interrupted.path);
    expect(grownRecords.length).toBeGreaterThan(firstLength);

    const grown = cliJson<IndexReport>(dir, ['index']);
    expect(grown).toMatchObject({
      files: 3,
      indexed: 1,
      unchanged: 2,
      removed: 0,
      records: grownRecords.length - firstLength,
      failures: [],
    });
    const after = ls(dir);
    const janitor = byWorkflow(after, 'janitor');
    const end = grownRecords.filter((r) => r.type === 'session.end').at(-1)!;
    expect(janitor).toMatchObject({
      status: 'completed',
      records: grownRecords.length,
      approvers: ['bob@example.com'],
    });
    expect(janitor.counts).toEqual(end.counts);
    expect(janitor.usage).toEqual(end.usage);
    for (const workflow of ['audit-a', 'audit-b'])
      expect(byWorkflow(after, workflow)).toEqual(byWorkflow(before, workflow));

    const hits = search(dir, 'marmosetcanyon');
    expect(hits.length).toBeGreaterThan(0);
    for (const hit of hits) {
      expect(hit.path).toBe(janitor.path);
      expect(hit.seq).toBeGreaterThan(firstLength);
      expect(recordAt(dir, hit.path, hit.seq).line).toContain('marmosetcanyon');
    }

    // A deleted session leaves the catalog, and its text leaves the search.
    const doomed = byWorkflow(after, 'audit-a');
    expect(search(dir, 'lanternmoth').map((h) => h.path)).toContain(doomed.path);
    unlinkSync(doomed.path);
    expect(cliJson<IndexReport>(dir, ['index'])).toMatchObject({
      files: 2,
      indexed: 0,
      unchanged: 2,
      removed: 1,
      failures: [],
    });
    expect(workflowsOf(ls(dir))).toEqual(['audit-b', 'janitor']);
    const gone = cli(dir, ['search', 'lanternmoth']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/no match for lanternmoth/);
  });
});
