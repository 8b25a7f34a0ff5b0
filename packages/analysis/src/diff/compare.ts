/**
 * Step-aligned comparison of two sessions: steps are aligned by signature (kind, agent, name) with a Myers
 * diff (so an inserted or removed step shifts nothing after it), aligned steps whose fields differ are "changed",
 * and the first entry that is not equal is the point of divergence, explained field by field.
 */
import { Worker } from 'node:worker_threads';
import { canonicalize, SessionFileError, SessionReader } from '@agent-replay/format';
import { diffArrays } from 'diff';
import { asObj, parseIfJson } from '../values.js';
import { STEP_KIND_WORDS, type StepKind } from './kinds.js';
import {
  readSteps,
  type SessionSteps,
  type Step,
  type StepOptions,
  stepFields,
  stripVolatile,
} from './steps.js';

export interface DiffOptions extends StepOptions {
  /** Compare only these kinds of steps (default: all). */
  kinds?: readonly StepKind[];
  /**
   * Changed steps re-read and explained field by field (default 200); the rest are listed with the fields their
   * fingerprints name, without the changes inside them.
   */
  maxDetailed?: number;
  /** Also return every aligned row, equal ones included (for a side-by-side view). */
  aligned?: boolean;
}

/** One row of the side-by-side alignment. */
export interface AlignedRow {
  status: EntryStatus;
  kind: StepKind;
  a: StepRef | null;
  b: StepRef | null;
}

/** One difference inside a step's field: where (JSON path), and the two values (long strings shortened). */
export interface FieldChange {
  field: string;
  path: string;
  a: unknown;
  b: unknown;
}

export interface StepRef {
  seq: number;
  end_seq: number;
  turn: number;
  agent: string;
  name: string;
}

export type EntryStatus = 'equal' | 'changed' | 'added' | 'removed';

export interface DiffEntry {
  status: Exclude<EntryStatus, 'equal'>;
  kind: StepKind;
  /** The step in A (undefined when added in B) and in B (undefined when removed). */
  a: StepRef | null;
  b: StepRef | null;
  /** Fields that differ (changed steps; empty when not detailed). */
  fields: string[];
  changes: FieldChange[];
}

export interface Divergence extends DiffEntry {
  /** Position of the step in the aligned sequence (0-based). */
  index: number;
  /** Turn where it happened (of B if present, else A). */
  turn: number;
  reason: string;
}

export interface SideSummary {
  path: string;
  session_id: string | null;
  workflow: string | null;
  records: number;
  steps: number;
  sealed: boolean;
  /** Set when only a valid prefix could be read (torn or damaged file): the comparison covers that prefix. */
  partial: string | null;
  /** Where a replay recorded that it departed from its recording (`divergence` records). */
  divergences: { seq: number; reason: string }[];
}

export interface Delta {
  a: number;
  b: number;
  delta: number;
}

export interface SessionDiff {
  schema: 'agent-replay.diff/v1';
  equivalent: boolean;
  a: SideSummary;
  b: SideSummary;
  kinds: StepKind[] | null;
  counts: { aligned: number; equal: number; changed: number; added: number; removed: number };
  first_divergence: Divergence | null;
  changes: DiffEntry[];
  /** Every aligned row in order, when asked for (`aligned: true`). */
  aligned?: AlignedRow[];
  deltas: {
    tokens: Delta;
    model_calls: Delta;
    tool_calls: Delta;
    model_latency_ms: Delta;
    tool_latency_ms: Delta;
    denials: Delta;
    errors: Delta;
  };
}

const MAX_CHANGES_PER_STEP = 20;
const MAX_SHOWN_CHARS = 400;

const ref = (step: Step | undefined): StepRef | null =>
  step ? { seq: step.seq, end_seq: step.endSeq, turn: step.turn, agent: step.agent, name: step.name } : null;

function side(steps: SessionSteps, count: number): SideSummary {
  return {
    path: steps.path,
    session_id: steps.sessionId ?? null,
    workflow: steps.workflow ?? null,
    records: steps.records,
    steps: count,
    sealed: steps.sealed,
    partial: steps.partial ?? null,
    divergences: steps.divergences,
  };
}

function delta(a: number, b: number): Delta {
  return { a, b, delta: b - a };
}

function totals(steps: readonly Step[]) {
  let tokens = 0;
  let models = 0;
  let tools = 0;
  let modelMs = 0;
  let toolMs = 0;
  let denials = 0;
  let errors = 0;
  for (const step of steps) {
    tokens += step.tokens;
    if (step.kind === 'model') {
      models++;
      modelMs += step.latencyMs;
    }
    if (step.kind === 'tool') {
      tools++;
      toolMs += step.latencyMs;
    }
    if (step.denied) denials++;
    if (step.error) errors++;
  }
  return { tokens, models, tools, modelMs, toolMs, denials, errors };
}

