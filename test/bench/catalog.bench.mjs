// Catalog benchmark (issue [C]): indexing and querying many sessions, against what a user would do without a
// catalog — decode every file. Everything is measured in one run and reported as ratios to baselines measured in
// the same run (absolute times on shared machines are noise).
//
//   node test/bench/catalog.bench.mjs [--quick] [--json out.json]
//
// Data: one session is recorded with the real SessionRecorder (a real Agents SDK run on a scripted model: runs in a
// trace, guardrail, policy decision, a failing tool); its records are the templates — every generated record has
// exactly the keys of the real record of its type and span kind (checked while writing). From them, 1,000 session
// files of ~1,000 records (--quick: 100 of ~200) are written with SessionWriter into <tmp>/.agent-replay/sessions,
// on two worker processes (not timed): 12 workflows with their own tools (20 tool names), 40 identities, 4 models,
// runs of 2-6 turns whose model calls carry the run's growing history, tool arguments and outputs from the seeded
// text helpers, a guardrail decision now and then, a denied tool call now and then. The writer stamps every record
// with its own clock, so the generator sets that clock (performance.now) to simulated time: sessions start over the
// last 30 days and last tens of minutes, as if they had been recorded then. Exactly one session carries a unique
// token inside one tool argument.
//
// Timed, spawning the built CLI (`node apps/cli/dist/main.js --dir …`, a new process per command, Node start
// included) and calling the in-process Catalog API:
//   (1) first `index` (no catalog), for 1,000 sessions and for a copy of 100 of them;
//   (2) `index` with nothing changed (one stat per file), and after one session grew by N records (SessionWriter.open
//       + append + close) for two N, in the 100- and the 1,000-session catalog: the growth cost must follow N and
//       not the catalog size;
//   (3) `search <token>` against `zstd -dcq <every file> | grep -c <token>` (and a zstd process per file);
//   (4) `ls --tool X --since 7d` against reading every record of every file with SessionReader and applying the
//       same filter (and against `zstd -dcq <every file> | grep -c '"name":"X"'`).
// Queries are repeated and the median is reported. All files stay in the page cache (warm) for every variant.
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { SessionReader, SessionWriter } from '@agent-replay/format';
import { code, prng, text } from './workloads.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const CLI = join(root, 'apps', 'cli', 'dist', 'main.js');
const DAY = 86_400_000;

// ---------------------------------------------------------------- workload vocabulary

