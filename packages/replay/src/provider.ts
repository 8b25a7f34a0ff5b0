/**
 * The replay model provider. Each model call of the new run gets the next recorded call of the same agent; its
 * conversation is checked against the recorded one, and the recorded answer is served through the same model
 * class that produced it (the SDK's Responses or Chat Completions model over an in-process `fetch` that answers
 * with the recorded response; a custom model's items directly), so the new session records the same spans.
 * No request leaves the process.
 */
import { asObj, DIVERGENCE_SPAN, type FieldChange, jsonChanges } from '@agent-replay/analysis';
import {
  getCurrentSpan,
  type Model,
  type ModelProvider,
  type ModelRequest,
  type ModelResponse,
  OpenAIChatCompletionsModel,
  OpenAIProvider,
  OpenAIResponsesModel,
  type StreamEvent,
  Usage,
  withCustomSpan,
  withGenerationSpan,
} from '@openai/agents';
import OpenAI from 'openai';
import { conversationOf, fingerprintOf, type RecordedModelCall, type Recording } from './recording.js';

type Obj = Record<string, unknown>;

/** What to do when the run departs from the recording. */
export type DivergencePolicy = 'stop' | 'continue' | 'live';

export interface ReplayOptions {
  onDivergence?: DivergencePolicy;
  /** Called once per divergence (besides the `divergence` record the recorder stores). */
  onDiverged?: (divergence: Divergence) => void;
}

export interface Divergence {
  kind: 'model' | 'tool';
  reason: string;
  agent: string | null;
  /** seq of the recorded call that was expected, if there was one. */
  recorded_seq: number | null;
  changes: { path: string; a: unknown; b: unknown }[];
  action: DivergencePolicy;
}

export class ReplayDivergenceError extends Error {
  constructor(readonly divergence: Divergence) {
    super(`replay diverged from the recording: ${divergence.reason}`);
    this.name = 'ReplayDivergenceError';
  }
}

/** The agent whose model call this is: the SDK runs it inside the agent's turn span. */
function currentAgent(): string | undefined {
  const data = asObj(getCurrentSpan()?.spanData as unknown);
  if (data?.type === 'turn') return typeof data.agent_name === 'string' ? data.agent_name : undefined;
  if (data?.type === 'agent') return typeof data.name === 'string' ? data.name : undefined;
  return undefined;
}

/** Reports a divergence: a custom span the recorder stores as a `divergence` record, then the caller's hook. */
export async function reportDivergence(divergence: Divergence, options: ReplayOptions): Promise<void> {
  await withCustomSpan(async () => {}, { data: { name: DIVERGENCE_SPAN, data: { ...divergence } } });
  options.onDiverged?.(divergence);
}

