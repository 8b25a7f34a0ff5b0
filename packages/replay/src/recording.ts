/**
 * What a replay serves, read from the original session: every model call (which API recorded it, for which agent,
 * the conversation it saw and what it answered) and every tool call (arguments, output), in the order they
 * happened, queued per agent.
 */
import { createHash } from 'node:crypto';
import { asObj, str } from '@agent-replay/analysis';
import { canonicalize, SessionReader } from '@agent-replay/format';

type Obj = Record<string, unknown>;

/** Which model implementation produced a recorded call, so the replay produces the same span. */
export type RecordedApi = 'responses' | 'chat' | 'custom';

export interface RecordedModelCall {
  seq: number;
  agent: string;
  api: RecordedApi;
  model: string;
  /** The conversation the model saw, reduced to what matters (see `conversationOf`). */
  conversation: Conversation;
  fingerprint: string;
  /** The span data as recorded (blobs resolved). */
  data: Obj;
}

export interface RecordedToolCall {
  seq: number;
  agent: string;
  name: string;
  /** Canonical JSON of the parsed arguments. */
  args: string;
  output: unknown;
  error: unknown;
}

export interface Conversation {
  instructions: string | null;
  items: unknown[];
}

/** The text of message content in any of the APIs' shapes. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => str(asObj(part)?.text) ?? str(asObj(part)?.refusal) ?? canonicalize(part))
      .join('');
  }
  const obj = asObj(content);
  if (obj && typeof obj.text === 'string') return obj.text;
  return content === undefined || content === null ? '' : canonicalize(content);
}

/** Tool-call arguments as canonical JSON (recorded and requested as JSON text), so equal arguments compare equal. */
export function canonicalArgs(value: unknown): string {
  if (typeof value !== 'string') return canonicalize(value ?? null);
  try {
    return canonicalize(JSON.parse(value));
  } catch {
    return value;
  }
}

/**
 * A conversation reduced to what a model call depends on, the same whichever API or model class carried it:
 * system instructions, then messages (role and text), tool calls (name and arguments) and tool results (text).
 * Ids, call ids and statuses are left out: they differ between runs without changing what the model was asked.
 */
export function conversationOf(input: unknown, instructions?: string | null): Conversation {
  const items: unknown[] = [];
  let system = instructions ?? null;
  const list =
    typeof input === 'string' ? [{ role: 'user', content: input }] : Array.isArray(input) ? input : [];
  for (const raw of list) {
    const item = asObj(raw);
    if (!item) {
      items.push(raw);
      continue;
    }
    const type = str(item.type);
    const role = str(item.role);
    if (role === 'system' || role === 'developer') {
      system ??= textOf(item.content);
    } else if (type === 'function_call') {
      items.push({ call: str(item.name) ?? '', args: canonicalArgs(item.arguments) });
    } else if (type === 'function_call_result' || type === 'function_call_output' || role === 'tool') {
      items.push({ result: textOf(item.output ?? item.content) });
    } else if (role) {
      if (textOf(item.content) !== '' || !Array.isArray(item.tool_calls))
        items.push({ role, text: textOf(item.content) });
      // Chat Completions carries a turn's tool calls inside the assistant message.
      for (const call of Array.isArray(item.tool_calls) ? item.tool_calls : []) {
        const fn = asObj(asObj(call)?.function);
        items.push({ call: str(fn?.name) ?? '', args: canonicalArgs(fn?.arguments) });
      }
    } else {
      const { id: _id, callId: _callId, call_id: _call, status: _status, providerData: _p, ...rest } = item;
      items.push(rest);
    }
  }
  return { instructions: system, items };
}

export const fingerprintOf = (conversation: Conversation): string =>
  createHash('sha256').update(canonicalize(conversation)).digest('hex');

/** The conversation a recorded model span saw, by the API that recorded it. */
function recordedConversation(api: RecordedApi, data: Obj): Conversation {
  if (api === 'responses')
    return conversationOf(data._input, str(asObj(data._response)?.instructions) ?? null);
  return conversationOf(data.input);
}

