import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifySession } from '@agent-replay/format';
import {
  fc,
  type LoopbackReply,
  type LoopbackRequest,
  SpanEmittingScriptedModel,
  say,
  scriptedProvider,
  startLoopbackOpenAI,
} from '@agent-replay/testkit';
import {
  Agent,
  InputGuardrailTripwireTriggered,
  OpenAIChatCompletionsModel,
  OpenAIResponsesModel,
  Runner,
  setTraceProcessors,
  tool,
  withCustomSpan,
  withTrace,
} from '@openai/agents';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { approveToolCall, POLICY_DECISION_SPAN, recordInterruptions } from '../src/index.js';
import { installRecorder, ofType, type Rec, readRecords, sessionFiles, spanEnds } from './helpers.js';

afterEach(() => setTraceProcessors([]));

const weatherTool = tool({
  name: 'get_weather',
  description: 'weather for a city',
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => `sunny in ${city}, 21°C`,
});

/** Runs to completion and seals every session, then returns the records of the only session. */
async function onlySession(
  dir: string,
  recorder: { forceFlush(): Promise<void>; shutdown(): Promise<void> },
) {
  await recorder.forceFlush();
  await recorder.shutdown();
  const files = sessionFiles(dir);
  expect(files).toHaveLength(1);
  const file = files[0]!;
  return { file, records: await readRecords(file), report: await verifySession(file) };
}

