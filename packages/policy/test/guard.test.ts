/**
 * The policy enforced in a real Agents SDK run (scripted model), recorded by the real recorder: what the model is
 * told, what runs, and what the session file says.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionReader } from '@agent-replay/format';
import {
  approveToolCall,
  identityFromOidcToken,
  recordInterruptions,
  rejectToolCall,
  SessionRecorder,
} from '@agent-replay/recorder';
import { fc, SpanEmittingScriptedModel, say, withTraceProcessor } from '@agent-replay/testkit';
import { Agent, Runner, setTraceProcessors, tool } from '@openai/agents';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  guardAgent,
  guardModelProvider,
  PolicyDeniedError,
  PolicyEngine,
  parsePolicy,
  whatIf,
} from '../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'arec-policy-guard-'));
afterAll(() => {
  setTraceProcessors([]);
  rmSync(work, { recursive: true, force: true });
});

const POLICY = parsePolicy(
  `policy: { id: prod-guard, version: 3 }
default: allow
rules:
  - id: staging-first
    tool: push_config
    when: { args.environment: { equals: production } }
    decision: deny
    reason: push to staging first
  - id: no-wipes
    tool: wipe_*
    decision: deny
    reason: wiping is never allowed
  - id: prod-deletes-need-approval
    tool: delete_path
    when: { args.path: { glob: "/srv/**" } }
    decision: require_approval
    reason: deleting on a server needs a human
  - id: approved-models
    model: { not: [scripted-4] }
    decision: deny
    reason: only approved models
rate_limits:
  - { id: two-per-minute, scope: agent, requests_per_minute: 2 }
masking:
  - { id: customer-ssn, tool: fetch_customer, fields: [ssn], patterns: ['\\d{4}-\\d{4}-\\d{4}-\\d{4}'] }
`,
  'prod-guard.yaml',
);

type Rec = Record<string, any>;

async function recordRun(dir: string, run: (recorder: SessionRecorder) => Promise<unknown>): Promise<Rec[]> {
  const recorder = new SessionRecorder({
    dir,
    closeDelayMs: 20,
    redactionKeyFile: join(work, 'redaction.key'),
  });
  await withTraceProcessor(recorder, run);
  // One session per run (trace); records of all of them, session after session.
  const records: Rec[] = [];
  for (const file of readdirSync(join(dir, 'sessions')).sort()) {
    const reader = await SessionReader.open(join(dir, 'sessions', file));
    for await (const record of reader.records()) records.push((await reader.resolve(record)) as Rec);
    reader.close();
  }
  expect(records.length).toBeGreaterThan(0);
  return records;
}

/**
 * What-if under the policy that was enforced: every recorded call decided the same way again, each call counted
 * once (a decision, an approval and the span of the call it is about are one call).
 */
async function expectSameDecisions(dir: string, policy: typeof POLICY, calls: number): Promise<void> {
  let counted = 0;
  for (const file of readdirSync(join(dir, 'sessions'))) {
    const again = await whatIf(new PolicyEngine(policy), join(dir, 'sessions', file));
    expect(again.changes).toEqual([]);
    counted += again.calls;
  }
  expect(counted).toBe(calls);
}