function apiOf(kind: string, data: Obj): RecordedApi {
  if (kind === 'response') return 'responses';
  // The SDK's Chat Completions model records the completion object (with `choices`) as its output.
  const first = Array.isArray(data.output) ? asObj(data.output[0]) : undefined;
  return first && Array.isArray(first.choices) ? 'chat' : 'custom';
}

export class Recording {
  readonly path: string;
  readonly sessionId: string | null;
  readonly modelCalls: RecordedModelCall[];
  readonly toolCalls: RecordedToolCall[];
  private readonly nextModel = new Map<string, number>();
  private readonly nextTool = new Map<string, number>();

  private constructor(
    path: string,
    sessionId: string | null,
    models: RecordedModelCall[],
    tools: RecordedToolCall[],
  ) {
    this.path = path;
    this.sessionId = sessionId;
    this.modelCalls = models;
    this.toolCalls = tools;
  }

  static async load(path: string): Promise<Recording> {
    const reader = await SessionReader.open(path);
    const models: RecordedModelCall[] = [];
    const tools: RecordedToolCall[] = [];
    const agentOfSpan = new Map<string, string>();
    let sessionId: string | null = null;
    try {
      for await (const stored of reader.records()) {
        if (stored.type === 'session.start' && sessionId === null) sessionId = str(stored.session_id) ?? null;
        if (stored.type !== 'span.start' && stored.type !== 'span.end') continue;
        const span = asObj(stored.span) ?? {};
        const id = str(span.id) ?? '';
        const kind = str(span.kind) ?? '';
        const parentAgent = agentOfSpan.get(str(span.parent_id) ?? '') ?? '';
        if (stored.type === 'span.start') {
          const data = asObj(span.data) ?? {};
          const agent =
            kind === 'agent'
              ? (str(data.name) ?? '')
              : kind === 'turn'
                ? (str(data.agent_name) ?? parentAgent)
                : parentAgent;
          agentOfSpan.set(id, agent);
          continue;
        }
        const agent = agentOfSpan.get(id) ?? parentAgent;
        agentOfSpan.delete(id);
        if (kind !== 'generation' && kind !== 'response' && kind !== 'function') continue;
        const resolved = asObj(await reader.resolve(stored)) ?? {};
        const data = asObj(asObj(resolved.span)?.data) ?? {};
        if (kind === 'function') {
          tools.push({
            seq: stored.seq,
            agent,
            name: str(data.name) ?? '',
            args: canonicalArgs(data.input),
            output: data.output,
            error: span.error ?? null,
          });
          continue;
        }
        const api = apiOf(kind, data);
        const conversation = recordedConversation(api, data);
        models.push({
          seq: stored.seq,
          agent,
          api,
          model: str(data.model) ?? str(asObj(data._response)?.model) ?? '',
          conversation,
          fingerprint: fingerprintOf(conversation),
          data,
        });
      }
    } finally {
      reader.close();
    }
    return new Recording(path, sessionId, models, tools);
  }

  /** The next recorded model call of `agent` (calls of agents the SDK did not name are taken in overall order). */
  takeModelCall(agent: string | undefined): RecordedModelCall | undefined {
    return take(this.modelCalls, agent, this.nextModel);
  }

  takeToolCall(agent: string | undefined, name: string): RecordedToolCall | undefined {
    return take(
      this.toolCalls.filter((call) => call.name === name),
      agent,
      this.nextTool,
      name,
    );
  }
}

/** The first call of `list` for `agent` not taken yet (per-agent cursors; `key` separates lists). */
function take<T extends { agent: string }>(
  list: readonly T[],
  agent: string | undefined,
  cursors: Map<string, number>,
  key = '',
): T | undefined {
  const cursorKey = `${key}\u0000${agent ?? '*'}`;
  let i = cursors.get(cursorKey) ?? 0;
  while (i < list.length && agent !== undefined && list[i]!.agent !== agent) i++;
  const found = list[i];
  cursors.set(cursorKey, found ? i + 1 : i);
  return found;
}
