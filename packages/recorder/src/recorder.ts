import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { asObj, DIVERGENCE_SPAN, POLICY_DECISION_SPAN, SessionTotals } from '@agent-replay/analysis';
import {
  type Durability,
  SessionLockedError,
  SessionReader,
  SessionWriter,
  type SigningKey,
  type WriterOptions,
} from '@agent-replay/format';
import type { Trace, TracingProcessor } from '@openai/agents';
import { hostInfo } from './host.js';
import { type Identity, identityFromEnv, identityFromMetadata, processIdentity } from './identity.js';
import {
  defaultRedactionKeyFile,
  loadOrCreateRedactionKey,
  type RedactionProfile,
  type RedactionRule,
  Redactor,
} from './redact.js';
import { snapshot } from './snapshot.js';
import { agentsSdkVersions, RECORDER_NAME, RECORDER_VERSION } from './version.js';

/** Name of the custom span the policy package emits for each decision; recorded as `policy.decision`. */

export interface PolicyRef {
  id: string;
  version: string;
  sha256: string;
}

export interface TraceInfo {
  traceId: string;
  name: string;
  groupId: string | null;
  metadata: Record<string, unknown> | undefined;
}

export type IdentitySource =
  | Identity
  | Promise<Identity>
  | ((trace: TraceInfo) => Identity | Promise<Identity> | undefined);

export interface RecorderOptions {
  /** agent-replay directory; sessions go to `<dir>/sessions/<trace id>.arec`. Default `$AGENT_REPLAY_DIR` or `./.agent-replay`. */
  dir?: string;
  /** Who runs the agent. Trace metadata (`identity`, `user_id`, `oidc_sub`) wins; then this; then the environment; then the OS user. */
  identity?: IdentitySource;
  /** `secrets` (default), `strict` (adds PII) or `off`. */
  redaction?: RedactionProfile;
  /** Custom redaction rules, in addition to the profile's. */
  redactionRules?: RedactionRule[];
  /** HMAC key for redaction tags; default: loaded from (or created at) `redactionKeyFile`. */
  redactionKey?: Buffer;
  /** Default `$AGENT_REPLAY_REDACTION_KEY_FILE`, else `~/.config/agent-replay/redaction.key`. */
  redactionKeyFile?: string;
  /** Session file durability, default `buffered` (see @agent-replay/format). */
  durability?: Durability;
  /** Ed25519 private key (PEM or loaded) that signs checkpoints. */
  signingKey?: SigningKey | string | Buffer;
  /** The policy in force, recorded in `session.start`. */
  policy?: PolicyRef;
  /** The session this run re-executes (`agent-replay replay`), recorded in `session.start` as `replay_of`. */
  replayOf?: { session_id: string | null; path: string };
  /** Failures of the recorder itself (never thrown into the agent). Default: one line on stderr per kind of failure. */
  onError?: (error: Error) => void;
  /** How long a session stays open after its trace ends, for late spans and approval records. Default 250 ms. */
  closeDelayMs?: number;
  /** Records held in memory at most before new ones are dropped (and counted). Default 100,000. */
  maxQueuedRecords?: number;
  /** Seal sessions on an uncaught exception. Default true. */
  handleUncaughtExceptions?: boolean;
  /** Passed to every SessionWriter (codec, level, segmentBytes, flushIntervalMs, …). */
  writer?: Omit<WriterOptions, 'sessionId' | 'durability' | 'signingKey' | 'onError'>;
}

export type SessionStatus = 'completed' | 'error' | 'interrupted' | 'aborted';

export interface RecorderStats {
  sessionsOpened: number;
  sessionsOpen: number;
  recordsQueued: number;
  recordsWritten: number;
  recordsDropped: number;
  errors: number;
}

interface QueuedRecord {
  type: string;
  fields: Record<string, unknown>;
  flush: boolean;
}

type Obj = Record<string, unknown>;
/** The SDK's span type as its processor interface declares it. */
type AnySpan = Parameters<TracingProcessor['onSpanEnd']>[0];

