/**
 * Real sessions for the report tests: the real Agents SDK with a scripted model, guarded by a real policy,
 * recorded by the real recorder, read back with the real reader and verifier.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SessionReader, type SessionRecord, verifySession } from '@agent-replay/format';
import { guardAgent, parsePolicy } from '@agent-replay/policy';
import {
  approveToolCall,
  type Identity,
  identityFromOidcToken,
  recordInterruptions,
  rejectToolCall,
  SessionRecorder,
} from '@agent-replay/recorder';
import { fc, SpanEmittingScriptedModel, say, withTraceProcessor } from '@agent-replay/testkit';
import { Agent, Runner, tool } from '@openai/agents';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { z } from 'zod';
import type { ReportCase, ReportRecord, ReportSession } from '../src/report-model.js';

export const POLICY = parsePolicy(
  `policy: { id: prod-guard, version: 3 }
default: allow
rules:
  - id: staging-first
    tool: push_config
    when: { args.environment: { equals: production } }
    decision: deny
    reason: push to staging first
  - id: prod-deletes-need-approval
    tool: delete_path
    when: { args.path: { glob: "/srv/**" } }
    decision: require_approval
    reason: deleting on a server needs a human
`,
  'prod-guard.yaml',
);

/** What an agent may be fed: terminal escapes (colour, window title), markup that closes the table, a bidi override. */
export const HOSTILE =
  '\u001b[31mRED\u001b[0m \u001b]0;pwned\u0007 <script>alert(1)</script> </td></tr></table><img src=x onerror=alert(2)> ' +
  'invoice\u202Efdp.exe \u0085 \u2066iso\u2069 & "quoted" \'single\'';

/** Characters that must never reach a report raw. */
export const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

async function recordRun(
  dir: string,
  run: (recorder: SessionRecorder) => Promise<unknown>,
  identity?: Identity,
  signingKey?: string,
): Promise<string[]> {
  const recorder = new SessionRecorder({
    dir,
    closeDelayMs: 20,
    redactionKeyFile: join(dir, 'redaction.key'),
    policy: POLICY.ref,
    ...(identity ? { identity } : {}),
    ...(signingKey ? { signingKey } : {}),
  });
  await withTraceProcessor(recorder, run);
  return readdirSync(join(dir, 'sessions'))
    .sort()
    .map((file) => join(dir, 'sessions', file));
}

/**
 * The config agent: its push to production is denied by the policy, it pushes to staging instead, and it reads a
 * web page whose content is hostile. One session.
 */
export async function recordConfigSession(dir: string, signingKey?: string): Promise<string> {
  const push = tool({
    name: 'push_config',
    description: 'push a config',
    parameters: z.object({ environment: z.string(), file: z.string() }),
    execute: async ({ environment }) => `pushed to ${environment}`,
  });
  const fetchPage = tool({
    name: 'fetch_page',
    description: 'fetch a page',
    parameters: z.object({ url: z.string(), note: z.string() }),
    execute: async () => HOSTILE,
  });
  const model = new SpanEmittingScriptedModel(
    (req) => {
      const text = JSON.stringify(req.input);
      if (!text.includes('function_call_result'))
        return [fc('p1', 'push_config', { environment: 'production', file: 'payments.yaml' })];
      if (!text.includes('pushed to staging'))
        return [fc('p2', 'push_config', { environment: 'staging', file: 'payments.yaml' })];
      if (!text.includes('pwned'))
        return [fc('w1', 'fetch_page', { url: 'https://status.example/x', note: `<b>bold</b> ${HOSTILE}` })];
      return [say('Pushed to staging first. <script>alert(3)</script>\u202E')];
    },
    { model: 'scripted-4', usage: (_req, call) => ({ inputTokens: 100 * call, outputTokens: 7 }) },
  );
  const agent = guardAgent(new Agent({ name: 'Config', model, tools: [push, fetchPage] }), POLICY);
  const [file] = await recordRun(
    dir,
    () => new Runner({ workflowName: 'config-agent' }).run(agent, 'fix payments.yaml and ship it'),
    undefined,
    signingKey,
  );
  return file as string;
}

/**
 * The janitor: two deletions on the server wait for a human; the approver (verified by the caller's OIDC
 * identity) approves one and rejects the other; the resumed run finishes in the same file.
 */