/** A `fetch` that answers every request with `answer(request)` (JSON, or server-sent events when it streams). */
function recordedFetch(
  answer: (request: { stream?: boolean; instructions?: unknown }) => { json: unknown } | { events: string[] },
): typeof fetch {
  return async (_input, init) => {
    const request = JSON.parse(String(init?.body ?? '{}')) as { stream?: boolean; instructions?: unknown };
    const reply = answer(request);
    if ('json' in reply) {
      return new Response(JSON.stringify(reply.json), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }
    return new Response(reply.events.join(''), {
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
    });
  };
}

const sse = (data: unknown, event?: string) =>
  `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

/** A recorded Responses API response as the stream the SDK reads (created, then completed). */
function responseEvents(response: Obj): string[] {
  return [
    sse(
      { type: 'response.created', response: { ...response, status: 'in_progress', output: [] } },
      'response.created',
    ),
    sse({ type: 'response.completed', response }, 'response.completed'),
  ];
}

/** A recorded chat completion as stream chunks: the message as one delta, then usage, then [DONE]. */
function chatChunks(completion: Obj): string[] {
  const choices = Array.isArray(completion.choices) ? completion.choices : [];
  const chunks = choices.map((choice) => {
    const c = asObj(choice) ?? {};
    const message = asObj(c.message) ?? {};
    const toolCalls = Array.isArray(message.tool_calls)
      ? message.tool_calls.map((call, index) => ({ index, ...(asObj(call) ?? {}) }))
      : undefined;
    return sse({
      id: completion.id,
      object: 'chat.completion.chunk',
      created: completion.created,
      model: completion.model,
      choices: [
        {
          index: c.index ?? 0,
          delta: {
            role: 'assistant',
            content: message.content ?? null,
            ...(toolCalls ? { tool_calls: toolCalls } : {}),
          },
          finish_reason: c.finish_reason ?? 'stop',
        },
      ],
    });
  });
  const usage = sse({
    id: completion.id,
    object: 'chat.completion.chunk',
    model: completion.model,
    choices: [],
    usage: completion.usage,
  });
  return [...chunks, usage, 'data: [DONE]\n\n'];
}

class ReplayModel implements Model {
  private served: RecordedModelCall | undefined;
  private readonly client: OpenAI;

  constructor(
    private readonly name: string,
    private readonly recording: Recording,
    private readonly options: ReplayOptions,
    private readonly live: () => Promise<Model>,
  ) {
    this.client = new OpenAI({
      apiKey: 'agent-replay-offline',
      baseURL: 'http://agent-replay.invalid/v1',
      maxRetries: 0,
      fetch: recordedFetch((request) => this.answer(request)),
    });
  }

  private answer(request: {
    stream?: boolean;
    instructions?: unknown;
  }): { json: unknown } | { events: string[] } {
    const call = this.served;
    const stream = request.stream === true;
    if (!call) throw new Error('agent-replay: a model request with no recorded call to serve');
    if (call.api === 'responses') {
      // The API echoes the instructions it was sent: a run that continues past a changed prompt records the new one.
      const response = { ...(asObj(call.data._response) ?? {}), instructions: request.instructions ?? null };
      return stream ? { events: responseEvents(response) } : { json: response };
    }
    const completion = asObj(Array.isArray(call.data.output) ? call.data.output[0] : undefined) ?? {};
    return stream ? { events: chatChunks(completion) } : { json: completion };
  }

  /** The recorded call for this request, or what the divergence policy says to do instead. */
  private async select(request: ModelRequest): Promise<RecordedModelCall | 'live'> {
    const agent = currentAgent();
    const call = this.recording.takeModelCall(agent);
    const conversation = conversationOf(request.input, request.systemInstructions ?? null);
    if (call && fingerprintOf(conversation) === call.fingerprint) return call;
    const changes: FieldChange[] = [];
    if (call) jsonChanges('input', 'conversation', call.conversation, conversation, changes);
    const action = this.options.onDivergence ?? 'stop';
    const divergence: Divergence = {
      kind: 'model',
      reason: call
        ? `the input of model call ${agent ? `of agent ${agent} ` : ''}differs from the recording (seq ${call.seq})${
            changes[0] ? `: ${changes[0].path.replace(/^conversation\./, '')} changed` : ''
          }`
        : `a model call ${agent ? `of agent ${agent} ` : ''}that the recording does not have`,
      agent: agent ?? null,
      recorded_seq: call?.seq ?? null,
      changes: changes.map(({ path, a, b }) => ({ path, a, b })),
      action,
    };
    await reportDivergence(divergence, this.options);
    if (action === 'stop') throw new ReplayDivergenceError(divergence);
    if (action === 'live' || !call) return 'live';
    return call;
  }

  private modelFor(call: RecordedModelCall): Model {
    const name = call.model || this.name;
    return call.api === 'responses'
      ? new OpenAIResponsesModel(this.client, name)
      : new OpenAIChatCompletionsModel(this.client, name);
  }

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    const call = await this.select(request);
    if (call === 'live') return (await this.live()).getResponse(request);
    if (call.api === 'custom') return customResponse(call, request);
    this.served = call;
    return this.modelFor(call).getResponse(request);
  }

  async *getStreamedResponse(request: ModelRequest): AsyncIterable<StreamEvent> {
    const call = await this.select(request);
    if (call === 'live') {
      yield* (await this.live()).getStreamedResponse(request);
      return;
    }
    if (call.api === 'custom') {
      const response = await customResponse(call, request);
      yield { type: 'response_started' } as StreamEvent;
      yield {
        type: 'response_done',
        response: {
          id: response.responseId ?? 'replay',
          usage: usageJson(response.usage),
          output: response.output,
        },
      } as StreamEvent;
      return;
    }
    this.served = call;
    yield* this.modelFor(call).getStreamedResponse(request);
  }
}

const usageJson = (usage: Usage) => ({
  requests: usage.requests,
  inputTokens: usage.inputTokens,
  outputTokens: usage.outputTokens,
  totalTokens: usage.totalTokens,
});

/**
 * A call recorded from a custom model (its own generation span): its items are served as they are, under a
 * generation span shaped like the recorded one.
 */
function customResponse(call: RecordedModelCall, request: ModelRequest): Promise<ModelResponse> {
  return withGenerationSpan(async (span) => {
    const recorded = call.data;
    const usage = asObj(recorded.usage) ?? {};
    const num = (v: unknown) => (typeof v === 'number' ? v : 0);
    const items =
      typeof request.input === 'string' ? [{ role: 'user', content: request.input }] : request.input;
    const recordedInput = Array.isArray(recorded.input) ? recorded.input : [];
    const withSystem = asObj(recordedInput[0])?.role === 'system' && request.systemInstructions !== undefined;
    span.spanData.model = call.model;
    if (recorded.model_config !== undefined) span.spanData.model_config = recorded.model_config as Obj;
    span.spanData.input = (
      withSystem ? [{ role: 'system', content: request.systemInstructions }, ...items] : items
    ) as Obj[];
    span.spanData.output = recorded.output as Obj[];
    span.spanData.usage = usage;
    const inputTokens = num(usage.input_tokens);
    const outputTokens = num(usage.output_tokens);
    return {
      output: recorded.output as ModelResponse['output'],
      usage: new Usage({ requests: 1, inputTokens, outputTokens, totalTokens: inputTokens + outputTokens }),
      responseId: `replay_${call.seq}`,
    };
  });
}

/** Serves recorded model calls to every agent that takes its model from the default provider. */
export class ReplayModelProvider implements ModelProvider {
  private liveProvider: OpenAIProvider | undefined;

  constructor(
    private readonly recording: Recording,
    private readonly options: ReplayOptions = {},
  ) {}

  getModel(name?: string): Model {
    const live = async () => {
      this.liveProvider ??= new OpenAIProvider();
      return this.liveProvider.getModel(name);
    };
    return new ReplayModel(name ?? '', this.recording, this.options, live);
  }
}