describe('a scripted-model run', () => {
  it('records identity, every model call in full, tool args and output, usage and totals', async () => {
    const { dir, recorder } = installRecorder({
      identity: { subject: 'alice@example.com', kind: 'human', verified: false, method: 'static' },
    });
    const model = new SpanEmittingScriptedModel(
      [() => [fc('call_1', 'get_weather', { city: 'Paris' })], () => [say('It is sunny in Paris.')]],
      { model: 'scripted-4', usage: (_req, call) => ({ inputTokens: 100 * call, outputTokens: 7 }) },
    );
    const agent = new Agent({ name: 'Weather', instructions: 'Be brief.', tools: [weatherTool] });
    const result = await new Runner({
      modelProvider: scriptedProvider(model),
      workflowName: 'weather-check',
    }).run(agent, 'Weather in Paris?');
    expect(result.finalOutput).toBe('It is sunny in Paris.');

    const { records, report } = await onlySession(dir, recorder);
    expect(report.verdict).toBe('VALID');
    expect(records.map((r) => r.type).slice(0, 2)).toEqual(['session.start', 'trace.start']);
    expect(records.at(-1)!.type).toBe('session.end');

    const start = records[0]!;
    expect(start.workflow).toBe('weather-check');
    expect(start.identity).toMatchObject({ subject: 'alice@example.com', verified: false, method: 'static' });
    expect(start.host).toMatchObject({ pid: process.pid, node: process.version, platform: process.platform });
    expect(start.versions.sdk['@openai/agents']).toBe('0.20.0');
    expect(start.redaction.profile).toBe('secrets');
    expect(start.trace_id).toMatch(/^trace_/);

    const generations = spanEnds(records, 'generation');
    expect(generations).toHaveLength(2);
    const [first, second] = generations.map((g) => g.span.data);
    expect(first.model).toBe('scripted-4');
    expect(first.input[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(JSON.stringify(first.input)).toContain('Weather in Paris?');
    expect(first.output[0]).toMatchObject({ type: 'function_call', name: 'get_weather', callId: 'call_1' });
    // The second call sees the whole history, including the tool result.
    expect(JSON.stringify(second.input)).toContain('sunny in Paris, 21°C');
    expect(second.output[0].content[0].text).toBe('It is sunny in Paris.');
    expect(second.usage).toEqual({ input_tokens: 200, output_tokens: 7 });

    const [fn] = spanEnds(records, 'function');
    expect(fn.span.data).toMatchObject({
      name: 'get_weather',
      input: '{"city":"Paris"}',
      output: 'sunny in Paris, 21°C',
    });
    expect(fn.span.error).toBeNull();
    expect(fn.span.started_at <= fn.span.ended_at).toBe(true);

    // Every span that ended also started, and parents are spans of the same session.
    const starts = new Set(ofType(records, 'span.start').map((r) => r.span.id));
    for (const end of spanEnds(records)) expect(starts.has(end.span.id)).toBe(true);
    const ids = new Set(spanEnds(records).map((r) => r.span.id));
    for (const end of spanEnds(records))
      if (end.span.parent_id) expect(ids.has(end.span.parent_id)).toBe(true);

    const end = records.at(-1)!;
    expect(end.status).toBe('completed');
    expect(end.counts).toMatchObject({ model_calls: 2, tool_calls: 1, errors: 0, denials: 0, traces: 1 });
    expect(end.usage).toMatchObject({ input_tokens: 300, output_tokens: 14, total_tokens: 314 });
    expect(end.models).toEqual(['scripted-4']);
    expect(end.tools).toEqual(['get_weather']);
    expect(end.agents).toEqual(['Weather']);
  });

  it('snapshots span data when the span ends: later mutation by the SDK or user code is not recorded', async () => {
    const { dir, recorder } = installRecorder();
    const agent = new Agent({ name: 'A', model: new SpanEmittingScriptedModel([() => [say('ok')]]) });
    await withTrace('mutation', async () => {
      const data = { name: 'probe', data: { step: 'before', list: [1] } };
      await withCustomSpan(async () => {}, { data });
      data.data.step = 'after';
      data.data.list.push(2);
      await new Runner().run(agent, 'hi');
    });
    const { records } = await onlySession(dir, recorder);
    const probe = spanEnds(records, 'custom').find((r) => r.span.data.name === 'probe')!;
    expect(probe.span.data.data).toEqual({ step: 'before', list: [1] });
  });
});

describe('runs through the real openai client against a loopback server', () => {
  const variants = [
    { api: 'responses', stream: false },
    { api: 'responses', stream: true },
    { api: 'chat', stream: false },
    { api: 'chat', stream: true },
  ] as const;

  const script = (req: LoopbackRequest): LoopbackReply => {
    const text = JSON.stringify(req.body);
    return text.includes('sunny in Oslo')
      ? { kind: 'text', text: 'Oslo: sunny.', usage: { input: 40, output: 4 } }
      : {
          kind: 'tool_calls',
          calls: [{ callId: 'call_w1', name: 'get_weather', arguments: '{"city":"Oslo"}' }],
          usage: { input: 30, output: 9 },
        };
  };

  for (const { api, stream } of variants) {
    it(`${api}${stream ? ' streaming' : ''}: full input and output of every model call, tool I/O, usage`, async () => {
      const server = await startLoopbackOpenAI(script);
      try {
        const { dir, recorder } = installRecorder();
        const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0 });
        const model =
          api === 'responses'
            ? new OpenAIResponsesModel(client, 'gpt-loop')
            : new OpenAIChatCompletionsModel(client, 'gpt-loop');
        const agent = new Agent({
          name: 'Forecaster',
          instructions: 'Answer in one line.',
          model,
          tools: [weatherTool],
        });
        const runner = new Runner({ workflowName: `loopback-${api}` });
        let output: unknown;
        if (stream) {
          const result = await runner.run(agent, 'Weather in Oslo?', { stream: true });
          for await (const _event of result) {
            // drain the stream
          }
          await result.completed;
          output = result.finalOutput;
        } else {
          output = (await runner.run(agent, 'Weather in Oslo?')).finalOutput;
        }
        expect(output).toBe('Oslo: sunny.');
        expect(server.requests).toHaveLength(2);

        const { records, report } = await onlySession(dir, recorder);
        expect(report.verdict).toBe('VALID');
        const calls = spanEnds(records, api === 'responses' ? 'response' : 'generation');
        expect(calls).toHaveLength(2);
        if (api === 'responses') {
          const [one, two] = calls.map((c) => c.span.data);
          expect(JSON.stringify(one._input)).toContain('Weather in Oslo?');
          expect(one._response.output[0]).toMatchObject({
            type: 'function_call',
            call_id: 'call_w1',
            name: 'get_weather',
          });
          expect(one._response.usage).toMatchObject({ input_tokens: 30, output_tokens: 9 });
          expect(one.response_id).toBe(one._response.id);
          // What the server received as input is what the session holds.
          const wire = (server.requests[1]!.body as Rec).input as Rec[];
          const recorded = two._input as Rec[];
          expect(
            recorded.find((i) => i.type === 'function_call_result' || i.type === 'function_call_output'),
          ).toBeTruthy();
          expect(JSON.stringify(wire)).toContain('sunny in Oslo, 21°C');
          expect(JSON.stringify(recorded)).toContain('sunny in Oslo, 21°C');
          expect(two._response.output[0].content[0].text).toBe('Oslo: sunny.');
        } else {
          const [one, two] = calls.map((c) => c.span.data);
          // The exact messages sent, system first.
          expect(one.input).toEqual((server.requests[0]!.body as Rec).messages);
          expect(two.input).toEqual((server.requests[1]!.body as Rec).messages);
          expect(one.input[0]).toEqual({ role: 'system', content: 'Answer in one line.' });
          const firstMessage = one.output[0].choices[0].message;
          expect(firstMessage.tool_calls[0].function).toMatchObject({
            name: 'get_weather',
            arguments: '{"city":"Oslo"}',
          });
          expect(two.output[0].choices[0].message.content).toBe('Oslo: sunny.');
        }
        const [fn] = spanEnds(records, 'function');
        expect(fn.span.data).toMatchObject({
          name: 'get_weather',
          input: '{"city":"Oslo"}',
          output: 'sunny in Oslo, 21°C',
        });
        const end = records.at(-1)!;
        expect(end.usage).toMatchObject({ input_tokens: 70, output_tokens: 13, total_tokens: 83 });
        expect(end.models).toEqual([api === 'responses' ? 'gpt-loop' : 'gpt-loop']);
      } finally {
        await server.close();
      }
    });
  }
});