const RESOLVED: Promise<void> = Promise.resolve();
/** How long a session whose run failed inside a still-open trace waits for a retry before it is sealed. */
const FAILED_RUN_GRACE_MS = 2000;
/** How long a session waits for a file another writer holds before giving up on it. */
const LOCK_WAIT_MS = 15_000;
/** How long a crashing process (uncaught exception) may spend sealing sessions before it exits. */
const UNCAUGHT_SEAL_MS = 1000;
/** Longest stretch the background writer works before yielding to the event loop. */
const SLICE_MS = 4;
/** Top-level names a record cannot carry (the envelope and blob markers of the session format). */
const RESERVED_FIELDS = new Set(['seq', 'ts', 'type', '$blob', '$lit']);

export function defaultRecorderDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.AGENT_REPLAY_DIR || '.agent-replay');
}

/** The file a trace is recorded to. Trace ids come from a pluggable generator, so keep the name filesystem-safe. */
export function sessionFileName(traceId: string): string {
  return `${traceId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 200)}.arec`;
}

/** One trace being recorded: its writer, its queue and its running totals. */
class Session {
  readonly queue: QueuedRecord[] = [];
  writer: SessionWriter | undefined;
  /** Settles when the writer is open (or opening failed). */
  opened: Promise<void> = RESOLVED;
  closing: Promise<void> | undefined;
  failed = false;
  /** Between onTraceStart and onTraceEnd. */
  traceOpen = false;
  /** A run of this trace failed: the SDK may never end the trace, or the app may retry within it. */
  failedRun = false;
  interrupted = false;
  aborted = false;
  lastAgentError = false;
  totals = new SessionTotals();
  readonly openSpans = new Set<string>();
  /** Spans (agents, …) under which a model call has finished: guardrails starting after that are output guardrails. */
  readonly modelCallSeen = new Set<string>();
  readonly parentOf = new Map<string, string>();
  readonly guardrailStage = new Map<string, 'input' | 'output'>();
  closeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly traceId: string,
    readonly file: string,
  ) {}
}

/**
 * The Agents SDK trace processor that records every trace to its own session file.
 *
 * The SDK calls span hooks without awaiting them and stops delivering a span to later processors when one throws,
 * so every hook here only snapshots, enqueues and returns, inside a catch-all. Redaction, canonicalization,
 * compression and I/O run in the background in slices of a few milliseconds; `forceFlush()` waits for all of it.
 */
export class SessionRecorder implements TracingProcessor {
  readonly dir: string;
  readonly sessionsDir: string;
  private readonly options: RecorderOptions;
  private readonly identitySource:
    | Identity
    | Promise<Identity | undefined>
    | ((trace: TraceInfo) => Identity | Promise<Identity> | undefined)
    | undefined;
  private readonly closeDelayMs: number;
  private readonly maxQueued: number;
  private redactorInstance: Redactor | undefined;
  private readonly sessions = new Map<string, Session>();
  /** Sessions that are closing; a trace that starts again waits for its previous file to be sealed. */
  private readonly closingSessions = new Set<Session>();
  private readonly ready = new Set<Session>();
  private pumpScheduled = false;
  private queued = 0;
  private readonly reported = new Set<string>();
  private readonly statsData: RecorderStats = {
    sessionsOpened: 0,
    sessionsOpen: 0,
    recordsQueued: 0,
    recordsWritten: 0,
    recordsDropped: 0,
    errors: 0,
  };

  constructor(options: RecorderOptions = {}) {
    this.options = options;
    this.dir = options.dir ? resolve(options.dir) : defaultRecorderDir();
    this.sessionsDir = join(this.dir, 'sessions');
    this.closeDelayMs = Math.max(0, options.closeDelayMs ?? 250);
    this.maxQueued = Math.max(1, options.maxQueuedRecords ?? 100_000);
    const identity = options.identity;
    // A promised identity (an OIDC check) settles long before the first trace may start: a rejection must not
    // go unhandled in between, because the SDK ends the process on unhandled rejections.
    this.identitySource =
      identity && typeof identity === 'object' && 'then' in identity
        ? identity.then(undefined, (error: unknown) => {
            this.report(error);
            return undefined;
          })
        : identity;
    if (options.handleUncaughtExceptions ?? true) watchUncaughtExceptions(this);
  }