function changedFields(a: Step, b: Step): string[] {
  const names = new Set([...Object.keys(a.fields), ...Object.keys(b.fields)]);
  return [...names].filter((name) => a.fields[name] !== b.fields[name]).sort(fieldOrder);
}

/** Arguments and outputs before the rest: what a person reads first. */
const FIELD_ORDER = [
  'decision',
  'args',
  'instructions',
  'input',
  'output',
  'error',
  'to',
  'triggered',
  'model',
];
const fieldOrder = (x: string, y: string) =>
  (FIELD_ORDER.indexOf(x) + 1 || 99) - (FIELD_ORDER.indexOf(y) + 1 || 99) || x.localeCompare(y);

export async function diffSessions(
  pathA: string,
  pathB: string,
  options: DiffOptions = {},
): Promise<SessionDiff> {
  // Reading (decompressing, parsing, fingerprinting) is the cost: the second session is read on the other core.
  const [allA, allB] = await Promise.all([readSteps(pathA, options), readStepsInWorker(pathB, options)]);
  const keep = options.kinds ? new Set(options.kinds) : undefined;
  const a = keep ? allA.steps.filter((s) => keep.has(s.kind)) : allA.steps;
  const b = keep ? allB.steps.filter((s) => keep.has(s.kind)) : allB.steps;
  const aligned = diffArrays(
    a.map((s) => s.signature),
    b.map((s) => s.signature),
  );
  const entries: (DiffEntry & { index: number })[] = [];
  const rows: AlignedRow[] = [];
  const counts = { aligned: 0, equal: 0, changed: 0, added: 0, removed: 0 };
  let i = 0;
  let j = 0;
  for (const part of aligned) {
    for (let k = 0; k < part.count; k++) {
      const index = counts.aligned++;
      if (part.added) {
        const step = b[j++]!;
        counts.added++;
        if (options.aligned) rows.push({ status: 'added', kind: step.kind, a: null, b: ref(step) });
        entries.push({
          index,
          status: 'added',
          kind: step.kind,
          a: null,
          b: ref(step),
          fields: [],
          changes: [],
        });
      } else if (part.removed) {
        const step = a[i++]!;
        counts.removed++;
        if (options.aligned) rows.push({ status: 'removed', kind: step.kind, a: ref(step), b: null });
        entries.push({
          index,
          status: 'removed',
          kind: step.kind,
          a: ref(step),
          b: null,
          fields: [],
          changes: [],
        });
      } else {
        const x = a[i++]!;
        const y = b[j++]!;
        const fields = changedFields(x, y);
        if (options.aligned)
          rows.push({ status: fields.length ? 'changed' : 'equal', kind: x.kind, a: ref(x), b: ref(y) });
        if (fields.length === 0) counts.equal++;
        else
          entries.push({ index, status: 'changed', kind: x.kind, a: ref(x), b: ref(y), fields, changes: [] });
      }
    }
  }
  // Fingerprints differ also when one file stored a value inline and the other as a blob: resolved values decide.
  await explain(pathA, pathB, entries, options);
  const settled = entries.filter((e) => e.status !== 'changed' || e.fields.length > 0);
  counts.equal += entries.length - settled.length;
  counts.changed = settled.filter((e) => e.status === 'changed').length;
  // An agent or turn that failed differs only because of what happened inside it: the first step that differs in
  // its own right (a model call, a tool call, a decision, …) is where the sessions part ways.
  const first = settled.find((e) => !isContainerErrorOnly(e)) ?? settled[0];
  const ta = totals(a);
  const tb = totals(b);
  return {
    schema: 'agent-replay.diff/v1',
    // A replay that departed from its recording (and carried on) is not equivalent, even if its steps look alike.
    equivalent: settled.length === 0 && allA.divergences.length === 0 && allB.divergences.length === 0,
    a: side(allA, a.length),
    b: side(allB, b.length),
    kinds: options.kinds ? [...options.kinds] : null,
    counts,
    first_divergence: first
      ? {
          ...withoutIndex(first),
          index: first.index,
          turn: (first.b ?? first.a)!.turn,
          reason: reasonOf(first),
        }
      : null,
    changes: settled.map(withoutIndex),
    ...(options.aligned ? { aligned: settleRows(rows, settled) } : {}),
    deltas: {
      tokens: delta(ta.tokens, tb.tokens),
      model_calls: delta(ta.models, tb.models),
      tool_calls: delta(ta.tools, tb.tools),
      model_latency_ms: delta(ta.modelMs, tb.modelMs),
      tool_latency_ms: delta(ta.toolMs, tb.toolMs),
      denials: delta(ta.denials, tb.denials),
      errors: delta(ta.errors, tb.errors),
    },
  };
}