describe('handoffs, guardrails and policy decisions', () => {
  it('records the handoff, each guardrail as a policy decision, and custom policy-decision spans', async () => {
    const { dir, recorder } = installRecorder();
    const specialist = new Agent({
      name: 'Specialist',
      instructions: 'x',
      model: new SpanEmittingScriptedModel([() => [say('handled')]]),
      outputGuardrails: [
        { name: 'no_leaks', execute: async () => ({ tripwireTriggered: false, outputInfo: {} }) },
      ],
    });
    const triage = new Agent({
      name: 'Triage',
      instructions: 'x',
      model: new SpanEmittingScriptedModel([() => [fc('h1', 'transfer_to_Specialist', {})]]),
      handoffs: [specialist],
      inputGuardrails: [
        { name: 'topic_check', execute: async () => ({ tripwireTriggered: false, outputInfo: {} }) },
      ],
    });
    await withTrace('governed', async () => {
      await withCustomSpan(async () => {}, {
        data: {
          name: POLICY_DECISION_SPAN,
          data: {
            decision: 'deny',
            subject: { kind: 'tool', name: 'push_config', args: { environment: 'production' } },
            rule: 'no-prod-writes',
            reason: 'push to staging first',
            policy: { id: 'deploy', version: '3', sha256: 'ab'.repeat(32) },
            decided_by: { kind: 'engine', id: 'agent-replay-policy' },
            call_id: 'call_9',
            seq: 999,
          },
        },
      });
      expect((await new Runner().run(triage, 'help')).finalOutput).toBe('handled');
    });
    const { records } = await onlySession(dir, recorder);
    const [handoff] = spanEnds(records, 'handoff');
    expect(handoff.span.data).toMatchObject({ from_agent: 'Triage', to_agent: 'Specialist' });
    const decisions = ofType(records, 'policy.decision');
    const byRule = Object.fromEntries(decisions.map((d) => [d.rule, d]));
    expect(byRule['no-prod-writes']).toMatchObject({
      decision: 'deny',
      reason: 'push to staging first',
      subject: { kind: 'tool', name: 'push_config', args: { environment: 'production' } },
      decided_by: { kind: 'engine' },
    });
    expect(byRule['no-prod-writes'].seq).not.toBe(999); // a span cannot forge the envelope
    expect(byRule.topic_check).toMatchObject({
      decision: 'allow',
      subject: { kind: 'input' },
      decided_by: { kind: 'guardrail' },
    });
    expect(byRule.no_leaks).toMatchObject({ decision: 'allow', subject: { kind: 'output' } });
    const end = records.at(-1)!;
    expect(end.counts).toMatchObject({ handoffs: 1, guardrails: 2, policy_decisions: 3, denials: 1 });
    expect(end.agents).toEqual(['Specialist', 'Triage']);
  });

  it('a tripped input guardrail is a deny decision and the session ends with status error', async () => {
    const { dir, recorder } = installRecorder();
    const agent = new Agent({
      name: 'Guarded',
      model: new SpanEmittingScriptedModel([() => [say('never')]]),
      inputGuardrails: [
        { name: 'no_exfiltration', execute: async () => ({ tripwireTriggered: true, outputInfo: {} }) },
      ],
    });
    await expect(new Runner().run(agent, 'upload the customer table')).rejects.toBeInstanceOf(
      InputGuardrailTripwireTriggered,
    );
    const { records, report } = await onlySession(dir, recorder);
    expect(report.verdict).toBe('VALID');
    const [decision] = ofType(records, 'policy.decision');
    expect(decision).toMatchObject({ decision: 'deny', rule: 'no_exfiltration', subject: { kind: 'input' } });
    const end = records.at(-1)!;
    expect(end.status).toBe('error');
    expect(end.counts.denials).toBe(1);
    expect(end.counts.errors).toBeGreaterThan(0);
  });
});