  get stats(): Readonly<RecorderStats> {
    return { ...this.statsData, sessionsOpen: this.sessions.size };
  }

  /** Path of the session file a trace is (or would be) recorded to. */
  sessionPath(traceId: string): string {
    return join(this.sessionsDir, sessionFileName(traceId));
  }

  // ---- TracingProcessor hooks: synchronous, small, never throw ----

  onTraceStart(trace: Trace): Promise<void> {
    return this.guard(() => {
      const info: TraceInfo = {
        traceId: trace.traceId,
        name: trace.name,
        groupId: trace.groupId,
        metadata: snapshot(trace.metadata) as Obj | undefined,
      };
      const session = this.sessionFor(info.traceId, info);
      session.traceOpen = true;
      session.failedRun = false;
      session.interrupted = false;
      this.cancelClose(session);
    });
  }

  onTraceEnd(trace: Trace): Promise<void> {
    return this.guard(() => {
      const session = this.sessions.get(trace.traceId);
      if (!session) return;
      session.traceOpen = false;
      this.enqueue(session, 'trace.end', { trace_id: trace.traceId, metadata: snapshot(trace.metadata) });
      this.scheduleClose(session);
    });
  }

  onSpanStart(span: AnySpan): Promise<void> {
    return this.guard(() => {
      const session = this.sessionFor(span.traceId);
      this.cancelClose(session);
      if (isRootTask(span)) this.runStarted(session, span.traceId);
      session.openSpans.add(span.spanId);
      this.enqueue(session, 'span.start', { span: spanRecord(span, false) });
    });
  }

  onSpanEnd(span: AnySpan): Promise<void> {
    return this.guard(() => {
      const session = this.sessionFor(span.traceId);
      session.openSpans.delete(span.spanId);
      const failed = span.error !== null;
      this.enqueue(session, 'span.end', { span: spanRecord(span, true) }, failed);
      if (failed && isRootTask(span)) {
        session.failedRun = true;
        session.lastAgentError = true;
      }
      this.scheduleClose(session);
    });
  }

  /** Runs a hook's work: nothing may reach the SDK, which would stop delivering to later processors. */
  private guard(work: () => void): Promise<void> {
    try {
      work();
    } catch (error) {
      this.report(error);
    }
    return RESOLVED;
  }

  /** Resolves when every record queued so far is written to its session file. */
  async forceFlush(): Promise<void> {
    try {
      await Promise.all([...this.sessions.values()].map((s) => s.opened));
      this.drain(Number.POSITIVE_INFINITY);
      await Promise.all([
        ...[...this.sessions.values()].map((s) => (s.failed ? undefined : s.writer?.flush())),
        ...[...this.closingSessions].map((s) => s.closing),
      ]);
    } catch (error) {
      this.report(error);
    }
  }