describe('guardAgent / guardModelProvider in a real run', () => {
  it('the production push is denied with the reason, the model pushes to staging, the session records the rule and the policy', async () => {
    const pushes: string[] = [];
    const push = tool({
      name: 'push_config',
      description: 'push a config',
      parameters: z.object({ environment: z.string(), file: z.string() }),
      execute: async ({ environment }) => {
        pushes.push(environment);
        return `pushed to ${environment}`;
      },
    });
    const seen: string[] = [];
    const model = new SpanEmittingScriptedModel(
      (req) => {
        const text = JSON.stringify(req.input);
        seen.push(text);
        if (!text.includes('function_call_result'))
          return [fc('p1', 'push_config', { environment: 'production', file: 'payments.yaml' })];
        if (!text.includes('pushed to staging'))
          return [fc('p2', 'push_config', { environment: 'staging', file: 'payments.yaml' })];
        return [say('Pushed to staging first.')];
      },
      { model: 'scripted-4' },
    );
    const agent = guardAgent(new Agent({ name: 'Config', model, tools: [push] }), POLICY);
    const records = await recordRun(join(work, 'config'), () =>
      new Runner({ workflowName: 'config-agent' }).run(agent, 'fix payments.yaml and ship it'),
    );
    await expectSameDecisions(join(work, 'config'), POLICY, 5);
    // The tool ran once, for staging; the model read the reason.
    expect(pushes).toEqual(['staging']);
    expect(seen[1]).toContain('push to staging first');
    expect(seen[1]).toContain('prod-guard');
    const decisions = records.filter((r) => r.type === 'policy.decision');
    const deny = decisions.find((d) => d.decision === 'deny')!;
    expect(deny).toMatchObject({
      rule: 'staging-first',
      reason: 'push to staging first',
      policy: POLICY.ref,
      decided_by: { kind: 'engine', id: 'prod-guard' },
      subject: {
        kind: 'tool',
        name: 'push_config',
        args: { environment: 'production', file: 'payments.yaml' },
      },
    });
    const allow = decisions.find((d) => d.decision === 'allow')!;
    expect(allow).toMatchObject({
      rule: null,
      subject: { args: { environment: 'staging' } },
      policy: POLICY.ref,
    });
    expect(records.at(-1)).toMatchObject({ type: 'session.end', counts: { denials: 1 } });
  });

  it('masked output never reaches the model nor the file', async () => {
    const fetchCustomer = tool({
      name: 'fetch_customer',
      description: 'customer record',
      parameters: z.object({ id: z.string() }),
      execute: async () =>
        JSON.stringify({ name: 'Ada', ssn: '078-05-1120', note: 'card 4111-1111-1111-1111' }),
    });
    const seen: string[] = [];
    const model = new SpanEmittingScriptedModel(
      (req) => {
        seen.push(JSON.stringify(req.input));
        return JSON.stringify(req.input).includes('function_call_result')
          ? [say('done')]
          : [fc('f1', 'fetch_customer', { id: 'c1' })];
      },
      { model: 'scripted-4' },
    );
    const agent = guardAgent(new Agent({ name: 'Support', model, tools: [fetchCustomer] }), POLICY);
    const records = await recordRun(join(work, 'mask'), () => new Runner().run(agent, 'who is c1?'));
    await expectSameDecisions(join(work, 'mask'), POLICY, 3);
    const everything = JSON.stringify(records) + seen.join('');
    expect(everything).not.toContain('078-05-1120');
    expect(everything).not.toContain('4111-1111-1111-1111');
    expect(seen[1]).toContain('[MASKED:customer-ssn]');
    expect(seen[1]).toContain('Ada');
  });

  it('a blocked tool is denied; a blocked model and an exceeded rate limit stop the run, each recorded', async () => {
    const wipe = tool({
      name: 'wipe_disk',
      description: 'wipe',
      parameters: z.object({}),
      execute: async () => 'wiped',
    });
    const model = new SpanEmittingScriptedModel(() => [say('hello')], { model: 'gpt-4o' });
    const blockedModel = guardModelProvider({ getModel: () => model }, POLICY);
    const records = await recordRun(join(work, 'model'), async () => {
      await expect(
        new Runner({ modelProvider: blockedModel }).run(
          guardAgent(new Agent({ name: 'A', model: 'gpt-4o', tools: [wipe] }), POLICY),
          'hi',
        ),
      ).rejects.toBeInstanceOf(PolicyDeniedError);
    });
    expect(records.find((r) => r.type === 'policy.decision')).toMatchObject({
      decision: 'deny',
      rule: 'approved-models',
      subject: { kind: 'model', name: 'gpt-4o' },
    });
    await expectSameDecisions(join(work, 'model'), POLICY, 1);

    const okModel = new SpanEmittingScriptedModel(
      (req) =>
        JSON.stringify(req.input).includes('function_call_result')
          ? [say('ok')]
          : [fc('w1', 'wipe_disk', {})],
      { model: 'scripted-4' },
    );
    const provider = guardModelProvider({ getModel: () => okModel }, POLICY);
    const limited = await recordRun(join(work, 'limit'), async () => {
      const runner = new Runner({ modelProvider: provider });
      const agent = guardAgent(new Agent({ name: 'Limited', model: 'scripted-4', tools: [wipe] }), POLICY);
      // Two requests fit in the minute (the run's two model calls); the third request is over the limit.
      const first = await runner.run(agent, 'wipe it');
      expect(first.finalOutput).toBe('ok');
      await expect(runner.run(agent, 'again')).rejects.toThrow(/rate limit two-per-minute/);
    });
    const decisions = limited.filter((r) => r.type === 'policy.decision');
    expect(decisions.some((d) => d.rule === 'no-wipes' && d.decision === 'deny')).toBe(true);
    expect(decisions.some((d) => d.rule === 'two-per-minute' && d.decision === 'deny')).toBe(true);
    await expectSameDecisions(join(work, 'limit'), POLICY, 4);
    // Under a policy without the limit, the rate-limited call is still reported as recorded, not as a change.
    const unlimited = parsePolicy(
      'policy: { id: no-limits, version: 1 }\ndefault: allow\nrules:\n  - { id: no-wipes, tool: wipe_*, decision: deny }\n',
      'no-limits.yaml',
    );
    const reports = await Promise.all(
      readdirSync(join(work, 'limit', 'sessions')).map((file) =>
        whatIf(new PolicyEngine(unlimited), join(work, 'limit', 'sessions', file)),
      ),
    );
    expect(reports.map((r) => [r.calls, r.rate_limited, r.changes.length]).sort()).toEqual([
      [1, 1, 0],
      [3, 0, 0],
    ]);
  });

  it('handoff rules: an allowed handoff runs; a denied one stops the run inside the handoff span, recorded with the rule', async () => {
    const policy = parsePolicy(
      `policy: { id: handoffs, version: 1 }
default: allow
rules:
  - { id: triage-never-deploys, handoff: { from: Triage, to: Deployer }, decision: deny, reason: triage may not deploy }
  - { id: reads-are-fine, handoff: { to: "Read*" }, decision: allow }
`,
      'handoffs.yaml',
    );
    const to = (target: string) =>
      new SpanEmittingScriptedModel(
        (req) =>
          JSON.stringify(req.input).includes('function_call_result')
            ? [say('done')]
            : [fc('h1', `transfer_to_${target}`, {})],
        { model: 'scripted-4' },
      );
    const answer = new SpanEmittingScriptedModel(() => [say('here is the config')], { model: 'scripted-4' });
    const triage = (target: string) =>
      guardAgent(
        new Agent({
          name: 'Triage',
          model: to(target),
          handoffs: [
            new Agent({ name: 'Reader', model: answer }),
            new Agent({ name: 'Deployer', model: answer }),
          ],
        }),
        policy,
      );

    let output: unknown;
    const allowed = await recordRun(join(work, 'handoff-ok'), async () => {
      output = (await new Runner().run(triage('Reader'), 'show me the config')).finalOutput;
    });
    expect(output).toBe('here is the config');
    await expectSameDecisions(join(work, 'handoff-ok'), policy, 3);
    expect(allowed.find((r) => r.type === 'policy.decision')).toMatchObject({
      decision: 'allow',
      rule: 'reads-are-fine',
      subject: { kind: 'handoff', name: 'Triage → Reader' },
    });

    const denied = await recordRun(join(work, 'handoff-denied'), async () => {
      await expect(new Runner().run(triage('Deployer'), 'deploy it')).rejects.toThrow(
        /triage-never-deploys.*triage may not deploy/,
      );
    });
    const decision = denied.find((r) => r.type === 'policy.decision');
    expect(decision).toMatchObject({
      decision: 'deny',
      rule: 'triage-never-deploys',
      subject: { kind: 'handoff', name: 'Triage → Deployer' },
      policy: { id: 'handoffs', version: '1' },
    });
    const handoffSpan = denied.find((r) => r.type === 'span.end' && r.span.kind === 'handoff');
    // Decided inside the handoff's span: the decision's own span is a child of it.
    const decisionSpan = denied.find((r) => r.type === 'span.start' && r.span.id === decision!.span_id);
    expect(decisionSpan.span.parent_id).toBe(handoffSpan.span.id);
    expect(handoffSpan.span.error).not.toBeNull();
    // The Deployer never got a turn.
    expect(
      denied.some(
        (r) => r.type === 'span.start' && r.span.kind === 'agent' && r.span.data.name === 'Deployer',
      ),
    ).toBe(false);
    // What-if pairs the decision with its handoff span: one handoff call, decided the same way again.
    await expectSameDecisions(join(work, 'handoff-denied'), policy, 2);
    const [file] = readdirSync(join(work, 'handoff-denied', 'sessions'));
    const loose = await whatIf(
      new PolicyEngine(parsePolicy('policy: { id: loose, version: 1 }\ndefault: allow\n', 'loose.yaml')),
      join(work, 'handoff-denied', 'sessions', file!),
    );
    expect(loose.changes.map((c) => [c.call, c.before.decision, c.after.decision])).toEqual([
      [{ kind: 'handoff', from: 'Triage', to: 'Deployer' }, 'deny', 'allow'],
    ]);
  });

  it('an approval rule stops the run; one call approved and one rejected by a human verified from an OIDC token; the resumed run continues in the same file', async () => {
    const deleted: string[] = [];
    const deletePath = tool({
      name: 'delete_path',
      description: 'delete a path',
      parameters: z.object({ path: z.string() }),
      execute: async ({ path }) => {
        deleted.push(path);
        return `deleted ${path}`;
      },
    });
    const model = new SpanEmittingScriptedModel(
      (req) =>
        JSON.stringify(req.input).includes('function_call_result')
          ? [say('cleanup finished')]
          : [
              fc('c1', 'delete_path', { path: '/srv/tmp/cache' }),
              fc('c2', 'delete_path', { path: '/srv/db' }),
              fc('c3', 'delete_path', { path: '/home/me/tmp' }),
            ],
      { model: 'scripted-4' },
    );
    const agent = guardAgent(new Agent({ name: 'Janitor', model, tools: [deletePath] }), POLICY);
    const runner = new Runner({ workflowName: 'janitor' });
    // The approver proves who they are with an OIDC token from the company's identity provider.
    const idp = await generateKeyPair('ES256');
    const jwks = { keys: [{ ...(await exportJWK(idp.publicKey)), kid: 'idp-1', alg: 'ES256' }] };
    const token = await new SignJWT({ email: 'bob@example.com', name: 'Bob Ops', groups: ['sre'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
      .setIssuer('https://idp.example')
      .setAudience('agent-replay')
      .setSubject('bob@example.com')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(idp.privateKey);
    const bob = await identityFromOidcToken(token, {
      issuer: 'https://idp.example',
      audience: 'agent-replay',
      jwks,
    });
    expect(bob.verified).toBe(true);
    const records = await recordRun(join(work, 'approval'), async (recorder) => {
      const first = await runner.run(agent, 'free some disk space');
      // The call outside /srv needs nobody; the two on the server wait for a human.
      expect(first.interruptions.map((i) => JSON.parse(String(i.rawItem.arguments)).path).sort()).toEqual([
        '/srv/db',
        '/srv/tmp/cache',
      ]);
      expect(recordInterruptions(recorder, first)).toBe(2);
      const [a, b] = first.state.getInterruptions();
      const byPath = (item: typeof a) => JSON.parse(String(item!.rawItem.arguments)).path;
      const cache = byPath(a) === '/srv/tmp/cache' ? a! : b!;
      const db = cache === a ? b! : a!;
      approveToolCall(recorder, first.state, cache, { approver: bob, reason: 'cache only' });
      rejectToolCall(recorder, first.state, db, { approver: bob, message: 'never delete the database' });
      const resumed = await runner.run(agent, first.state);
      expect(resumed.finalOutput).toBe('cleanup finished');
    });
    expect(deleted.sort()).toEqual(['/home/me/tmp', '/srv/tmp/cache']);
    // One file: both runs, the requests, the human decisions with who made them.
    expect(new Set(records.map((r) => r.session_id).filter(Boolean)).size).toBe(1);
    const decisions = records.filter((r) => r.type === 'policy.decision');
    // Each waiting call: the rule that asked for a human (once, though the SDK asks again on resume), then the pause.
    const asked = decisions.filter((d) => d.decision === 'require_approval');
    expect(asked.map((d) => [d.call_id, d.rule]).sort()).toEqual([
      ['c1', 'needs_approval'],
      ['c1', 'prod-deletes-need-approval'],
      ['c2', 'needs_approval'],
      ['c2', 'prod-deletes-need-approval'],
    ]);
    expect(asked.find((d) => d.rule === 'prod-deletes-need-approval')).toMatchObject({
      reason: 'deleting on a server needs a human',
      policy: { id: 'prod-guard', version: '3' },
      decided_by: { kind: 'engine', id: 'prod-guard' },
    });
    expect(decisions.find((d) => d.decision === 'approved')).toMatchObject({
      decided_by: { kind: 'human', id: 'bob@example.com', verified: true },
    });
    expect(decisions.find((d) => d.decision === 'rejected')).toMatchObject({
      decided_by: { kind: 'human', id: 'bob@example.com', verified: true },
    });
    // Who approved, as the identity provider vouched for it (the token itself is never stored).
    const approvers = records.filter((r) => r.type === 'identity' && r.role === 'approver');
    expect(approvers.map((r) => r.call_id).sort()).toEqual(['c1', 'c2']);
    for (const approver of approvers) {
      expect(approver.identity).toMatchObject({
        subject: 'bob@example.com',
        issuer: 'https://idp.example',
        name: 'Bob Ops',
        groups: ['sre'],
        verified: true,
        method: 'oidc',
      });
    }
    expect(JSON.stringify(records)).not.toContain(token.split('.')[2]);
    expect(records.filter((r) => r.type === 'trace.start').map((r) => r.resumed)).toEqual([false, true]);
    console.log(
      records
        .filter(
          (r) =>
            r.type === 'policy.decision' ||
            (r.type === 'span.end' && ['function', 'generation'].includes(r.span.kind)),
        )
        .map((r) =>
          r.type === 'policy.decision'
            ? ['D', r.seq, r.decision, r.call_id, r.span_id, r.subject.name, JSON.stringify(r.subject.args)]
            : ['S', r.seq, r.span.kind, r.span.id, r.span.data.input?.slice?.(0, 60)],
        ),
    );
    await expectSameDecisions(join(work, 'approval'), POLICY, 5);
  });
});