/** Rows whose only difference was a fingerprint (inline vs blob) are equal after all. */
function settleRows(rows: AlignedRow[], settled: readonly DiffEntry[]): AlignedRow[] {
  const changed = new Set(settled.filter((e) => e.status === 'changed').map((e) => e.a!.seq));
  for (const row of rows) if (row.status === 'changed' && !changed.has(row.a!.seq)) row.status = 'equal';
  return rows;
}

/** `readSteps` in a worker thread; file errors come back as the same `SessionFileError` (file and offset). */
function readStepsInWorker(path: string, options: StepOptions): Promise<SessionSteps> {
  const stepOptions: StepOptions = { includeVolatile: options.includeVolatile ?? false };
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./steps-worker.js', import.meta.url), {
      workerData: { path, options: stepOptions },
    });
    worker.once(
      'message',
      (message: { steps?: SessionSteps; error?: string; code?: string; offset?: number }) => {
        void worker.terminate();
        if (message.steps) resolve(message.steps);
        else
          reject(
            new SessionFileError(message.code ?? 'EIO', path, message.error ?? 'cannot read', message.offset),
          );
      },
    );
    worker.once('error', reject);
  });
}

function isContainerErrorOnly(entry: DiffEntry): boolean {
  return (
    (entry.kind === 'agent' || entry.kind === 'turn') &&
    entry.status === 'changed' &&
    entry.fields.every((f) => f === 'error')
  );
}

function withoutIndex(entry: DiffEntry & { index: number }): DiffEntry {
  const { index: _index, ...rest } = entry;
  return rest;
}

/** Why the sessions part ways at this entry, in words. */
function reasonOf(entry: DiffEntry): string {
  const step = (entry.b ?? entry.a)!;
  const what = `${STEP_KIND_WORDS[entry.kind]}${step.name ? ` ${step.name}` : ''}`;
  if (entry.status === 'added') return `a ${what} only in B`;
  if (entry.status === 'removed') return `a ${what} only in A`;
  const fields = new Set(entry.fields);
  if (fields.has('error')) return `${what}: an error in one session only or a different error`;
  switch (entry.kind) {
    case 'model':
      if (fields.has('instructions')) return `${what}: the instructions (system prompt) differ`;
      if (fields.has('input')) return `${what}: the model input differs`;
      if (fields.has('output')) return `${what}: different model output`;
      return `${what}: different model`;
    case 'tool':
      if (fields.has('args')) return `${what}: different tool arguments`;
      return `${what}: different tool output`;
    case 'decision': {
      const change = entry.changes.find((c) => c.field === 'decision');
      return change
        ? `${what}: the policy decision changed (${String(change.a)} → ${String(change.b)})`
        : `${what}: the decision's ${entry.fields.join(', ')} changed`;
    }
    case 'agent':
      return `${what}: configuration differs (${entry.fields.join(', ')})`;
    case 'guardrail':
      return `${what}: the guardrail result changed`;
    case 'handoff':
      return `${what}: handed off to another agent`;
    default:
      return `${what}: ${entry.fields.join(', ')} differ`;
  }
}

/** Reads the changed steps again and lists what differs inside each field; drops fingerprint-only differences. */
async function explain(
  pathA: string,
  pathB: string,
  entries: DiffEntry[],
  options: DiffOptions,
): Promise<void> {
  const changed = entries.filter((e) => e.status === 'changed');
  if (changed.length === 0) return;
  const limit = options.maxDetailed ?? 200;
  const volatile = options.includeVolatile ?? false;
  const [ra, rb] = await Promise.all([SessionReader.open(pathA), SessionReader.open(pathB)]);
  try {
    let detailed = 0;
    for (const entry of changed) {
      // Past the limit, steps keep what their fingerprints say (re-reading each costs a segment decode).
      if (detailed >= limit) break;
      const va = await fieldValues(ra, entry.kind, entry.a!, volatile);
      const vb = await fieldValues(rb, entry.kind, entry.b!, volatile);
      entry.fields = entry.fields.filter((f) => canonicalize(va[f] ?? null) !== canonicalize(vb[f] ?? null));
      if (entry.fields.length === 0) continue;
      detailed++;
      for (const field of entry.fields) {
        jsonChanges(field, field, va[field], vb[field], entry.changes);
        if (entry.changes.length >= MAX_CHANGES_PER_STEP) break;
      }
    }
  } finally {
    ra.close();
    rb.close();
  }
}