  /** Seals every open session (status `aborted` for traces still running). Resolves within `timeoutMs` when given. */
  async shutdown(timeoutMs?: number): Promise<void> {
    const work = (async () => {
      for (const session of this.sessions.values()) {
        if (session.traceOpen && !session.failedRun) session.aborted = true;
        this.close(session);
      }
      await Promise.all([...this.closingSessions].map((s) => s.closing));
    })().catch((error) => this.report(error));
    if (timeoutMs === undefined) return work;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs).unref()))]);
    clearTimeout(timer);
  }

  // ---- API for events the SDK does not trace ----

  /**
   * Appends a record to the session of a trace, reopening its file if the session was already sealed (an approval
   * given after the run returned, in another process). `policy.decision` records are flushed at once.
   */
  record(traceId: string, type: string, fields: Record<string, unknown>): void {
    if (typeof type !== 'string' || type === '' || type === 'blob' || type === 'recovery') {
      throw new TypeError(
        `record: type must be a non-empty string other than blob and recovery, got ${String(type)}`,
      );
    }
    for (const key of Object.keys(fields)) {
      if (RESERVED_FIELDS.has(key))
        throw new TypeError(`record: field "${key}" is reserved by the session format`);
    }
    try {
      const session = this.sessionFor(traceId);
      this.enqueue(session, type, snapshot(fields) as Obj, type === 'policy.decision');
      this.scheduleClose(session);
    } catch (error) {
      this.report(error);
    }
  }

  /** Marks a trace as stopped for human approval: its `session.end` (if written before a resume) says `interrupted`. */
  markInterrupted(traceId: string): void {
    const session = this.sessions.get(traceId);
    if (session) session.interrupted = true;
  }

  // ---- internals ----

  private get redactor(): Redactor {
    if (!this.redactorInstance) {
      const key =
        this.options.redactionKey ??
        loadOrCreateRedactionKey(this.options.redactionKeyFile ?? defaultRedactionKeyFile());
      this.redactorInstance = new Redactor({
        key,
        profile: this.options.redaction ?? 'secrets',
        rules: this.options.redactionRules ?? [],
      });
    }
    return this.redactorInstance;
  }

  private sessionFor(traceId: string, info?: TraceInfo): Session {
    const existing = this.sessions.get(traceId);
    if (existing) {
      if (info) this.enqueue(existing, 'trace.start', this.traceStartFields(info, true));
      return existing;
    }
    const session = new Session(traceId, this.sessionPath(traceId));
    this.sessions.set(traceId, session);
    this.statsData.sessionsOpened++;
    const previous = [...this.closingSessions].find((s) => s.traceId === traceId);
    session.opened = this.open(session, info, previous?.closing);
    return session;
  }

  private async open(session: Session, info: TraceInfo | undefined, previous?: Promise<void>): Promise<void> {
    try {
      if (previous) await previous;
      const identity = info ? await this.identityFor(info) : undefined;
      mkdirSync(this.sessionsDir, { recursive: true, mode: 0o700 });
      const writerOptions: WriterOptions = {
        ...this.options.writer,
        sessionId: session.traceId,
        durability: this.options.durability ?? 'buffered',
        onError: (error) => this.fail(session, error),
        ...(this.options.signingKey ? { signingKey: this.options.signingKey } : {}),
      };
      let writer: SessionWriter;
      let resumed = false;
      try {
        writer = await SessionWriter.create(session.file, writerOptions);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        writer = await openWhenUnlocked(session.file, writerOptions);
        resumed = true;
        session.totals = SessionTotals.from(await lastSessionEnd(session.file));
      }
      session.writer = writer;
      // Spans queued while the file was opening wait behind the records that introduce them.
      const intro: QueuedRecord[] = [];
      if (!resumed)
        intro.push({
          type: 'session.start',
          fields: this.sessionStartFields(session, info, identity),
          flush: false,
        });
      if (info)
        intro.push({
          type: 'trace.start',
          fields: this.traceStartFields(info, resumed, identity),
          flush: false,
        });
      session.queue.unshift(...intro);
      this.queued += intro.length;
      this.markReady(session);
    } catch (error) {
      this.fail(session, error);
    }
  }

  /**
   * Who runs this trace: a verified identity from the options wins over anything declared; then what the trace's
   * metadata declares, then the options, the environment and the OS user.
   */
  private async identityFor(info: TraceInfo): Promise<Identity> {
    let fromOptions: Identity | undefined;
    try {
      const source = this.identitySource;
      fromOptions = typeof source === 'function' ? await source(info) : await source;
    } catch (error) {
      this.report(error);
    }
    if (fromOptions?.verified) return fromOptions;
    return identityFromMetadata(info.metadata) ?? fromOptions ?? identityFromEnv() ?? processIdentity();
  }

  private sessionStartFields(
    session: Session,
    info: TraceInfo | undefined,
    identity: Identity | undefined,
  ): Obj {
    const host = hostInfo();
    // A copy: redaction works in place, and identity and policy objects belong to the caller.
    return snapshot({
      session_id: session.traceId,
      trace_id: session.traceId,
      group_id: info?.groupId ?? null,
      workflow: info?.name ?? null,
      metadata: info?.metadata ?? null,
      identity: identity ?? null,
      host: { ...host, argv: this.redactor.redactArgv(host.argv, session.totals.redactions) },
      versions: {
        recorder: { name: RECORDER_NAME, version: RECORDER_VERSION },
        sdk: agentsSdkVersions(),
      },
      redaction: this.redactor.describe(),
      policy: this.options.policy ?? null,
      ...(this.options.replayOf ? { replay_of: this.options.replayOf } : {}),
    }) as Obj;
  }

  private traceStartFields(info: TraceInfo, resumed: boolean, identity?: Identity): Obj {
    const fields: Obj = {
      trace_id: info.traceId,
      resumed,
      workflow: info.name,
      group_id: info.groupId,
      pid: process.pid,
    };
    if (identity) fields.identity = snapshot(identity);
    return fields;
  }

  private enqueue(session: Session, type: string, fields: Obj, flush = false): void {
    if (session.failed) return;
    if (this.queued >= this.maxQueued) {
      session.totals.droppedRecords++;
      this.statsData.recordsDropped++;
      this.reportOnce(
        'overflow',
        new Error(`recorder queue full (${this.maxQueued} records): dropping records`),
      );
      return;
    }
    session.queue.push({ type, fields, flush });
    this.queued++;
    this.statsData.recordsQueued++;
    if (session.writer) this.markReady(session);
  }

  private markReady(session: Session): void {
    if (session.queue.length === 0 || session.closing) return;
    this.ready.add(session);
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.drain(SLICE_MS);
      if (this.ready.size > 0) this.schedulePump();
    });
  }

  /** Writes queued records of ready sessions until the queues are empty or `budgetMs` has passed. */
  private drain(budgetMs: number): void {
    const deadline = performance.now() + budgetMs;
    for (const session of this.ready) {
      while (session.queue.length > 0) {
        if (performance.now() > deadline) return;
        const record = session.queue.shift() as QueuedRecord;
        this.queued--;
        this.write(session, record);
      }
      this.ready.delete(session);
    }
  }

  private write(session: Session, record: QueuedRecord): void {
    const writer = session.writer;
    if (!writer || session.failed) return;
    try {
      const fields = this.redactor.redactValue(record.fields, session.totals.redactions);
      for (const extra of this.derive(session, { ...record, fields })) {
        writer.append(extra.type, extra.fields, { flush: extra.flush });
        this.statsData.recordsWritten++;
      }
    } catch (error) {
      // A record the format refuses (a TypeError) is dropped; only a broken writer ends the session.
      if (error instanceof TypeError) {
        session.totals.droppedRecords++;
        this.report(error, session.file);
      } else {
        this.fail(session, error);
      }
    }
  }

  /** The record itself plus what it implies (policy decisions of guardrail and policy spans), with totals updated. */
  private derive(session: Session, record: QueuedRecord): QueuedRecord[] {
    const { type, fields } = record;
    const out: QueuedRecord[] = [record];
    if (type === 'trace.start') session.totals.traceStarted();
    if (type === 'policy.decision') session.totals.policyDecision(fields.decision);
    const span = asObj(fields.span);
    if (!span) return out;
    const kind = String(span.kind);
    const id = String(span.id);
    const parent = typeof span.parent_id === 'string' ? span.parent_id : '';
    const data = asObj(span.data) ?? {};
    if (type === 'span.start') {
      if (parent) session.parentOf.set(id, parent);
      if (kind === 'guardrail')
        session.guardrailStage.set(id, session.modelCallSeen.has(parent) ? 'output' : 'input');
      return out;
    }
    if (type !== 'span.end') return out;
    const failed = span.error !== null && span.error !== undefined;
    session.totals.spanEnded(kind, data, failed);
    if (kind === 'response' || kind === 'generation') {
      for (let p = parent; p && !session.modelCallSeen.has(p); p = session.parentOf.get(p) ?? '') {
        session.modelCallSeen.add(p);
      }
    }
    if (kind === 'agent' || kind === 'task') session.lastAgentError = failed;
    if (kind === 'guardrail') {
      const stage = session.guardrailStage.get(id) ?? 'input';
      session.guardrailStage.delete(id);
      const name = typeof data.name === 'string' ? data.name : 'guardrail';
      const decision = data.triggered === true ? 'deny' : 'allow';
      out.push({
        type: 'policy.decision',
        fields: guardrailDecision(name, decision, stage, id),
        flush: true,
      });
      session.totals.policyDecision(decision);
    } else if (kind === 'custom' && data.name === POLICY_DECISION_SPAN) {
      const decision = { ...(asObj(data.data) ?? {}) };
      for (const key of RESERVED_FIELDS) delete decision[key];
      decision.span_id ??= id;
      out.push({ type: 'policy.decision', fields: decision, flush: true });
      session.totals.policyDecision(decision.decision);
    } else if (kind === 'custom' && data.name === DIVERGENCE_SPAN) {
      // A replay noticed the run departing from the recording: a record of its own, found without reading spans.
      const divergence = { ...(asObj(data.data) ?? {}) };
      for (const key of RESERVED_FIELDS) delete divergence[key];
      out.push({ type: 'divergence', fields: divergence, flush: true });
    }
    return out;
  }

  /**
   * A root task span starts a run. Without onTraceStart before it, this is a run resumed from the same RunState
   * object (the SDK does not start that trace again) or a file reopened after it was sealed: say so in the file.
   */
  private runStarted(session: Session, traceId: string): void {
    session.failedRun = false;
    session.interrupted = false;
    if (session.traceOpen) return;
    this.enqueue(session, 'trace.start', { trace_id: traceId, resumed: true, pid: process.pid });
  }

  /**
   * Seals a session once nothing is running in it: no open span, and its trace ended (or its run failed, which
   * the SDK may never follow with a trace end). The delay lets late spans and approval records in; a failed run
   * gets longer, since an app may retry inside the same trace.
   */
  private scheduleClose(session: Session): void {
    if (session.closing || session.openSpans.size > 0) return;
    if (session.traceOpen && !session.failedRun) return;
    this.cancelClose(session);
    const delay = session.traceOpen ? Math.max(this.closeDelayMs, FAILED_RUN_GRACE_MS) : this.closeDelayMs;
    session.closeTimer = setTimeout(() => this.close(session), delay).unref();
  }

  private cancelClose(session: Session): void {
    if (session.closeTimer) clearTimeout(session.closeTimer);
    session.closeTimer = undefined;
  }

  private close(session: Session): void {
    if (session.closing) return;
    if (session.closeTimer) clearTimeout(session.closeTimer);
    this.sessions.delete(session.traceId);
    this.ready.delete(session);
    this.closingSessions.add(session);
    session.closing = (async () => {
      await session.opened;
      const writer = session.writer;
      if (!writer || session.failed) return;
      while (session.queue.length > 0) {
        this.queued--;
        this.write(session, session.queue.shift() as QueuedRecord);
      }
      if (session.failed) return;
      try {
        writer.append(
          'session.end',
          { status: statusOf(session), ...session.totals.toJSON() },
          { flush: true },
        );
        await writer.close();
      } catch (error) {
        this.fail(session, error);
      }
    })().finally(() => this.closingSessions.delete(session));
  }

  private fail(session: Session, error: unknown): void {
    if (!session.failed) {
      session.failed = true;
      this.queued -= session.queue.length;
      this.statsData.recordsDropped += session.queue.length;
      session.queue.length = 0;
      this.ready.delete(session);
      // Keep what can still be written: abandoning at once would drop the records batched but not yet written.
      const writer = session.writer;
      if (writer)
        void writer.flush().then(
          () => writer.abandon(),
          () => writer.abandon(),
        );
    }
    this.report(error, session.file);
  }

  private report(error: unknown, file?: string): void {
    const err = error instanceof Error ? error : new Error(String(error));
    const code = (err as NodeJS.ErrnoException).code ?? err.name;
    this.reportOnce(code, file && !err.message.includes(file) ? new Error(`${file}: ${err.message}`) : err);
  }

  /** One report per kind of failure: a read-only sessions dir must not print a line per span. */
  private reportOnce(kind: string, error: Error): void {
    this.statsData.errors++;
    if (this.reported.has(kind)) return;
    this.reported.add(kind);
    try {
      if (this.options.onError) this.options.onError(error);
      else process.stderr.write(`agent-replay: recording problem (${kind}): ${error.message}\n`);
    } catch {
      // A throwing error callback must not reach the agent either.
    }
  }
}

