/**
 * The sample sessions tell the product story, checked with real parts only: the checked-in sessions
 * (samples/sessions) and a fresh recording of every sample (samples/record.mjs into a temporary directory) are each
 * verified VALID with their signing key by the built CLI, and each story is visible in them — the denied push to
 * production and the push to staging after it; the service account with an expired OIDC token, its writes to the
 * shared bucket and the credentials it touched, redacted; the research assistant's three denials, the diff of its
 * two prompts, and an offline replay that is equivalent to the original.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SessionReader } from '@agent-replay/format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_SECRETS } from '../ci-exfil/fixtures.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'apps/cli/dist/main.js');
const checkedIn = join(root, 'samples/sessions');
const work = mkdtempSync(join(tmpdir(), 'agent-replay-samples-test-'));
const fresh = join(work, 'fresh');

type Rec = Record<string, any>;
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const SESSIONS = [
  'config-agent',
  'ci-exfil',
  'research-assistant-v1',
  'research-assistant-v2',
  'research-assistant-blocked-model',
  'research-assistant-blocked-tool',
  'research-assistant-rate-limit',
];

/** Children trace (vitest sets NODE_ENV=test, which turns SDK tracing off), without colours or a live endpoint. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', NO_COLOR: '1' };
  for (const name of ['FORCE_COLOR', 'OPENAI_BASE_URL', 'AGENT_REPLAY_DIR', 'AGENT_REPLAY_IDENTITY'])
    delete env[name];
  return env;
}

function exec(file: string, args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      { cwd: root, env: childEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

const cli = (...args: string[]) => exec(process.execPath, [bin, ...args]);
const describeRun = (run: Run) => `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;

/** The decompressed bytes of a session, as the stock zstd CLI gives them. */
async function zstdText(file: string): Promise<string> {
  const run = await exec('zstd', ['-dc', file]);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout;
}

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

const decisions = (records: Rec[]) => records.filter((r) => r.type === 'policy.decision');
/** The ended tool calls named `name`, with their parsed arguments. */
const toolCalls = (records: Rec[], name: string) =>
  records
    .filter((r) => r.type === 'span.end' && r.span.kind === 'function' && r.span.data.name === name)
    .map((r) => ({ seq: r.seq as number, args: JSON.parse(r.span.data.input), output: r.span.data.output }));

