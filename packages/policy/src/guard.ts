/**
 * Enforcing a policy in a running agent, without touching tool code: each function tool of the agent gets a tool
 * input guardrail (deny → the model is told why, with the rule's reason, and the tool does not run), an approval
 * check (`needsApproval` for require_approval rules), and output masking inside its invocation (so a masked value
 * reaches neither the model nor the recording). Model rules and rate limits wrap the model provider. Every decision
 * is reported as an `agent_replay.policy_decision` custom span, which the recorder stores as `policy.decision`.
 */
import { POLICY_DECISION_SPAN } from '@agent-replay/analysis';
import {
  type AgentOutputType,
  defineToolInputGuardrail,
  getCurrentSpan,
  getHandoff,
  type Handoff,
  type Model,
  type ModelProvider,
  type ModelRequest,
  type ModelResponse,
  type StreamEvent,
  ToolGuardrailFunctionOutputFactory,
  withCustomSpan,
} from '@openai/agents';
import { type PolicyCall, type PolicyDecision, PolicyEngine } from './evaluate.js';
import type { LoadedPolicy } from './load.js';
import { maskOutput } from './mask.js';
import { RateLimiter } from './rate-limit.js';

export interface GuardOptions {
  /** Who decides, as recorded (`decided_by.id`); default the policy id. */
  engineId?: string;
  /** The identity rate limits with `scope: identity` count against. */
  identity?: string;
}

/** A model call or handoff the policy does not allow: the run stops with this error (and the decision is recorded). */
export class PolicyDeniedError extends Error {
  constructor(readonly decision: PolicyDecision) {
    super(
      `denied by policy ${decision.policy.id} v${decision.policy.version}${decision.rule ? ` (rule ${decision.rule})` : ''}: ${decision.reason}`,
    );
    this.name = 'PolicyDeniedError';
  }
}

/** Reports a decision the way the recorder expects it. */
export async function reportDecision(
  decision: PolicyDecision,
  options: GuardOptions,
  extra: { call_id?: string } = {},
): Promise<void> {
  await withCustomSpan(async () => {}, {
    data: {
      name: POLICY_DECISION_SPAN,
      data: {
        decision: decision.decision,
        subject: decision.subject,
        rule: decision.rule,
        reason: decision.reason,
        policy: decision.policy,
        decided_by: { kind: 'engine', id: options.engineId ?? decision.policy.id },
        ...(decision.rate_limit ? { rate_limit: decision.rate_limit } : {}),
        ...extra,
      },
    },
  });
}

/** The message a denied model reads instead of the tool's output: what the rule says to do, and which rule. */
const denialMessage = (d: PolicyDecision) =>
  `Denied by policy ${d.policy.id} v${d.policy.version}${d.rule ? ` (rule ${d.rule})` : ''}: ${d.reason}`;

interface FunctionToolLike {
  type: string;
  name: string;
  invoke: (runContext: unknown, input: string, details?: unknown) => Promise<unknown>;
  needsApproval: (runContext: unknown, input: unknown, callId?: string) => Promise<boolean>;
  inputGuardrails?: unknown[];
}

type AnyHandoff = Handoff<unknown, AgentOutputType>;

/**
 * A copy of `handoff` that asks the policy first. The SDK cannot pause a run on a handoff, so a handoff the policy
 * denies or wants approved stops the run with PolicyDeniedError, like a denied model call; the decision is recorded
 * inside the handoff's span.
 */
function guardHandoff(handoff: AnyHandoff, from: string, engine: PolicyEngine, options: GuardOptions) {
  const onInvokeHandoff = handoff.onInvokeHandoff.bind(handoff);
  const guarded: AnyHandoff = Object.assign(Object.create(Object.getPrototypeOf(handoff)), handoff);
  guarded.onInvokeHandoff = async (context, args) => {
    const decision = engine.decide({ kind: 'handoff', from, to: handoff.agentName });
    if (decision.decision !== 'allow' || decision.rule !== null) await reportDecision(decision, options);
    if (decision.decision !== 'allow') throw new PolicyDeniedError(decision);
    return onInvokeHandoff(context, args);
  };
  return guarded;
}

/**
 * Applies the policy to `agent` in place and returns it: tool rules and masks to every function tool, handoff rules
 * to every handoff.
 */