/** ~20 tools: arguments and outputs shaped like what such tools take and return. */
const TOOLS = {
  read_file: {
    args: (r) => ({ path: `/srv/${pick(r, SERVICES)}/src/${pick(r, VOCAB_FILES)}.ts` }),
    output: (r) => code(r, 5 + Math.floor(r() * 30)),
  },
  write_file: {
    args: (r) => ({
      path: `/srv/${pick(r, SERVICES)}/src/${pick(r, VOCAB_FILES)}.ts`,
      content: code(r, 3 + Math.floor(r() * 10)),
    }),
    output: () => 'ok',
  },
  list_dir: {
    args: (r) => ({ path: `/srv/${pick(r, SERVICES)}` }),
    output: (r) =>
      Array.from({ length: 4 + Math.floor(r() * 20) }, () => `${pick(r, VOCAB_FILES)}.ts`).join('\n'),
  },
  git_diff: {
    args: (r) => ({ ref: `HEAD~${1 + Math.floor(r() * 5)}`, path: `src/${pick(r, VOCAB_FILES)}.ts` }),
    output: (r) => `@@ -1,7 +1,9 @@\n${code(r, 4 + Math.floor(r() * 16))}`,
  },
  run_shell: {
    args: (r) => ({ command: `npm run ${pick(r, ['test', 'build', 'lint'])} -- --filter ${text(r, 1)}` }),
    output: (r) => text(r, 20 + Math.floor(r() * 120)),
  },
  search_docs: {
    args: (r) => ({ query: text(r, 2 + Math.floor(r() * 5)), limit: 5 }),
    output: (r) => text(r, 40 + Math.floor(r() * 160)),
  },
  kb_article: {
    args: (r) => ({ id: `KB-${Math.floor(r() * 9000) + 1000}` }),
    output: (r) => text(r, 60 + Math.floor(r() * 200)),
  },
  summarize_doc: {
    args: (r) => ({ doc_id: `doc_${Math.floor(r() * 1e6).toString(36)}`, max_words: 120 }),
    output: (r) => text(r, 40 + Math.floor(r() * 80)),
  },
  query_db: {
    args: (r) => ({
      sql: `select * from ${pick(r, VOCAB_FILES)} where id > ${Math.floor(r() * 1e4)} limit 20`,
    }),
    output: (r) =>
      JSON.stringify(
        Array.from({ length: 3 + Math.floor(r() * 12) }, (_, i) => ({
          id: i + Math.floor(r() * 1e5),
          name: text(r, 2),
          value: Math.round(r() * 1e5) / 100,
          ok: r() < 0.9,
        })),
      ),
  },
  fetch_metrics: {
    args: (r) => ({ service: pick(r, SERVICES), window: pick(r, ['5m', '1h', '24h']) }),
    output: (r) =>
      JSON.stringify({
        p50_ms: Math.round(r() * 200),
        p99_ms: Math.round(r() * 2000),
        error_rate: Math.round(r() * 1000) / 1e5,
        series: Array.from({ length: 12 }, () => Math.round(r() * 1000)),
      }),
  },
  http_get: {
    args: (r) => ({ url: `https://api.internal.example/${pick(r, SERVICES)}/${text(r, 1)}` }),
    output: (r) => JSON.stringify({ status: 200, body: text(r, 20 + Math.floor(r() * 80)) }),
  },
  deploy_service: {
    args: (r) => ({
      service: pick(r, SERVICES),
      environment: pick(r, ['staging', 'production']),
      version: `v${1 + Math.floor(r() * 9)}.${Math.floor(r() * 30)}.${Math.floor(r() * 10)}`,
    }),
    output: (r) =>
      `deployment ${Math.floor(r() * 1e6).toString(36)} ${pick(r, ['started', 'rolled out', 'queued'])}`,
  },
  lookup_order: {
    args: (r) => ({ order_id: `ORD-${Math.floor(r() * 1e6)}` }),
    output: (r) =>
      JSON.stringify({
        status: pick(r, ['shipped', 'pending', 'delivered']),
        items: Math.ceil(r() * 5),
        note: text(r, 8),
      }),
  },
  refund: {
    args: (r) => ({ order_id: `ORD-${Math.floor(r() * 1e6)}`, amount: Math.round(r() * 50000) / 100 }),
    output: (r) => `refund ${Math.floor(r() * 1e6).toString(36)} issued`,
  },
  send_email: {
    args: (r) => ({
      to: `${pick(r, FIRST)}@customer.example`,
      subject: text(r, 5),
      body: text(r, 30 + Math.floor(r() * 60)),
    }),
    output: () => 'queued',
  },
  create_ticket: {
    args: (r) => ({
      title: text(r, 6),
      priority: pick(r, ['p1', 'p2', 'p3']),
      body: text(r, 20 + Math.floor(r() * 60)),
    }),
    output: (r) => `created TCK-${Math.floor(r() * 1e5)}`,
  },
  slack_post: {
    args: (r) => ({ channel: `#${pick(r, SERVICES)}`, text: text(r, 10 + Math.floor(r() * 30)) }),
    output: () => 'posted',
  },
  calendar_lookup: {
    args: (r) => ({ user: `${pick(r, FIRST)}@corp.example`, day: `2026-11-${10 + Math.floor(r() * 18)}` }),
    output: (r) => text(r, 10 + Math.floor(r() * 40)),
  },
  translate: {
    args: (r) => ({ text: text(r, 10 + Math.floor(r() * 40)), target: pick(r, ['de', 'fr', 'ja', 'es']) }),
    output: (r) => text(r, 10 + Math.floor(r() * 40)),
  },
  get_weather: {
    args: (r) => ({ city: pick(r, ['Berlin', 'Paris', 'Osaka', 'Lima', 'Oslo']) }),
    output: (r) => `${Math.round(r() * 30)} C, ${pick(r, ['sunny', 'rain', 'cloudy'])}`,
  },
};
const SERVICES = [
  'payments',
  'checkout',
  'search',
  'auth',
  'inventory',
  'billing',
  'gateway',
  'notifications',
];
const VOCAB_FILES = [
  'config',
  'handler',
  'client',
  'retry',
  'cache',
  'policy',
  'router',
  'schema',
  'worker',
  'index',
];
const FIRST = [
  'alice',
  'bob',
  'chen',
  'dana',
  'emeka',
  'fatima',
  'goran',
  'hana',
  'ivan',
  'julia',
  'kofi',
  'lena',
];
const LAST = ['smith', 'nguyen', 'garcia', 'kim', 'okafor', 'novak', 'tanaka'];
const MODELS = ['gpt-4.1', 'gpt-4.1-mini', 'o4-mini', 'gpt-5'];
/** 12 workflows, each an agent with its own tools (the tool filtered on by `ls` is in 2 of them). */
const WORKFLOWS = [
  ['support-desk', 'Support', ['lookup_order', 'refund', 'send_email', 'kb_article', 'create_ticket'], true],
  ['nightly-triage', 'Triage', ['create_ticket', 'search_docs', 'query_db', 'slack_post'], false],
  ['code-review', 'Reviewer', ['read_file', 'git_diff', 'list_dir', 'run_shell'], false],
  ['deploy-assistant', 'Deployer', ['deploy_service', 'fetch_metrics', 'run_shell', 'slack_post'], true],
  ['billing-agent', 'Billing', ['query_db', 'refund', 'send_email', 'http_get'], true],
  ['research-digest', 'Researcher', ['search_docs', 'summarize_doc', 'http_get', 'translate'], false],
  [
    'incident-responder',
    'Responder',
    ['fetch_metrics', 'deploy_service', 'read_file', 'create_ticket'],
    true,
  ],
  ['onboarding-helper', 'Onboarding', ['calendar_lookup', 'send_email', 'kb_article', 'slack_post'], false],
  ['data-quality', 'Auditor', ['query_db', 'write_file', 'run_shell', 'list_dir'], false],
  ['sales-outreach', 'Outreach', ['send_email', 'calendar_lookup', 'search_docs', 'translate'], true],
  ['doc-writer', 'Writer', ['read_file', 'write_file', 'summarize_doc', 'git_diff'], false],
  ['security-audit', 'Auditor', ['read_file', 'run_shell', 'http_get', 'get_weather'], true],
].map(([name, agent, tools, guarded]) => ({ name, agent, tools, guarded }));
const IDENTITIES = [
  ...Array.from({ length: 25 }, (_, i) => {
    const name = `${FIRST[i % FIRST.length]}.${LAST[i % LAST.length]}${i >= 12 ? i : ''}`;
    return {
      email: `${name}@corp.example`,
      issuer: 'https://login.corp.example',
      kind: 'human',
      method: 'oidc',
      name,
      subject: `${name}@corp.example`,
      verified: true,
    };
  }),
  ...Array.from({ length: 15 }, (_, i) => ({
    kind: 'service',
    method: 'static',
    subject: `svc-${SERVICES[i % SERVICES.length]}-${i}`,
    verified: false,
  })),
];
/** The tool `ls --tool` filters on, and the token exactly one session carries in one tool argument. */
const LS_TOOL = 'deploy_service';
const RARE_TOKEN = 'zq7xk2vw9pmtr4';

function pick(random, list) {
  return list[Math.floor(random() * list.length)];
}
function hex(random, n) {
  let out = '';
  while (out.length < n)
    out += Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
  return out.slice(0, n);
}

// ---------------------------------------------------------------- templates from a real recording

/** Shape of a record: its keys, its span's keys and its span data's keys (values aside). */
function shapeOf(record) {
  const keys = (o) =>
    o !== null && typeof o === 'object' && !Array.isArray(o) ? Object.keys(o).sort().join(',') : '';
  const span = record.span;
  return `{${keys(record)}} span{${keys(span)}} data{${keys(span?.data)}}`;
}
const templateKey = (record) => `${record.type}${record.span ? `:${record.span.kind}` : ''}`;