export async function recordJanitorSession(
  dir: string,
  approver: Identity,
  runAs?: Identity,
): Promise<string> {
  const deletePath = tool({
    name: 'delete_path',
    description: 'delete a path',
    parameters: z.object({ path: z.string() }),
    execute: async ({ path }) => `deleted ${path}`,
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
  const [file] = await recordRun(
    dir,
    async (recorder) => {
      const first = await runner.run(agent, 'free some disk space');
      recordInterruptions(recorder, first);
      const pending = first.state.getInterruptions();
      const byPath = (item: (typeof pending)[number]) =>
        JSON.parse(String((item.rawItem as { arguments?: string }).arguments)).path;
      const cache = pending.find((item) => byPath(item) === '/srv/tmp/cache');
      const db = pending.find((item) => byPath(item) === '/srv/db');
      if (!cache || !db) throw new Error('expected two approvals');
      approveToolCall(recorder, first.state, cache, { approver, reason: 'cache only' });
      rejectToolCall(recorder, first.state, db, { approver, message: 'never delete the database' });
      await runner.run(agent, first.state);
    },
    runAs,
  );
  return file as string;
}

/**
 * Identities proven (or not) by OIDC tokens of a test identity provider: Bob, verified; a service account whose
 * token has expired, recorded with the reason.
 */
export async function oidcIdentities(): Promise<{ bob: Identity; expiredService: Identity }> {
  const idp = await generateKeyPair('ES256');
  const jwks = { keys: [{ ...(await exportJWK(idp.publicKey)), kid: 'idp-1', alg: 'ES256' }] };
  const token = (subject: string, claims: Record<string, unknown>, expires: string | number) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
      .setIssuer('https://idp.example')
      .setAudience('agent-replay')
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime(expires)
      .sign(idp.privateKey);
  const options = { issuer: 'https://idp.example', audience: 'agent-replay', jwks };
  const bob = await identityFromOidcToken(
    await token('bob@example.com', { email: 'bob@example.com', name: 'Bob Ops', groups: ['sre'] }, '5m'),
    options,
  );
  const expiredService = await identityFromOidcToken(
    await token('svc-janitor', { name: 'Janitor service' }, Math.floor(Date.now() / 1000) - 3600),
    { ...options, kind: 'service' },
  );
  return { bob, expiredService };
}

/** Every record of a session file, resolved (blobs inlined), in order. */
export async function readRecords(file: string): Promise<Array<SessionRecord & Record<string, unknown>>> {
  const reader = await SessionReader.open(file);
  try {
    const out: Array<SessionRecord & Record<string, unknown>> = [];
    for await (const record of reader.records()) out.push(await reader.resolve(record));
    return out;
  } finally {
    reader.close();
  }
}

/** An async iterable that can be iterated once only (the report must read each session in one pass). */
export function once<T>(source: AsyncIterable<T>): AsyncIterable<T> & { iterations: number } {
  const wrapper = {
    iterations: 0,
    [Symbol.asyncIterator](): AsyncIterator<T> {
      wrapper.iterations++;
      if (wrapper.iterations > 1) throw new Error('records iterated twice');
      return source[Symbol.asyncIterator]();
    },
  };
  return wrapper;
}

/**
 * A session as the exporter hands it to the report: its verification, and its records streamed from the reader,
 * those for which `withhold` returns a reason replaced by markers.
 */
export async function reportSession(
  file: string,
  options: { withhold?: (record: Record<string, unknown>) => string | undefined } = {},
): Promise<ReportSession & { records: { iterations: number } }> {
  const verification = await verifySession(file);
  const withhold = options.withhold;
  let withheld = 0;
  if (withhold) for (const record of await readRecords(file)) if (withhold(record)) withheld++;
  async function* records(): AsyncGenerator<ReportRecord> {
    const reader = await SessionReader.open(file);
    try {
      for await (const raw of reader.records()) {
        const record = (await reader.resolve(raw)) as Record<string, unknown>;
        const reason = withhold?.(record);
        if (reason) yield { withheld: true, seq: raw.seq, reason };
        else yield { withheld: false, seq: raw.seq, record };
      }
    } finally {
      reader.close();
    }
  }
  const sessionId = verification.sessionId ?? 'unknown';
  return {
    member: `sessions/${sessionId}.${withhold ? 'disclosed.jsonl' : 'arec'}`,
    sessionId,
    verification,
    withheld,
    records: once(records()),
  };
}

export function reportCase(sessions: ReportSession[], overrides: Partial<ReportCase> = {}): ReportCase {
  return {
    caseId: 'INC-4711',
    createdAt: '2026-03-01T12:00:00.000Z',
    producer: { name: 'agent-replay', version: '0.1.0' },
    requested: { from: '2026-02-28T00:00:00Z', to: null },
    covered: { from: '2026-02-28T10:00:00.000000Z', to: '2026-02-28T10:05:00.000000Z' },
    signer: { fingerprint: 'SHA256:Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eA', ephemeral: true },
    redaction: null,
    sessions,
    ...overrides,
  };
}