describe('many traces in one process', () => {
  it('20 concurrent runs give 20 complete, VALID files; an agent used as a tool nests in its parent session', async () => {
    const { dir, recorder } = installRecorder();
    const run = (n: number) => {
      const inner = new Agent({
        name: `Researcher${n}`,
        model: new SpanEmittingScriptedModel([() => [say(`fact ${n}`)]]),
      });
      const outer = new Agent({
        name: `Lead${n}`,
        tools: [inner.asTool({ toolName: 'ask_researcher', toolDescription: 'ask' })],
        model: new SpanEmittingScriptedModel([
          () => [fc(`c${n}`, 'ask_researcher', { input: `question ${n}` })],
          () => [say(`answer ${n}`)],
        ]),
      });
      return new Runner({ workflowName: `run-${n}` }).run(outer, `go ${n}`);
    };
    const results = await Promise.all(Array.from({ length: 20 }, (_, n) => run(n)));
    expect(results.map((r) => r.finalOutput)).toEqual(Array.from({ length: 20 }, (_, n) => `answer ${n}`));
    await recorder.forceFlush();
    await recorder.shutdown();

    const files = sessionFiles(dir);
    expect(files).toHaveLength(20);
    const seen = new Set<string>();
    for (const file of files) {
      expect((await verifySession(file)).verdict).toBe('VALID');
      const records = await readRecords(file);
      const n = Number(records[0]!.workflow.slice(4));
      seen.add(records[0]!.workflow);
      expect(records.at(-1)).toMatchObject({ type: 'session.end', status: 'completed' });
      expect(records.at(-1)!.counts).toMatchObject({ model_calls: 3, tool_calls: 1 });
      // The inner agent's spans are in this file, under the tool call of its parent.
      const byId = new Map(spanEnds(records).map((r) => [r.span.id, r.span]));
      const innerAgent = spanEnds(records, 'agent').find((r) => r.span.data.name === `Researcher${n}`)!;
      const chain: string[] = [];
      for (let s = innerAgent.span; s; s = byId.get(s.parent_id))
        chain.push(`${s.kind}:${s.data.name ?? ''}`);
      expect(chain).toContain('function:ask_researcher');
      expect(chain).toContain(`agent:Lead${n}`);
      expect(JSON.stringify(records)).not.toContain(`question ${(n + 1) % 20}"`);
    }
    expect(seen.size).toBe(20);
  });
});

describe('when recording fails', () => {
  it('the agent run completes, later processors get every span, and the failure is reported once', async () => {
    const errors: Error[] = [];
    const { dir, recorder, collector } = installRecorder({ onError: (e) => errors.push(e) });
    // The sessions dir cannot be created: a file is in its way (chmod would not stop root, which CI runs as).
    writeFileSync(join(dir, 'sessions'), 'not a directory');
    {
      const worker = () =>
        new Agent({
          name: 'Worker',
          tools: [weatherTool],
          model: new SpanEmittingScriptedModel((_req, call) =>
            call <= 5 ? [fc(`c${call}`, 'get_weather', { city: `C${call}` })] : [say('done')],
          ),
        });
      const runs = await Promise.all([new Runner().run(worker(), 'a'), new Runner().run(worker(), 'b')]);
      expect(runs.map((r) => r.finalOutput)).toEqual(['done', 'done']);
      await recorder.forceFlush();
      await recorder.shutdown();
      // Every model and tool span of both runs reached the processor registered after ours.
      expect(collector.ended.filter((s) => s.type === 'function')).toHaveLength(10);
      expect(collector.ended.filter((s) => s.type === 'generation')).toHaveLength(12);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toMatch(/EEXIST|ENOTDIR/);
      expect(recorder.stats.errors).toBeGreaterThanOrEqual(2);
    }
  });
});

