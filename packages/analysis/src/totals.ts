/**
 * Running totals of a session, written in `session.end`. They are derived from the records as they are written
 * (after redaction), so a reader can always recompute them (`add` folds stored records); a resumed session continues
 * from the totals of the previous `session.end` so the last one in a file covers the whole session.
 */
import { asObj, type Obj } from './values.js';

export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  cached_input_tokens: number;
}

export interface SessionTotalsJSON {
  counts: {
    spans: number;
    model_calls: number;
    tool_calls: number;
    handoffs: number;
    guardrails: number;
    policy_decisions: number;
    approvals_requested: number;
    errors: number;
    denials: number;
    traces: number;
  };
  usage: TokenUsage;
  models: string[];
  tools: string[];
  agents: string[];
  redactions: Record<string, number>;
  dropped_records: number;
}

const num = (...values: unknown[]): number => {
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) return v;
  return 0;
};

/** Token usage of one model-call span, whichever API produced it. */
export function modelCallUsage(kind: string, data: Obj): { model: string | undefined; usage: TokenUsage } {
  let model: unknown;
  let usage: Obj | undefined;
  if (kind === 'response') {
    const response = asObj(data._response);
    model = response?.model;
    usage = asObj(response?.usage);
  } else {
    model = data.model;
    // Chat Completions spans leave `usage` unset on success; the completion object carries it.
    const output = Array.isArray(data.output) ? asObj(data.output[0]) : undefined;
    usage = asObj(data.usage) ?? asObj(output?.usage);
  }
  const details = asObj(usage?.input_tokens_details) ?? asObj(usage?.prompt_tokens_details);
  const input = num(usage?.input_tokens, usage?.prompt_tokens, usage?.inputTokens);
  const output = num(usage?.output_tokens, usage?.completion_tokens, usage?.outputTokens);
  return {
    model: typeof model === 'string' ? model : undefined,
    usage: {
      input_tokens: input,
      output_tokens: output,
      total_tokens: num(usage?.total_tokens, usage?.totalTokens) || input + output,
      cached_input_tokens: num(details?.cached_tokens, usage?.cached_input_tokens),
    },
  };
}

/** Input plus output tokens of one model-call span. */
export function modelCallTokens(kind: string, data: Obj): number {
  const { usage } = modelCallUsage(kind, data);
  return usage.input_tokens + usage.output_tokens || usage.total_tokens;
}

export class SessionTotals {
  private counts: SessionTotalsJSON['counts'] = {
    spans: 0,
    model_calls: 0,
    tool_calls: 0,
    handoffs: 0,
    guardrails: 0,
    policy_decisions: 0,
    approvals_requested: 0,
    errors: 0,
    denials: 0,
    traces: 0,
  };
  private usage: TokenUsage = { input_tokens: 0, output_tokens: 0, total_tokens: 0, cached_input_tokens: 0 };
  private models = new Set<string>();
  private tools = new Set<string>();
  private agents = new Set<string>();
  readonly redactions: Record<string, number> = {};
  droppedRecords = 0;

  /** Continues from a previous `session.end` of the same file. */
  static from(previous: unknown): SessionTotals {
    const totals = new SessionTotals();
    const prev = asObj(previous);
    if (!prev) return totals;
    const counts = asObj(prev.counts) ?? {};
    for (const key of Object.keys(totals.counts) as (keyof SessionTotalsJSON['counts'])[]) {
      totals.counts[key] = num(counts[key]);
    }
    const usage = asObj(prev.usage) ?? {};
    for (const key of Object.keys(totals.usage) as (keyof TokenUsage)[]) totals.usage[key] = num(usage[key]);
    for (const [set, value] of [
      [totals.models, prev.models],
      [totals.tools, prev.tools],
      [totals.agents, prev.agents],
    ] as const) {
      if (Array.isArray(value)) for (const v of value) if (typeof v === 'string') set.add(v);
    }
    const redactions = asObj(prev.redactions) ?? {};
    for (const [kind, n] of Object.entries(redactions)) totals.redactions[kind] = num(n);
    totals.droppedRecords = num(prev.dropped_records);
    return totals;
  }

  traceStarted(): void {
    this.counts.traces++;
  }

  /** Accounts for one finished span (its data already snapshotted and redacted). */
  spanEnded(kind: string, data: Obj, failed: boolean): void {
    this.counts.spans++;
    if (failed) this.counts.errors++;
    switch (kind) {
      case 'response':
      case 'generation': {
        this.counts.model_calls++;
        const { model, usage } = modelCallUsage(kind, data);
        if (model) this.models.add(model);
        for (const key of Object.keys(usage) as (keyof TokenUsage)[]) this.usage[key] += usage[key];
        break;
      }
      case 'function':
        this.counts.tool_calls++;
        if (typeof data.name === 'string') this.tools.add(data.name);
        break;
      case 'handoff':
        this.counts.handoffs++;
        break;
      case 'agent':
        if (typeof data.name === 'string') this.agents.add(data.name);
        break;
      case 'guardrail':
        this.counts.guardrails++;
        break;
    }
  }

  policyDecision(decision: unknown): void {
    this.counts.policy_decisions++;
    if (decision === 'deny' || decision === 'rejected') this.counts.denials++;
    if (decision === 'require_approval') this.counts.approvals_requested++;
  }

  /**
   * Folds one stored record, exactly as the recorder counted it when writing: a reader that adds every record of a
   * session gets the counts of its `session.end` (except redactions and dropped records, which only the writer saw).
   */
  add(record: { type: string } & Obj): void {
    if (record.type === 'trace.start') this.traceStarted();
    else if (record.type === 'policy.decision') this.policyDecision(record.decision);
    else if (record.type === 'span.end') {
      const span = asObj(record.span);
      if (!span) return;
      this.spanEnded(String(span.kind), asObj(span.data) ?? {}, span.error != null);
    }
  }

  toJSON(): SessionTotalsJSON {
    return {
      counts: { ...this.counts },
      usage: { ...this.usage },
      models: [...this.models].sort(),
      tools: [...this.tools].sort(),
      agents: [...this.agents].sort(),
      redactions: { ...this.redactions },
      dropped_records: this.droppedRecords,
    };
  }
}