beforeAll(async () => {
  const run = await exec(process.execPath, [join(root, 'samples/record.mjs'), '--out', fresh]);
  expect(run.code, describeRun(run)).toBe(0);
}, 90_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each([
  ['checked-in', checkedIn],
  ['freshly recorded', fresh],
])('%s sessions', (_label, dir) => {
  const file = (name: string) => join(dir, `${name}.arec`);

  it('every session verifies VALID with the signing key', async () => {
    const key = join(dir, 'signing.pub.pem');
    expect(existsSync(key)).toBe(true);
    const run = await cli('verify', '--json', '--key', key, ...SESSIONS.map(file));
    expect(run.code, describeRun(run)).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ total: SESSIONS.length, valid: SESSIONS.length, exit_code: 0 });
    for (const entry of report.files) {
      expect(entry.verdict, entry.file).toBe('VALID');
      expect(entry.sealed, entry.file).toBe(true);
      expect(entry.signatures.status, entry.file).toBe('trusted-key');
      expect(entry.signatures.signedCheckpoints, entry.file).toBeGreaterThan(0);
    }
    // The human report says the same, with the trusted key.
    const human = await cli('verify', '--key', key, file('config-agent'));
    expect(human.code, describeRun(human)).toBe(0);
    expect(human.stdout).toContain('verified with trusted key');
  });

  it('config-agent: the push to production is denied (rule, reason), then the fix goes to staging', async () => {
    const records = await readRecords(file('config-agent'));
    const start = records[0]!;
    expect(start.type).toBe('session.start');
    expect(start.identity).toMatchObject({ subject: 'svc-config-agent', kind: 'service', verified: false });
    expect(start.policy).toMatchObject({ id: 'prod-guard', version: '3' });

    const denials = decisions(records).filter((d) => d.decision === 'deny');
    expect(denials).toHaveLength(1);
    const denial = denials[0]!;
    expect(denial).toMatchObject({
      rule: 'staging-first',
      reason: 'push to staging first',
      subject: {
        kind: 'tool',
        name: 'push_config',
        args: { environment: 'production', file: 'service-mesh.yaml' },
      },
      decided_by: { kind: 'engine', id: 'prod-guard' },
    });

    const pushes = toolCalls(records, 'push_config');
    const toStaging = pushes.filter((p) => p.args.environment === 'staging');
    expect(toStaging).toHaveLength(1);
    expect(toStaging[0]!.seq).toBeGreaterThan(denial.seq);
    expect(toStaging[0]!.output).toContain('pushed service-mesh.yaml to staging');
    // The production push never ran: what the model got back is the refusal with the rule's reason.
    const toProduction = pushes.filter((p) => p.args.environment === 'production');
    for (const push of toProduction) expect(String(push.output)).toContain('push to staging first');
    expect(records.at(-1)).toMatchObject({ type: 'session.end', status: 'completed' });

    const show = await cli('show', file('config-agent'));
    expect(show.code, describeRun(show)).toBe(0);
    expect(show.stdout).toMatch(/DENY tool push_config rule staging-first — push to staging first/);
  });

  it('ci-exfil: an expired service identity, its bucket writes, and the secrets it touched redacted', async () => {
    const records = await readRecords(file('ci-exfil'));
    const identity = records[0]!.identity;
    expect(identity).toMatchObject({
      subject: 'svc-eval-pipeline',
      kind: 'service',
      method: 'oidc',
      verified: false,
      issuer: 'https://oidc.ci.acme.example',
    });
    expect(identity.verification_error).toMatch(/expired/);
    expect(identity.claims.exp * 1000).toBeLessThan(Date.now());
    // `show` says why the identity is not verified, not just that it is not.
    const shown = await cli('--dir', join(work, 'show-dir'), 'show', file('ci-exfil'));
    expect(shown.stdout).toMatch(/Identity +svc-eval-pipeline .*\(service, oidc, unverified: token expired/);

    const writes = toolCalls(records, 'write_bucket');
    expect(writes).toHaveLength(2);
    for (const write of writes) expect(write.args.bucket).toBe('gs://acme-shared-scratch');
    expect(toolCalls(records, 'call_api')).toHaveLength(2);
    expect(toolCalls(records, 'fetch_prompts')).toHaveLength(2);

    const text = await zstdText(file('ci-exfil'));
    for (const kind of ['aws_access_key', 'aws_secret_key', 'bearer_token', 'secret_field'])
      expect(text).toMatch(new RegExp(`\\[REDACTED:${kind}:[0-9a-f]{8}\\]`));
    for (const [name, secret] of Object.entries(FAKE_SECRETS))
      expect(text.includes(secret), `${name} is on disk`).toBe(false);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{8,}\./); // the OIDC token itself is never recorded
    const end = records.at(-1)!;
    expect(end.type).toBe('session.end');
    expect(Object.keys(end.redactions)).toEqual(
      expect.arrayContaining(['aws_access_key', 'aws_secret_key', 'bearer_token', 'secret_field']),
    );
  });

  it('research-assistant: a blocked model, a blocked tool and a rate-limit denial', async () => {
    const only = async (name: string) => {
      const denied = decisions(await readRecords(file(name))).filter((d) => d.decision === 'deny');
      expect(denied, name).toHaveLength(1);
      return denied[0]!;
    };
    expect(await only('research-assistant-blocked-model')).toMatchObject({
      rule: 'retired-models',
      subject: { kind: 'model', name: 'gpt-3.5-turbo' },
      policy: { id: 'research-governance' },
    });
    const tool = await only('research-assistant-blocked-tool');
    expect(tool).toMatchObject({
      rule: 'no-destructive-tools',
      subject: { kind: 'tool', name: 'file_delete', args: { path: 'notes/scratch.md' } },
    });
    expect(tool.reason).toContain('never deletes files');
    expect(await only('research-assistant-rate-limit')).toMatchObject({
      rule: 'per-agent-rpm',
      rate_limit: { id: 'per-agent-rpm', scope: 'agent' },
      subject: { kind: 'model', name: 'gpt-4o-mini' },
    });
    // The governed runs themselves deny nothing.
    for (const name of ['research-assistant-v1', 'research-assistant-v2']) {
      const records = await readRecords(file(name));
      expect(
        decisions(records).filter((d) => d.decision === 'deny'),
        name,
      ).toEqual([]);
      expect(records[0]!.identity).toMatchObject({ subject: 'dana@research.acme.example', kind: 'human' });
    }
  });

  it('research-assistant: diff of the two prompts exits 1 and names the first divergence', async () => {
    const a = file('research-assistant-v1');
    const b = file('research-assistant-v2');
    const json = await cli('diff', '--json', a, b);
    expect(json.code, describeRun(json)).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.equivalent).toBe(false);
    expect(report.first_divergence).toMatchObject({ kind: 'model', turn: 1, status: 'changed' });
    expect(report.first_divergence.fields).toContain('instructions');
    expect(report.first_divergence.reason).toContain('instructions');
    const human = await cli('diff', a, b);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(
      /First divergence: turn 1, model call gpt-4o-mini \(agent ResearchAssistant\)/,
    );
    expect(human.stdout).toContain('Answer from Wikipedia only');
  });

  it('research-assistant: the first run replays offline, equivalent to the original', async () => {
    const original = resolve(file('research-assistant-v1'));
    const replayDir = mkdtempSync(join(work, 'replay-'));
    const run = await cli(
      '--dir',
      replayDir,
      'replay',
      original,
      '--',
      process.execPath,
      'samples/research-assistant/agent.mjs',
    );
    expect(run.code, describeRun(run)).toBe(0);
    expect(run.stdout).toContain('equivalent: same steps, same arguments, outputs and decisions');
    expect(run.stdout).toContain('[stand-in OpenAI] 0 request(s) answered'); // nothing left the process
    const named = /agent-replay: replay (.+\.arec) is equivalent to the original/.exec(run.stderr)?.[1];
    expect(named, describeRun(run)).toBeDefined();
    const replayed = await readRecords(named!);
    expect(replayed[0]!.replay_of).toMatchObject({ path: original });
    expect(replayed.filter((r) => r.type === 'divergence')).toEqual([]);
  });
});
