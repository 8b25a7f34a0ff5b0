/**
 * Proves the test-support fakes work with the REAL Agents SDK and `openai` client:
 * - loopback-openai: a fake OpenAI HTTP server (Responses + Chat Completions, JSON + SSE);
 * - scripted-model: an offline Model that emits its own generation span.
 */
import {
  Agent,
  type AgentInputItem,
  type Model,
  type ModelRequest,
  OpenAIChatCompletionsModel,
  OpenAIResponsesModel,
  Runner,
  type Span,
  type SpanData,
  type SpanError,
  setTraceProcessors,
  setTracingDisabled,
  type TracingProcessor,
  tool,
} from '@openai/agents';
import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { type LoopbackReply, type LoopbackServer, startLoopbackOpenAI } from '../src/loopback-openai.js';
import { fc, SpanEmittingScriptedModel, say, scriptedProvider } from '../src/scripted-model.js';

// ------------------------------------------------------------------ helpers

interface CollectedSpan {
  type: string;
  spanId: string;
  parentId: string | null;
  traceId: string;
  data: Record<string, unknown>;
  error: SpanError | null;
}

/** Snapshots every ended span (spanData is live and mutable, so copy it at onSpanEnd). */
class CollectingProcessor implements TracingProcessor {
  readonly spans: CollectedSpan[] = [];
  tracesEnded = 0;
  async onTraceStart(): Promise<void> {}
  async onTraceEnd(): Promise<void> {
    this.tracesEnded++;
  }
  async onSpanStart(): Promise<void> {}
  async onSpanEnd(span: Span<SpanData>): Promise<void> {
    this.spans.push({
      type: span.spanData.type,
      spanId: span.spanId,
      parentId: span.parentId,
      traceId: span.traceId,
      data: JSON.parse(JSON.stringify(span.spanData)) as Record<string, unknown>,
      error: span.error,
    });
  }
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
  ofType(type: string): CollectedSpan[] {
    return this.spans.filter((s) => s.type === type);
  }
  /**
   * run() may return before every span hook has been delivered: wait for the root `task` span to end.
   * (Not for onTraceEnd: in SDK 0.20.0 a non-streaming run that throws never ends its trace.)
   */
  async settled(): Promise<void> {
    await vi.waitFor(() => expect(this.ofType('task')).toHaveLength(1), { timeout: 5000 });
  }
}