async function fieldValues(
  reader: SessionReader,
  kind: StepKind,
  step: StepRef,
  volatile: boolean,
): Promise<Record<string, unknown>> {
  const stored = await reader.get(step.end_seq || step.seq);
  const record = asObj(stored ? await reader.resolve(stored) : undefined) ?? {};
  const span = asObj(record.span);
  const values = span
    ? stepFields(kind, asObj(span.data) ?? {}, span.error)
    : stepFields(kind, record, undefined);
  for (const key of Object.keys(values)) values[key] = stripVolatile(values[key], volatile);
  return values;
}

function shown(value: unknown): unknown {
  if (typeof value === 'string' && value.length > MAX_SHOWN_CHARS) {
    return `${value.slice(0, MAX_SHOWN_CHARS)}… (${value.length} chars)`;
  }
  if (value !== null && typeof value === 'object') {
    const text = JSON.stringify(value);
    if (text.length > MAX_SHOWN_CHARS)
      return `${text.slice(0, MAX_SHOWN_CHARS)}… (${text.length} chars of JSON)`;
  }
  return value === undefined ? null : value;
}

/** Two long strings that differ: the stretch around the first difference, so the change is visible. */
function around(x: string, y: string): [string, string] {
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start++;
  const from = Math.max(0, start - 60);
  const cut = (s: string) =>
    `${from > 0 ? '…' : ''}${s.slice(from, from + 200)}${s.length > from + 200 ? '…' : ''}`;
  return [cut(x), cut(y)];
}

/** Leaf-level differences between two JSON values (arrays aligned item by item, so an insertion is one change). */
export function jsonChanges(field: string, path: string, a: unknown, b: unknown, out: FieldChange[]): void {
  if (out.length >= MAX_CHANGES_PER_STEP) return;
  if (canonicalize(a ?? null) === canonicalize(b ?? null)) return;
  if (Array.isArray(a) && Array.isArray(b)) {
    const parts = diffArrays(
      a.map((item) => canonicalize(item ?? null)),
      b.map((item) => canonicalize(item ?? null)),
    );
    let i = 0;
    let j = 0;
    for (let p = 0; p < parts.length; p++) {
      const part = parts[p]!;
      const next = parts[p + 1];
      if (part.removed && next?.added) {
        // Replaced items: compare them pairwise, then list what is left over.
        const pairs = Math.min(part.count, next.count);
        for (let k = 0; k < pairs; k++) jsonChanges(field, `${path}[${j + k}]`, a[i + k], b[j + k], out);
        for (let k = pairs; k < part.count; k++)
          out.push({ field, path: `${path}[${i + k}]`, a: shown(a[i + k]), b: null });
        for (let k = pairs; k < next.count; k++)
          out.push({ field, path: `${path}[${j + k}]`, a: null, b: shown(b[j + k]) });
        i += part.count;
        j += next.count;
        p++;
      } else if (part.removed) {
        for (let k = 0; k < part.count; k++)
          out.push({ field, path: `${path}[${i + k}]`, a: shown(a[i + k]), b: null });
        i += part.count;
      } else if (part.added) {
        for (let k = 0; k < part.count; k++)
          out.push({ field, path: `${path}[${j + k}]`, a: null, b: shown(b[j + k]) });
        j += part.count;
      } else {
        i += part.count;
        j += part.count;
      }
    }
    return;
  }
  const oa = asObj(a);
  const ob = asObj(b);
  if (oa && ob) {
    for (const key of [...new Set([...Object.keys(oa), ...Object.keys(ob)])].sort()) {
      jsonChanges(field, `${path}.${key}`, oa[key], ob[key], out);
    }
    return;
  }
  if (typeof a === 'string' && typeof b === 'string') {
    // Tool-call arguments are JSON text: compare what they say, so the change names the argument.
    const pa = parseIfJson(a);
    const pb = parseIfJson(b);
    if (typeof pa !== 'string' && typeof pb !== 'string') {
      jsonChanges(field, path, pa, pb, out);
      return;
    }
  }
  if (
    typeof a === 'string' &&
    typeof b === 'string' &&
    (a.length > MAX_SHOWN_CHARS || b.length > MAX_SHOWN_CHARS)
  ) {
    const [x, y] = around(a, b);
    out.push({ field, path, a: x, b: y });
    return;
  }
  out.push({ field, path, a: shown(a), b: shown(b) });
}
