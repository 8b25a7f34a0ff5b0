/**
 * `agent-replay replay` and `agent-replay diff`, end to end with real parts only: the real Agents SDK and `openai`
 * client in an unmodified user agent (test/fixtures/deploy-agent.mjs) talking to a loopback OpenAI server, recorded
 * and replayed by the built CLI binary (apps/cli/dist/main.js); long sessions for the diff written with the real
 * SessionWriter in the shape the recorder writes; the side-by-side diff driven in a real terminal (tmux).
 *
 * The loopback server runs in this process: every CLI run is spawned asynchronously (a synchronous spawn would
 * block the event loop that has to answer the child's requests).
 */
import { execFile, spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SessionReader, SessionWriter } from '@agent-replay/format';
import { type LoopbackRequest, type LoopbackServer, startLoopbackOpenAI } from '@agent-replay/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../apps/cli/dist/main.js', import.meta.url));
const agentScript = fileURLToPath(new URL('../fixtures/deploy-agent.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'arec-replay-diff-'));

type Rec = Record<string, any>;
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const servers = new Set<LoopbackServer>();
afterAll(async () => {
  for (const server of servers) await server.close().catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

/** The environment of every child: tracing on (vitest sets NODE_ENV=test, which turns SDK tracing off), no colours. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    AGENT_REPLAY_EXCLUSIVE: '1',
    NO_COLOR: '1',
    OPENAI_API_KEY: 'sk-test',
    ...extra,
  };
  delete env.FORCE_COLOR;
  delete env.AGENT_REPLAY_DIR;
  return env;
}

/** Runs the CLI asynchronously (the loopback server must keep answering meanwhile). */
function cli(args: string[], env: NodeJS.ProcessEnv = childEnv()): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

const describeRun = (run: Run) => `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;

async function readRecords(path: string): Promise<Rec[]> {
  const reader = await SessionReader.open(path);
  try {
    const out: Rec[] = [];
    for await (const record of reader.records()) out.push((await reader.resolve(record)) as Rec);
    return out;
  } finally {
    reader.close();
  }
}

const sessionFiles = (dir: string): string[] => {
  try {
    return readdirSync(join(dir, 'sessions'))
      .filter((name) => name.endsWith('.arec'))
      .map((name) => join(dir, 'sessions', name));
  } catch {
    return [];
  }
};

// ---------------------------------------------------------------------------------------------------------------
// The user agent against the loopback server

const TOOL_ARGS = JSON.stringify({ environment: 'staging', file: 'payments.yaml' });
const FINAL = 'Pushed to staging.';

/** Whether the conversation sent already holds the tool's result (then the model answers in text). */
function hasToolResult(request: LoopbackRequest): boolean {
  const body = request.body as Rec;
  const items = request.api === 'responses' ? body.input : body.messages;
  return (
    Array.isArray(items) &&
    items.some((item: Rec) => item?.type === 'function_call_output' || item?.role === 'tool')
  );
}

/** A loopback OpenAI server scripted as the deploy agent's model: call push_config, then say it is done. */
async function startModel(): Promise<LoopbackServer> {
  const server = await startLoopbackOpenAI((request) =>
    hasToolResult(request)
      ? { kind: 'text', text: FINAL }
      : { kind: 'tool_calls', calls: [{ callId: 'call_push_1', name: 'push_config', arguments: TOOL_ARGS }] },
  );
  servers.add(server);
  return server;
}

async function stopModel(server: LoopbackServer): Promise<void> {
  servers.delete(server);
  await server.close();
}

type Api = 'responses' | 'chat_completions';

interface AgentSetup {
  dir: string;
  log: string;
  api: Api;
  stream: boolean;
}

function newSetup(name: string, api: Api, stream: boolean): AgentSetup {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  return { dir, log: join(dir, 'deploy.log'), api, stream };
}

function agentEnv(setup: AgentSetup, server: LoopbackServer, extra: Record<string, string> = {}) {
  return childEnv({
    OPENAI_BASE_URL: server.baseURL,
    DEPLOY_LOG: setup.log,
    DEPLOY_API: setup.api,
    DEPLOY_STREAM: setup.stream ? '1' : '0',
    ...extra,
  });
}

/** `agent-replay record -- node deploy-agent.mjs` against a loopback server; returns the session written. */
async function recordAgent(setup: AgentSetup, server: LoopbackServer, extra: Record<string, string> = {}) {
  const before = new Set(sessionFiles(setup.dir));
  const run = await cli(
    ['--dir', setup.dir, 'record', '--', process.execPath, agentScript],
    agentEnv(setup, server, extra),
  );
  expect(run.code, describeRun(run)).toBe(0);
  expect(run.stdout).toContain(`final: ${FINAL}`);
  const written = sessionFiles(setup.dir).filter((file) => !before.has(file));
  expect(written, describeRun(run)).toHaveLength(1);
  return written[0]!;
}

/** `agent-replay replay <ref> [options] -- node deploy-agent.mjs`; returns the run and the new session (if any). */
async function replayAgent(
  setup: AgentSetup,
  ref: string,
  server: LoopbackServer,
  options: string[] = [],
  extra: Record<string, string> = {},
) {
  const before = new Set(sessionFiles(setup.dir));
  const run = await cli(
    ['--dir', setup.dir, 'replay', ref, ...options, '--', process.execPath, agentScript],
    agentEnv(setup, server, extra),
  );
  const written = sessionFiles(setup.dir).filter((file) => !before.has(file));
  const named = /agent-replay: replay (.+\.arec) is (?:equivalent to|different from) the original/.exec(
    run.stderr,
  )?.[1];
  if (named) expect(written).toContain(named);
  return { run, session: named ?? written.at(-1) };
}

const logText = (setup: AgentSetup) => (existsSync(setup.log) ? readFileSync(setup.log, 'utf8') : '');

/** seq of the `span.end` of the first model call (Responses `response` or Chat Completions `generation` span). */
function firstModelEnd(records: Rec[]): number {
  const end = records.find(
    (r) => r.type === 'span.end' && (r.span?.kind === 'response' || r.span?.kind === 'generation'),
  );
  expect(end).toBeDefined();
  return end!.seq;
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Record, then replay offline

describe('agent-replay replay: an unchanged agent replays offline, equivalent, without side effects', () => {
  const variants: { api: Api; stream: boolean; wire: 'responses' | 'chat' }[] = [
    { api: 'responses', stream: false, wire: 'responses' },
    { api: 'responses', stream: true, wire: 'responses' },
    { api: 'chat_completions', stream: false, wire: 'chat' },
    { api: 'chat_completions', stream: true, wire: 'chat' },
  ];
  for (const { api, stream, wire } of variants) {
    it(`${api} (${stream ? 'streaming' : 'JSON'})`, async () => {
      const setup = newSetup(`replay-${api}-${stream ? 'stream' : 'json'}`, api, stream);
      const model = await startModel();
      const original = await recordAgent(setup, model);
      // The recording really went over the wire, with the API and mode asked for.
      expect(model.requests).toHaveLength(2);
      for (const request of model.requests) {
        expect(request.api).toBe(wire);
        expect(request.stream).toBe(stream);
      }
      const logAfterRecord = logText(setup);
      expect(logAfterRecord).toBe('pushed payments.yaml to staging\n');
      await stopModel(model);

      // Replay with OPENAI_BASE_URL pointing at a fresh server: it must never be asked anything.
      const offline = await startModel();
      const { run, session } = await replayAgent(setup, 'latest', offline);
      expect(run.code, describeRun(run)).toBe(0);
      expect(run.stdout).toContain(`final: ${FINAL}`);
      expect(run.stdout).toContain('equivalent: same steps, same arguments, outputs and decisions');
      expect(run.stdout).toMatch(/6 steps aligned: 6 equal, 0 changed, 0 only in B, 0 only in A/);
      expect(run.stderr).toContain('is equivalent to the original');
      expect(offline.requests).toHaveLength(0);
      expect(logText(setup), 'the tool ran during the replay').toBe(logAfterRecord);

      expect(session).toBeDefined();
      expect(session).not.toBe(original);
      const [originalStart] = await readRecords(original);
      const replayed = await readRecords(session!);
      expect(replayed[0]!.type).toBe('session.start');
      expect(replayed[0]!.replay_of).toEqual({
        session_id: originalStart!.session_id,
        path: resolve(original),
      });
      expect(replayed.filter((r) => r.type === 'divergence')).toEqual([]);
      // The replay recorded the same spans, through the same model class.
      const kinds = (records: Rec[]) =>
        records.filter((r) => r.type === 'span.end').map((r) => r.span.kind as string);
      expect(kinds(replayed)).toEqual(kinds(await readRecords(original)));

      const diff = await cli(['--dir', setup.dir, 'diff', original, session!, '--json']);
      expect(diff.code, describeRun(diff)).toBe(0);
      const report = JSON.parse(diff.stdout);
      expect(report.schema).toBe('agent-replay.diff/v1');
      expect(report.equivalent).toBe(true);
      expect(report.first_divergence).toBeNull();
      expect(report.counts).toMatchObject({ aligned: 6, equal: 6, changed: 0, added: 0, removed: 0 });
      expect(report.deltas.model_calls).toEqual({ a: 2, b: 2, delta: 0 });
      expect(report.deltas.tool_calls).toEqual({ a: 1, b: 1, delta: 0 });
      expect(report.deltas.tokens.delta).toBe(0);
      await stopModel(offline);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// 2. A changed agent diverges from its recording

describe('agent-replay replay: a changed prompt is a divergence', () => {
  const CHANGED = 'Push straight to production.';
  for (const api of ['responses', 'chat_completions'] as const) {
    describe(api, () => {
      const setup = newSetup(`diverge-${api}`, api, false);
      let original = '';
      let originalRecords: Rec[] = [];

      beforeAll(async () => {
        const model = await startModel();
        original = await recordAgent(setup, model);
        originalRecords = await readRecords(original);
        await stopModel(model);
      });

      it('stops at the first model call (default): exit non-zero, a divergence record naming the instructions', async () => {
        const offline = await startModel();
        const before = logText(setup);
        const { run, session } = await replayAgent(setup, original, offline, [], {
          DEPLOY_INSTRUCTIONS: CHANGED,
        });
        expect(run.code, describeRun(run)).not.toBe(0);
        expect(run.stdout).not.toContain(`final: ${FINAL}`);
        expect(run.stderr).toContain('is different from the original');
        expect(run.stderr).toMatch(/agent-replay: divergence: .*instructions/);
        expect(offline.requests).toHaveLength(0);
        expect(logText(setup)).toBe(before);

        const records = await readRecords(session!);
        expect(records[0]!.replay_of?.path).toBe(resolve(original));
        const divergences = records.filter((r) => r.type === 'divergence');
        expect(divergences).toHaveLength(1);
        const divergence = divergences[0]!;
        expect(divergence).toMatchObject({
          kind: 'model',
          agent: 'Deployer',
          action: 'stop',
          recorded_seq: firstModelEnd(originalRecords),
        });
        expect(divergence.reason).toContain('instructions');
        const paths = (divergence.changes as Rec[]).map((c) => c.path as string);
        expect(
          paths.some((p) => p.includes('instructions')),
          JSON.stringify(divergence.changes),
        ).toBe(true);
        const change = (divergence.changes as Rec[]).find((c) => String(c.path).includes('instructions'))!;
        expect(change.a).toBe('Validate the config, then push it to staging.');
        expect(change.b).toBe(CHANGED);
        // The diff printed by replay lists the divergence of B.
        expect(run.stdout).toContain(`replay divergence at seq ${divergence.seq}`);

        const diff = await cli(['--dir', setup.dir, 'diff', original, session!, '--json']);
        expect(diff.code).toBe(1);
        const report = JSON.parse(diff.stdout);
        expect(report.equivalent).toBe(false);
        expect(report.b.divergences).toEqual([{ seq: divergence.seq, reason: divergence.reason }]);
        await stopModel(offline);
      });

      it('--on-divergence continue: the run completes on recorded outputs, every divergence recorded', async () => {
        const offline = await startModel();
        const before = logText(setup);
        const { run, session } = await replayAgent(
          setup,
          original,
          offline,
          ['--on-divergence', 'continue'],
          {
            DEPLOY_INSTRUCTIONS: CHANGED,
          },
        );
        expect(run.stdout, describeRun(run)).toContain(`final: ${FINAL}`);
        expect(offline.requests).toHaveLength(0);
        expect(logText(setup), 'the tool ran during the replay').toBe(before);
        const records = await readRecords(session!);
        const divergences = records.filter((r) => r.type === 'divergence');
        expect(divergences.length).toBeGreaterThanOrEqual(1);
        expect(divergences[0]).toMatchObject({
          kind: 'model',
          action: 'continue',
          recorded_seq: firstModelEnd(originalRecords),
        });
        for (const d of divergences) expect(d.action).toBe('continue');
        // Recorded outputs served: the same tool call with the same arguments and output.
        const toolEnd = (rs: Rec[]) =>
          rs.find((r) => r.type === 'span.end' && r.span.kind === 'function')!.span.data;
        expect(toolEnd(records)).toMatchObject({ input: TOOL_ARGS, output: toolEnd(originalRecords).output });
      });

      it('--on-divergence continue: a replay whose model input departed from the recording is not "equivalent"', async () => {
        const offline = await startModel();
        const { run } = await replayAgent(setup, original, offline, ['--on-divergence', 'continue'], {
          DEPLOY_INSTRUCTIONS: CHANGED,
        });
        expect(run.stderr).toMatch(/agent-replay: divergence: /);
        // The agent ran with other instructions than recorded: the replay differs from the original.
        expect(run.stdout, describeRun(run)).not.toContain('equivalent: same steps');
        expect(run.stderr).toContain('is different from the original');
        expect(run.code).toBe(1);
      });

      it('--on-divergence continue: the replay session records the instructions the agent really ran with', async () => {
        const offline = await startModel();
        const { run, session } = await replayAgent(
          setup,
          original,
          offline,
          ['--on-divergence', 'continue'],
          {
            DEPLOY_INSTRUCTIONS: CHANGED,
          },
        );
        expect(run.stdout, describeRun(run)).toContain(`final: ${FINAL}`);
        const records = await readRecords(session!);
        const modelEnd = records.find((r) => r.seq === firstModelEnd(records))!;
        // Chat Completions keeps them as the system message of the input; the Responses API in the response.
        const recorded = JSON.stringify(modelEnd.span.data);
        expect(recorded, 'the new session claims the recorded instructions').toContain(CHANGED);
      });

      it('--on-divergence continue --live-tools: the tool really runs (its side effect happens)', async () => {
        const offline = await startModel();
        const before = logText(setup);
        const { run, session } = await replayAgent(
          setup,
          original,
          offline,
          ['--on-divergence', 'continue', '--live-tools'],
          { DEPLOY_INSTRUCTIONS: CHANGED },
        );
        expect(run.stdout, describeRun(run)).toContain(`final: ${FINAL}`);
        expect(offline.requests).toHaveLength(0);
        expect(logText(setup)).toBe(`${before}pushed payments.yaml to staging\n`);
        const records = await readRecords(session!);
        expect(records.some((r) => r.type === 'divergence')).toBe(true);
      });

      it('--on-divergence live: the diverging calls go to the real model, and the replay is reported different', async () => {
        const live = await startModel();
        const before = logText(setup);
        const { run, session } = await replayAgent(setup, original, live, ['--on-divergence', 'live'], {
          DEPLOY_INSTRUCTIONS: CHANGED,
        });
        expect(run.stdout, describeRun(run)).toContain(`final: ${FINAL}`);
        expect(live.requests.length).toBeGreaterThan(0);
        expect(logText(setup)).toBe(before);
        const records = await readRecords(session!);
        const divergences = records.filter((r) => r.type === 'divergence');
        expect(divergences.length).toBeGreaterThanOrEqual(1);
        expect(divergences[0]!.action).toBe('live');
        // The model was asked with other instructions: the sessions differ.
        expect(run.stderr, describeRun(run)).toContain('is different from the original');
        expect(run.code).toBe(1);
      });

      it('diff of two live recordings that differ only in the agent instructions is not "equivalent"', async () => {
        const model = await startModel();
        const changed = await recordAgent(setup, model, { DEPLOY_INSTRUCTIONS: CHANGED });
        await stopModel(model);
        const diff = await cli(['--dir', setup.dir, 'diff', original, changed, '--json']);
        const report = JSON.parse(diff.stdout);
        expect(report.equivalent, JSON.stringify(report.first_divergence)).toBe(false);
        expect(diff.code).toBe(1);
        expect(report.first_divergence.kind).toBe('model');
        expect(report.first_divergence.turn).toBe(1);
        expect(JSON.stringify(report.first_divergence.changes)).toContain(CHANGED);
      });
    });
  }
});

describe('agent-replay replay: trouble', () => {
  it('a session that does not exist: exit 2, one line on stderr, the command is not run', async () => {
    const dir = join(work, 'replay-trouble');
    mkdirSync(dir, { recursive: true });
    const marker = join(dir, 'ran');
    const command = [
      '--',
      process.execPath,
      '-e',
      `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x')`,
    ];
    const missing = await cli(['--dir', dir, 'replay', join(dir, 'missing.arec'), ...command]);
    expect(existsSync(marker)).toBe(false);
    expect(missing.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('missing.arec');
    const junk = join(dir, 'junk.arec');
    writeFileSync(junk, 'not a session\n'.repeat(10));
    const bad = await cli(['--dir', dir, 'replay', junk, ...command]);
    expect(bad.code, describeRun(bad)).toBe(2);
    expect(existsSync(marker)).toBe(false);
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
    // 1 would read as "the replay differs from the original".
    expect(missing.code, describeRun(missing)).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 3. diff on long sessions written with the SessionWriter, shaped like the recorder's

interface WorkflowOptions {
  turns?: number;
  workflow?: string;
  agentName?: string;
  /** Tool arguments of a turn (default: host and environment derived from the turn). */
  args?: (turn: number) => Rec;
  /** Turn after whose tool call an extra `check_health` call is made. */
  extraToolAt?: number;
  /** Seed of ids and clock: two sessions of the same run differ only in these. */
  seed: number;
  /** 'close' (sealed), 'abandon' (never sealed), 'live' (left open: returns the writer). */
  end?: 'close' | 'abandon' | 'live';
  segmentBytes?: number;
}

const defaultArgs = (turn: number): Rec => ({ host: `node-${turn % 7}`, environment: 'staging' });

/**
 * One run of a long workflow, record for record what the recorder writes: session.start, trace.start, a task span,
 * an agent span, then per turn a turn span holding a generation (input/output/model/usage) and a function call.
 */
async function writeWorkflow(path: string, options: WorkflowOptions): Promise<SessionWriter | undefined> {
  const turns = options.turns ?? 60;
  const workflow = options.workflow ?? 'fleet-maintenance';
  const agentName = options.agentName ?? 'Maintainer';
  const argsOf = options.args ?? defaultArgs;
  const writer = await SessionWriter.create(path, {
    durability: 'none',
    segmentBytes: options.segmentBytes ?? 4096,
    flushIntervalMs: 0,
  });
  const hex = (n: number) => `${options.seed.toString(16)}${n.toString(16).padStart(23, '0')}`.slice(-24);
  const traceId = `trace_${hex(0)}${hex(0).slice(0, 8)}`;
  let clock = Date.parse('2026-11-01T09:00:00.000Z') + options.seed * 3_600_000;
  let spans = 0;
  const spanId = () => `span_${hex(++spans)}`;
  const tick = (ms: number) => {
    clock += ms + options.seed;
    return new Date(clock).toISOString();
  };
  const identity = { kind: 'service', method: 'static', subject: 'svc-fleet', verified: false };
  writer.append('session.start', {
    session_id: traceId,
    trace_id: traceId,
    group_id: null,
    workflow,
    metadata: {},
    identity,
    policy: null,
  });
  writer.append('trace.start', { trace_id: traceId, workflow, resumed: false, identity });
  const open = (kind: string, parent: string | null, data: Rec) => {
    const span = { id: spanId(), kind, parent_id: parent, started_at: tick(1), data };
    writer.append('span.start', { span });
    return span;
  };
  const close = (span: Rec, data: Rec, error: unknown = null) =>
    writer.append('span.end', { span: { ...span, data, ended_at: tick(2), error } });
  const task = open('task', null, { type: 'task', name: workflow });
  const agent = open('agent', task.id, { type: 'agent', name: agentName });
  const history: Rec[] = [{ role: 'system', content: 'You keep the fleet healthy.' }];
  const usage = { input_tokens: 120, output_tokens: 20 };
  for (let turn = 1; turn <= turns; turn++) {
    const turnSpan = open('turn', agent.id, { type: 'turn', agent_name: agentName, turn });
    history.push({ role: 'user', content: `check the fleet, round ${turn}` });
    if (history.length > 7) history.splice(1, 2);
    const args = argsOf(turn);
    const gen = open('generation', turnSpan.id, { type: 'generation' });
    close(gen, {
      type: 'generation',
      model: 'fleet-model',
      input: [...history],
      output: [
        {
          type: 'function_call',
          id: `fc_${options.seed}_${turn}`,
          call_id: `call_${options.seed}_${turn}`,
          name: 'restart_service',
          arguments: JSON.stringify(args),
        },
      ],
      usage,
    });
    // The recorder parents function spans to the turn.
    const fn = open('function', turnSpan.id, {
      type: 'function',
      name: 'restart_service',
      input: '',
      output: '',
    });
    close(fn, {
      type: 'function',
      name: 'restart_service',
      input: JSON.stringify(args),
      output: `restarted ${args.host}`,
    });
    if (options.extraToolAt === turn) {
      const extra = open('function', turnSpan.id, {
        type: 'function',
        name: 'check_health',
        input: '',
        output: '',
      });
      close(extra, {
        type: 'function',
        name: 'check_health',
        input: JSON.stringify({ host: args.host }),
        output: 'healthy',
      });
    }
    history.push({ role: 'assistant', content: `round ${turn} done` });
    close(turnSpan, { type: 'turn', agent_name: agentName, turn, usage });
  }
  close(agent, {
    type: 'agent',
    name: agentName,
    tools: ['restart_service'],
    handoffs: [],
    output_type: 'text',
  });
  close(task, { type: 'task', name: workflow });
  writer.append('trace.end', { trace_id: traceId, metadata: {} });
  writer.append('session.end', {
    status: 'completed',
    counts: { model_calls: turns, tool_calls: turns, denials: 0, errors: 0, spans, traces: 1 },
    usage: { input_tokens: 120 * turns, output_tokens: 20 * turns, total_tokens: 140 * turns },
    redactions: {},
  });
  const end = options.end ?? 'close';
  if (end === 'close') {
    await writer.close();
    return undefined;
  }
  await writer.flush();
  if (end === 'abandon') {
    await writer.abandon();
    return undefined;
  }
  return writer;
}

/** Truncates a copy of a sealed session in the middle of its last segment (a crash while writing it). */
function tornCopy(source: string, target: string, lastSegmentOffset: number): void {
  copyFileSync(source, target);
  const fd = openSync(target, 'r');
  const head = Buffer.alloc(8);
  readSync(fd, head, 0, 8, lastSegmentOffset);
  const size = head.readUInt32LE(4);
  const payload = Buffer.alloc(size);
  readSync(fd, payload, 0, size, lastSegmentOffset + 8);
  closeSync(fd);
  const header = JSON.parse(payload.toString('utf8')) as { clen: number };
  const frameStart = lastSegmentOffset + 8 + size;
  expect(frameStart + header.clen).toBeLessThanOrEqual(statSync(source).size);
  truncateSync(target, frameStart + Math.floor(header.clen / 2));
}

describe('agent-replay diff', () => {
  const dir = join(work, 'diff');
  const sessions = join(dir, 'sessions');
  const A = join(sessions, 'a.arec');
  const B = join(sessions, 'b-turn37.arec');
  const OTHER = join(sessions, 'other-workflow.arec');
  const INSERTED = join(sessions, 'b-inserted.arec');
  const TORN_SOURCE = join(work, 'b-for-torn.arec');
  const TORN = join(sessions, 'b-torn.arec');
  const UNSEALED = join(sessions, 'b-unsealed.arec');
  const LIVE = join(sessions, 'b-live.arec');
  let liveWriter: SessionWriter | undefined;
  let aSteps = 0;
  let aRecords = 0;

  beforeAll(async () => {
    mkdirSync(sessions, { recursive: true });
    await writeWorkflow(A, { seed: 1 });
    await writeWorkflow(B, {
      seed: 2,
      args: (turn) => ({ ...defaultArgs(turn), environment: turn === 37 ? 'production' : 'staging' }),
    });
    await writeWorkflow(OTHER, {
      seed: 3,
      workflow: 'billing-reconcile',
      agentName: 'Reconciler',
      turns: 12,
    });
    await writeWorkflow(INSERTED, { seed: 4, extraToolAt: 20 });
    await writeWorkflow(UNSEALED, { seed: 5, end: 'abandon' });
    liveWriter = await writeWorkflow(LIVE, { seed: 6, end: 'live' });
    const reader = await SessionReader.open(A);
    aRecords = reader.recordCount;
    expect(reader.hasIndex).toBe(true);
    expect(reader.segments.length).toBeGreaterThan(4);
    reader.close();
    // The same run in larger segments, so that its last one holds many turns; a crash tears that one.
    await writeWorkflow(TORN_SOURCE, { seed: 7, segmentBytes: 48 * 1024 });
    const source = await SessionReader.open(TORN_SOURCE);
    expect(source.segments.length).toBeGreaterThanOrEqual(3);
    const last = source.segments.at(-1)!;
    expect(last.lastSeq - last.firstSeq).toBeGreaterThan(40);
    tornCopy(TORN_SOURCE, TORN, last.offset);
    source.close();
    // 60 turns × (turn, model, tool) + the agent.
    aSteps = 60 * 3 + 1;
  });
  afterAll(async () => {
    await liveWriter?.close().catch(() => {});
  });

  const diff = (...args: string[]) => cli(['--dir', dir, 'diff', ...args]);
  const diffJson = async (...args: string[]) => {
    const run = await diff(...args, '--json');
    expect(run.stderr).toBe('');
    return { run, report: JSON.parse(run.stdout) as Rec };
  };

  it('one tool argument changed at turn 37: the first divergence is there, named by its JSON path (--json)', async () => {
    const { run, report } = await diffJson(A, B);
    expect(run.code).toBe(1);
    expect(report.schema).toBe('agent-replay.diff/v1');
    expect(report.equivalent).toBe(false);
    expect(report.a).toMatchObject({
      workflow: 'fleet-maintenance',
      steps: aSteps,
      sealed: true,
      partial: null,
    });
    expect(report.b).toMatchObject({
      workflow: 'fleet-maintenance',
      steps: aSteps,
      sealed: true,
      partial: null,
    });
    expect(report.counts).toEqual({ aligned: aSteps, equal: aSteps - 2, changed: 2, added: 0, removed: 0 });
    const first = report.first_divergence;
    expect(first.turn).toBe(37);
    expect(first.kind).toBe('model');
    expect(first.status).toBe('changed');
    expect(first.fields).toEqual(['output']);
    expect(first.changes).toEqual([
      { field: 'output', path: 'output[0].arguments.environment', a: 'staging', b: 'production' },
    ]);
    expect(first.reason).toContain('different model output');
    // The tool call of the same turn, with its argument.
    expect(report.changes).toHaveLength(2);
    const tool = report.changes[1];
    expect(tool).toMatchObject({ status: 'changed', kind: 'tool', fields: ['args'] });
    expect(tool.a).toMatchObject({ turn: 37, name: 'restart_service', agent: 'Maintainer' });
    expect(tool.changes).toEqual([
      { field: 'args', path: 'args.environment', a: 'staging', b: 'production' },
    ]);
    // Seqs point at the steps in each file.
    const [recordsA, recordsB] = [await readRecords(A), await readRecords(B)];
    const at = (records: Rec[], seq: number) => records.find((r) => r.seq === seq)!;
    expect(at(recordsA, first.a.seq).span.kind).toBe('generation');
    expect(at(recordsB, first.b.end_seq).span.data.output[0].arguments).toContain('production');
    expect(at(recordsB, tool.b.end_seq).span.data.input).toContain('production');
  });

  it('human report: turn 37 comes first, with the argument that changed', async () => {
    const run = await diff(A, B);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    expect(/turn \d+/.exec(run.stdout)?.[0]).toBe('turn 37');
    expect(run.stdout).toMatch(/First divergence: turn 37, model call fleet-model \(agent Maintainer\)/);
    expect(run.stdout).toContain('output[0].arguments.environment');
    expect(run.stdout).toContain('args.environment');
    expect(run.stdout).toContain('A: "staging"');
    expect(run.stdout).toContain('B: "production"');
    expect(run.stdout).toContain(
      `${aSteps} steps aligned: ${aSteps - 2} equal, 2 changed, 0 only in B, 0 only in A`,
    );
    expect(run.stdout).not.toContain('different workflows');
    const limited = await diff(A, B, '--limit', '1');
    expect(limited.stdout).toContain('… 1 more (--json lists all)');
    expect(limited.stdout).not.toMatch(/~ turn 37, tool call/);
  });

  it('--markdown: a table, the first divergence and the argument', async () => {
    const run = await diff(A, B, '--markdown');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^# Session diff/);
    expect(run.stdout).toMatch(/^\| \| workflow \| session \| records \| steps \| file \|$/m);
    expect(run.stdout).toMatch(/^\|---\|---\|/m);
    expect(run.stdout).toContain('## First divergence');
    expect(run.stdout).toContain('turn 37');
    expect(run.stdout).toContain('`output[0].arguments.environment`: `"staging"` → `"production"`');
    expect(run.stdout).toContain('`args.environment`');
    expect(run.stdout).toContain('**Different**');
  });

  it('ids and times are ignored unless --include-volatile', async () => {
    const { run, report } = await diffJson(A, B, '--include-volatile');
    expect(run.code).toBe(1);
    // The call ids differ from turn 1 on.
    expect(report.first_divergence.turn).toBe(1);
    expect(JSON.stringify(report.first_divergence.changes)).toMatch(/call_id|\.id/);
  });

  it('--kinds tool compares only tool calls', async () => {
    const { run, report } = await diffJson(A, B, '--kinds', 'tool');
    expect(run.code).toBe(1);
    expect(report.kinds).toEqual(['tool']);
    expect(report.a.steps).toBe(60);
    expect(report.counts).toEqual({ aligned: 60, equal: 59, changed: 1, added: 0, removed: 0 });
    expect(report.first_divergence).toMatchObject({ kind: 'tool', turn: 37, fields: ['args'] });
    expect(report.first_divergence.changes[0].path).toBe('args.environment');
    for (const entry of report.changes) expect(entry.kind).toBe('tool');
    // Model calls only: the same turn, through the model output.
    const models = await diffJson(A, B, '--kinds', 'model');
    expect(models.report.counts).toMatchObject({ aligned: 60, changed: 1 });
    expect(models.report.first_divergence.kind).toBe('model');
    // Turns alone did not change.
    const turns = await diffJson(A, B, '--kinds', 'turn,agent');
    expect(turns.run.code).toBe(0);
    expect(turns.report.equivalent).toBe(true);
  });

  it('an unknown --kinds value is refused', async () => {
    const run = await diff(A, B, '--kinds', 'tools');
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/"tools" is not one of/);
    // diff's contract: 0 equivalent, 1 different, 2 trouble. A usage error must not read as "different".
    expect(run.code).toBe(2);
  });

  it('a session with itself: exit 0, equivalent', async () => {
    const run = await diff(A, A);
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.stdout).toContain('equivalent: same steps, same arguments, outputs and decisions');
    const { report } = await diffJson(A, A);
    expect(report.equivalent).toBe(true);
    expect(report.changes).toEqual([]);
    expect(report.counts).toEqual({ aligned: aSteps, equal: aSteps, changed: 0, added: 0, removed: 0 });
    const md = await diff(A, A, '--markdown');
    expect(md.code).toBe(0);
    expect(md.stdout).toContain('**Equivalent**');
  });

  it('sessions of different workflows: the report says so', async () => {
    const run = await diff(A, OTHER);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('note: the sessions belong to different workflows');
    const { report } = await diffJson(A, OTHER);
    expect(report.a.workflow).toBe('fleet-maintenance');
    expect(report.b.workflow).toBe('billing-reconcile');
    expect(report.equivalent).toBe(false);
  });

  it('an extra tool call in B is "only in B" and shifts nothing after it', async () => {
    const { run, report } = await diffJson(A, INSERTED);
    expect(run.code).toBe(1);
    expect(report.counts).toEqual({ aligned: aSteps + 1, equal: aSteps, changed: 0, added: 1, removed: 0 });
    expect(report.changes).toHaveLength(1);
    expect(report.changes[0]).toMatchObject({ status: 'added', kind: 'tool', a: null, fields: [] });
    expect(report.changes[0].b).toMatchObject({ turn: 20, name: 'check_health', agent: 'Maintainer' });
    expect(report.first_divergence).toMatchObject({ status: 'added', turn: 20 });
    expect(report.first_divergence.reason).toContain('only in B');
    expect(report.deltas.tool_calls).toEqual({ a: 60, b: 61, delta: 1 });
    const human = await diff(A, INSERTED);
    expect(human.stdout).toContain('0 changed, 1 only in B, 0 only in A');
    expect(human.stdout).toMatch(/First divergence: turn 20, tool call check_health/);
    expect(human.stdout).toContain('a tool call check_health only in B');
  });

  it('a torn session: reported partial, its valid prefix still compared', async () => {
    const { run, report } = await diffJson(A, TORN);
    expect(run.code).toBe(1);
    expect(report.a.partial).toBeNull();
    expect(typeof report.b.partial).toBe('string');
    expect(report.b.partial.length).toBeGreaterThan(0);
    expect(report.b.sealed).toBe(false);
    expect(report.b.records).toBeGreaterThan(0);
    expect(report.b.records).toBeLessThan(aRecords);
    expect(report.b.steps).toBeGreaterThan(0);
    expect(report.b.steps).toBeLessThan(aSteps);
    // What the prefix holds compares equal: no model or tool call changed, the missing ones are only in A.
    const calls = await diffJson(A, TORN, '--kinds', 'model,tool');
    const counts = calls.report.counts;
    expect(calls.report.b.partial).toBe(report.b.partial);
    expect(calls.report.b.steps).toBeLessThan(120);
    expect(counts.added).toBe(0);
    expect(counts.removed).toBe(120 - calls.report.b.steps);
    // At most the call that was running when the file was cut differs (it never ended in B); every call that
    // ended inside the valid prefix is equal.
    const unfinished = calls.report.changes.filter((e: Rec) => e.status === 'changed');
    expect(unfinished.length).toBeLessThanOrEqual(1);
    for (const entry of unfinished) expect(entry.b.end_seq).toBe(0);
    expect(counts.equal).toBe(calls.report.b.steps - unfinished.length);
    const removed = calls.report.changes.filter((e: Rec) => e.status === 'removed');
    const lastKept = Math.max(...calls.report.changes.filter((e: Rec) => e.b).map((e: Rec) => e.b.turn), 0);
    for (const entry of removed) expect(entry.a.turn).toBeGreaterThanOrEqual(lastKept);
    const human = await diff(A, TORN);
    expect(human.stdout).toContain('only the valid prefix was compared');
    const md = await diff(A, TORN, '--markdown');
    expect(md.stdout).toMatch(/> B: only the valid prefix was compared/);
  });

  it('an unsealed session (abandoned writer, or one still being written): sealed false, compared in full', async () => {
    for (const file of [UNSEALED, LIVE]) {
      const { run, report } = await diffJson(A, file);
      expect(report.b.sealed, file).toBe(false);
      expect(report.b.partial, file).toBeNull();
      expect(report.b.steps).toBe(aSteps);
      expect(report.equivalent).toBe(true);
      expect(run.code).toBe(0);
      const human = await diff(A, file);
      expect(human.stdout).toContain('(unsealed: still being written or cut short)');
    }
  });

  it('a path that is not there, or not a session: exit 2 and one line on stderr', async () => {
    const missing = await diff(A, join(dir, 'nope', 'missing.arec'));
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('missing.arec');
    const junk = join(dir, 'junk.arec');
    writeFileSync(junk, 'this is not a session file\n'.repeat(20));
    const bad = await diff(junk, A);
    expect(bad.code, describeRun(bad)).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
    const unknown = await diff(A, 'no-such-session-id');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  // -------------------------------------------------------------------------------------------------------------
  // 4. diff --tui in a real terminal

  describe('--tui in tmux', () => {
    const socket = join(work, 'tmux.sock');
    const EXITED = 'agent-replay exited with status';
    const panes = new Set<string>();
    const tmux = (...args: string[]) => {
      const result = spawnSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${result.stderr}`);
      return result.stdout;
    };
    const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
    afterAll(() => {
      for (const pane of panes) spawnSync('tmux', ['-S', socket, 'kill-session', '-t', pane]);
      spawnSync('tmux', ['-S', socket, 'kill-server']);
    });

    async function waitFor(pane: string, what: string, predicate: (screen: string) => boolean) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const screen = tmux('capture-pane', '-p', '-t', pane);
        if (predicate(screen)) return screen;
        if (Date.now() > deadline) expect.fail(`timed out waiting for ${what}; the screen:\n${screen}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    it('side by side, the first difference selected with its field changes; n moves on; q quits', async () => {
      const pane = `diff-${process.pid}`;
      const command = [
        'env',
        '-u',
        'NO_COLOR',
        '-u',
        'NODE_ENV',
        'TERM=xterm-256color',
        process.execPath,
        bin,
        '--dir',
        dir,
        'diff',
        A,
        B,
        '--tui',
      ]
        .map(quote)
        .join(' ');
      tmux(
        'new-session',
        '-d',
        '-s',
        pane,
        '-x',
        '120',
        '-y',
        '30',
        `${command}; echo "${EXITED} $?"; exec sh`,
      );
      panes.add(pane);
      const lines = (screen: string) => screen.replace(/\n$/, '').split('\n');
      const first = await waitFor(pane, 'the first difference', (s) => s.includes('difference 1/2'));
      const rows = lines(first);
      expect(rows[0]).toContain('agent-replay diff');
      expect(rows[0]).toContain('A fleet-maintenance');
      expect(rows[0]).toContain('B fleet-maintenance');
      expect(rows[1]).toContain('first divergence');
      expect(rows[1]).toContain(`${aSteps - 2} equal · 2 changed · 0 only in A · 0 only in B`);
      // Both sessions side by side: the selected row shows turn 37's model call in A and in B.
      const selected = rows.find((line) => line.startsWith('~ t37 model'));
      expect(selected, first).toBeDefined();
      expect(selected!.match(/t37 model fleet-model/g)).toHaveLength(2);
      // Equal rows around it too, on both sides.
      expect(rows.some((line) => (line.match(/t36 tool restart_service/g) ?? []).length === 2)).toBe(true);
      // The field changes of the selected difference, below the list.
      const separator = rows.findIndex((line) => /^─{20,}/.test(line));
      expect(separator).toBeGreaterThan(2);
      const detail = rows.slice(separator + 1).join('\n');
      expect(detail).toContain('changed: output');
      expect(detail).toContain('output[0].arguments.environment');
      expect(detail).toContain('A: "staging"');
      expect(detail).toContain('B: "production"');
      expect(lines(first).at(-1)).toMatch(/difference 1\/2/);

      tmux('send-keys', '-t', pane, 'n');
      const second = await waitFor(pane, 'the second difference', (s) => s.includes('difference 2/2'));
      const rows2 = lines(second);
      expect(rows2.find((line) => line.startsWith('~ t37 tool restart_service'))).toBeDefined();
      const detail2 = rows2.slice(rows2.findIndex((line) => /^─{20,}/.test(line)) + 1).join('\n');
      expect(detail2).toContain('changed: args');
      expect(detail2).toContain('args.environment');
      expect(detail2).not.toContain('output[0].arguments');

      // n wraps around to the first difference.
      tmux('send-keys', '-t', pane, 'n');
      await waitFor(pane, 'the first difference again', (s) => s.includes('difference 1/2'));

      tmux('send-keys', '-t', pane, 'q');
      const after = await waitFor(pane, 'the CLI to exit', (s) => s.includes(EXITED));
      // diff's exit code: the sessions differ.
      expect(after).toContain(`${EXITED} 1`);
    });
  });
});
