/**
 * Synchronous snapshots of live SDK objects. Span data is mutable and shared with the SDK (the runner keeps
 * filling it after onSpanStart, and model inputs are arrays the runner may reuse), so the hot path copies the
 * structure it will record before returning. Only containers are copied: strings are immutable in JavaScript,
 * so a 20 KB tool output costs one pointer, and the work is proportional to the number of objects, not bytes.
 * Everything the session format's canonicalizer converts later (bigint, Map, Set, bytes, Error, …) is either
 * copied or passed through unchanged when it cannot be mutated in a way that matters.
 */

/** Fields never copied, at any depth: exporter credentials must not reach disk. */
const NEVER_RECORDED = new Set(['tracingApiKey']);
const MAX_DEPTH = 64;
/** Containers copied per snapshot before the rest is cut off: bounds the hot path on absurd inputs. */
const MAX_CONTAINERS = 200_000;

export const CIRCULAR = '[Circular]';
export const MAX_DEPTH_MARKER = '[MaxDepth]';
export const TRUNCATED_MARKER = '[Truncated: snapshot budget exceeded]';

interface Budget {
  containers: number;
}

/** Deep copy of the containers of `value`; never throws (a throwing getter becomes a marker string). */
export function snapshot(value: unknown): unknown {
  return copy(value, new Set(), { containers: 0 }, 0);
}

function copy(value: unknown, ancestors: Set<object>, budget: Budget, depth: number): unknown {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  }
  if (ancestors.has(value)) return CIRCULAR;
  if (depth >= MAX_DEPTH) return MAX_DEPTH_MARKER;
  if (++budget.containers > MAX_CONTAINERS) return TRUNCATED_MARKER;
  try {
    ancestors.add(value);
    return copyContainer(value, ancestors, budget, depth + 1);
  } catch (error) {
    return `[Unserializable: ${error instanceof Error ? error.message : String(error)}]`;
  } finally {
    ancestors.delete(value);
  }
}

function copyContainer(value: object, ancestors: Set<object>, budget: Budget, depth: number): unknown {
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i], ancestors, budget, depth);
    return out;
  }
  // Maps, Sets and bytes become plain JSON here (as the session format's canonicalizer would write them) so that
  // redaction sees every string in them: a Map value or a Buffer of text can hold a credential like any string.
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return copyBytes(value);
  if (value instanceof Map) {
    const entries = [...value];
    if (entries.every(([k]) => typeof k === 'string')) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of entries) out[k as string] = copy(v, ancestors, budget, depth);
      return out;
    }
    return entries.map(([k, v]) => [copy(k, ancestors, budget, depth), copy(v, ancestors, budget, depth)]);
  }
  if (value instanceof Set) return [...value].map((v) => copy(v, ancestors, budget, depth));
  if (value instanceof Error) return copyError(value, ancestors, budget, depth);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  // Date, URL, SDK classes with toJSON: record what JSON.stringify would, as of now.
  if (typeof toJSON === 'function') return copy(toJSON.call(value), ancestors, budget, depth);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (NEVER_RECORDED.has(key)) continue;
    const item = copy((value as Record<string, unknown>)[key], ancestors, budget, depth);
    if (item !== undefined) out[key] = item;
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes that are text are recorded as text (and so redacted); others as base64, like the canonicalizer does. */
function copyBytes(value: ArrayBufferView | ArrayBuffer): unknown {
  const bytes =
    value instanceof ArrayBuffer
      ? new Uint8Array(value)
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (!(value instanceof ArrayBuffer) && !(value instanceof Uint8Array) && !(value instanceof DataView)) {
    // Int16Array, Float64Array, …: numbers, not text.
    return Array.from(value as unknown as ArrayLike<number | bigint>, (n) =>
      typeof n === 'bigint' ? String(n) : n,
    );
  }
  try {
    return { $text: utf8.decode(bytes) };
  } catch {
    return { $bytes: Buffer.from(bytes).toString('base64') };
  }
}

function copyError(error: Error, ancestors: Set<object>, budget: Budget, depth: number): unknown {
  const out: Record<string, unknown> = { name: error.name, message: error.message };
  if (error.stack) out.stack = error.stack;
  if (error.cause !== undefined) out.cause = copy(error.cause, ancestors, budget, depth);
  for (const key of Object.keys(error)) {
    if (NEVER_RECORDED.has(key) || key in out) continue;
    out[key] = copy((error as unknown as Record<string, unknown>)[key], ancestors, budget, depth);
  }
  return out;
}
