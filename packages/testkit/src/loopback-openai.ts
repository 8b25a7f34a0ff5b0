/**
 * A tiny fake OpenAI HTTP server for tests: the real `openai` client (and through it the Agents SDK's
 * `OpenAIResponsesModel` / `OpenAIChatCompletionsModel`) talks to it over loopback HTTP.
 *
 * Serves `POST /v1/responses` and `POST /v1/chat/completions`, both as JSON and as server-sent events
 * (when the request body has `stream: true`). Every reply is decided by a test-supplied script.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackUsage {
  input: number;
  output: number;
}

export interface LoopbackToolCall {
  callId: string;
  name: string;
  /** Raw JSON text of the arguments, sent to the client verbatim. */
  arguments: string;
}

export type LoopbackReply =
  | { kind: 'text'; text: string; usage?: LoopbackUsage }
  | { kind: 'tool_calls'; calls: LoopbackToolCall[]; usage?: LoopbackUsage };

export interface LoopbackRequest {
  api: 'responses' | 'chat';
  stream: boolean;
  /** The parsed JSON request body. */
  body: unknown;
  /** 0-based position in `LoopbackServer.requests`. */
  index: number;
}

export interface LoopbackServer {
  /** `http://127.0.0.1:PORT/v1`, ready for `new OpenAI({ baseURL })`. */
  baseURL: string;
  /** Every API request received (both endpoints), in arrival order — also those whose script threw. */
  requests: LoopbackRequest[];
  close(): Promise<void>;
}

export type LoopbackScript = (req: LoopbackRequest) => LoopbackReply | Promise<LoopbackReply>;

const DEFAULT_USAGE: LoopbackUsage = { input: 10, output: 5 };

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const alnum = (length: number): string => {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const raw = randomBytes(length);
  let out = '';
  for (const byte of raw) out += chars[byte % chars.length];
  return out;
};
const now = (): number => Math.floor(Date.now() / 1000);

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function modelOf(body: unknown): string {
  return isRecord(body) && typeof body['model'] === 'string' ? body['model'] : 'unknown-model';
}

/** Splits a string into up to `parts` non-empty pieces so clients must accumulate deltas. */
function pieces(text: string, parts = 3): string[] {
  if (text.length <= 1) return [text];
  const size = Math.ceil(text.length / parts);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

// ---------------------------------------------------------------- Responses API

function responsesUsage(usage: LoopbackUsage): Json {
  return {
    input_tokens: usage.input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: usage.output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.input + usage.output,
  };
}

function responsesOutput(reply: LoopbackReply): Json[] {
  if (reply.kind === 'text') {
    return [
      {
        id: `msg_${hex(24)}`,
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: reply.text, annotations: [], logprobs: [] }],
      },
    ];
  }
  return reply.calls.map((call) => ({
    id: `fc_${hex(24)}`,
    type: 'function_call',
    status: 'completed',
    call_id: call.callId,
    name: call.name,
    arguments: call.arguments,
  }));
}

function responseObject(body: unknown, reply: LoopbackReply): Json {
  const b = isRecord(body) ? body : {};
  return {
    id: `resp_${hex(24)}`,
    object: 'response',
    created_at: now(),
    status: 'completed',
    background: false,
    error: null,
    incomplete_details: null,
    instructions: b['instructions'] ?? null,
    max_output_tokens: b['max_output_tokens'] ?? null,
    model: modelOf(body),
    output: responsesOutput(reply),
    parallel_tool_calls: b['parallel_tool_calls'] ?? true,
    previous_response_id: b['previous_response_id'] ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: b['store'] ?? true,
    temperature: b['temperature'] ?? 1,
    text: b['text'] ?? { format: { type: 'text' } },
    tool_choice: b['tool_choice'] ?? 'auto',
    tools: b['tools'] ?? [],
    top_p: b['top_p'] ?? 1,
    truncation: 'disabled',
    usage: responsesUsage(reply.usage ?? DEFAULT_USAGE),
    user: null,
    metadata: {},
  };
}

/** The SSE event sequence the real Responses API emits for `response` (trimmed to the useful events). */
function responsesEvents(response: Json): Json[] {
  const events: Json[] = [];
  const inProgress = { ...response, status: 'in_progress', output: [], usage: null };
  events.push({ type: 'response.created', response: inProgress });
  events.push({ type: 'response.in_progress', response: inProgress });
  const output = Array.isArray(response['output']) ? (response['output'] as Json[]) : [];
  output.forEach((item, outputIndex) => {
    const itemId = item['id'];
    if (item['type'] === 'message') {
      const content = Array.isArray(item['content']) ? (item['content'] as Json[]) : [];
      events.push({
        type: 'response.output_item.added',
        output_index: outputIndex,
        item: { ...item, status: 'in_progress', content: [] },
      });
      content.forEach((part, contentIndex) => {
        const text = typeof part['text'] === 'string' ? part['text'] : '';
        const base = { item_id: itemId, output_index: outputIndex, content_index: contentIndex };
        events.push({
          type: 'response.content_part.added',
          ...base,
          part: { type: 'output_text', text: '', annotations: [] },
        });
        for (const delta of pieces(text)) {
          events.push({ type: 'response.output_text.delta', ...base, delta, logprobs: [] });
        }
        events.push({ type: 'response.output_text.done', ...base, text, logprobs: [] });
        events.push({ type: 'response.content_part.done', ...base, part });
      });
    } else if (item['type'] === 'function_call') {
      const args = typeof item['arguments'] === 'string' ? item['arguments'] : '';
      events.push({
        type: 'response.output_item.added',
        output_index: outputIndex,
        item: { ...item, status: 'in_progress', arguments: '' },
      });
      for (const delta of pieces(args)) {
        events.push({
          type: 'response.function_call_arguments.delta',
          item_id: itemId,
          output_index: outputIndex,
          delta,
        });
      }
      events.push({
        type: 'response.function_call_arguments.done',
        item_id: itemId,
        output_index: outputIndex,
        name: item['name'],
        arguments: args,
      });
    }
    events.push({ type: 'response.output_item.done', output_index: outputIndex, item });
  });
  events.push({ type: 'response.completed', response });
  return events.map((event, sequence) => ({ ...event, sequence_number: sequence }));
}

