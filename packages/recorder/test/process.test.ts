import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SessionReader, verifySession } from '@agent-replay/format';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ofType, readRecords, sessionFiles, spanEnds, tempDir } from './helpers.js';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const CLI = fileURLToPath(new URL('../../../apps/cli/dist/main.js', import.meta.url));
// Tracing is off under NODE_ENV=test (set by vitest); the children are ordinary programs.
const childEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  NODE_ENV: 'production',
  OPENAI_AGENTS_DISABLE_TRACING: '',
  ...extra,
});

describe('approval interrupt, then resume in a new process', () => {
  it('one file, two trace starts, the request and both decisions with the verified approver', async () => {
    const dir = tempDir();
    const stateFile = join(dir, 'state.json');
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const token = await new SignJWT({ email: 'dana@example.com', name: 'Dana Ops', groups: ['sre'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://idp.example')
      .setAudience('agent-replay')
      .setSubject('dana')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey);

    const first = await run('node', [fixture('approval-agent.mjs'), 'start', dir, stateFile], {
      env: childEnv(),
    });
    expect(first.stdout).toContain('interrupted: 2 pending, 2 recorded');
    const files = sessionFiles(dir);
    expect(files).toHaveLength(1);
    const afterFirst = await readRecords(files[0]!);
    expect(afterFirst.at(-1)).toMatchObject({ type: 'session.end', status: 'interrupted' });

    const second = await run('node', [fixture('approval-agent.mjs'), 'resume', dir, stateFile], {
      env: childEnv({ APPROVER_TOKEN: token, APPROVER_JWKS: JSON.stringify({ keys: [jwk] }) }),
    });
    expect(second.stdout).toContain('final: cleanup finished');
    expect(sessionFiles(dir)).toEqual(files);
    const file = files[0]!;
    expect((await verifySession(file)).verdict).toBe('VALID');
    const records = await readRecords(file);

    const traceStarts = ofType(records, 'trace.start');
    expect(traceStarts.map((t) => t.resumed)).toEqual([false, true]);
    expect(traceStarts[0]!.trace_id).toBe(traceStarts[1]!.trace_id);
    expect(traceStarts[0]!.pid).not.toBe(traceStarts[1]!.pid);
    expect(ofType(records, 'session.start')).toHaveLength(1);

    const decisions = ofType(records, 'policy.decision');
    expect(decisions.map((d) => [d.decision, d.call_id])).toEqual([
      ['require_approval', 'call_a'],
      ['require_approval', 'call_b'],
      ['approved', 'call_a'],
      ['rejected', 'call_b'],
    ]);
    expect(decisions[1]!.subject).toEqual({
      kind: 'tool',
      name: 'delete_path',
      args: { path: '/srv/prod-db' },
    });
    expect(decisions[3]).toMatchObject({
      reason: 'never delete the production database',
      decided_by: { kind: 'human', id: 'dana', verified: true },
    });
    const approvers = ofType(records, 'identity');
    expect(approvers[0]).toMatchObject({
      role: 'approver',
      identity: {
        subject: 'dana',
        email: 'dana@example.com',
        verified: true,
        method: 'oidc',
        groups: ['sre'],
      },
    });
    expect(JSON.stringify(records)).not.toContain(token);

    // The approved call ran; the rejected one produced the SDK's rejection span with the message for the model.
    const tools = spanEnds(records, 'function').map((f) => f.span);
    expect(tools.find((t) => t.data.output === 'deleted /srv/tmp')).toBeTruthy();
    const rejected = tools.find((t) => t.data.output === 'never delete the production database');
    expect(rejected?.error).toBeTruthy();

    const ends = ofType(records, 'session.end');
    expect(ends.map((e) => e.status)).toEqual(['interrupted', 'completed']);
    expect(ends[1]!.counts).toMatchObject({ traces: 2, approvals_requested: 2, denials: 1, model_calls: 2 });
  });
});

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const exited = (child: ChildProcess) => new Promise<void>((resolve) => child.once('exit', () => resolve()));

describe('a recording process killed with SIGKILL', () => {
  it('leaves a readable prefix, and the same trace and later runs record fine afterwards', async () => {
    const dir = tempDir();
    const traceId = `trace_${'ab12'.repeat(8)}`;
    const file = join(dir, 'sessions', `${traceId}.arec`);
    const child = spawn('node', [fixture('long-agent.mjs'), dir, traceId, '100000'], {
      env: childEnv(),
      stdio: 'ignore',
    });
    await waitFor(() => existsSync(file) && statSync(file).size > 20_000, 'the session to grow');
    child.kill('SIGKILL');
    await exited(child);

    const report = await verifySession(file);
    expect(['UNSEALED', 'TORN']).toContain(report.verdict);
    const reader = await SessionReader.open(file);
    let count = 0;
    let firstType = '';
    for await (const record of reader.records()) {
      if (count++ === 0) firstType = record.type;
    }
    reader.close();
    expect(firstType).toBe('session.start');
    expect(count).toBeGreaterThan(50);

    // The same trace again (a resume after the crash): appended to the same file, which ends VALID.
    await run('node', [fixture('long-agent.mjs'), dir, traceId, '3'], { env: childEnv() });
    expect((await verifySession(file)).verdict).toBe('VALID');
    const records = await readRecords(file);
    expect(records.length).toBeGreaterThan(count);
    expect(ofType(records, 'trace.start').map((t) => t.resumed)).toEqual([false, true]);
    expect(records.at(-1)).toMatchObject({ type: 'session.end', status: 'completed' });

    // And an unrelated new run in the same directory.
    const other = `trace_${'cd34'.repeat(8)}`;
    await run('node', [fixture('long-agent.mjs'), dir, other, '3'], { env: childEnv() });
    expect((await verifySession(join(dir, 'sessions', `${other}.arec`))).verdict).toBe('VALID');
  });
});

describe('a process that dies mid-run', () => {
  for (const mode of ['uncaught', 'signal'] as const) {
    it(`${mode === 'uncaught' ? 'an uncaught exception' : 'SIGTERM'}: the session is sealed, marked aborted`, async () => {
      const dir = tempDir();
      const child = spawn('node', [fixture('crash-agent.mjs'), dir, mode], { env: childEnv() });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const done = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await waitFor(() => stdout.includes('in tool'), 'the tool call');
      if (mode === 'signal') child.kill('SIGTERM');
      const code = await done;
      if (mode === 'uncaught') {
        expect(code).toBe(1); // as Node would, and the error is printed
        expect(stderr).toContain('agent crashed: bucket client exploded');
      }
      const [file] = sessionFiles(dir);
      expect((await verifySession(file!)).verdict).toBe('VALID');
      const records = await readRecords(file!);
      expect(records.at(-1)).toMatchObject({ type: 'session.end', status: 'aborted' });
      // What the agent was doing when it died: the tool call started and never ended.
      const started = ofType(records, 'span.start').filter((r) => r.span.data.name === 'sync_bucket');
      expect(started).toHaveLength(1);
      expect(spanEnds(records, 'function')).toHaveLength(0);
    });
  }
});

describe('agent-replay record', () => {
  for (const app of ['plain-agent.mjs', 'plain-agent.cjs']) {
    it(`records an unmodified ${app.endsWith('cjs') ? 'CommonJS' : 'ESM'} program through the register preload`, async () => {
      const dir = tempDir();
      const { stdout, stderr } = await run(
        'node',
        [
          CLI,
          '--dir',
          dir,
          'record',
          '--identity',
          'ci-bot',
          '--identity-kind',
          'service',
          '--',
          'node',
          fixture(app),
        ],
        { env: childEnv({ AGENT_REPLAY_REDACTION_KEY_FILE: join(dir, 'redaction.key') }) },
      );
      expect(stdout).toContain('Order A-17 has shipped.');
      expect(stderr).toMatch(/recorded .*\.arec VALID/);
      const [file] = sessionFiles(dir);
      const records = await readRecords(file!);
      expect(records[0]).toMatchObject({
        type: 'session.start',
        workflow: 'support-desk',
        identity: { subject: 'ci-bot', kind: 'service', method: 'env', verified: false },
      });
      const [tool] = spanEnds(records, 'function');
      expect(tool!.span.data).toMatchObject({
        name: 'lookup_order',
        input: '{"id":"A-17"}',
        output: 'order A-17: shipped',
      });
      expect(records.at(-1)).toMatchObject({ type: 'session.end', status: 'completed' });
    });
  }

  it('passes the exit code through and says clearly when the command cannot run', async () => {
    const dir = tempDir();
    const failing = await run('node', [CLI, '--dir', dir, 'record', '--', 'node', '-e', 'process.exit(7)'], {
      env: childEnv(),
    }).catch((error: { code: number; stderr: string }) => error);
    expect((failing as { code: number }).code).toBe(7);
    expect((failing as { stderr: string }).stderr).toContain('no session recorded');
    const missing = await run('node', [CLI, '--dir', dir, 'record', '--', 'no-such-program-xyz'], {
      env: childEnv(),
    }).catch((error: { code: number; stderr: string }) => error);
    expect((missing as { code: number }).code).toBe(1);
    expect((missing as { stderr: string }).stderr).toContain('command not found');
  });
});