const isRootTask = (span: AnySpan): boolean => span.spanData.type === 'task' && span.parentId === null;

/** The `span` field of span.start / span.end: a synchronous snapshot, since the SDK keeps mutating span data. */
function spanRecord(span: AnySpan, ended: boolean): Obj {
  const record: Obj = {
    id: span.spanId,
    parent_id: span.parentId,
    kind: span.spanData.type,
    started_at: span.startedAt,
  };
  if (ended) {
    record.ended_at = span.endedAt;
    record.error = span.error ? snapshot(span.error) : null;
  }
  record.data = snapshot(span.spanData);
  return record;
}

function guardrailDecision(
  name: string,
  decision: 'allow' | 'deny',
  stage: 'input' | 'output',
  spanId: string,
): Obj {
  return {
    decision,
    subject: { kind: stage, name },
    rule: name,
    reason:
      decision === 'deny'
        ? `${stage} guardrail "${name}" tripwire triggered`
        : `${stage} guardrail "${name}" passed`,
    policy: null,
    decided_by: { kind: 'guardrail', id: name },
    span_id: spanId,
    call_id: null,
  };
}

function statusOf(session: Session): SessionStatus {
  if (session.aborted) return 'aborted';
  if (session.interrupted) return 'interrupted';
  return session.lastAgentError ? 'error' : 'completed';
}