/** Navigates parsed JSON: `at(x, 'a', 0, 'b')`. Returns undefined on any miss. */
function at(value: unknown, ...path: Array<string | number>): unknown {
  let cur: unknown = value;
  for (const key of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

function asArray(value: unknown): unknown[] {
  expect(Array.isArray(value)).toBe(true);
  return value as unknown[];
}

function makeWeatherTool(executed: Array<{ city: string }>) {
  return tool({
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      executed.push({ city });
      return `sunny in ${city}`;
    },
  });
}

interface RunOutcome {
  finalOutput: unknown;
  textDeltas: string[];
}

async function runAgent(agent: Agent, runner: Runner, input: string, stream: boolean): Promise<RunOutcome> {
  if (!stream) {
    const result = await runner.run(agent, input);
    return { finalOutput: result.finalOutput, textDeltas: [] };
  }
  const result = await runner.run(agent, input, { stream: true });
  const textDeltas: string[] = [];
  for await (const event of result) {
    if (event.type === 'raw_model_stream_event' && event.data.type === 'output_text_delta') {
      textDeltas.push(event.data.delta);
    }
  }
  await result.completed;
  if (result.error) throw result.error;
  return { finalOutput: result.finalOutput, textDeltas };
}

let collector: CollectingProcessor;

beforeEach(() => {
  setTracingDisabled(false); // vitest sets NODE_ENV=test, which disables tracing by default
  collector = new CollectingProcessor();
  setTraceProcessors([collector]);
});

afterEach(() => {
  setTraceProcessors([]);
});

// ------------------------------------------------------------------ loopback OpenAI server

const CALL_ID = 'call_weather_1';
const FINAL_TEXT = 'It is sunny in Paris today.';
const script = (req: { index: number }): LoopbackReply =>
  req.index === 0
    ? {
        kind: 'tool_calls',
        calls: [{ callId: CALL_ID, name: 'get_weather', arguments: '{"city":"Paris"}' }],
        usage: { input: 21, output: 9 },
      }
    : { kind: 'text', text: FINAL_TEXT, usage: { input: 40, output: 8 } };

const variants = [
  { api: 'responses', stream: false },
  { api: 'responses', stream: true },
  { api: 'chat', stream: false },
  { api: 'chat', stream: true },
] as const;

describe.each(variants)('loopback OpenAI server — $api, stream=$stream', ({ api, stream }) => {
  let server: LoopbackServer;
  afterEach(async () => {
    await server?.close();
  });

  it('drives a real agent through a tool call to the final answer, with model and function spans', async () => {
    server = await startLoopbackOpenAI(script);
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0 });
    const model: Model =
      api === 'responses'
        ? new OpenAIResponsesModel(client, 'gpt-test')
        : new OpenAIChatCompletionsModel(client, 'gpt-test');
    const executed: Array<{ city: string }> = [];
    const agent = new Agent({
      name: 'Weather',
      instructions: 'Be brief.',
      tools: [makeWeatherTool(executed)],
      model,
    });

    const outcome = await runAgent(
      agent,
      new Runner({ workflowName: 'support-test' }),
      'Weather in Paris?',
      stream,
    );
    await collector.settled();

    // --- the run
    await vi.waitFor(() => expect(collector.tracesEnded).toBe(1));
    expect(outcome.finalOutput).toBe(FINAL_TEXT);
    expect(executed).toEqual([{ city: 'Paris' }]);
    if (stream) expect(outcome.textDeltas.join('')).toBe(FINAL_TEXT);

    // --- what the server saw
    expect(server.requests.map((r) => [r.api, r.stream, r.index])).toEqual([
      [api, stream, 0],
      [api, stream, 1],
    ]);
    const [first, second] = server.requests;
    expect(at(first?.body, 'model')).toBe('gpt-test');
    expect(asArray(at(first?.body, 'tools')).map((t) => at(t, 'name') ?? at(t, 'function', 'name'))).toEqual([
      'get_weather',
    ]);
    if (api === 'responses') {
      expect(at(first?.body, 'instructions')).toBe('Be brief.');
      const toolResult = asArray(at(second?.body, 'input')).find(
        (i) => at(i, 'type') === 'function_call_output',
      );
      expect(at(toolResult, 'call_id')).toBe(CALL_ID);
      expect(JSON.stringify(at(toolResult, 'output'))).toContain('sunny in Paris');
    } else {
      expect(at(first?.body, 'messages', 0)).toEqual({ role: 'system', content: 'Be brief.' });
      const toolMessage = asArray(at(second?.body, 'messages')).find((m) => at(m, 'role') === 'tool');
      expect(at(toolMessage, 'tool_call_id')).toBe(CALL_ID);
      expect(JSON.stringify(at(toolMessage, 'content'))).toContain('sunny in Paris');
    }

    // --- the spans
    const fn = collector.ofType('function');
    expect(fn).toHaveLength(1);
    expect(fn[0]?.data).toMatchObject({
      name: 'get_weather',
      input: '{"city":"Paris"}',
      output: 'sunny in Paris',
    });
    expect(fn[0]?.error).toBeNull();

    if (api === 'responses') {
      expect(collector.ofType('generation')).toHaveLength(0);
      const spans = collector.ofType('response');
      expect(spans).toHaveLength(2);
      const [r1, r2] = spans;
      expect(JSON.stringify(at(r1?.data, '_input'))).toContain('Weather in Paris?');
      expect(at(r1?.data, '_response', 'id')).toMatch(/^resp_[0-9a-f]{48}$/);
      expect(at(r1?.data, 'response_id')).toBe(at(r1?.data, '_response', 'id'));
      expect(at(r1?.data, '_response', 'model')).toBe('gpt-test');
      expect(at(r1?.data, '_response', 'output', 0)).toMatchObject({
        type: 'function_call',
        call_id: CALL_ID,
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
      });
      expect(at(r1?.data, '_response', 'output', 0, 'id')).toMatch(/^fc_[0-9a-f]{48}$/);
      expect(at(r1?.data, '_response', 'usage')).toMatchObject({
        input_tokens: 21,
        output_tokens: 9,
        total_tokens: 30,
      });
      const r2Input = asArray(at(r2?.data, '_input'));
      expect(
        r2Input.some((i) => at(i, 'type') === 'function_call_result' && at(i, 'callId') === CALL_ID),
      ).toBe(true);
      expect(at(r2?.data, '_response', 'output', 0, 'content', 0, 'text')).toBe(FINAL_TEXT);
      expect(at(r2?.data, '_response', 'output', 0, 'id')).toMatch(/^msg_[0-9a-f]{48}$/);
      expect(at(r2?.data, '_response', 'usage', 'input_tokens')).toBe(40);
    } else {
      expect(collector.ofType('response')).toHaveLength(0);
      const spans = collector.ofType('generation');
      expect(spans).toHaveLength(2);
      const [g1, g2] = spans;
      expect(at(g1?.data, 'model')).toBe('gpt-test');
      expect(at(g1?.data, 'input')).toEqual([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Paris?' },
      ]);
      expect(at(g1?.data, 'output', 0, 'id')).toMatch(/^chatcmpl-/);
      expect(at(g1?.data, 'output', 0, 'choices', 0, 'message', 'tool_calls', 0)).toMatchObject({
        id: CALL_ID,
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      });
      expect(at(g1?.data, 'output', 0, 'usage')).toMatchObject({
        prompt_tokens: 21,
        completion_tokens: 9,
        total_tokens: 30,
      });
      expect(asArray(at(g2?.data, 'input')).some((m) => at(m, 'role') === 'tool')).toBe(true);
      expect(at(g2?.data, 'output', 0, 'choices', 0, 'message', 'content')).toBe(FINAL_TEXT);
      expect(at(g2?.data, 'output', 0, 'usage', 'prompt_tokens')).toBe(40);
    }
  });

  it('turns a throwing script into an HTTP 500 and an error on the model span', async () => {
    server = await startLoopbackOpenAI(() => {
      throw new Error('model exploded');
    });
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0 });
    const model: Model =
      api === 'responses'
        ? new OpenAIResponsesModel(client, 'gpt-test')
        : new OpenAIChatCompletionsModel(client, 'gpt-test');
    const agent = new Agent({ name: 'Broken', instructions: 'x', model });

    await expect(runAgent(agent, new Runner(), 'hi', stream)).rejects.toThrow(/model exploded/);
    await collector.settled();

    expect(server.requests).toHaveLength(1);
    // SDK 0.20.0 quirk worth knowing for a recorder: only the streaming path ends the trace of a failed run
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(collector.tracesEnded).toBe(stream ? 1 : 0);
    expect(collector.ofType('task')[0]?.error).not.toBeNull();
    const modelSpans = collector.ofType(api === 'responses' ? 'response' : 'generation');
    expect(modelSpans).toHaveLength(1);
    expect(modelSpans[0]?.error).not.toBeNull();
    expect(JSON.stringify(modelSpans[0]?.error)).toMatch(
      stream ? /Error streaming response/ : /model exploded/,
    );
  });
});

