import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionReader } from '@agent-replay/format';
import {
  type Span,
  setTraceProcessors,
  setTracingDisabled,
  type Trace,
  type TracingProcessor,
} from '@openai/agents';
import { type RecorderOptions, SessionRecorder } from '../src/index.js';

export type Rec = Record<string, any>;

export function tempDir(prefix = 'recorder-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A processor registered after ours: what the SDK delivers to everyone else. */
export class CollectingProcessor implements TracingProcessor {
  readonly traces: string[] = [];
  readonly ended: { id: string; type: string }[] = [];
  async onTraceStart(trace: Trace): Promise<void> {
    this.traces.push(trace.traceId);
  }
  async onTraceEnd(): Promise<void> {}
  async onSpanStart(): Promise<void> {}
  async onSpanEnd(span: Span<any>): Promise<void> {
    this.ended.push({ id: span.spanId, type: span.spanData.type });
  }
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}

/** Our recorder (first) and a collector (second) as the only processors; tracing on despite NODE_ENV=test. */
export function installRecorder(options: RecorderOptions = {}): {
  dir: string;
  recorder: SessionRecorder;
  collector: CollectingProcessor;
} {
  const dir = options.dir ?? tempDir();
  const recorder = new SessionRecorder({
    redactionKeyFile: join(dir, 'redaction.key'),
    closeDelayMs: 20,
    ...options,
    dir,
  });
  const collector = new CollectingProcessor();
  setTracingDisabled(false);
  setTraceProcessors([recorder, collector]);
  return { dir, recorder, collector };
}

export function sessionFiles(dir: string): string[] {
  const sessions = join(dir, 'sessions');
  return readdirSync(sessions)
    .filter((n) => n.endsWith('.arec'))
    .map((n) => join(sessions, n));
}

/** Every record of a session with blob references resolved. */
export async function readRecords(file: string): Promise<Rec[]> {
  const reader = await SessionReader.open(file);
  try {
    const out: Rec[] = [];
    for await (const record of reader.records()) out.push((await reader.resolve(record)) as Rec);
    return out;
  } finally {
    reader.close();
  }
}

export const spanEnds = (records: Rec[], kind?: string): Rec[] =>
  records.filter((r) => r.type === 'span.end' && (kind === undefined || r.span.kind === kind));
export const ofType = (records: Rec[], type: string): Rec[] => records.filter((r) => r.type === type);