/** Records one session with the real recorder and the real Agents SDK; returns its records (blobs resolved). */
async function recordRealSession(dir) {
  const { POLICY_DECISION_SPAN, SessionRecorder } = await import('@agent-replay/recorder');
  const { fc, SpanEmittingScriptedModel, say, scriptedProvider } = await import('@agent-replay/testkit');
  const { Agent, Runner, setTraceProcessors, setTracingDisabled, tool, withCustomSpan, withTrace } =
    await import('@openai/agents');
  const { z } = await import('zod');
  setTracingDisabled(false);
  const recorder = new SessionRecorder({
    dir,
    redactionKeyFile: join(dir, 'redaction.key'),
    handleUncaughtExceptions: false,
    identity: { subject: 'svc-bench', kind: 'service', verified: false, method: 'static' },
  });
  setTraceProcessors([recorder]);
  const lookup = tool({
    name: 'lookup_order',
    description: 'find an order',
    parameters: z.object({ id: z.string() }),
    execute: async ({ id }) => `order ${id}: shipped`,
  });
  const refund = tool({
    name: 'refund',
    description: 'refund an order',
    parameters: z.object({ id: z.string() }),
    execute: async () => {
      throw new Error('refund service unavailable');
    },
  });
  const model = new SpanEmittingScriptedModel(
    (_req, call) =>
      call % 3 === 1
        ? [
            fc(`call_${call}a`, 'lookup_order', { id: 'A-17' }),
            fc(`call_${call}b`, 'lookup_order', { id: 'B-2' }),
          ]
        : call % 3 === 2
          ? [fc(`call_${call}`, 'refund', { id: 'A-17' })]
          : [say('Order A-17 has shipped.')],
    { model: 'gpt-4.1', usage: (_req, call) => ({ inputTokens: 100 * call, outputTokens: 7 }) },
  );
  const agent = new Agent({
    name: 'Support',
    instructions: 'Help the customer.',
    tools: [lookup, refund],
    inputGuardrails: [
      { name: 'no_pii', execute: async () => ({ outputInfo: { ok: true }, tripwireTriggered: false }) },
    ],
  });
  await withTrace(
    'support-desk',
    async () => {
      await withCustomSpan(async () => {}, {
        data: {
          name: POLICY_DECISION_SPAN,
          data: {
            decision: 'deny',
            subject: { kind: 'tool', name: 'refund', args: { id: 'A-17' } },
            rule: 'refund-limit',
            reason: 'over the refund limit',
            policy: { id: 'support', version: '3' },
            decided_by: { kind: 'engine', id: 'agent-replay-policy' },
            call_id: 'call_2',
          },
        },
      });
      const runner = new Runner({ modelProvider: scriptedProvider(model) });
      await runner.run(agent, 'Where is my order A-17?');
      await runner.run(agent, 'And B-2?');
    },
    { metadata: { ticket: 'T-1' } },
  );
  await recorder.forceFlush();
  await recorder.shutdown();
  setTraceProcessors([]);
  const [name] = readdirSync(join(dir, 'sessions')).filter((n) => n.endsWith('.arec'));
  const reader = await SessionReader.open(join(dir, 'sessions', name));
  const records = [];
  for await (const record of reader.records()) {
    if (record.type !== 'blob') records.push(await reader.resolve(record));
  }
  reader.close();
  return records;
}

/** The real records by type and span kind: the first of each, plus a failed function span. */
function templatesFrom(records) {
  const templates = {};
  for (const record of records) {
    const key = templateKey(record);
    if (key === 'span.end:function' && record.span.error) templates['span.end:function:error'] ??= record;
    else templates[key] ??= record;
  }
  const needed = [
    'session.start',
    'trace.start',
    'span.start:task',
    'span.end:task',
    'span.start:agent',
    'span.end:agent',
    'span.start:turn',
    'span.end:turn',
    'span.start:guardrail',
    'span.end:guardrail',
    'policy.decision',
    'span.start:generation',
    'span.end:generation',
    'span.start:function',
    'span.end:function',
    'span.end:function:error',
    'span.start:custom',
    'span.end:custom',
    'trace.end',
    'session.end',
  ];
  for (const key of needed) if (!templates[key]) throw new Error(`the real session has no ${key} record`);
  return templates;
}

// ---------------------------------------------------------------- session generator

/**
 * Writes the records of one or more runs of a workflow into a session, from the templates. `clock()` is the
 * simulated time in ms (also what the writer stamps); `tick(lo, hi)` advances it.
 */
class SessionBuilder {
  constructor({ templates, random, writer, clock, tick, workflow, model, identity, traceId }) {
    Object.assign(this, { templates, random, writer, clock, tick, workflow, model, identity, traceId });
    this.shapes = Object.fromEntries(Object.entries(templates).map(([k, t]) => [k, shapeOf(t)]));
    this.records = 0;
    this.counts = {
      approvals_requested: 0,
      denials: 0,
      errors: 0,
      guardrails: 0,
      handoffs: 0,
      model_calls: 0,
      policy_decisions: 0,
      spans: 0,
      tool_calls: 0,
      traces: 0,
    };
    this.usage = { cached_input_tokens: 0, input_tokens: 0, output_tokens: 0, total_tokens: 0 };
    this.tools = new Set();
    this.models = new Set();
    this.agents = new Set();
  }

  /** Appends a record after checking it has exactly the keys of the real record of its kind. */
  append(type, fields, variant = '') {
    const record = { ...fields, seq: 0, ts: '', type };
    const key = templateKey(record) + variant;
    if (shapeOf(record) !== this.shapes[key])
      throw new Error(`generated ${key} ${shapeOf(record)} differs from the real ${this.shapes[key]}`);
    this.writer.append(type, fields);
    this.records++;
    this.tick(40, 1500);
  }

  iso() {
    return new Date(this.clock()).toISOString();
  }

  spanId() {
    return `span_${hex(this.random, 24)}`;
  }

  start(kind, id, parentId, data, startedAt) {
    this.append('span.start', { span: { data, id, kind, parent_id: parentId, started_at: startedAt } });
  }

  end(kind, id, parentId, data, startedAt, error = null) {
    this.counts.spans++;
    this.append(
      'span.end',
      { span: { data, ended_at: this.iso(), error, id, kind, parent_id: parentId, started_at: startedAt } },
      error && kind === 'function' ? ':error' : '',
    );
  }

  sessionStart(host) {
    const t = this.templates['session.start'];
    this.append('session.start', {
      group_id: this.random() < 0.3 ? `grp_${hex(this.random, 12)}` : null,
      host,
      identity: this.identity,
      metadata: {
        env: pick(this.random, ['prod', 'staging']),
        ticket: `T-${Math.floor(this.random() * 1e5)}`,
      },
      policy: t.policy,
      redaction: t.redaction,
      session_id: this.traceId,
      trace_id: this.traceId,
      versions: t.versions,
      workflow: this.workflow.name,
    });
  }

  traceStart(resumed, pid) {
    this.counts.traces++;
    this.append('trace.start', {
      group_id: null,
      identity: this.identity,
      pid,
      resumed,
      trace_id: this.traceId,
      workflow: this.workflow.name,
    });
  }

  policyDecision(fields) {
    this.counts.policy_decisions++;
    if (fields.decision === 'deny' || fields.decision === 'rejected') this.counts.denials++;
    this.append('policy.decision', fields);
  }