export function guardAgent<TAgent extends { name: string; tools: unknown[]; handoffs?: unknown[] }>(
  agent: TAgent,
  policy: LoadedPolicy,
  options: GuardOptions = {},
): TAgent {
  const engine = new PolicyEngine(policy);
  const approvalsAsked = new Set<string>();
  if (agent.handoffs) {
    agent.handoffs = (agent.handoffs as Parameters<typeof getHandoff>[0][]).map((entry) =>
      guardHandoff(getHandoff(entry), agent.name, engine, options),
    );
  }
  for (const tool of agent.tools as unknown as FunctionToolLike[]) {
    if (tool.type !== 'function') continue;
    const decide = (args: unknown): PolicyDecision => engine.decide({ kind: 'tool', name: tool.name, args });
    const needsApproval = tool.needsApproval.bind(tool);
    tool.needsApproval = async (runContext, input, callId) => {
      if (await needsApproval(runContext, input, callId)) return true;
      const decision = decide(input);
      if (decision.decision !== 'require_approval') return false;
      // Which rule asked for a human, recorded once per call (the SDK asks again when the run resumes).
      if (callId === undefined || !approvalsAsked.has(callId)) {
        if (callId !== undefined) approvalsAsked.add(callId);
        await reportDecision(decision, options, callId === undefined ? {} : { call_id: callId });
      }
      return true;
    };
    const guardrail = defineToolInputGuardrail({
      name: `policy ${policy.ref.id}`,
      run: async ({ toolCall }) => {
        const decision = decide(toolCall.arguments);
        // require_approval was asked as the run stopped; a call that got here was approved (the approval records it).
        if (decision.decision === 'require_approval') return ToolGuardrailFunctionOutputFactory.allow();
        await reportDecision(decision, options, { call_id: toolCall.callId });
        return decision.decision === 'deny'
          ? ToolGuardrailFunctionOutputFactory.rejectContent(denialMessage(decision), decision)
          : ToolGuardrailFunctionOutputFactory.allow();
      },
    });
    tool.inputGuardrails = [...(tool.inputGuardrails ?? []), guardrail];
    const masks = policy.document.masking.filter((mask) => engine.masksTool(mask, tool.name));
    if (masks.length > 0) {
      const invoke = tool.invoke.bind(tool);
      tool.invoke = async (runContext, input, details) =>
        maskOutput(await invoke(runContext, input, details), masks);
    }
  }
  return agent;
}

/** The agent whose model call this is (the SDK runs it inside the agent's turn span). */
function currentAgent(): string {
  const data = getCurrentSpan()?.spanData as
    | { type?: string; agent_name?: string; name?: string }
    | undefined;
  if (data?.type === 'turn') return data.agent_name ?? '';
  if (data?.type === 'agent') return data.name ?? '';
  return '';
}

/** A model provider whose models obey the policy's model rules and rate limits. */
export function guardModelProvider(
  provider: ModelProvider,
  policy: LoadedPolicy,
  options: GuardOptions = {},
): ModelProvider {
  const engine = new PolicyEngine(policy);
  const limiter = new RateLimiter(policy);
  const check = async (name: string): Promise<void> => {
    const decision = engine.decide({ kind: 'model', name } satisfies PolicyCall);
    const limited =
      decision.decision === 'deny'
        ? undefined
        : limiter.admit(currentAgent(), options.identity ?? '', decision);
    const final = limited ?? decision;
    if (final.decision === 'deny' || final.rule !== null) await reportDecision(final, options);
    if (final.decision === 'deny') throw new PolicyDeniedError(final);
  };
  return {
    async getModel(name?: string): Promise<Model> {
      const model = await provider.getModel(name);
      const modelName = name ?? 'default';
      return {
        async getResponse(request: ModelRequest): Promise<ModelResponse> {
          await check(modelName);
          const response = await model.getResponse(request);
          limiter.spend(currentAgent(), options.identity ?? '', response.usage.totalTokens);
          return response;
        },
        async *getStreamedResponse(request: ModelRequest): AsyncIterable<StreamEvent> {
          await check(modelName);
          yield* model.getStreamedResponse(request);
        },
      };
    },
  };
}
