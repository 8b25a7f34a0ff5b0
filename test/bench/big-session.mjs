// A large session with the records the recorder writes for a long agent run (one trace: task → agent → many
// turns, each with a model call and tool calls; now and then a policy denial and a failing tool), written with the
// real SessionWriter. Seeded, so every run writes the same records.
import { SessionWriter } from '@agent-replay/format';
import { prng, text } from './workloads.mjs';

const iso = (ms) => new Date(ms).toISOString();

/**
 * Writes about `records` records to `path` and seals the file. `variant(turn)` marks turns whose tool argument
 * differs (for diff benchmarks); the rest of the session is identical for the same seed. Returns the record count and the seq of the last
 * denied tool call (what a benchmark or test jumps to).
 */
export async function writeBigSession(path, records, { seed = 7, signingKey, variant } = {}) {
  const random = prng(seed);
  const writer = await SessionWriter.create(path, {
    durability: 'none',
    ...(signingKey ? { signingKey } : {}),
  });
  const traceId = 'trace_big0000000000000000000000000000';
  let clock = Date.parse('2026-11-01T09:00:00.000Z');
  let spanCounter = 0;
  const spanId = () => `span_${(++spanCounter).toString(16).padStart(24, '0')}`;
  const tick = (ms) => {
    clock += ms;
    return iso(clock);
  };
  const identity = { kind: 'service', method: 'static', subject: 'svc-bench', verified: false };
  writer.append('session.start', {
    session_id: traceId,
    trace_id: traceId,
    group_id: null,
    workflow: 'bench-marathon',
    metadata: {},
    identity,
    policy: null,
  });
  writer.append('trace.start', { trace_id: traceId, workflow: 'bench-marathon', resumed: false, identity });
  const open = (kind, parent, data) => {
    const span = { id: spanId(), kind, parent_id: parent, started_at: tick(1), data };
    writer.append('span.start', { span });
    return span;
  };
  const close = (span, data, error = null) =>
    writer.append('span.end', { span: { ...span, data, ended_at: tick(2), error } });
  const task = open('task', null, { type: 'task', name: 'Agent workflow' });
  const agent = open('agent', task.id, { type: 'agent', name: 'Marathon' });
  const history = [{ role: 'system', content: 'You keep the fleet healthy. '.repeat(30) }];
  let turn = 0;
  let lastDenial = 0;
  let tokens = 0;
  const counts = { model_calls: 0, tool_calls: 0, denials: 0, errors: 0 };
  while (writer.stats.records < records - 8) {
    turn++;
    const turnSpan = open('turn', agent.id, { type: 'turn', agent_name: 'Marathon', turn });
    history.push({ role: 'user', content: text(random, 12) });
    if (history.length > 9) history.splice(1, 2);
    const gen = open('generation', turnSpan.id, { type: 'generation' });
    const args = { host: `node-${turn % 97}`, environment: turn % 50 === 0 ? 'production' : 'staging' };
    // A second run of the same workflow that differs here and there (`variant(turn)` true): another host.
    if (variant?.(turn)) args.host = `node-${turn % 97}-b`;
    const usage = { input_tokens: 200 + (turn % 40), output_tokens: 20 };
    tokens += usage.input_tokens + usage.output_tokens;
    counts.model_calls++;
    close(gen, {
      type: 'generation',
      model: 'bench-model',
      input: [...history],
      output: [{ type: 'function_call', name: 'restart_service', arguments: JSON.stringify(args) }],
      usage,
    });
    const fn = open('function', turnSpan.id, {
      type: 'function',
      name: 'restart_service',
      input: '',
      output: '',
    });
    if (args.environment === 'production') {
      counts.denials++;
      lastDenial = writer.append('policy.decision', {
        decision: 'deny',
        subject: { kind: 'tool', name: 'restart_service', args },
        rule: 'staging-only',
        reason: 'restart on staging first',
        decided_by: { kind: 'engine', id: 'bench-policy' },
        span_id: fn.id,
      });
    }
    const failed = turn % 333 === 0;
    if (failed) counts.errors++;
    counts.tool_calls++;
    close(
      fn,
      { type: 'function', name: 'restart_service', input: JSON.stringify(args), output: text(random, 8) },
      failed ? { message: 'restart timed out', data: { host: args.host } } : null,
    );
    history.push({ role: 'assistant', content: text(random, 10) });
    close(turnSpan, { type: 'turn', agent_name: 'Marathon', turn, usage });
  }
  close(agent, {
    type: 'agent',
    name: 'Marathon',
    tools: ['restart_service'],
    handoffs: [],
    output_type: 'text',
  });
  close(task, { type: 'task', name: 'Agent workflow' });
  writer.append('trace.end', { trace_id: traceId, metadata: {} });
  writer.append('session.end', {
    status: 'completed',
    counts: { ...counts, spans: spanCounter, traces: 1 },
    usage: { input_tokens: tokens, output_tokens: 0, total_tokens: tokens },
    redactions: {},
  });
  await writer.close();
  return { records: writer.stats.records, lastDenial };
}