  /** A denied tool call decided by the policy engine (custom span + decision, as the recorder writes them). */
  deniedCall() {
    const r = this.random;
    const name = pick(r, this.workflow.tools);
    const id = this.spanId();
    const callId = `call_${hex(r, 24)}`;
    const decision = {
      call_id: callId,
      decided_by: { id: 'agent-replay-policy', kind: 'engine' },
      decision: 'deny',
      policy: { id: this.workflow.name, version: String(1 + Math.floor(r() * 5)) },
      reason: `${text(r, 6)} (${pick(r, ['limit exceeded', 'not on production', 'needs approval'])})`,
      rule: pick(r, ['no-prod-writes', 'refund-limit', 'pii-egress', 'business-hours']),
      subject: { args: TOOLS[name].args(r), kind: 'tool', name },
    };
    const startedAt = this.iso();
    const data = { data: decision, name: 'agent_replay.policy_decision', type: 'custom' };
    this.start('custom', id, null, data, startedAt);
    this.end('custom', id, null, data, startedAt);
    this.policyDecision({ ...decision, span_id: id });
  }

  /** One Runner.run: task > agent > turns (guardrail on the first; model call; tool calls), like the SDK. */
  run(turns, rare) {
    const r = this.random;
    const wf = this.workflow;
    this.agents.add(wf.agent);
    const taskId = this.spanId();
    const taskStart = this.iso();
    this.start('task', taskId, null, { name: 'Agent workflow', type: 'task' }, taskStart);
    const agentId = this.spanId();
    const agentStart = this.iso();
    const agentData = { handoffs: [], name: wf.agent, output_type: 'text', tools: [], type: 'agent' };
    this.start('agent', agentId, taskId, agentData, agentStart);
    const history = [
      { content: `You are ${wf.agent}. ${text(r, 20 + Math.floor(r() * 40))}`, role: 'system' },
      { content: text(r, 8 + Math.floor(r() * 40)), role: 'user', type: 'message' },
    ];
    const runUsage = {
      cache_write_input_tokens: 0,
      cached_input_tokens: 0,
      input_tokens: 0,
      output_tokens: 0,
    };
    for (let turn = 1; turn <= turns; turn++) {
      const turnId = this.spanId();
      const turnStart = this.iso();
      this.start('turn', turnId, agentId, { agent_name: wf.agent, turn, type: 'turn' }, turnStart);
      if (turn === 1 && wf.guarded) {
        const gid = this.spanId();
        const gStart = this.iso();
        const triggered = r() < 0.03;
        const gname = pick(r, ['no_pii', 'topic_check', 'jailbreak_check']);
        const gdata = { name: gname, triggered, type: 'guardrail' };
        this.start('guardrail', gid, agentId, gdata, gStart);
        this.counts.guardrails++;
        this.end('guardrail', gid, agentId, gdata, gStart);
        this.policyDecision({
          call_id: null,
          decided_by: { id: gname, kind: 'guardrail' },
          decision: triggered ? 'deny' : 'allow',
          policy: null,
          reason: `input guardrail "${gname}" ${triggered ? 'tripped' : 'passed'}`,
          rule: gname,
          span_id: gid,
          subject: { kind: 'input', name: gname },
        });
      }
      // the model call
      const genId = this.spanId();
      const genStart = this.iso();
      this.start('generation', genId, turnId, { type: 'generation' }, genStart);
      this.tick(300, 4000);
      const last = turn === turns;
      const calls = last ? [] : Array.from({ length: r() < 0.3 ? 2 : 1 }, () => pick(r, wf.tools));
      const output = last
        ? [
            {
              content: [{ text: text(r, 15 + Math.floor(r() * 60)), type: 'output_text' }],
              role: 'assistant',
              status: 'completed',
              type: 'message',
            },
          ]
        : calls.map((name, i) => {
            const args = TOOLS[name].args(r);
            if (rare?.turn === turn && i === 0) args.reference = `inc-${RARE_TOKEN}`;
            return {
              arguments: JSON.stringify(args),
              callId: `call_${hex(r, 24)}`,
              name,
              status: 'completed',
              type: 'function_call',
            };
          });
      const inputTokens = 200 + Math.floor(JSON.stringify(history).length / 4);
      const outputTokens = 10 + Math.floor(r() * 200);
      const genTemplate = this.templates['span.end:generation'].span.data;
      this.end(
        'generation',
        genId,
        turnId,
        {
          input: [...history],
          model: this.model,
          model_config: genTemplate.model_config,
          output,
          type: 'generation',
          usage: { input_tokens: inputTokens, output_tokens: outputTokens },
        },
        genStart,
      );
      this.counts.model_calls++;
      this.models.add(this.model);
      this.usage.input_tokens += inputTokens;
      this.usage.output_tokens += outputTokens;
      this.usage.total_tokens += inputTokens + outputTokens;
      runUsage.input_tokens += inputTokens;
      runUsage.output_tokens += outputTokens;
      history.push(...output);
      // the tool calls: all start, then all end (the SDK runs them concurrently)
      const spans = output
        .filter((item) => item.type === 'function_call')
        .map((item) => ({ item, id: this.spanId(), startedAt: this.iso() }));
      for (const { item, id, startedAt } of spans)
        this.start(
          'function',
          id,
          turnId,
          { input: '', name: item.name, output: '', type: 'function' },
          startedAt,
        );
      for (const { item, id, startedAt } of spans) {
        const failed = r() < 0.02;
        const result = failed
          ? 'An error occurred while running the tool. Please try again.'
          : TOOLS[item.name].output(r);
        this.tick(50, 3000);
        this.end(
          'function',
          id,
          turnId,
          { input: item.arguments, name: item.name, output: result, type: 'function' },
          startedAt,
          failed
            ? {
                data: { error: 'Tool execution failed. Error details are redacted.', tool_name: item.name },
                message: 'Error running tool (non-fatal)',
              }
            : null,
        );
        this.counts.tool_calls++;
        if (failed) this.counts.errors++;
        this.tools.add(item.name);
        history.push({
          callId: item.callId,
          name: item.name,
          output: { text: result, type: 'text' },
          status: 'completed',
          type: 'function_call_result',
        });
      }
      this.end(
        'turn',
        turnId,
        agentId,
        {
          agent_name: wf.agent,
          turn,
          type: 'turn',
          usage: {
            cache_write_input_tokens: 0,
            cached_input_tokens: 0,
            input_tokens: inputTokens,
            output_tokens: outputTokens,
          },
        },
        turnStart,
      );
    }
    this.end('agent', agentId, taskId, { ...agentData, tools: [...wf.tools] }, agentStart);
    this.end(
      'task',
      taskId,
      null,
      {
        name: 'Agent workflow',
        type: 'task',
        usage: {
          ...runUsage,
          requests: turns,
          total_tokens: runUsage.input_tokens + runUsage.output_tokens,
        },
      },
      taskStart,
    );
  }

