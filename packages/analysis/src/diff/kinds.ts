/** The kinds of steps a diff aligns. A module of its own so the CLI can list them without loading the rest. */
export const STEP_KINDS = ['agent', 'turn', 'model', 'tool', 'handoff', 'guardrail', 'decision'] as const;
export type StepKind = (typeof STEP_KINDS)[number];