describe('loopback OpenAI server — plumbing', () => {
  it('answers unknown paths with a 404 OpenAI-style error and does not record them', async () => {
    const server = await startLoopbackOpenAI(() => ({ kind: 'text', text: 'unused' }));
    try {
      const res = await fetch(`${server.baseURL}/embeddings`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({
        error: { type: 'invalid_request_error', code: 'unknown_url' },
      });
      expect(server.requests).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('serves the raw client in both wire formats with native usage shapes', async () => {
    const server = await startLoopbackOpenAI(() => ({
      kind: 'text',
      text: 'hello there',
      usage: { input: 3, output: 2 },
    }));
    try {
      const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0 });
      const response = await client.responses.create({ model: 'm-1', input: 'hi' });
      expect(response.output_text).toBe('hello there');
      expect(response.usage).toMatchObject({ input_tokens: 3, output_tokens: 2, total_tokens: 5 });
      expect(response.model).toBe('m-1');

      const completion = await client.chat.completions.create({
        model: 'm-2',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(completion.choices[0]?.message.content).toBe('hello there');
      expect(completion.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
      expect(completion.model).toBe('m-2');

      const chunks = await client.chat.completions.create({
        model: 'm-3',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let usage: unknown;
      for await (const chunk of chunks) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text).toBe('hello there');
      expect(usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 2 });

      const events = await client.responses.create({ model: 'm-4', input: 'hi', stream: true });
      const types: string[] = [];
      for await (const event of events) types.push(event.type);
      expect(types[0]).toBe('response.created');
      expect(types.at(-1)).toBe('response.completed');
      expect(types).toContain('response.output_item.done');

      expect(server.requests.map((r) => [r.api, r.stream])).toEqual([
        ['responses', false],
        ['chat', false],
        ['chat', true],
        ['responses', true],
      ]);
    } finally {
      await server.close();
    }
  });
});

// ------------------------------------------------------------------ SpanEmittingScriptedModel

function lastToolOutput(req: ModelRequest): string {
  const items: AgentInputItem[] = typeof req.input === 'string' ? [] : req.input;
  const last = items.at(-1);
  if (last?.type !== 'function_call_result') throw new Error('expected a tool result as the last input item');
  // a string tool result reaches the model as { type: 'text', text }
  const output: unknown = last.output;
  return typeof output === 'string' ? output : String(at(output, 'text'));
}

describe.each([false, true])('SpanEmittingScriptedModel — stream=%s', (stream) => {
  it('runs an agent offline and emits one generation span per call with input/output/usage', async () => {
    const model = new SpanEmittingScriptedModel(
      [
        () => [fc('call_s1', 'get_weather', { city: 'Oslo' })],
        (req) => [say(`Final: ${lastToolOutput(req)}`)],
      ],
      { model: 'scripted-test', usage: (_req, call) => ({ inputTokens: 100 * call, outputTokens: call }) },
    );
    const executed: Array<{ city: string }> = [];
    const agent = new Agent({
      name: 'Weather',
      instructions: 'Be brief.',
      tools: [makeWeatherTool(executed)],
      modelSettings: { temperature: 0.25 },
    });
    const runner = new Runner({ modelProvider: scriptedProvider(model) });

    const outcome = await runAgent(agent, runner, 'Weather in Oslo?', stream);
    await collector.settled();

    expect(outcome.finalOutput).toBe('Final: sunny in Oslo');
    if (stream) expect(outcome.textDeltas).toEqual(['Final: sunny in Oslo']);
    expect(executed).toEqual([{ city: 'Oslo' }]);
    expect(model.calls).toHaveLength(2);

    const gens = collector.ofType('generation');
    expect(gens).toHaveLength(2);
    const [g1, g2] = gens;
    expect(g1?.error).toBeNull();
    expect(g1?.data).toMatchObject({
      model: 'scripted-test',
      model_config: { temperature: 0.25 },
      input: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Oslo?' },
      ],
      output: [
        { type: 'function_call', callId: 'call_s1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      ],
      usage: { input_tokens: 100, output_tokens: 1 },
    });
    const g2Input = asArray(at(g2?.data, 'input'));
    expect(g2Input[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(g2Input.at(-1)).toMatchObject({ type: 'function_call_result', callId: 'call_s1' });
    expect(at(g2?.data, 'output', 0, 'content', 0, 'text')).toBe('Final: sunny in Oslo');
    expect(at(g2?.data, 'usage')).toEqual({ input_tokens: 200, output_tokens: 2 });

    // same tree as a real model: generation and function spans are children of the turn span
    const byId = new Map(collector.spans.map((s) => [s.spanId, s]));
    for (const s of [...gens, ...collector.ofType('function')]) {
      const parent = byId.get(s.parentId ?? '');
      expect(parent?.type).toBe('turn');
      expect(parent?.traceId).toBe(s.traceId);
    }
    expect(collector.ofType('function')[0]?.data).toMatchObject({
      input: '{"city":"Oslo"}',
      output: 'sunny in Oslo',
    });
  });

  it('fails clearly when the script runs out of steps', async () => {
    const model = new SpanEmittingScriptedModel([() => [fc('call_x', 'get_weather', { city: 'Rome' })]]);
    const agent = new Agent({ name: 'Weather', instructions: 'x', tools: [makeWeatherTool([])] });
    const runner = new Runner({ modelProvider: scriptedProvider(model) });

    await expect(runAgent(agent, runner, 'go', stream)).rejects.toThrow(
      'scripted model has no step for call 2 (1 step(s) scripted)',
    );
    await collector.settled();
    expect(model.calls).toHaveLength(2);
    const gens = collector.ofType('generation');
    expect(gens).toHaveLength(2);
    expect(gens[0]?.error).toBeNull();
    expect(gens[1]?.error?.message).toBe('scripted model has no step for call 2 (1 step(s) scripted)');
  });
});

describe('SpanEmittingScriptedModel — direct use', () => {
  const request = (input: string): ModelRequest => ({
    input,
    modelSettings: {},
    tools: [],
    outputType: 'text',
    handoffs: [],
    tracing: false,
  });

  it('accepts a function script with 1-based call numbers and reports usage', async () => {
    const model = new SpanEmittingScriptedModel((req, call) =>
      call <= 2 ? [say(`#${call}: ${String(req.input)}`)] : undefined,
    );
    const first = await model.getResponse(request('a'));
    expect(first.output).toEqual([say('#1: a')]);
    expect(first.usage.inputTokens).toBe(10);
    expect(first.usage.outputTokens).toBe(5);
    expect(first.responseId).toBe('resp_scripted_1');
    expect((await model.getResponse(request('b'))).output).toEqual([say('#2: b')]);
    await expect(model.getResponse(request('c'))).rejects.toThrow('scripted model has no step for call 3');
    expect(model.calls.map((c) => c.input)).toEqual(['a', 'b', 'c']);
    expect(collector.spans).toEqual([]); // tracing: false → no span, and no trace needed
  });
});