  /** Runs until about `count` more records are written; the rare token goes into the run at ~60%. */
  runs(count, rareAtRecord) {
    const r = this.random;
    const stop = this.records + count - 2;
    let rarePending = rareAtRecord !== undefined;
    while (this.records < stop) {
      if (r() < 0.08) this.deniedCall();
      const turns = 2 + Math.floor(r() * 5);
      const rare = rarePending && this.records >= rareAtRecord ? { turn: 1 } : undefined;
      if (rare) rarePending = false;
      this.run(turns, rare);
    }
  }

  sessionEnd(previous) {
    const add = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, a[k] + (b?.[k] ?? 0)]));
    this.append('trace.end', { metadata: {}, trace_id: this.traceId });
    const union = (set, old) => [...new Set([...(old ?? []), ...set])].sort();
    this.append('session.end', {
      agents: union(this.agents, previous?.agents),
      counts: add(this.counts, previous?.counts),
      dropped_records: 0,
      models: union(this.models, previous?.models),
      redactions: {},
      status: 'completed',
      tools: union(this.tools, previous?.tools),
      usage: add(this.usage, previous?.usage),
    });
  }
}

/** A new session file with about `records` records; session `index` of `total` starts within the last 30 days. */
async function writeSession({ templates, sessionsDir, index, total, records, rare, now }) {
  const random = prng(1000 + index);
  const workflow = WORKFLOWS[Math.floor(random() * WORKFLOWS.length)];
  const identity = IDENTITIES[Math.floor(random() * IDENTITIES.length)];
  const model = pick(random, MODELS);
  const traceId = `trace_${hex(random, 32)}`;
  // Simulated time, read by the writer through performance.now (see the top of this file).
  let t = now - 30 * DAY + ((index + random()) / total) * 30 * DAY - 2 * 3_600_000;
  performance.now = () => t - performance.timeOrigin;
  const writer = await SessionWriter.create(join(sessionsDir, `${traceId}.arec`), {
    sessionId: traceId,
    durability: 'none',
  });
  const builder = new SessionBuilder({
    templates,
    random,
    writer,
    clock: () => t,
    tick: (lo, hi) => {
      t += lo + random() * (hi - lo);
    },
    workflow,
    model,
    identity,
    traceId,
  });
  const pid = 1000 + Math.floor(random() * 60000);
  builder.sessionStart({
    arch: 'x64',
    argv: ['/usr/bin/node', `/srv/${workflow.name}/dist/main.js`],
    cwd: `/srv/${workflow.name}`,
    hostname: `agent-host-${Math.floor(random() * 8)}`,
    node: 'v20.20.2',
    pid,
    platform: 'linux',
    user: identity.kind === 'human' ? identity.name : 'agent',
  });
  builder.traceStart(false, pid);
  builder.runs(records - 4, rare ? Math.floor(records * 0.6) : undefined);
  builder.sessionEnd();
  await writer.close();
  return writer.stats.records;
}

/** Appends `count` records to a sealed session: a resumed trace, as when an interrupted run continues. */
async function growSession(templates, path, count, seed) {
  const reader = await SessionReader.open(path);
  const start = await reader.resolve(await reader.get(1));
  let end;
  for (let seq = reader.recordCount; seq >= 1 && !end; seq--) {
    const record = await reader.get(seq);
    if (record?.type === 'session.end') end = await reader.resolve(record);
  }
  reader.close();
  const writer = await SessionWriter.open(path, { durability: 'none' });
  const random = prng(seed);
  const builder = new SessionBuilder({
    templates,
    random,
    writer,
    clock: () => Date.now(),
    tick: () => {},
    workflow: WORKFLOWS.find((w) => w.name === start.workflow),
    model: pick(random, MODELS),
    identity: start.identity,
    traceId: start.trace_id,
  });
  builder.traceStart(true, process.pid);
  builder.runs(count - 3);
  builder.sessionEnd(end);
  await writer.close();
  return builder.records;
}

// ---------------------------------------------------------------- worker mode: generate a slice of the sessions