describe('session lifecycle (review regressions)', () => {
  const slowDelete = tool({
    name: 'delete_path',
    description: 'delete',
    parameters: z.object({ path: z.string() }),
    needsApproval: true,
    execute: async ({ path }) => `deleted ${path}`,
  });

  it('a run resumed from the same RunState object, with slow model calls, is one continuous recording', async () => {
    const { dir, recorder } = installRecorder({ closeDelayMs: 20 });
    const slow = new SpanEmittingScriptedModel((req) => {
      const wait = Date.now() + 120; // longer than the close delay
      while (Date.now() < wait);
      return JSON.stringify(req.input).includes('function_call_result')
        ? [say('done')]
        : [fc('c1', 'delete_path', { path: '/tmp/x' })];
    });
    const agent = new Agent({ name: 'Janitor', model: slow, tools: [slowDelete] });
    const runner = new Runner();
    const first = await runner.run(agent, 'clean');
    expect(recordInterruptions(recorder, first)).toBe(1);
    await new Promise((r) => setTimeout(r, 100)); // the human takes a moment
    approveToolCall(recorder, first.state, first.interruptions[0]!, {
      approver: { subject: 'dana', kind: 'human', verified: false, method: 'static' },
    });
    expect((await runner.run(agent, first.state)).finalOutput).toBe('done');
    const { records, report } = await onlySession(dir, recorder);
    expect(report.verdict).toBe('VALID');
    // Never sealed while something was running: every span.end comes before the session.end that follows it.
    let open = 0;
    for (const r of records) {
      if (r.type === 'span.start') open++;
      if (r.type === 'span.end') open--;
      if (r.type === 'session.end') expect(open).toBe(0);
    }
    expect(ofType(records, 'trace.start').map((t) => t.resumed)).toEqual([false, true]);
    const end = records.at(-1)!;
    expect(end).toMatchObject({ status: 'completed', counts: { traces: 2, model_calls: 2, tool_calls: 1 } });
  });

  it('a failed run retried inside the same trace stays in one segment', async () => {
    const { dir, recorder } = installRecorder({ closeDelayMs: 20 });
    let attempt = 0;
    const flaky = new SpanEmittingScriptedModel(() => {
      if (++attempt === 1) throw new Error('upstream 503');
      return [say('ok')];
    });
    const agent = new Agent({ name: 'Retrier', model: flaky });
    await withTrace('retrying', async () => {
      await expect(new Runner().run(agent, 'go')).rejects.toThrow('upstream 503');
      await new Promise((r) => setTimeout(r, 300)); // backoff
      expect((await new Runner().run(agent, 'go')).finalOutput).toBe('ok');
    });
    const { records } = await onlySession(dir, recorder);
    expect(ofType(records, 'session.end')).toHaveLength(1);
    expect(records.at(-1)).toMatchObject({ status: 'completed' });
  });

  it('a rejected identity promise is reported, not an unhandled rejection, and the run is still recorded', async () => {
    const errors: Error[] = [];
    const { dir, recorder } = installRecorder({
      identity: Promise.reject(new Error('no ID token in the environment')),
      onError: (e) => errors.push(e),
    });
    await new Promise((r) => setTimeout(r, 20));
    await new Runner().run(
      new Agent({ name: 'A', model: new SpanEmittingScriptedModel([() => [say('hi')]]) }),
      'x',
    );
    const { records } = await onlySession(dir, recorder);
    expect(errors.map((e) => e.message)).toEqual(['no ID token in the environment']);
    expect(records[0]!.identity.method).toBe('process');
  });

  it('record() refuses reserved names at the call, and the session keeps everything', async () => {
    const { dir, recorder } = installRecorder();
    await withTrace('notes', async (trace) => {
      expect(() => recorder.record(trace.traceId, 'note', { type: 'comment' })).toThrow(/reserved/);
      expect(() => recorder.record(trace.traceId, 'blob', {})).toThrow(TypeError);
      recorder.record(trace.traceId, 'note', { text: 'kept' });
      await new Runner().run(
        new Agent({ name: 'A', model: new SpanEmittingScriptedModel([() => [say('hi')]]) }),
        'x',
      );
    });
    const { records, report } = await onlySession(dir, recorder);
    expect(report.verdict).toBe('VALID');
    expect(ofType(records, 'note')).toMatchObject([{ text: 'kept' }]);
  });
});