// ---------------------------------------------------------------- Chat Completions API

function chatUsage(usage: LoopbackUsage): Json {
  return {
    prompt_tokens: usage.input,
    completion_tokens: usage.output,
    total_tokens: usage.input + usage.output,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function chatCompletion(body: unknown, reply: LoopbackReply): Json {
  const message: Json =
    reply.kind === 'text'
      ? { role: 'assistant', content: reply.text, refusal: null, annotations: [] }
      : {
          role: 'assistant',
          content: null,
          refusal: null,
          annotations: [],
          tool_calls: reply.calls.map((call) => ({
            id: call.callId,
            type: 'function',
            function: { name: call.name, arguments: call.arguments },
          })),
        };
  return {
    id: `chatcmpl-${alnum(29)}`,
    object: 'chat.completion',
    created: now(),
    model: modelOf(body),
    choices: [
      { index: 0, message, logprobs: null, finish_reason: reply.kind === 'text' ? 'stop' : 'tool_calls' },
    ],
    usage: chatUsage(reply.usage ?? DEFAULT_USAGE),
    service_tier: 'default',
    system_fingerprint: 'fp_loopback',
  };
}

function chatChunks(body: unknown, reply: LoopbackReply): Json[] {
  const b = isRecord(body) ? body : {};
  const streamOptions = isRecord(b['stream_options']) ? b['stream_options'] : {};
  const includeUsage = streamOptions['include_usage'] === true;
  const id = `chatcmpl-${alnum(29)}`;
  const created = now();
  const model = modelOf(body);
  const chunk = (choices: Json[], extra: Json = {}): Json => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    service_tier: 'default',
    system_fingerprint: 'fp_loopback',
    choices,
    ...(includeUsage ? { usage: null } : {}),
    ...extra,
  });
  const delta = (d: Json, finishReason: string | null = null): Json => ({
    index: 0,
    delta: d,
    logprobs: null,
    finish_reason: finishReason,
  });

  const chunks: Json[] = [];
  if (reply.kind === 'text') {
    chunks.push(chunk([delta({ role: 'assistant', content: '', refusal: null })]));
    for (const piece of pieces(reply.text)) chunks.push(chunk([delta({ content: piece })]));
    chunks.push(chunk([delta({}, 'stop')]));
  } else {
    chunks.push(chunk([delta({ role: 'assistant', content: null, refusal: null })]));
    reply.calls.forEach((call, index) => {
      chunks.push(
        chunk([
          delta({
            tool_calls: [
              { index, id: call.callId, type: 'function', function: { name: call.name, arguments: '' } },
            ],
          }),
        ]),
      );
      for (const piece of pieces(call.arguments)) {
        chunks.push(chunk([delta({ tool_calls: [{ index, function: { arguments: piece } }] })]));
      }
    });
    chunks.push(chunk([delta({}, 'tool_calls')]));
  }
  if (includeUsage) chunks.push(chunk([], { usage: chatUsage(reply.usage ?? DEFAULT_USAGE) }));
  return chunks;
}

// ---------------------------------------------------------------- HTTP plumbing

function sendJson(res: http.ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': `req_${hex(16)}`,
  });
  res.end(text);
}

function sendError(
  res: http.ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null,
) {
  sendJson(res, status, { error: { message, type, param: null, code } });
}

function sendSse(res: http.ServerResponse, events: Array<{ event?: string; data: string }>): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': `req_${hex(16)}`,
  });
  for (const e of events) res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${e.data}\n\n`);
  res.end();
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const ROUTES: Record<string, LoopbackRequest['api']> = {
  '/v1/responses': 'responses',
  '/v1/chat/completions': 'chat',
};

/** Starts the fake server on 127.0.0.1 with an OS-assigned port. */
export async function startLoopbackOpenAI(script: LoopbackScript): Promise<LoopbackServer> {
  const requests: LoopbackRequest[] = [];

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://loopback').pathname.replace(/\/+$/, '');
    const api = req.method === 'POST' ? ROUTES[path] : undefined;
    const raw = await readBody(req);
    if (!api) {
      sendError(
        res,
        404,
        `Unknown request URL: ${req.method} ${req.url}`,
        'invalid_request_error',
        'unknown_url',
      );
      return;
    }
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : {};
    } catch {
      sendError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
      return;
    }
    const stream = isRecord(body) && body['stream'] === true;
    const request: LoopbackRequest = { api, stream, body, index: requests.length };
    requests.push(request);

    let reply: LoopbackReply;
    try {
      reply = await script(request);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      sendError(res, 500, `loopback script failed: ${message}`, 'server_error', null);
      return;
    }

    if (api === 'responses') {
      const response = responseObject(body, reply);
      if (!stream) return sendJson(res, 200, response);
      return sendSse(
        res,
        responsesEvents(response).map((event) => ({
          event: String(event['type']),
          data: JSON.stringify(event),
        })),
      );
    }
    if (!stream) return sendJson(res, 200, chatCompletion(body, reply));
    sendSse(res, [...chatChunks(body, reply).map((c) => ({ data: JSON.stringify(c) })), { data: '[DONE]' }]);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy(error instanceof Error ? error : undefined);
        return;
      }
      sendError(res, 500, `loopback server failed: ${String(error)}`, 'server_error', null);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
