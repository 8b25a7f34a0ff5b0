/** Reading recorded JSON defensively: records come from files, so every field is checked before it is used. */

export type Obj = Record<string, unknown>;

export const asObj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** A JSON text that holds an object or array, parsed (tool arguments are recorded as text); anything else as is. */
export function parseIfJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (!(trimmed.startsWith('{') || trimmed.startsWith('['))) return value;
  try {
    return JSON.parse(trimmed);
  } catch {
    return value;
  }
}

/**
 * Input, output, model and instructions of a model-call span, whichever model produced it: the Responses model
 * (`_input`, and the raw response with its output and echoed instructions), the Chat Completions model (messages
 * in, the completion object out: its choices' messages are the output) or a custom model (items in and out).
 */
export function modelCallIO(data: Obj): {
  input: unknown;
  output: unknown;
  model: unknown;
  instructions: unknown;
} {
  if (data._input !== undefined || data._response !== undefined) {
    const response = asObj(data._response);
    return {
      input: data._input,
      output: response?.output,
      model: response?.model,
      instructions: response?.instructions,
    };
  }
  const choices = Array.isArray(data.output) ? asObj(data.output[0])?.choices : undefined;
  return {
    input: data.input,
    output: Array.isArray(choices) ? choices.map((choice) => asObj(choice)?.message ?? choice) : data.output,
    model: data.model,
    // Chat Completions and custom models keep the system prompt in the input (a system message).
    instructions: undefined,
  };
}

/** A value on one line: an object (or JSON text of one) as `key=value, …`, anything else as JSON. */
export function compactValue(raw: unknown): string {
  const value = parseIfJson(raw);
  if (typeof value === 'string') return value;
  const obj = asObj(value);
  if (obj) {
    return Object.entries(obj)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(', ');
  }
  return JSON.stringify(value) ?? '';
}