/**
 * Re-opens a session file, waiting while another writer holds it: a process that just handed a run over (an
 * approval server passing the state to a worker) keeps the file for its close delay. Records stay queued meanwhile.
 */
async function openWhenUnlocked(file: string, options: WriterOptions): Promise<SessionWriter> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let wait = 25; ; wait = Math.min(wait * 2, 500)) {
    try {
      return await SessionWriter.open(file, options);
    } catch (error) {
      if (!(error instanceof SessionLockedError) || Date.now() + wait > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** Fields of the last `session.end` in a file, so a resumed session's totals continue from there. */
async function lastSessionEnd(file: string): Promise<Obj | undefined> {
  const reader = await SessionReader.open(file);
  try {
    let last: Obj | undefined;
    for await (const record of reader.records({ types: ['session.end'] })) last = record as Obj;
    return last;
  } finally {
    reader.close();
  }
}

const watched = new Set<SessionRecorder>();

/**
 * On an uncaught exception Node exits without the SDK shutting tracing down, so sessions would stay unsealed.
 * When nobody else handles the exception, do what Node would (print it, exit 1) after sealing what we can.
 */
function watchUncaughtExceptions(recorder: SessionRecorder): void {
  watched.add(recorder);
  if (watched.size > 1) return;
  process.on('uncaughtException', (error) => {
    if (process.listenerCount('uncaughtException') > 1) {
      // Someone else handles it and the app may go on: keep recording, just get what we have onto disk.
      for (const r of watched) void r.forceFlush();
      return;
    }
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    // Node would exit at once; seal what can be sealed within a short bound, then exit as Node does.
    void Promise.all([...watched].map((r) => r.shutdown(UNCAUGHT_SEAL_MS))).finally(() => process.exit(1));
  });
}
