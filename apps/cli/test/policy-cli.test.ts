/**
 * `agent-replay policy lint` and `policy test` (what-if) of the built CLI, on a session recorded by the real recorder
 * from a real Agents SDK run with scripted models: a policy engine denied a production push, the model then pushed
 * to staging, and two models answered. The recorded calls are read back with `cat --json`, not taken on trust.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { POLICY_DECISION_SPAN, SessionRecorder } from '@agent-replay/recorder';
import { fc, SpanEmittingScriptedModel, say } from '@agent-replay/testkit';
import {
  Agent,
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
const work = mkdtempSync(join(tmpdir(), 'arec-policy-cli-'));
const dir = join(work, 'sessions');

afterAll(() => {
  setTraceProcessors([]);
  rmSync(work, { recursive: true, force: true });
});

type Rec = Record<string, any>;
interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built binary, stdout a pipe, no colour; policy files are given relative to `work`. */
function cli(args: string[]): CliResult {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  delete env.AGENT_REPLAY_DIR;
  const result = spawnSync(process.execPath, [bin, '--dir', dir, ...args], {
    cwd: work,
    encoding: 'utf8',
    env,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function expectOneLineError(result: CliResult, message: string): void {
  expect(result.code, result.stdout + result.stderr).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).toBe(`agent-replay: ${message}\n`);
}

const OLD = [
  'policy: { id: config-guard, version: 1 }',
  'default: allow',
  'rules:',
  '  - id: staging-first',
  '    tool: push_config',
  '    when: { args.environment: { equals: production } }',
  '    decision: deny',
  '    reason: push to staging first',
  '',
].join('\n');

const NEW = [
  'policy:',
  '  id: config-guard',
  '  version: 2',
  'default: allow',
  'rules:',
  '  - id: staging-first',
  '    tool: push_config',
  '    when: { args.environment: { equals: production } }',
  '    decision: deny',
  '    reason: push to staging first',
  '  - id: approve-staging',
  '    tool: push_config',
  '    when: { args.environment: { equals: staging } }',
  '    decision: require_approval',
  '    reason: a human approves staging pushes',
  '  - id: no-gpt-4o',
  '    model: gpt-4o',
  '    decision: deny',
  '    reason: gpt-4o is not approved',
  '',
].join('\n');

const BAD = [
  'policy: { id: config-guard, version: 3 }',
  'default: allow',
  'rules:',
  '  - id: staging-first',
  '    tool: push_config',
  '    decison: deny',
  '',
].join('\n');

let session: string;
const pushes: Rec[] = [];

/** config-agent: the engine denies a production push; the model pushes to staging; gpt-4o answers. */
async function recordConfigAgent(): Promise<void> {
  const pushConfig = tool({
    name: 'push_config',
    description: 'push the configuration to an environment',
    parameters: z.object({ environment: z.string() }),
    execute: async (args) => {
      pushes.push(args);
      return `pushed to ${args.environment}`;
    },
  });
  const pusher = new Agent({
    name: 'Config',
    model: new SpanEmittingScriptedModel([() => [fc('p1', 'push_config', { environment: 'staging' })]], {
      model: 'scripted-4',
    }),
    tools: [pushConfig],
    toolUseBehavior: 'stop_on_first_tool',
  });
  const reviewer = new Agent({
    name: 'Reviewer',
    model: new SpanEmittingScriptedModel([() => [say('staging push looks fine')]], { model: 'gpt-4o' }),
  });
  await withTrace('config-agent', async () => {
    await withCustomSpan(async () => {}, {
      data: {
        name: POLICY_DECISION_SPAN,
        data: {
          decision: 'deny',
          subject: { kind: 'tool', name: 'push_config', args: { environment: 'production' } },
          rule: 'staging-first',
          reason: 'push to staging first',
          decided_by: { kind: 'engine', id: 'policy-engine' },
        },
      },
    });
    const runner = new Runner();
    expect((await runner.run(pusher, 'ship the config to production')).finalOutput).toBe('pushed to staging');
    expect((await runner.run(reviewer, 'review the push')).finalOutput).toBe('staging push looks fine');
  });
}

beforeAll(async () => {
  const recorder = new SessionRecorder({
    dir,
    redactionKeyFile: join(work, 'redaction.key'),
    closeDelayMs: 20,
  });
  setTracingDisabled(false); // vitest sets NODE_ENV=test, which turns SDK tracing off
  setTraceProcessors([recorder]);
  await recordConfigAgent();
  await recorder.shutdown();
  setTraceProcessors([]);
  writeFileSync(join(work, 'old.yaml'), OLD);
  writeFileSync(join(work, 'new.yaml'), NEW);
  writeFileSync(join(work, 'bad.yaml'), BAD);
  const ls = cli(['ls', '--json']);
  expect(ls.code, ls.stderr).toBe(0);
  const listed = JSON.parse(ls.stdout) as { path: string; workflow: string }[];
  expect(listed.map((s) => s.workflow)).toEqual(['config-agent']);
  session = listed[0]!.path;
}, 60_000);

/** The session's records as `cat --json --resolve` prints them. */
function records(): Rec[] {
  const result = cli(['cat', session, '--json', '--resolve']);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Rec);
}

/** What the recording holds: the span.end of each call, and the policy decisions. */
function recordedCalls() {
  const all = records();
  const ends = all.filter((r) => r.type === 'span.end');
  const functions = ends.filter((r) => r.span?.kind === 'function');
  const models = ends.filter((r) => r.span?.kind === 'generation' || r.span?.kind === 'response');
  const decisions = all.filter((r) => r.type === 'policy.decision');
  return { functions, models, decisions };
}

describe('policy test: what-if over a recorded session', () => {
  it('the recording is the story: one denial, one staging push that ran, a scripted-4 and a gpt-4o model call', () => {
    expect(pushes).toEqual([{ environment: 'staging' }]);
    const { functions, models, decisions } = recordedCalls();
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({
      decision: 'deny',
      rule: 'staging-first',
      subject: { kind: 'tool', name: 'push_config', args: { environment: 'production' } },
    });
    expect(functions.map((r) => r.span.data.name)).toEqual(['push_config']);
    expect(JSON.parse(functions[0]!.span.data.input)).toEqual({ environment: 'staging' });
    expect(models.map((r) => r.span.data.model)).toEqual(['scripted-4', 'gpt-4o']);
  });

  it('the old policy decides every recorded call as it was decided: exit 0, nothing listed', () => {
    const result = cli(['policy', 'test', 'old.yaml', session]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const out = result.stdout.trimEnd().split('\n');
    expect(out[0]).toMatch(/^policy config-guard v1 \(sha256 [0-9a-f]{16}…\)$/);
    expect(out.at(-1)).toBe('0 of 4 recorded calls in 1 session would be decided differently');
    expect(out).toHaveLength(2);
    expect(result.stdout).not.toContain('push_config');

    const json = cli(['policy', 'test', 'old.yaml', session, '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.changed).toBe(0);
    expect(report.sessions).toHaveLength(1);
    expect(report.sessions[0]).toMatchObject({ calls: 4, changes: [] });
  });

  it('the new policy: exactly the staging push (allow → require_approval) and the gpt-4o call (allow → deny)', () => {
    const { functions, models } = recordedCalls();
    const stagingSeq = functions[0]!.seq;
    const gpt4oSeq = models.find((r) => r.span.data.model === 'gpt-4o')!.seq;

    const result = cli(['policy', 'test', 'new.yaml', session, '--json']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout);
    const lint = JSON.parse(cli(['policy', 'lint', 'new.yaml', '--json']).stdout);
    expect(report.policy).toEqual({ id: 'config-guard', version: '2', sha256: lint.sha256 });
    expect(report.changed).toBe(2);
    expect(report.sessions).toHaveLength(1);
    expect(report.sessions[0].session_id).toBe(records()[0]!.session_id);
    expect(report.sessions[0].calls).toBe(4);
    const changes = report.sessions[0].changes as Rec[];
    expect(changes.map((c) => c.seq)).toEqual([stagingSeq, gpt4oSeq].sort((a, b) => a - b));
    const staging = changes.find((c) => c.seq === stagingSeq)!;
    expect(staging.call).toMatchObject({ kind: 'tool', name: 'push_config' });
    expect(staging.before).toEqual({ decision: 'allow', rule: null, recorded: false });
    expect(staging.after).toMatchObject({
      decision: 'require_approval',
      rule: 'approve-staging',
      reason: 'a human approves staging pushes',
      subject: { kind: 'tool', name: 'push_config', args: { environment: 'staging' } },
    });
    const gpt4o = changes.find((c) => c.seq === gpt4oSeq)!;
    expect(gpt4o.call).toEqual({ kind: 'model', name: 'gpt-4o' });
    expect(gpt4o.before).toEqual({ decision: 'allow', rule: null, recorded: false });
    expect(gpt4o.after).toMatchObject({
      decision: 'deny',
      rule: 'no-gpt-4o',
      reason: 'gpt-4o is not approved',
    });
  });

  it('the human table shows seq, name, arguments and both decisions', () => {
    const { functions, models } = recordedCalls();
    const stagingSeq = functions[0]!.seq;
    const gpt4oSeq = models.find((r) => r.span.data.model === 'gpt-4o')!.seq;
    const result = cli(['policy', 'test', 'new.yaml', session]);
    expect(result.code, result.stderr).toBe(1);
    const out = result.stdout.trimEnd().split('\n');
    expect(out[0]).toMatch(/^policy config-guard v2 \(sha256 [0-9a-f]{16}…\)$/);
    expect(out.at(-1)).toBe('2 of 4 recorded calls in 1 session would be decided differently');
    const header = out.find((l) => /\bseq\b/.test(l))!;
    for (const column of ['session', 'seq', 'kind', 'name', 'arguments', 'recorded', 'would be', 'reason'])
      expect(header).toContain(column);
    const push = out.filter((l) => l.includes('push_config'));
    expect(push).toHaveLength(1);
    expect(push[0]).toMatch(
      new RegExp(
        `\\b${stagingSeq}\\s+tool\\s+push_config\\s+environment=staging\\s+allow\\s+require_approval \\(approve-staging\\)\\s+a human approves staging pushes`,
      ),
    );
    const model = out.filter((l) => l.includes('gpt-4o') && !l.startsWith('policy'));
    expect(model).toHaveLength(1);
    expect(model[0]).toMatch(
      new RegExp(`\\b${gpt4oSeq}\\s+model\\s+gpt-4o\\s+allow\\s+deny \\(no-gpt-4o\\)`),
    );
    // Only the two changed calls: no production push, no scripted-4 call.
    expect(result.stdout).not.toContain('production');
    expect(result.stdout).not.toContain('scripted-4');
  });

  it('a nonexistent policy file is one line naming it', () => {
    expectOneLineError(
      cli(['policy', 'test', 'missing.yaml', session]),
      'missing.yaml:1:1: cannot read: ENOENT',
    );
  });
});

describe('policy lint', () => {
  it('ok: id, version, the sha256 prefix and what the policy holds', () => {
    const json = cli(['policy', 'lint', 'new.yaml', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({
      id: 'config-guard',
      version: '2',
      file: 'new.yaml',
      rules: 3,
      default: 'allow',
    });
    expect(report.sha256).toMatch(/^[0-9a-f]{64}$/);
    const result = cli(['policy', 'lint', 'new.yaml']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      `new.yaml: ok — config-guard v2, sha256 ${report.sha256.slice(0, 16)}…, 3 rules, 0 rate limits, 0 masks, default allow\n`,
    );
    const old = JSON.parse(cli(['policy', 'lint', 'old.yaml', '--json']).stdout);
    expect(old).toMatchObject({ id: 'config-guard', version: '1', rules: 1 });
    expect(old.sha256).not.toBe(report.sha256);
  });

  it('a bad file: one line with file:line:column, exit 1', () => {
    expectOneLineError(
      cli(['policy', 'lint', 'bad.yaml']),
      'bad.yaml:6:5: unknown field "decison" in rules[0]',
    );
    expectOneLineError(
      cli(['policy', 'lint', 'bad.yaml', '--json']),
      'bad.yaml:6:5: unknown field "decison" in rules[0]',
    );
    expectOneLineError(
      cli(['policy', 'test', 'bad.yaml', session]),
      'bad.yaml:6:5: unknown field "decison" in rules[0]',
    );
  });

  it('a nonexistent file: one line', () => {
    expectOneLineError(cli(['policy', 'lint', 'nope.yaml']), 'nope.yaml:1:1: cannot read: ENOENT');
  });
});
