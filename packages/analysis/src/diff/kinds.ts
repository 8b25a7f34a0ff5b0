/** The kinds of steps a diff aligns. A module of its own so the CLI can list them without loading the rest. */
export const STEP_KINDS = ['agent', 'turn', 'model', 'tool', 'handoff', 'guardrail', 'decision'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** Each kind of step in words, as reports name it. */
export const STEP_KIND_WORDS: Readonly<Record<StepKind, string>> = {
  agent: 'agent',
  turn: 'turn',
  model: 'model call',
  tool: 'tool call',
  handoff: 'handoff',
  guardrail: 'guardrail',
  decision: 'policy decision',
};