if (process.argv[2] === '--generate') {
  const spec = JSON.parse(readFileSync(process.argv[3], 'utf8'));
  const templates = JSON.parse(readFileSync(spec.templates, 'utf8'));
  let written = 0;
  for (let index = spec.first; index < spec.total; index += spec.step) {
    written += await writeSession({ ...spec, templates, index, rare: index === spec.rareIndex });
  }
  process.stdout.write(`${written}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------- measuring

const quick = process.argv.includes('--quick');
const jsonOut = process.argv.includes('--json')
  ? process.argv[process.argv.indexOf('--json') + 1]
  : undefined;
const SESSIONS = quick ? 100 : 1000;
const RECORDS = quick ? 200 : 1000;
const SMALL = SESSIONS / 10;
const GROWTH = quick ? [200, 2000] : [1000, 10000];
const REPS = quick ? 5 : 9;
const API_REPS = quick ? 11 : 21;
const BASE_REPS = quick ? 3 : 5;
const DECODE_REPS = quick ? 1 : 3;
const GROW_REPS = quick ? 3 : 5;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const log = (message) => console.error(`[catalog bench] ${message}`);

const tmp = mkdtempSync(join(tmpdir(), 'catalog-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true })); // also when a step fails
const big = join(tmp, '.agent-replay');
const small = join(tmp, 'small', '.agent-replay');
const bigSessions = join(big, 'sessions');
const smallSessions = join(small, 'sessions');
mkdirSync(bigSessions, { recursive: true });
mkdirSync(smallSessions, { recursive: true });

function cli(dir, ...args) {
  const t0 = performance.now();
  const result = spawnSync(process.execPath, [CLI, '--dir', dir, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1' },
  });
  const elapsed = performance.now() - t0;
  if (result.status !== 0 && !(args[0] === 'search' && result.status === 1))
    throw new Error(`agent-replay ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return { ms: elapsed, stdout: result.stdout };
}

function timed(fn) {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}
async function timedAsync(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

function sh(script, files) {
  const t0 = performance.now();
  const result = spawnSync('sh', ['-c', script, 'sh', ...files], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const elapsed = performance.now() - t0;
  if (result.status !== 0 && result.status !== 1) throw new Error(`sh ${script}: ${result.stderr}`);
  return { ms: elapsed, stdout: result.stdout.trim() };
}

function sessionFiles(dir) {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.arec'))
    .sort()
    .map((n) => join(dir, n));
}
function bytesOf(files) {
  return files.reduce((n, f) => n + statSync(f).size, 0);
}
function catalogBytes(dir) {
  return ['catalog.sqlite', 'catalog.sqlite-wal'].reduce((n, f) => {
    try {
      return n + statSync(join(dir, f)).size;
    } catch {
      return n;
    }
  }, 0);
}

/** The `ls --tool X --since` baseline: every record of every file read and parsed, the same filter applied. */
async function decodeEveryFile(files, tool, since) {
  const matches = [];
  let records = 0;
  for (const path of files) {
    const reader = await SessionReader.open(path);
    let uses = false;
    let last = '';
    let sessionId = reader.header.session_id;
    for await (const record of reader.records()) {
      records++;
      last = record.ts;
      if (record.type === 'session.start') sessionId = record.session_id ?? sessionId;
      if (!uses && record.type === 'span.end' && record.span?.kind === 'function') {
        const data = record.span.data?.$blob ? await reader.resolve(record.span.data) : record.span.data;
        uses = data?.name === tool;
      }
    }
    reader.close();
    if (uses && last >= since) matches.push(sessionId);
  }
  return { matches: matches.sort(), records };
}

const started = performance.now();
log(
  `Node ${process.versions.node}, ${SESSIONS} sessions x ~${RECORDS} records${quick ? ' (quick)' : ''}, in ${tmp}`,
);

// -- data
const realRecords = await recordRealSession(join(tmp, 'real'));
const templates = templatesFrom(realRecords);
const templatesPath = join(tmp, 'templates.json');
writeFileSync(templatesPath, JSON.stringify(templates));
const now = Date.now();
const rareIndex = Math.floor(SESSIONS * 0.618);
const genStart = performance.now();
const workers = [0, 1].map((first) => {
  const specPath = join(tmp, `spec-${first}.json`);
  writeFileSync(
    specPath,
    JSON.stringify({
      templates: templatesPath,
      sessionsDir: bigSessions,
      first,
      step: 2,
      total: SESSIONS,
      records: RECORDS,
      rareIndex,
      now,
    }),
  );
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--generate', specPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  return new Promise((resolve, reject) =>
    child.on('exit', (status) =>
      status === 0 ? resolve(Number(out)) : reject(new Error(`generator exited ${status}`)),
    ),
  );
});
const generatedRecords = (await Promise.all(workers)).reduce((a, b) => a + b, 0);
const files = sessionFiles(bigSessions);
for (const f of files.slice(0, SMALL)) copyFileSync(f, join(smallSessions, f.slice(bigSessions.length + 1)));
const sessionBytes = bytesOf(files);
const rawBytes = Number(sh('zstd -dcq -- "$@" | wc -c', files).stdout);
log(
  `generated ${files.length} files, ${generatedRecords} records, ${(sessionBytes / 1e6).toFixed(1)} MB in ${((performance.now() - genStart) / 1000).toFixed(0)} s`,
);
// every generated record kind has the real recorder's shape (checked while writing); check one file read back
{
  const realShapes = new Set(realRecords.map((r) => `${templateKey(r)} ${shapeOf(r)}`));
  const reader = await SessionReader.open(files[0]);
  for await (const record of reader.records()) {
    if (record.type === 'blob') continue;
    const shape = `${templateKey(record)} ${shapeOf(await reader.resolve(record))}`;
    if (!realShapes.has(shape)) throw new Error(`generated record has no real counterpart: ${shape}`);
  }
  reader.close();
}

// Loaded here, not at the top: the generator workers run this file too and need no SQLite.
const { Catalog } = await import('@agent-replay/catalog');
const results = { node: process.versions.node, quick, sessions: files.length, records_per_session: RECORDS };

// -- (1) first index, and what decoding every file once costs (the same files)
const decodeOnce = await timedAsync(() => decodeEveryFile(files, LS_TOOL, ''));
const firstBig = cli(big, 'index', '--json');
const firstBigReport = JSON.parse(firstBig.stdout);
const firstSmall = cli(small, 'index', '--json');
const firstSmallReport = JSON.parse(firstSmall.stdout);
results.first_index = {
  sessions: firstBigReport.files,
  records: firstBigReport.records,
  documents: firstBigReport.documents,
  ms: firstBig.ms,
  records_per_s: Math.round(firstBigReport.records / (firstBig.ms / 1000)),
  small_sessions: firstSmallReport.files,
  small_ms: firstSmall.ms,
  decode_every_file_ms: decodeOnce.ms,
  session_mb: sessionBytes / 1e6,
  raw_mb: rawBytes / 1e6,
  catalog_mb: catalogBytes(big) / 1e6,
};
log(
  `first index: ${firstBigReport.records} records in ${ms(firstBig.ms)} ms (${SMALL} sessions: ${ms(firstSmall.ms)} ms)`,
);
if (firstBigReport.failures.length)
  throw new Error(`index failures: ${JSON.stringify(firstBigReport.failures[0])}`);

// -- (2) no-change and incremental index
const nochange = {};
for (const [label, dir] of [
  ['small', small],
  ['big', big],
]) {
  const times = [];
  for (let i = 0; i < REPS; i++) {
    const { ms: t, stdout } = cli(dir, 'index', '--json');
    if (JSON.parse(stdout).indexed !== 0) throw new Error('no-change index indexed something');
    times.push(t);
  }
  const catalog = Catalog.open(dir);
  const api = [];
  for (let i = 0; i < API_REPS; i++) api.push((await timedAsync(() => catalog.sync())).ms);
  catalog.close();
  nochange[label] = { cli_ms: median(times), api_ms: median(api) };
}
results.nochange_index = nochange;
log('no-change index measured; growing sessions');

let seed = 1;
const growth = { cli: {}, api: {} };
// every growth goes to a session that has not grown yet (the 100-session catalog is a copy of the first 100 files)
const grownCount = new Map();
const nextTarget = (dir) => {
  const i = grownCount.get(dir) ?? 0;
  grownCount.set(dir, i + 1);
  return sessionFiles(join(dir, 'sessions'))[i];
};
for (const n of GROWTH) {
  for (const [label, dir] of [
    ['small', small],
    ['big', big],
  ]) {
    const times = [];
    for (let rep = 0; rep < GROW_REPS; rep++) {
      const target = nextTarget(dir);
      const appended = await growSession(templates, target, n, seed++);
      const { ms: t, stdout } = cli(dir, 'index', '--json');
      const report = JSON.parse(stdout);
      if (report.indexed !== 1 || report.records < appended)
        throw new Error(`incremental index: ${JSON.stringify(report)} after ${appended} records`);
      times.push(t);
    }
    growth.cli[`${label}_${n}`] = median(times);
  }
  // in-process: Catalog.sync() on an open catalog of the 1,000 sessions
  const catalog = Catalog.open(big);
  const times = [];
  for (let rep = 0; rep < GROW_REPS; rep++) {
    const target = nextTarget(big);
    const appended = await growSession(templates, target, n, seed++);
    const { ms: t, value: report } = await timedAsync(() => catalog.sync());
    if (report.indexed !== 1 || report.records < appended)
      throw new Error(`incremental sync: ${JSON.stringify(report)}`);
    times.push(t);
  }
  catalog.close();
  growth.api[`big_${n}`] = median(times);
}
// the small growth again, on sessions that already grew by the large N: does the cost depend on the session's size?
{
  const catalog = Catalog.open(big);
  const times = [];
  const grown = sessionFiles(bigSessions)
    .map((f) => [f, statSync(f).size])
    .sort((a, b) => b[1] - a[1])
    .slice(0, GROW_REPS);
  for (const [target] of grown) {
    await growSession(templates, target, GROWTH[0], seed++);
    times.push((await timedAsync(() => catalog.sync())).ms);
  }
  catalog.close();
  growth.api[`big_${GROWTH[0]}_on_grown_session`] = median(times);
  growth.grown_session_records = RECORDS + GROWTH[1];
}
results.incremental_index = growth;
log('incremental index measured; searching');

// -- (3) search for the rare token
const allFiles = sessionFiles(bigSessions);
const allBytes = bytesOf(allFiles);
const searchCli = [];
let searchHits;
for (let i = 0; i < REPS; i++) {
  const run = cli(big, 'search', RARE_TOKEN, '--json');
  searchHits = JSON.parse(run.stdout);
  searchCli.push(run.ms);
}
if (!searchHits.length || new Set(searchHits.map((h) => h.session_id)).size !== 1)
  throw new Error(
    `search ${RARE_TOKEN}: expected hits in exactly one session, got ${JSON.stringify(searchHits)}`,
  );
const catalog = Catalog.open(big);
await catalog.sync();
const searchApi = [];
const searchApiSync = [];
for (let i = 0; i < API_REPS; i++) {
  searchApi.push(timed(() => catalog.search(RARE_TOKEN)).ms);
  searchApiSync.push(
    (
      await timedAsync(async () => {
        await catalog.sync();
        return catalog.search(RARE_TOKEN);
      })
    ).ms,
  );
}
const grepAll = [];
let grepCount;
for (let i = 0; i < BASE_REPS; i++) {
  const run = sh(`zstd -dcq -- "$@" | grep -c -F -- '${RARE_TOKEN}'`, allFiles);
  grepCount = Number(run.stdout);
  grepAll.push(run.ms);
}
if (!(grepCount > 0)) throw new Error('baseline grep found nothing');
const grepLoop = [];
for (let i = 0; i < DECODE_REPS; i++)
  grepLoop.push(sh(`for f in "$@"; do zstd -dcq -- "$f"; done | grep -c -F -- '${RARE_TOKEN}'`, allFiles).ms);
results.search = {
  token: RARE_TOKEN,
  hits: searchHits.length,
  grep_lines: grepCount,
  session_mb: allBytes / 1e6,
  cli_ms: median(searchCli),
  api_ms: median(searchApi),
  api_sync_ms: median(searchApiSync),
  zstd_grep_ms: median(grepAll),
  zstd_per_file_grep_ms: median(grepLoop),
};
log('search measured; listing');

// -- (4) ls --tool X --since 7d
const since = new Date(Date.now() - 7 * DAY).toISOString();
const lsCli = [];
let listed;
for (let i = 0; i < REPS; i++) {
  const run = cli(big, 'ls', '--tool', LS_TOOL, '--since', since, '--json'); // = --since 7d, fixed for the check
  listed = JSON.parse(run.stdout);
  lsCli.push(run.ms);
}
const lsApi = [];
const lsApiSync = [];
for (let i = 0; i < API_REPS; i++) {
  lsApi.push(timed(() => catalog.list({ tool: LS_TOOL, since })).ms);
  lsApiSync.push(
    (
      await timedAsync(async () => {
        await catalog.sync();
        return catalog.list({ tool: LS_TOOL, since });
      })
    ).ms,
  );
}
const apiListed = catalog.list({ tool: LS_TOOL, since });
catalog.close();
const decodeTimes = [];
let decoded;
for (let i = 0; i < DECODE_REPS; i++) {
  const run = await timedAsync(() => decodeEveryFile(allFiles, LS_TOOL, since));
  decoded = run.value;
  decodeTimes.push(run.ms);
}
const ids = (list) => list.map((s) => s.session_id).sort();
if (JSON.stringify(ids(listed)) !== JSON.stringify(decoded.matches) || apiListed.length !== listed.length)
  throw new Error(
    `ls --tool ${LS_TOOL} --since 7d: ${listed.length} sessions, decoding every file: ${decoded.matches.length}`,
  );
const lsGrep = [];
for (let i = 0; i < BASE_REPS; i++)
  lsGrep.push(sh(`zstd -dcq -- "$@" | grep -c -F -- '"name":"${LS_TOOL}"'`, allFiles).ms);
results.ls = {
  tool: LS_TOOL,
  since,
  sessions_listed: listed.length,
  records_decoded: decoded.records,
  cli_ms: median(lsCli),
  api_ms: median(lsApi),
  api_sync_ms: median(lsApiSync),
  decode_every_file_ms: median(decodeTimes),
  zstd_grep_ms: median(lsGrep),
};
log('ls measured');
results.catalog_mb = catalogBytes(big) / 1e6;
results.session_mb = allBytes / 1e6;
results.files = allFiles.length;
results.records = decoded.records;
results.total_s = (performance.now() - started) / 1000;
rmSync(tmp, { recursive: true, force: true });

// ---------------------------------------------------------------- ratios and report

const [n1, n2] = GROWTH;
const f = results.first_index;
const nc = results.nochange_index;
const g = results.incremental_index;
const s = results.search;
const l = results.ls;
/** Growth cost: the incremental index minus the index with nothing changed, same catalog, same way of calling. */
const cost = {
  cli_small_n1: g.cli[`small_${n1}`] - nc.small.cli_ms,
  cli_small_n2: g.cli[`small_${n2}`] - nc.small.cli_ms,
  cli_big_n1: g.cli[`big_${n1}`] - nc.big.cli_ms,
  cli_big_n2: g.cli[`big_${n2}`] - nc.big.cli_ms,
  api_big_n1: g.api[`big_${n1}`] - nc.big.api_ms,
  api_big_n2: g.api[`big_${n2}`] - nc.big.api_ms,
  api_big_n1_on_grown_session: g.api[`big_${n1}_on_grown_session`] - nc.big.api_ms,
};
const marginalUs = ((cost.api_big_n2 - cost.api_big_n1) / (n2 - n1)) * 1000;
results.ratios = {
  first_index_vs_decode_every_file: f.ms / f.decode_every_file_ms,
  first_index_us_per_record: (f.ms / f.records) * 1000,
  first_index_1000_vs_100_sessions: f.ms / f.small_ms,
  nochange_big_vs_small_api: nc.big.api_ms / nc.small.api_ms,
  growth_cost_ms: cost,
  growth_cost_big_vs_small_catalog: {
    [n1]: cost.cli_big_n1 / cost.cli_small_n1,
    [n2]: cost.cli_big_n2 / cost.cli_small_n2,
  },
  growth_cost_n2_vs_n1: { cli: cost.cli_big_n2 / cost.cli_big_n1, api: cost.api_big_n2 / cost.api_big_n1 },
  growth_marginal_us_per_record: marginalUs,
  growth_fixed_ms_per_file: cost.api_big_n1 - (marginalUs * n1) / 1000,
  search_vs_zstd_grep: {
    cli: s.zstd_grep_ms / s.cli_ms,
    api_sync_and_search: s.zstd_grep_ms / s.api_sync_ms,
    api_search: s.zstd_grep_ms / s.api_ms,
  },
  ls_vs_decode_every_file: {
    cli: l.decode_every_file_ms / l.cli_ms,
    api_sync_and_list: l.decode_every_file_ms / l.api_sync_ms,
    api_list: l.decode_every_file_ms / l.api_ms,
  },
  ls_vs_zstd_grep: {
    cli: l.zstd_grep_ms / l.cli_ms,
    api_sync_and_list: l.zstd_grep_ms / l.api_sync_ms,
    api_list: l.zstd_grep_ms / l.api_ms,
  },
};
const r = results.ratios;
const mark = (ok) => (ok ? 'ok  ' : 'MISS');
const x = (v) => `${v >= 100 ? v.toFixed(0) : v.toFixed(1)}x`;
const row = (label, t, ratio, target) =>
  `  ${target === undefined ? '    ' : mark(ratio >= target)} ${label.padEnd(22)} ${ms(t).padStart(8)} ms  ${x(ratio).padStart(7)}`;
console.log(
  `catalog bench (Node ${results.node}${quick ? ', quick' : ''}): ${results.files} sessions, ${results.records} records; ` +
    `session files ${results.session_mb.toFixed(1)} MB (${f.raw_mb.toFixed(0)} MB decompressed at first index); ` +
    `catalog.sqlite ${results.catalog_mb.toFixed(1)} MB = ${(results.catalog_mb / results.session_mb).toFixed(2)}x the files`,
);
console.log(
  `(1) first index: ${(f.ms / 1000).toFixed(1)} s for ${f.sessions} sessions / ${f.records} records ` +
    `(${r.first_index_us_per_record.toFixed(0)} us per record, ${x(r.first_index_vs_decode_every_file)} the time of decoding every file once); ` +
    `${(f.small_ms / 1000).toFixed(2)} s for ${f.small_sessions} sessions`,
);
console.log(
  `  ${mark(r.first_index_1000_vs_100_sessions < 15)} ${f.sessions} vs ${f.small_sessions} sessions: ${x(r.first_index_1000_vs_100_sessions)} the time (linear: ${f.sessions / f.small_sessions}x)`,
);
console.log(
  `(2) index, nothing changed: CLI ${ms(nc.small.cli_ms)} / ${ms(nc.big.cli_ms)} ms, API sync ${ms(nc.small.api_ms)} / ${ms(nc.big.api_ms)} ms (${SMALL} / ${SESSIONS} sessions)`,
);
console.log(`    index after one session grew, minus nothing-changed: +${n1} / +${n2} records`);
console.log(
  `      CLI, ${SMALL} sessions   ${ms(cost.cli_small_n1).padStart(7)} / ${ms(cost.cli_small_n2)} ms`,
);
console.log(
  `      CLI, ${SESSIONS} sessions  ${ms(cost.cli_big_n1).padStart(7)} / ${ms(cost.cli_big_n2)} ms`,
);
console.log(
  `      API, ${SESSIONS} sessions  ${ms(cost.api_big_n1).padStart(7)} / ${ms(cost.api_big_n2)} ms`,
);
const sizeRatio = Math.max(...Object.values(r.growth_cost_big_vs_small_catalog));
console.log(
  `  ${mark(sizeRatio <= 1.5)} growth cost in ${SESSIONS} vs ${SMALL} sessions: ${Object.values(
    r.growth_cost_big_vs_small_catalog,
  )
    .map((v) => x(v))
    .join(' / ')} (independent of the catalog size: ~1x)`,
);
console.log(
  `  ${mark(marginalUs <= 1.5 * r.first_index_us_per_record)} growth cost follows the growth: ${marginalUs.toFixed(0)} us per added record ` +
    `(first index: ${r.first_index_us_per_record.toFixed(0)} us) + ${r.growth_fixed_ms_per_file.toFixed(0)} ms per grown file; +${n2} vs +${n1}: ${x(r.growth_cost_n2_vs_n1.api)}`,
);
console.log(
  `       +${n1} records to a session of ~${g.grown_session_records} records: ${ms(cost.api_big_n1_on_grown_session)} ms vs ${ms(cost.api_big_n1)} ms to one of ~${RECORDS} (API)`,
);
console.log(
  `(3) search "${s.token}": ${s.hits} hits; baseline zstd -dcq <${results.files} files> | grep -c: ${ms(s.zstd_grep_ms)} ms (${s.grep_lines} lines; a zstd per file: ${ms(s.zstd_per_file_grep_ms)} ms); target >= 50x`,
);
console.log(row('CLI search', s.cli_ms, r.search_vs_zstd_grep.cli, 50));
console.log(row('API sync() + search()', s.api_sync_ms, r.search_vs_zstd_grep.api_sync_and_search, 50));
console.log(row('API search()', s.api_ms, r.search_vs_zstd_grep.api_search, 50));
console.log(
  `(4) ls --tool ${l.tool} --since 7d: ${l.sessions_listed} sessions; baseline SessionReader over every record of every file: ` +
    `${ms(l.decode_every_file_ms)} ms (zstd -dcq | grep -c: ${ms(l.zstd_grep_ms)} ms); target >= 50x`,
);
console.log(
  `${row('CLI ls', l.cli_ms, r.ls_vs_decode_every_file.cli, 50)}  (${x(r.ls_vs_zstd_grep.cli)} zstd|grep)`,
);
console.log(
  `${row('API sync() + list()', l.api_sync_ms, r.ls_vs_decode_every_file.api_sync_and_list, 50)}  (${x(r.ls_vs_zstd_grep.api_sync_and_list)} zstd|grep)`,
);
console.log(
  `${row('API list()', l.api_ms, r.ls_vs_decode_every_file.api_list, 50)}  (${x(r.ls_vs_zstd_grep.api_list)} zstd|grep)`,
);
log(`total ${results.total_s.toFixed(0)} s`);
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
