/**
 * An offline `Model` for the Agents SDK that answers from a script and — unlike `ScriptedModel` from
 * `@openai/agents-core/testing` — emits a `generation` span for every call, as a real model adapter does.
 * The Runner creates no model span for custom models, so without this a recorder would see no model data.
 */
import {
  type AgentOutputItem,
  type AssistantMessageItem,
  createGenerationSpan,
  type FunctionCallItem,
  type GenerationSpanData,
  getCurrentTrace,
  type Model,
  type ModelProvider,
  type ModelRequest,
  type ModelResponse,
  resetCurrentSpan,
  type Span,
  type StreamEvent,
  type StreamEventResponseCompleted,
  setCurrentSpan,
  Usage,
  withGenerationSpan,
} from '@openai/agents';

/** One scripted model turn: returns the items the "model" outputs for this request. */
export type ScriptStep = (req: ModelRequest) => AgentOutputItem[];

/**
 * Function form of a script. `call` is the 1-based number of this call to the model
 * (equal to `model.calls.length` at that moment). Return `undefined` when there is no step for it.
 */
export type ScriptFunction = (req: ModelRequest, call: number) => AgentOutputItem[] | undefined;

export interface ScriptedTokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface SpanEmittingScriptedModelOptions {
  /** Reported as `spanData.model` of the generation span. Default `'scripted'`. */
  model?: string;
  /** Token usage per call (`call` is 1-based). Default `{ inputTokens: 10, outputTokens: 5 }`. */
  usage?: (req: ModelRequest, call: number) => ScriptedTokenUsage;
}

const DEFAULT_USAGE: ScriptedTokenUsage = { inputTokens: 10, outputTokens: 5 };

interface Produced {
  call: number;
  output: AgentOutputItem[];
  usage: ScriptedTokenUsage;
  responseId: string;
}

export class SpanEmittingScriptedModel implements Model {
  /** Every request the runner sent, in order (also the one that ran out of steps). */
  readonly calls: ModelRequest[] = [];
  readonly #script: ScriptFunction;
  readonly #stepCount: number | undefined;
  readonly #model: string;
  readonly #usage: (req: ModelRequest, call: number) => ScriptedTokenUsage;

  constructor(steps: ScriptStep[] | ScriptFunction, options: SpanEmittingScriptedModelOptions = {}) {
    if (Array.isArray(steps)) {
      const list = [...steps];
      this.#script = (req, call) => list[call - 1]?.(req);
      this.#stepCount = list.length;
    } else {
      this.#script = steps;
      this.#stepCount = undefined;
    }
    this.#model = options.model ?? 'scripted';
    this.#usage = options.usage ?? (() => DEFAULT_USAGE);
  }

  async getResponse(req: ModelRequest): Promise<ModelResponse> {
    const call = this.#register(req);
    const run = (span?: Span<GenerationSpanData>): ModelResponse => {
      if (span) this.#describeRequest(span, req);
      const produced = this.#produce(req, call);
      if (span) this.#describeResult(span, req, produced);
      return {
        output: produced.output,
        usage: new Usage({
          requests: 1,
          inputTokens: produced.usage.inputTokens,
          outputTokens: produced.usage.outputTokens,
          totalTokens: produced.usage.inputTokens + produced.usage.outputTokens,
        }),
        responseId: produced.responseId,
      };
    };
    if (!req.tracing) return run();
    return withGenerationSpan(async (span) => run(span));
  }

  async *getStreamedResponse(req: ModelRequest): AsyncIterable<StreamEvent> {
    const call = this.#register(req);
    // Mirrors the SDK's own streaming models: the span stays open (and current) while events are consumed.
    const span = req.tracing ? createGenerationSpan() : undefined;
    let madeCurrent = false;
    try {
      if (span) {
        span.start();
        if (getCurrentTrace()) {
          setCurrentSpan(span);
          madeCurrent = true;
        }
        this.#describeRequest(span, req);
      }
      const produced = this.#produce(req, call);
      if (span) this.#describeResult(span, req, produced);

      yield { type: 'response_started', providerData: { id: produced.responseId, model: this.#model } };
      for (const item of produced.output) {
        if (item.type !== 'message' || item.role !== 'assistant') continue;
        for (const part of item.content) {
          if (part.type !== 'output_text') continue;
          req.signal?.throwIfAborted();
          yield { type: 'output_text_delta', delta: part.text, ...(item.id ? { itemId: item.id } : {}) };
        }
      }
      req.signal?.throwIfAborted();
      yield {
        type: 'response_done',
        response: {
          id: produced.responseId,
          usage: {
            requests: 1,
            inputTokens: produced.usage.inputTokens,
            outputTokens: produced.usage.outputTokens,
            totalTokens: produced.usage.inputTokens + produced.usage.outputTokens,
          },
          // AgentOutputItem is wider than what a stream may carry (the runner zod-parses this list).
          output: produced.output as StreamEventResponseCompleted['response']['output'],
        },
      };
    } catch (error) {
      if (span && span.error === null) {
        span.setError({
          message: error instanceof Error ? error.message : String(error),
          ...(req.tracing === true ? { data: { error: String(error) } } : {}),
        });
      }
      throw error;
    } finally {
      if (span) {
        span.end();
        if (madeCurrent) resetCurrentSpan();
      }
    }
  }

  #register(req: ModelRequest): number {
    this.calls.push(req);
    return this.calls.length;
  }

  #produce(req: ModelRequest, call: number): Produced {
    req.signal?.throwIfAborted();
    const output = this.#script(req, call);
    if (!Array.isArray(output)) {
      const scripted = this.#stepCount === undefined ? '' : ` (${this.#stepCount} step(s) scripted)`;
      throw new Error(`scripted model has no step for call ${call}${scripted}`);
    }
    return { call, output, usage: this.#usage(req, call), responseId: `resp_scripted_${call}` };
  }

  #describeRequest(span: Span<GenerationSpanData>, req: ModelRequest): void {
    span.spanData.model = this.#model;
    span.spanData.model_config = { ...req.modelSettings };
    if (req.tracing !== true) return; // 'enabled_without_data': model and model_config only, like the SDK
    span.spanData.input = [
      ...(req.systemInstructions ? [{ role: 'system', content: req.systemInstructions }] : []),
      ...(typeof req.input === 'string' ? [{ role: 'user', content: req.input }] : req.input),
    ];
  }

  #describeResult(span: Span<GenerationSpanData>, req: ModelRequest, produced: Produced): void {
    if (req.tracing !== true) return;
    span.spanData.output = [...produced.output];
    span.spanData.usage = {
      input_tokens: produced.usage.inputTokens,
      output_tokens: produced.usage.outputTokens,
    };
  }
}

/**
 * A completed `function_call` output item. `args` is JSON-encoded unless it is already a string,
 * which is then used verbatim as the raw JSON arguments (so malformed JSON can be scripted too).
 */
export const fc = (callId: string, name: string, args: unknown): FunctionCallItem => ({
  type: 'function_call',
  callId,
  name,
  arguments: typeof args === 'string' ? args : JSON.stringify(args),
  status: 'completed',
});

/** A completed assistant message with one `output_text` part. */
export const say = (text: string): AssistantMessageItem => ({
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
});

/** A provider that hands out `model` for every model name — pass as `new Runner({ modelProvider })`. */
export function scriptedProvider(model: Model): ModelProvider {
  return { getModel: () => model };
}
