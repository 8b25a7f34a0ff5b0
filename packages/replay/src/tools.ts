/**
 * Recorded tool outputs instead of tools: the agent's function tools are swapped, as the runner asks the agent
 * for them, for copies whose `invoke` answers with what the recording says that call returned. Nothing the tool
 * would have done happens (no side effects during an investigation). Arguments that differ from the recorded
 * call are a divergence.
 */
import { type Divergence, ReplayDivergenceError, type ReplayOptions, reportDivergence } from './provider.js';
import { canonicalArgs, type Recording } from './recording.js';

interface FunctionToolLike {
  type: string;
  name: string;
  invoke: (runContext: unknown, input: string, details?: unknown) => Promise<unknown>;
}

interface AgentLike {
  name: string;
  getAllTools(runContext: unknown, tracingParent?: unknown): Promise<unknown[]>;
}

function replayed(tool: FunctionToolLike, agent: string, recording: Recording, options: ReplayOptions) {
  return async (runContext: unknown, input: string, details?: unknown): Promise<unknown> => {
    const call = recording.takeToolCall(agent, tool.name);
    if (call && call.args === canonicalArgs(input)) return outputOf(call.output);
    const action = options.onDivergence ?? 'stop';
    const divergence: Divergence = {
      kind: 'tool',
      reason: call
        ? `tool ${tool.name} called with other arguments than recorded (seq ${call.seq})`
        : `a call of tool ${tool.name} that the recording does not have`,
      agent,
      recorded_seq: call?.seq ?? null,
      changes: call ? [{ path: 'args', a: call.args, b: canonicalArgs(input) }] : [],
      action,
    };
    await reportDivergence(divergence, options);
    if (action === 'stop') throw new ReplayDivergenceError(divergence);
    if (action === 'continue' && call) return outputOf(call.output);
    return tool.invoke(runContext, input, details);
  };
}

/** Tool outputs are recorded as text (the SDK stringifies them); structured ones come back as recorded. */
const outputOf = (output: unknown): unknown => (output === undefined || output === null ? '' : output);

/** Makes every agent of this SDK copy serve recorded tool outputs. Returns a function that undoes it. */
export function serveRecordedTools(
  agentClass: { prototype: AgentLike },
  recording: Recording,
  options: ReplayOptions = {},
): () => void {
  const original = agentClass.prototype.getAllTools;
  agentClass.prototype.getAllTools = async function (this: AgentLike, runContext, tracingParent) {
    const tools = await original.call(this, runContext, tracingParent);
    return tools.map((tool) => {
      const fn = tool as FunctionToolLike;
      if (fn?.type !== 'function' || typeof fn.invoke !== 'function') return tool;
      return { ...fn, invoke: replayed(fn, this.name, recording, options) };
    });
  };
  return () => {
    agentClass.prototype.getAllTools = original;
  };
}
