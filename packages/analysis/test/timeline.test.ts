/**
 * The timeline model (outline, view, search, detail) on real session files: every session here is written by the
 * real SessionWriter with records shaped as the recorder writes them, in small segments so that loading in order,
 * placing segments ahead and following a growing file all cross many segment boundaries.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SessionWriter, type WriterOptions } from '@agent-replay/format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ATTENTION,
  Flag,
  POLICY_DECISION_SPAN,
  type RowDetail,
  rowDetail,
  SessionTimeline,
  type TimelineRow,
  TimelineSearch,
  TimelineView,
} from '../src/index.js';

type Rec = Record<string, any>;

const work = mkdtempSync(join(tmpdir(), 'arec-timeline-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let files = 0;
const newPath = (name: string) => join(work, `${name}-${++files}.arec`);

interface Span {
  id: string;
  parent_id: string | null;
  kind: string;
  started_at: string;
  data: Rec;
  /** seq of its span.start */
  seq: number;
}

/** Writes records the way the recorder does (span.start / span.end with the span snapshot, decisions, identity). */
class SessionBuilder {
  private clock = Date.parse('2026-03-01T10:00:00.000Z');
  private ids = 0;
  private constructor(
    readonly writer: SessionWriter,
    readonly path: string,
  ) {}

  static async create(path: string, options: WriterOptions = {}): Promise<SessionBuilder> {
    const writer = await SessionWriter.create(path, { durability: 'none', segmentBytes: 4096, ...options });
    return new SessionBuilder(writer, path);
  }

  /** Advances the recorded clock by `ms` and returns it as an ISO time. */
  at(ms = 5): string {
    this.clock += ms;
    return new Date(this.clock).toISOString();
  }

  record(type: string, fields: Rec): number {
    return this.writer.append(type, fields);
  }

  start(
    kind: string,
    parent: Span | string | null,
    data: Rec = {},
    options: { id?: string; ms?: number } = {},
  ) {
    const span = {
      id: options.id ?? `sp-${(++this.ids).toString().padStart(6, '0')}`,
      parent_id: typeof parent === 'string' ? parent : (parent?.id ?? null),
      kind,
      started_at: this.at(options.ms),
      data: { type: kind, ...data },
    };
    const seq = this.record('span.start', { span });
    return { ...span, seq } as Span;
  }

  end(span: Span, data: Rec = {}, error: Rec | null = null, ms = 5): number {
    const { seq: _seq, ...rest } = span;
    return this.record('span.end', {
      span: { ...rest, ended_at: this.at(ms), error, data: { ...span.data, ...data } },
    });
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}

const SYSTEM = { role: 'system', content: 'You run the ops desk. Be careful with production.' };
const ASK = { role: 'user', content: 'push the new config to production' };
/** Long enough (canonical JSON ≥ the writer's 1024-byte blob threshold) to be stored once as a blob when repeated. */
const LONG = `Appendix: ${'the fleet runbook says drain first, then restart. '.repeat(30)} zebra-quokka-7731 end of appendix.`;
const BOMB = '\u001b]0;pwned\u0007\u001b[2J\u001b[31mred alert\u009b31m \u202eevil\u202c';

interface Ops {
  path: string;
  recordCount: number;
  session: number;
  trace: number;
  traceEnd: number;
  task: Span;
  triage: Span;
  turn1: Span;
  model1: Span;
  model1End: number;
  policy: Span;
  policyEnd: number;
  policyRecord: number;
  lookup: Span;
  appendix: Span;
  turn2: Span;
  model2: Span;
  audit: Span;
  banner: Span;
  fillerTurns: Span[];
  guardTurn: Span;
  guardrail: Span;
  guardrailRecord: number;
  handoff: Span;
  auditor: Span;
  auditorTurn: Span;
  auditorModel: Span;
  auditorPolicy: Span;
  auditorPolicyRecord: number;
  archive: Span;
  archiveEnd: number;
  approvalRequest: number;
  approver: number;
  approved: number;
  sessionEnd: number;
}

const denyPush = {
  decision: 'deny',
  subject: { kind: 'tool', name: 'push_config', args: { environment: 'production' } },
  rule: 'no-prod-writes',
  reason: 'push to staging first',
  policy: { id: 'ops-policy', version: 3, sha256: '0123456789abcdef'.repeat(4) },
  decided_by: { kind: 'engine', id: 'policy-engine' },
};

/**
 * A two-agent session: Triage (a denied push, a redacted runbook lookup, a failing tool, an escape-laden tool
 * output, `fillerTurns` routine turns, a tripped guardrail, a handoff), then Auditor (its own model call, a second
 * denial, a tool whose output repeats a long text so it is stored as a blob), then an approval round trip.
 */
async function writeOpsSession(path: string, fillerTurns = 40): Promise<Ops> {
  const b = await SessionBuilder.create(path);
  const identity = { kind: 'human', method: 'static', subject: 'dana@example.com', verified: false };
  const out: Partial<Ops> = { path };
  out.session = b.record('session.start', {
    session_id: 'sess-ops',
    trace_id: 'trace-ops',
    group_id: null,
    workflow: 'ops-desk',
    metadata: { ticket: 'OPS-1' },
    identity,
    policy: { id: 'ops-policy', version: 3 },
  });
  out.trace = b.record('trace.start', {
    trace_id: 'trace-ops',
    workflow: 'ops-desk',
    resumed: false,
    identity,
  });
  const task = b.start('task', null, { name: 'Agent workflow' });
  out.task = task;
  const triage = b.start('agent', task, { name: 'Triage' });
  out.triage = triage;

  // Turn 1: a model call, a denied push (policy span + the decision record the recorder derives), two tools.
  const turn1 = b.start('turn', triage, { turn: 1, agent_name: 'Triage' });
  out.turn1 = turn1;
  const model1 = b.start('generation', turn1, {});
  out.model1 = model1;
  out.model1End = b.end(model1, {
    model: 'gpt-test',
    input: [SYSTEM, ASK],
    output: [
      {
        type: 'function_call',
        name: 'push_config',
        call_id: 'c1',
        arguments: '{"environment":"production"}',
      },
    ],
    usage: { input_tokens: 120, output_tokens: 30 },
  });
  const policy = b.start('custom', turn1, { name: POLICY_DECISION_SPAN, data: denyPush });
  out.policy = policy;
  out.policyEnd = b.end(policy);
  out.policyRecord = b.record('policy.decision', { ...denyPush, span_id: policy.id });
  const lookup = b.start('function', turn1, { name: 'lookup_runbook', input: '', output: '' });
  out.lookup = lookup;
  b.end(lookup, {
    input: '{"topic":"rollback","depth":2}',
    output: 'Drain the pool first; page [REDACTED:email:1a2b3c] if stuck. Prototype notes attached.',
  });
  const appendix = b.start('function', turn1, { name: 'read_appendix', input: '' });
  out.appendix = appendix;
  b.end(appendix, { input: '{}', output: LONG });
  b.end(turn1, { usage: { input_tokens: 120, output_tokens: 30 } });

  // Turn 2: the model sees the call and its result (2 new items), a failing tool, a tool with an escape bomb.
  const turn2 = b.start('turn', triage, { turn: 2, agent_name: 'Triage' });
  out.turn2 = turn2;
  const model2 = b.start('generation', turn2, {});
  out.model2 = model2;
  b.end(model2, {
    model: 'gpt-test',
    input: [
      SYSTEM,
      ASK,
      { type: 'function_call', name: 'lookup_runbook', call_id: 'c2', arguments: '{"topic":"rollback"}' },
      {
        type: 'function_call_result',
        name: 'lookup_runbook',
        callId: 'c2',
        output: { type: 'text', text: 'Drain the pool first' },
      },
    ],
    output: [{ role: 'assistant', content: [{ type: 'output_text', text: 'Rolling back.' }] }],
    usage: { input_tokens: 200, output_tokens: 40 },
  });
  const audit = b.start('function', turn2, { name: 'read_audit', input: '' });
  out.audit = audit;
  b.end(audit, { input: '{}', output: '' }, { message: 'audit store unreachable', data: { code: 503 } });
  const banner = b.start('function', turn2, { name: 'render_banner', input: '' });
  out.banner = banner;
  b.end(banner, { input: '{}', output: BOMB });
  b.end(turn2);

  // Routine turns: bulk, so that the file has many segments.
  out.fillerTurns = [];
  for (let i = 0; i < fillerTurns; i++) {
    const turn = b.start('turn', triage, { turn: 3 + i, agent_name: 'Triage' });
    out.fillerTurns.push(turn);
    const model = b.start('generation', turn, {});
    b.end(model, {
      model: 'gpt-test',
      input: [SYSTEM, { role: 'user', content: `routine check ${i}: ${'status of node '.repeat(12)}` }],
      output: [{ type: 'function_call', name: 'check_health', arguments: `{"node":${i}}` }],
      usage: { input_tokens: 50, output_tokens: 5 },
    });
    const tool = b.start('function', turn, { name: 'check_health', input: '' });
    b.end(tool, { input: `{"node":${i}}`, output: `node ${i} healthy; ${'all green '.repeat(20)}` });
    b.end(turn);
  }

  // A tripped guardrail (the recorder derives a decision record naming the guardrail span), a handoff.
  const guardTurn = b.start('turn', triage, {
    turn: 3 + fillerTurns,
    agent_name: 'Triage',
  });
  out.guardTurn = guardTurn;
  const guardrail = b.start('guardrail', guardTurn, {
    name: 'no_secrets',
    triggered: false,
  });
  out.guardrail = guardrail;
  b.end(guardrail, { triggered: true });
  out.guardrailRecord = b.record('policy.decision', {
    decision: 'deny',
    subject: { kind: 'output', name: 'no_secrets' },
    rule: 'no_secrets',
    reason: 'output guardrail "no_secrets" tripwire triggered',
    policy: null,
    decided_by: { kind: 'guardrail', id: 'no_secrets' },
    span_id: guardrail.id,
    call_id: null,
  });
  const handoff = b.start('handoff', guardTurn, {
    from_agent: 'Triage',
    to_agent: 'Auditor',
  });
  out.handoff = handoff;
  b.end(handoff);
  b.end(guardTurn);
  b.end(triage, { tools: ['lookup_runbook', 'read_audit'], handoffs: ['Auditor'] });

  // The Auditor: its first model call, a second denial, the long text again (stored as a blob this time).
  const auditor = b.start('agent', task, { name: 'Auditor' });
  out.auditor = auditor;
  const auditorTurn = b.start('turn', auditor, { turn: 1, agent_name: 'Auditor' });
  out.auditorTurn = auditorTurn;
  const auditorModel = b.start('generation', auditorTurn, {});
  out.auditorModel = auditorModel;
  b.end(auditorModel, {
    model: 'gpt-audit',
    input: [SYSTEM, ASK, { role: 'user', content: 'audit what happened' }],
    output: [{ role: 'assistant', content: [{ type: 'output_text', text: 'Audit done.' }] }],
    usage: { input_tokens: 70, output_tokens: 7 },
  });
  const denyDelete = {
    ...denyPush,
    subject: { kind: 'tool', name: 'delete_logs', args: {} },
    rule: 'keep-logs',
    reason: 'logs are evidence',
  };
  const auditorPolicy = b.start('custom', auditorTurn, {
    name: POLICY_DECISION_SPAN,
    data: denyDelete,
  });
  out.auditorPolicy = auditorPolicy;
  b.end(auditorPolicy);
  out.auditorPolicyRecord = b.record('policy.decision', { ...denyDelete, span_id: auditorPolicy.id });
  const archive = b.start('function', auditorTurn, { name: 'archive_logs', input: '' });
  out.archive = archive;
  out.archiveEnd = b.end(archive, { input: '{}', output: LONG });
  b.end(auditorTurn);

  // An approval round trip (span-less decisions and the approver's identity, as the approval helpers record).
  const subject = { kind: 'tool', name: 'restart_service', args: { host: 'node-7' } };
  out.approvalRequest = b.record('policy.decision', {
    decision: 'require_approval',
    subject,
    rule: 'needs_approval',
    reason: 'tool "restart_service" requires human approval',
    policy: null,
    decided_by: { kind: 'engine', id: 'agents-sdk' },
    span_id: null,
    call_id: 'c9',
    agent: 'Auditor',
  });
  out.approver = b.record('identity', {
    role: 'approver',
    call_id: 'c9',
    identity: { subject: 'lee@example.com', kind: 'human', verified: true, method: 'oidc' },
  });
  out.approved = b.record('policy.decision', {
    decision: 'approved',
    subject,
    rule: 'needs_approval',
    reason: 'checked with on-call',
    policy: null,
    decided_by: { kind: 'human', id: 'lee@example.com', verified: true },
    span_id: null,
    call_id: 'c9',
    agent: 'Auditor',
  });
  b.end(auditor);
  b.end(task);
  out.traceEnd = b.record('trace.end', { trace_id: 'trace-ops', metadata: {} });
  out.sessionEnd = b.record('session.end', {
    status: 'completed',
    counts: { model_calls: 3 + fillerTurns, tool_calls: 5 + fillerTurns, denials: 3, errors: 1 },
    usage: { input_tokens: 1000, output_tokens: 100, total_tokens: 1100 },
    redactions: { email: 1 },
  });
  await b.close();
  out.recordCount = b.writer.stats.records;
  return out as Ops;
}

async function openLoaded(path: string): Promise<SessionTimeline> {
  const timeline = await SessionTimeline.open(path);
  while (await timeline.loadMore(50)) {}
  return timeline;
}

/** Every row of a timeline, in seq order. */
function allRows(timeline: SessionTimeline): TimelineRow[] {
  const rows: TimelineRow[] = [];
  for (let seq = 1; seq <= timeline.recordCount; seq++) {
    const row = timeline.outline.row(seq);
    if (row) rows.push(row);
  }
  return rows;
}

/** seqs of the rows the view shows, in order (walking every record: independent of `window`). */
function shown(view: TimelineView): number[] {
  const out: number[] = [];
  for (let seq = 1; seq <= view.timeline.recordCount; seq++) if (view.visible(seq)) out.push(seq);
  return out;
}

function ancestorsOf(timeline: SessionTimeline, seq: number): number[] {
  const out: number[] = [];
  for (let p = timeline.outline.parent(seq); p > 0; p = timeline.outline.parent(p)) out.push(p);
  return out;
}

const section = (detail: RowDetail, title: string) => {
  const found = detail.sections.find((s) => s.title === title);
  expect(found, `section ${title} in ${detail.sections.map((s) => s.title).join(', ')}`).toBeDefined();
  return found!;
};
const texts = (detail: RowDetail, title: string) => section(detail, title).lines.map((l) => l.text);

let ops: Ops;
let loaded: SessionTimeline;

beforeAll(async () => {
  ops = await writeOpsSession(newPath('ops'));
  loaded = await openLoaded(ops.path);
});
afterAll(() => loaded?.close());

describe('outline: the tree of a session', () => {
  it('is read from a file of many segments', () => {
    expect(loaded.fullyLoaded).toBe(true);
    expect(loaded.recordCount).toBe(ops.recordCount);
    expect(loaded.loadedThrough).toBe(ops.recordCount);
    // 4 KiB segments: the filler turns alone span many of them.
    expect(loaded.segmentOf(ops.recordCount)).toBeDefined();
    expect(loaded.segmentOf(1)!.lastSeq).toBeLessThan(ops.recordCount / 10);
    expect(loaded.status).toBe('completed');
    expect(loaded.start?.workflow).toBe('ops-desk');
  });

  it('places rows at the seq of their start, with depth, parent, kind and name', () => {
    const o = loaded.outline;
    const expectRow = (seq: number, kind: string, depth: number, parent: number, name: string) => {
      const row = o.row(seq);
      expect(row, `row ${seq}`).toBeDefined();
      expect({ kind: row!.kind, depth: row!.depth, parent: row!.parent, name: row!.name }).toEqual({
        kind,
        depth,
        parent,
        name,
      });
    };
    expectRow(ops.session, 'session', 0, 0, 'session started');
    expectRow(ops.trace, 'trace', 0, 0, 'ops-desk');
    expectRow(ops.task.seq, 'task', 1, ops.trace, 'Agent workflow');
    expectRow(ops.triage.seq, 'agent', 2, ops.task.seq, 'Triage');
    expectRow(ops.turn1.seq, 'turn', 3, ops.triage.seq, 'turn 1');
    expectRow(ops.turn2.seq, 'turn', 3, ops.triage.seq, 'turn 2');
    expectRow(ops.model1.seq, 'model', 4, ops.turn1.seq, 'gpt-test');
    expectRow(ops.policy.seq, 'policy', 4, ops.turn1.seq, 'push_config');
    expectRow(ops.lookup.seq, 'tool', 4, ops.turn1.seq, 'lookup_runbook');
    expectRow(ops.audit.seq, 'tool', 4, ops.turn2.seq, 'read_audit');
    expectRow(ops.guardrail.seq, 'guardrail', 4, ops.guardTurn.seq, 'no_secrets');
    // The guardrail's decision record is a policy row below the guardrail span it names.
    expectRow(ops.guardrailRecord, 'policy', 5, ops.guardrail.seq, 'no_secrets');
    expectRow(ops.handoff.seq, 'handoff', 4, ops.guardTurn.seq, 'Triage → Auditor');
    expectRow(ops.auditor.seq, 'agent', 2, ops.task.seq, 'Auditor');
    expectRow(ops.auditorTurn.seq, 'turn', 3, ops.auditor.seq, 'turn 1');
    expectRow(ops.auditorModel.seq, 'model', 4, ops.auditorTurn.seq, 'gpt-audit');
    expectRow(ops.approvalRequest, 'approval', 1, ops.trace, 'restart_service');
    expectRow(ops.approver, 'identity', 1, ops.trace, 'approver: lee@example.com');
    expectRow(ops.approved, 'approval', 1, ops.trace, 'restart_service');
    expectRow(ops.sessionEnd, 'session', 0, 0, 'session completed');
    const last = ops.fillerTurns.at(-1)!;
    expectRow(last.seq, 'turn', 3, ops.triage.seq, `turn ${2 + ops.fillerTurns.length}`);
  });

  it('keeps every row below its parent: depth = parent depth + 1, parents before children', () => {
    const rows = allRows(loaded);
    expect(rows.length).toBeGreaterThan(100);
    for (const row of rows) {
      expect(row.flags & Flag.PROVISIONAL).toBe(0);
      if (row.parent === 0) {
        expect(row.depth).toBe(0);
        continue;
      }
      const parent = loaded.outline.row(row.parent)!;
      expect(parent, `parent of ${row.seq}`).toBeDefined();
      expect(row.parent).toBeLessThan(row.seq);
      expect(row.depth).toBe(parent.depth + 1);
      expect(parent.flags & Flag.HAS_CHILDREN).toBe(Flag.HAS_CHILDREN);
    }
    // Span ends, trace ends and blob records are not rows; they belong to their span's (trace's) row.
    expect(loaded.outline.isRow(ops.model1End)).toBe(false);
    expect(loaded.outline.owner(ops.model1End)).toBe(ops.model1.seq);
    expect(loaded.outline.isRow(ops.traceEnd)).toBe(false);
    expect(loaded.outline.owner(ops.traceEnd)).toBe(ops.trace);
    // Leaves have no children flag.
    expect(loaded.outline.row(ops.model1.seq)!.flags & Flag.HAS_CHILDREN).toBe(0);
  });

  it('records ends, times and tokens of spans', () => {
    const model1 = loaded.outline.row(ops.model1.seq)!;
    expect(model1.endSeq).toBe(ops.model1End);
    expect(model1.tokens).toBe(150);
    expect(new Date(model1.startMs).toISOString()).toBe(ops.model1.started_at);
    expect(model1.endMs - model1.startMs).toBe(5);
    expect(loaded.outline.row(ops.model2.seq)!.tokens).toBe(240);
    expect(loaded.outline.row(ops.lookup.seq)!.tokens).toBe(0);
    expect(loaded.outline.row(ops.trace)!.endSeq).toBe(ops.traceEnd);
    const session = loaded.outline.row(ops.session)!;
    expect(session.endSeq).toBe(0);
    expect(Number.isNaN(session.endMs)).toBe(true);
    // Nothing is left open in a completed session.
    for (const row of allRows(loaded)) expect(row.flags & Flag.OPEN, `row ${row.seq}`).toBe(0);
  });

  it('flags denials, errors, approvals and redactions, and tells the ancestors', () => {
    const flags = (seq: number) => loaded.outline.row(seq)!.flags & ATTENTION;
    const below = (seq: number) => loaded.outline.row(seq)!.subtreeFlags & ATTENTION;
    expect(flags(ops.policy.seq)).toBe(Flag.DENIED);
    expect(flags(ops.audit.seq)).toBe(Flag.ERROR);
    expect(flags(ops.lookup.seq)).toBe(Flag.REDACTED);
    expect(flags(ops.guardrail.seq)).toBe(Flag.DENIED);
    expect(flags(ops.guardrailRecord)).toBe(Flag.DENIED);
    expect(flags(ops.approvalRequest)).toBe(Flag.APPROVAL);
    expect(flags(ops.approved)).toBe(Flag.APPROVAL);
    expect(flags(ops.model1.seq)).toBe(0);
    expect(flags(ops.banner.seq)).toBe(0);
    expect(flags(ops.sessionEnd)).toBe(0);

    expect(below(ops.turn1.seq)).toBe(Flag.DENIED | Flag.REDACTED);
    expect(below(ops.turn2.seq)).toBe(Flag.ERROR);
    expect(below(ops.fillerTurns[0]!.seq)).toBe(0);
    expect(below(ops.guardTurn.seq)).toBe(Flag.DENIED);
    expect(below(ops.triage.seq)).toBe(Flag.DENIED | Flag.ERROR | Flag.REDACTED);
    expect(below(ops.auditor.seq)).toBe(Flag.DENIED);
    expect(below(ops.task.seq)).toBe(Flag.DENIED | Flag.ERROR | Flag.REDACTED);
    // The approvals hang under the trace, not under the task.
    expect(below(ops.trace)).toBe(ATTENTION);
    expect(below(ops.model1.seq)).toBe(0);
  });

  it('makes a policy custom span and its policy.decision record ONE row', () => {
    const o = loaded.outline;
    expect(o.isRow(ops.policyRecord)).toBe(false);
    expect(o.owner(ops.policyRecord)).toBe(ops.policy.seq);
    expect(o.owner(ops.policyEnd)).toBe(ops.policy.seq);
    expect(o.isRow(ops.auditorPolicyRecord)).toBe(false);
    expect(o.owner(ops.auditorPolicyRecord)).toBe(ops.auditorPolicy.seq);
    const pushRows = allRows(loaded).filter((row) => row.kind === 'policy' && row.name === 'push_config');
    expect(pushRows.map((row) => row.seq)).toEqual([ops.policy.seq]);
    // A decision that names a span of another kind stays a row of its own (below that span).
    expect(o.isRow(ops.guardrailRecord)).toBe(true);
  });
});

describe('placing segments ahead of the ordered pass', () => {
  /** Segments of the ops session, in order. */
  const segmentsOf = (timeline: SessionTimeline) => {
    const segments: { firstSeq: number; lastSeq: number }[] = [];
    for (let seq = 1; seq <= timeline.recordCount; seq = timeline.segmentOf(seq)!.lastSeq + 1) {
      segments.push(timeline.segmentOf(seq)!);
    }
    return segments;
  };

  /** Places every segment from the 5th on ahead, from the end backwards (a jump to the end, then scrolling up). */
  const placeAhead = async (timeline: SessionTimeline) => {
    const segments = segmentsOf(timeline);
    expect(segments.length).toBeGreaterThan(10);
    // The first segments stay for the ordered pass (ensure continues that pass when it is near).
    for (const segment of segments.slice(4).reverse()) await timeline.ensure(segment.lastSeq);
    expect(timeline.loadedThrough).toBe(0);
    const from = segments[4]!.firstSeq;
    expect(timeline.isKnown(from)).toBe(true);
    expect(timeline.isKnown(from - 1)).toBe(false);
    return from;
  };

  it('gives the same kinds, depths, names and flags as the ordered pass, one row per ordered row', async () => {
    const timeline = await SessionTimeline.open(ops.path);
    try {
      const from = await placeAhead(timeline);
      const o = timeline.outline;
      const ordered = loaded.outline;
      const mismatches: Rec[] = [];
      const representedBy = new Map<number, number>();
      let placed = 0;
      for (let seq = from; seq <= timeline.recordCount; seq++) {
        const row = o.row(seq);
        if (!row) continue;
        placed++;
        expect(row.flags & Flag.PROVISIONAL, `provisional ${seq}`).toBe(Flag.PROVISIONAL);
        expect(row.parent).toBe(-1);
        // The ordered row this stands for: itself, or (a span placed by its end) the span's start.
        const owner = ordered.owner(seq);
        expect(owner, `ordered owner of ${seq}`).toBeGreaterThan(0);
        const want = ordered.row(owner)!;
        const got = { kind: row.kind, depth: row.depth, name: row.name, attention: row.flags & ATTENTION };
        const expected = {
          kind: want.kind,
          depth: want.depth,
          name: want.name,
          attention: want.flags & ATTENTION,
        };
        if (JSON.stringify(got) !== JSON.stringify(expected)) mismatches.push({ seq, got, expected });
        expect(row.tokens).toBe(want.tokens);
        // One row per ordered row: no decision, span or end shown twice.
        const twice = representedBy.get(owner);
        if (twice !== undefined) mismatches.push({ seq, shownTwice: { orderedRow: owner, alsoAt: twice } });
        representedBy.set(owner, seq);
      }
      expect(placed).toBeGreaterThan(100);
      // Every span and record with a record in these segments is shown.
      for (let seq = from; seq <= timeline.recordCount; seq++) {
        const owner = ordered.owner(seq);
        if (owner >= from && ordered.isRow(owner) && !representedBy.has(owner)) {
          mismatches.push({ seq, missing: owner });
        }
      }
      expect(mismatches).toEqual([]);
    } finally {
      timeline.close();
    }
  });

  it('TimelineView.end before loading lands on the last row, placing only the tail', async () => {
    const timeline = await SessionTimeline.open(ops.path);
    try {
      const view = new TimelineView(timeline);
      await view.settle();
      expect(view.cursor).toBe(ops.session);
      await view.end(20);
      expect(view.cursor).toBe(ops.sessionEnd);
      // Only the first segment or so is in order: the end was placed ahead.
      expect(timeline.loadedThrough).toBeLessThan(timeline.recordCount / 4);
      expect(timeline.fullyLoaded).toBe(false);
      const { rows, pending } = view.window(20);
      expect(pending).toBeUndefined();
      expect(rows.at(-1)).toBe(ops.sessionEnd);
      expect(rows).toContain(ops.approved);
      expect(rows).toContain(ops.auditorPolicy.seq);
      expect(timeline.outline.flags(ops.approved) & Flag.PROVISIONAL).toBe(Flag.PROVISIONAL);
      for (const seq of rows) {
        expect(timeline.outline.row(seq)!.kind).toBe(loaded.outline.row(loaded.outline.owner(seq))!.kind);
      }
      // Moving up from the end places earlier segments too.
      await view.move(-60, 20);
      expect(view.cursor).toBeLessThan(rows[0]!);
      expect(timeline.outline.row(view.cursor)!.kind).toBe(
        loaded.outline.row(loaded.outline.owner(view.cursor))!.kind,
      );
    } finally {
      timeline.close();
    }
  });

  it('after a jump to the end the last screen is full, as the ordered pass shows it', async () => {
    const timeline = await SessionTimeline.open(ops.path);
    try {
      const view = new TimelineView(timeline);
      await view.settle();
      await view.end(20);
      const orderedView = new TimelineView(loaded);
      await orderedView.settle();
      await orderedView.end(20);
      expect(orderedView.window(20).rows).toHaveLength(20);
      expect(view.window(20).rows).toHaveLength(20);
    } finally {
      timeline.close();
    }
  });

  it('once fully loaded, nothing is provisional and the outline is exactly the ordered one', async () => {
    const timeline = await SessionTimeline.open(ops.path);
    try {
      await placeAhead(timeline);
      const view = new TimelineView(timeline);
      await view.settle();
      await view.end(20);
      expect(timeline.outline.flags(ops.sessionEnd) & Flag.PROVISIONAL).toBe(Flag.PROVISIONAL);
      while (await timeline.loadMore(50)) {}
      expect(timeline.fullyLoaded).toBe(true);
      for (let seq = 1; seq <= timeline.recordCount; seq++) {
        expect(timeline.outline.row(seq), `row ${seq} after loading`).toEqual(loaded.outline.row(seq));
        expect(timeline.outline.owner(seq)).toBe(loaded.outline.owner(seq));
        expect(timeline.outline.subtreeKinds(seq)).toBe(loaded.outline.subtreeKinds(seq));
      }
      expect(allRows(timeline).filter((row) => row.flags & Flag.PROVISIONAL)).toEqual([]);
    } finally {
      timeline.close();
    }
  });
});

describe('TimelineView: navigation, collapse, filters', () => {
  const H = 10;
  const newView = async () => {
    const view = new TimelineView(loaded);
    await view.settle();
    return view;
  };

  it('moves over visible rows, home and end', async () => {
    const view = await newView();
    expect(view.cursor).toBe(ops.session);
    await view.move(1, H);
    expect(view.cursor).toBe(ops.trace);
    await view.move(3, H);
    expect(view.cursor).toBe(ops.turn1.seq);
    await view.move(1, H);
    expect(view.cursor).toBe(ops.model1.seq);
    // The span's end record is skipped: the next row is the policy span.
    await view.move(1, H);
    expect(view.cursor).toBe(ops.policy.seq);
    // Its decision record is no row either.
    await view.move(1, H);
    expect(view.cursor).toBe(ops.lookup.seq);
    await view.move(-2, H);
    expect(view.cursor).toBe(ops.model1.seq);
    await view.end(H);
    expect(view.cursor).toBe(ops.sessionEnd);
    await view.move(5, H);
    expect(view.cursor).toBe(ops.sessionEnd);
    await view.move(-1, H);
    expect(view.cursor).toBe(ops.approved);
    await view.home(H);
    expect(view.cursor).toBe(ops.session);
    await view.move(-3, H);
    expect(view.cursor).toBe(ops.session);
  });

  it('scrolls so the cursor stays on screen', async () => {
    const view = await newView();
    const all = shown(view);
    await view.move(H + 5, H);
    expect(view.cursor).toBe(all[H + 5]);
    // The cursor became the last row of the window.
    expect(view.top).toBe(all[H + 5 - (H - 1)]);
    expect(view.window(H).rows).toEqual(all.slice(6, 6 + H));
    await view.end(H);
    expect(view.window(H).rows).toEqual(all.slice(-H));
    await view.home(H);
    expect(view.top).toBe(ops.session);
    expect(view.window(H).rows).toEqual(all.slice(0, H));
  });

  it('collapse hides descendants (and only them); a leaf does not collapse', async () => {
    const view = await newView();
    const before = shown(view);
    expect(before).toContain(ops.model1.seq);
    view.toggle(ops.turn1.seq);
    const after = shown(view);
    const hidden = before.filter((seq) => !after.includes(seq));
    const descendants = before.filter((seq) => ancestorsOf(loaded, seq).includes(ops.turn1.seq));
    expect(hidden).toEqual(descendants);
    expect(hidden).toEqual([ops.model1.seq, ops.policy.seq, ops.lookup.seq, ops.appendix.seq]);
    expect(after).toContain(ops.turn1.seq);
    // Moving skips the collapsed turn's children.
    view.cursor = ops.turn1.seq;
    await view.move(1, H);
    expect(view.cursor).toBe(ops.turn2.seq);
    // Collapsing the agent hides everything of Triage, the Auditor stays.
    view.toggle(ops.triage.seq);
    expect(view.visible(ops.guardrail.seq)).toBe(false);
    expect(view.visible(ops.auditor.seq)).toBe(true);
    expect(view.visible(ops.auditorModel.seq)).toBe(true);
    view.toggle(ops.triage.seq);
    view.toggle(ops.turn1.seq);
    expect(shown(view)).toEqual(before);
    view.toggle(ops.model1.seq);
    expect(view.collapsed.has(ops.model1.seq)).toBe(false);
  });

  it('setKinds shows the matching rows and their ancestors only', async () => {
    const view = await newView();
    await view.setKinds(['model'], H);
    const rows = shown(view);
    const models = allRows(loaded).filter((row) => row.kind === 'model');
    expect(models.length).toBe(3 + ops.fillerTurns.length);
    const expected = new Set<number>();
    for (const row of models) {
      expected.add(row.seq);
      for (const a of ancestorsOf(loaded, row.seq)) expected.add(a);
    }
    expect(rows).toEqual([...expected].sort((a, b) => a - b));
    expect(rows).not.toContain(ops.session);
    expect(rows).not.toContain(ops.policy.seq);
    expect(rows).not.toContain(ops.guardTurn.seq);
    expect(rows).toContain(ops.auditor.seq);
    // The cursor moved off the hidden session row onto the first shown one.
    expect(view.cursor).toBe(ops.trace);

    await view.setKinds(['policy', 'approval'], H);
    const decisions = shown(view).filter((seq) => {
      const kind = loaded.outline.row(seq)!.kind;
      return kind === 'policy' || kind === 'approval';
    });
    expect(decisions).toEqual([
      ops.policy.seq,
      ops.guardrailRecord,
      ops.auditorPolicy.seq,
      ops.approvalRequest,
      ops.approved,
    ]);
    expect(view.visible(ops.guardrail.seq)).toBe(true); // ancestor of a decision
    expect(view.visible(ops.handoff.seq)).toBe(false);

    await view.setKinds([], H);
    expect(view.kindMask).toBe(0);
    expect(shown(view)).toEqual(allRows(loaded).map((row) => row.seq));
  });

  it('attentionOnly shows denials, errors, approvals, redactions and what contains them', async () => {
    const view = await newView();
    view.attentionOnly = true;
    const rows = shown(view);
    expect(rows).toEqual(
      [
        ops.trace,
        ops.task.seq,
        ops.triage.seq,
        ops.turn1.seq,
        ops.policy.seq,
        ops.lookup.seq,
        ops.turn2.seq,
        ops.audit.seq,
        ops.guardTurn.seq,
        ops.guardrail.seq,
        ops.guardrailRecord,
        ops.auditor.seq,
        ops.auditorTurn.seq,
        ops.auditorPolicy.seq,
        ops.approvalRequest,
        ops.approved,
      ].sort((a, b) => a - b),
    );
  });

  it('nextProblem finds denials and errors in both directions', async () => {
    const view = await newView();
    const problems = allRows(loaded)
      .filter((row) => row.flags & (Flag.DENIED | Flag.ERROR))
      .map((row) => row.seq);
    expect(problems).toEqual([
      ops.policy.seq,
      ops.audit.seq,
      ops.guardrail.seq,
      ops.guardrailRecord,
      ops.auditorPolicy.seq,
    ]);
    const forward: number[] = [];
    while (await view.nextProblem(1, H)) forward.push(view.cursor);
    expect(forward).toEqual(problems);
    expect(view.cursor).toBe(ops.auditorPolicy.seq);
    await view.end(H);
    const backward: number[] = [];
    while (await view.nextProblem(-1, H)) backward.push(view.cursor);
    expect(backward).toEqual([...problems].reverse());
    expect(await view.nextProblem(-1, H)).toBe(false);
  });

  it('reveal (and nextProblem) expands collapsed ancestors and clears a filter that hides the target', async () => {
    const view = await newView();
    view.toggle(ops.triage.seq);
    view.toggle(ops.turn2.seq);
    expect(view.visible(ops.audit.seq)).toBe(false);
    expect(await view.nextProblem(1, H)).toBe(true);
    expect(view.cursor).toBe(ops.policy.seq);
    expect(view.collapsed.has(ops.triage.seq)).toBe(false);
    expect(view.collapsed.has(ops.turn2.seq)).toBe(true);
    expect(view.visible(ops.policy.seq)).toBe(true);

    await view.reveal(ops.audit.seq, H);
    expect(view.cursor).toBe(ops.audit.seq);
    expect(view.collapsed.has(ops.turn2.seq)).toBe(false);
    expect(view.visible(ops.audit.seq)).toBe(true);

    // A record that is not a row (a span's end) reveals its row.
    view.toggle(ops.turn1.seq);
    await view.setKinds(['model'], H);
    await view.reveal(ops.policyEnd, H);
    expect(view.cursor).toBe(ops.policy.seq);
    expect(view.kindMask).toBe(0);
    expect(view.collapsed.has(ops.turn1.seq)).toBe(false);
    expect(view.window(H).rows).toContain(ops.policy.seq);
  });
});

describe('TimelineView: playback', () => {
  /** A session with known gaps: 100 ms, 300 ms, a 10 s tool call, then 50 ms steps. */
  let path: string;
  let seqs: { task: number; agent: number; tool: number; toolEnd: number; agentEnd: number; end: number };
  beforeAll(async () => {
    path = newPath('playback');
    const b = await SessionBuilder.create(path);
    b.record('session.start', { session_id: 'sp', trace_id: 'tp', workflow: 'playback', identity: null });
    b.record('trace.start', { trace_id: 'tp', workflow: 'playback', resumed: false });
    const task = b.start('task', null, { name: 'Agent workflow' }, { ms: 0 });
    const agent = b.start('agent', task, { name: 'Player' }, { ms: 100 });
    const tool = b.start('function', agent, { name: 'slow_tool', input: '{}' }, { ms: 300 });
    const toolEnd = b.end(tool, { output: 'done' }, null, 10_000);
    const agentEnd = b.end(agent, {}, null, 50);
    b.end(task, {}, null, 50);
    b.record('trace.end', { trace_id: 'tp' });
    const end = b.record('session.end', { status: 'completed', counts: {} });
    await b.close();
    seqs = { task: task.seq, agent: agent.seq, tool: tool.seq, toolEnd, agentEnd, end };
  });

  it('hides rows after the head, steps forward and back, the cursor follows the newest row', async () => {
    const timeline = await openLoaded(path);
    try {
      const view = new TimelineView(timeline);
      await view.settle();
      expect(view.inPlayback).toBe(false);
      view.play();
      expect(view.inPlayback).toBe(true);
      expect(view.playback.playing).toBe(true);
      expect(view.playback.head).toBe(1);
      expect(view.window(10).rows).toEqual([1]);
      expect(view.visible(2)).toBe(false);
      view.pause();
      expect(view.playback.playing).toBe(false);

      await view.stepPlayback(1, 10);
      expect(view.playback.head).toBe(2);
      expect(view.cursor).toBe(2);
      await view.stepPlayback(1, 10);
      await view.stepPlayback(1, 10);
      await view.stepPlayback(1, 10);
      expect(view.playback.head).toBe(seqs.tool);
      expect(view.cursor).toBe(seqs.tool);
      expect(view.window(10).rows).toEqual([1, 2, seqs.task, seqs.agent, seqs.tool]);
      expect(view.visible(seqs.end)).toBe(false);
      // The tool has started and not ended yet at this head.
      expect(timeline.outline.row(seqs.tool)!.endSeq).toBeGreaterThan(view.playback.head);

      // Onto the tool's end: the cursor stays on the tool's row.
      await view.stepPlayback(1, 10);
      expect(view.playback.head).toBe(seqs.toolEnd);
      expect(view.cursor).toBe(seqs.tool);

      await view.stepPlayback(-1, 10);
      await view.stepPlayback(-1, 10);
      expect(view.playback.head).toBe(seqs.agent);
      expect(view.cursor).toBe(seqs.agent);
      expect(view.visible(seqs.tool)).toBe(false);
      expect(view.window(10).rows).toEqual([1, 2, seqs.task, seqs.agent]);

      // Stepping is bounded by the file.
      for (let i = 0; i < 20; i++) await view.stepPlayback(1, 10);
      expect(view.playback.head).toBe(timeline.recordCount);
      expect(view.cursor).toBe(seqs.end);
      for (let i = 0; i < 20; i++) await view.stepPlayback(-1, 10);
      expect(view.playback.head).toBe(1);
      expect(view.cursor).toBe(1);

      view.stopPlayback();
      expect(view.inPlayback).toBe(false);
      expect(view.visible(seqs.end)).toBe(true);
    } finally {
      timeline.close();
    }
  });

  it('play starts at the cursor; delayToNext follows the recorded gaps, caps idle stretches, divides by speed', async () => {
    const timeline = await openLoaded(path);
    try {
      const view = new TimelineView(timeline);
      view.cursor = seqs.task;
      view.play();
      expect(view.playback.head).toBe(seqs.task);
      expect(view.delayToNext()).toBe(100);
      await view.stepPlayback(1, 10);
      expect(view.delayToNext()).toBe(300);
      view.faster();
      expect(view.playback.speed).toBe(2);
      expect(view.delayToNext()).toBe(150);
      await view.stepPlayback(1, 10);
      expect(view.playback.head).toBe(seqs.tool);
      // 10 s of waiting for the tool: capped to 2 s, at 2× 1 s.
      expect(view.delayToNext()).toBe(1000);
      view.faster();
      expect(view.delayToNext()).toBe(500);
      view.playback.idleCapMs = Number.POSITIVE_INFINITY;
      expect(view.delayToNext()).toBe(2500);
      view.playback.idleCapMs = 2000;
      for (let i = 0; i < 10; i++) view.faster();
      expect(view.playback.speed).toBe(16);
      for (let i = 0; i < 10; i++) view.slower();
      expect(view.playback.speed).toBe(0.5);
      expect(view.delayToNext()).toBe(4000);
      view.slower();
      expect(view.playback.speed).toBe(0.5);
      await view.stepPlayback(1, 10);
      expect(view.playback.head).toBe(seqs.toolEnd);
      expect(view.delayToNext()).toBe(100);
      for (let i = 0; i < 20; i++) await view.stepPlayback(1, 10);
      expect(view.delayToNext()).toBeUndefined();
    } finally {
      timeline.close();
    }
  });
});

describe('TimelineSearch', () => {
  const search = async (query: string) => {
    const job = new TimelineSearch(loaded, query);
    const progress = await job.run();
    expect(progress.done).toBe(true);
    expect(progress.scanned).toBe(loaded.recordCount);
    return job;
  };

  it('is case-insensitive and reports rows (a span end or decision record hits its span row)', async () => {
    const hits = (await search('PUSH_CONFIG')).hits;
    // model 1 asked for it (in its span.end), the policy span and its decision record are one row.
    expect(hits).toEqual([ops.model1.seq, ops.policy.seq]);
    expect((await search('Drain THE pool')).hits).toEqual([ops.lookup.seq, ops.model2.seq]);
    expect((await search('no such text anywhere')).hits).toEqual([]);
  });

  it('matches values, not JSON keys, record types or syntax', async () => {
    expect((await search('span')).hits).toEqual([]);
    expect((await search('parent_id')).hits).toEqual([]);
    expect((await search('started_at')).hits).toEqual([]);
    expect((await search('"output"')).hits).toEqual([]);
    // "type" is a key everywhere; as a value it is only in "Prototype".
    expect((await search('type')).hits).toEqual([ops.lookup.seq]);
    // Not JSON-escaped text: the escape bomb's ESC is found as the character, not as "\u001b".
    expect((await search('\u001b]0;pwned')).hits).toEqual([ops.banner.seq]);
    expect((await search('u001b')).hits).toEqual([]);
  });

  it('finds text inside a deduplicated blob, for every record that references it', async () => {
    // The second copy of LONG was stored as a blob record, and the archive span's end references it.
    let endLine = '';
    let blobs = 0;
    for await (const { seq, line } of loaded.lines(1, loaded.recordCount)) {
      if (seq === ops.archiveEnd) endLine = line;
      if (line.includes('"type":"blob"')) blobs++;
    }
    expect(blobs).toBeGreaterThanOrEqual(1);
    expect(endLine).toContain('"$blob"');
    expect(endLine).not.toContain('zebra');
    const hits = (await search('ZEBRA-quokka-7731')).hits;
    expect(hits).toEqual([ops.appendix.seq, ops.archive.seq]);
  });

  it('next() moves through hits and wraps around', async () => {
    const job = await search('push_config');
    const [a, b] = job.hits;
    expect(job.next(0, 1)).toBe(a);
    expect(job.next(a!, 1)).toBe(b);
    expect(job.next(b!, 1)).toBe(a);
    expect(job.next(loaded.recordCount, 1)).toBe(a);
    expect(job.next(b!, -1)).toBe(a);
    expect(job.next(a!, -1)).toBe(b);
    expect(new TimelineSearch(loaded, 'nothing').next(5, 1)).toBeUndefined();
  });

  it('loads the outline in order as it goes, on a timeline not loaded yet', async () => {
    const timeline = await SessionTimeline.open(ops.path);
    try {
      const job = new TimelineSearch(timeline, 'logs are evidence');
      const seen: number[] = [];
      await job.run((p) => seen.push(p.scanned));
      expect(job.hits).toEqual([ops.auditorPolicy.seq]);
      expect(timeline.fullyLoaded).toBe(true);
      expect(seen.length).toBeGreaterThan(5);
      expect(seen).toEqual([...seen].sort((x, y) => x - y));
    } finally {
      timeline.close();
    }
  });
});

describe('refresh: following a growing file', () => {
  it('picks up records appended (and flushed) by a writer that is still open', async () => {
    const path = newPath('live');
    const b = await SessionBuilder.create(path);
    try {
      b.record('session.start', { session_id: 'live', trace_id: 'tl', workflow: 'live', identity: null });
      b.record('trace.start', { trace_id: 'tl', workflow: 'live', resumed: false });
      const task = b.start('task', null, { name: 'Agent workflow' });
      const agent = b.start('agent', task, { name: 'Live' });
      const turn = b.start('turn', agent, { turn: 1 });
      await b.writer.flush();

      const timeline = await openLoaded(path);
      try {
        expect(timeline.recordCount).toBe(turn.seq);
        expect(timeline.outline.row(turn.seq)!.flags & Flag.OPEN).toBe(Flag.OPEN);
        expect(timeline.status).toBeUndefined();
        expect(await timeline.refresh()).toBe(false);

        let changes = 0;
        timeline.onChange(() => changes++);
        const model = b.start('generation', turn, {});
        const modelEnd = b.end(model, {
          model: 'gpt-live',
          input: [ASK],
          output: [],
          usage: { input_tokens: 7, output_tokens: 2 },
        });
        // Enough to fill several segments.
        const tools: Span[] = [];
        for (let i = 0; i < 30; i++) {
          const tool = b.start('function', turn, { name: `probe_${i}`, input: '' });
          b.end(tool, { input: `{"i":${i}}`, output: 'x'.repeat(300) });
          tools.push(tool);
        }
        await b.writer.flush();

        expect(timeline.outline.row(model.seq)).toBeUndefined();
        expect(await timeline.refresh()).toBe(true);
        expect(changes).toBeGreaterThan(0);
        expect(timeline.recordCount).toBe(b.writer.stats.records);
        expect(timeline.loadedThrough).toBe(timeline.recordCount);
        const row = timeline.outline.row(model.seq)!;
        expect(row).toMatchObject({ kind: 'model', depth: 4, parent: turn.seq, name: 'gpt-live', tokens: 9 });
        expect(row.endSeq).toBe(modelEnd);
        const lastTool = timeline.outline.row(tools.at(-1)!.seq)!;
        expect(lastTool).toMatchObject({ kind: 'tool', depth: 4, parent: turn.seq, name: 'probe_29' });
        expect(await timeline.refresh()).toBe(false);

        // A view sees the new rows; the session ends and the status appears.
        const view = new TimelineView(timeline);
        await view.settle();
        b.end(turn);
        b.end(agent);
        b.end(task);
        b.record('trace.end', { trace_id: 'tl' });
        const end = b.record('session.end', { status: 'error', counts: {} });
        await b.close();
        expect(await timeline.refresh()).toBe(true);
        await view.end(10);
        expect(view.cursor).toBe(end);
        expect(timeline.outline.row(end)!.flags & Flag.ERROR).toBe(Flag.ERROR);
        expect(timeline.outline.row(turn.seq)!.flags & Flag.OPEN).toBe(0);
        expect(timeline.status).toBe('error');
      } finally {
        timeline.close();
      }
    } finally {
      await b.close().catch(() => {});
    }
  });
});

describe('rowDetail', () => {
  const detailOf = (seq: number) => rowDetail(loaded, loaded.outline.row(seq)!);

  it('shows a model call as a transcript, marking items new since the previous call of the same agent', async () => {
    const first = await detailOf(ops.model1.seq);
    expect(section(first, 'Input').lines.filter((l) => l.tone === 'new')).toEqual([]);
    expect(texts(first, 'Model call')).toContain('2 input items (first model call)');
    expect(texts(first, 'Model call')).toContain('model: gpt-test');
    expect(texts(first, 'Model call')).toContain('tokens: 150');
    expect(texts(first, 'Output')).toEqual(['→ call push_config', '{', '  "environment": "production"', '}']);

    const second = await detailOf(ops.model2.seq);
    const input = section(second, 'Input').lines;
    expect(input.filter((l) => l.tone === 'new').map((l) => l.text)).toEqual([
      '→ call lookup_runbook',
      '{',
      '  "topic": "rollback"',
      '}',
      '← result lookup_runbook',
      'Drain the pool first',
    ]);
    // The system prompt and the user's ask were seen before.
    expect(input.filter((l) => l.tone !== 'new').map((l) => l.text)).toEqual([
      'system:',
      SYSTEM.content,
      'user:',
      ASK.content,
    ]);
    expect(texts(second, 'Model call')).toContain(
      '4 input items, 2 new since the previous model call (marked +)',
    );
    expect(texts(second, 'Output')).toEqual(['assistant:', 'Rolling back.']);

    // Another agent's first model call has no previous call, whatever Triage did before.
    const auditor = await detailOf(ops.auditorModel.seq);
    expect(texts(auditor, 'Model call')).toContain('3 input items (first model call)');
    expect(section(auditor, 'Input').lines.some((l) => l.tone === 'new')).toBe(false);
  });

  it('pretty-prints tool arguments and output; errors get a section', async () => {
    const lookup = await detailOf(ops.lookup.seq);
    expect(texts(lookup, 'Tool call')).toEqual(['tool: lookup_runbook']);
    expect(texts(lookup, 'Arguments')).toEqual(['{', '  "topic": "rollback",', '  "depth": 2', '}']);
    expect(texts(lookup, 'Output')).toEqual([
      'Drain the pool first; page [REDACTED:email:1a2b3c] if stuck. Prototype notes attached.',
    ]);
    const record = texts(lookup, 'Record');
    expect(record[0]).toBe(`seq ${ops.lookup.seq} … ${loaded.outline.row(ops.lookup.seq)!.endSeq}`);
    expect(record).toContain('took 5 ms');
    expect(record).toContain(`span: ${ops.lookup.id}`);
    expect(record).toContain(`parent: ${ops.turn1.id}`);

    const audit = await detailOf(ops.audit.seq);
    const error = section(audit, 'Error');
    expect(error.lines.every((l) => l.tone === 'error')).toBe(true);
    expect(error.lines.map((l) => l.text)).toEqual([
      '{',
      '  "data": {',
      '    "code": 503',
      '  },',
      '  "message": "audit store unreachable"',
      '}',
    ]);

    // A blob reference is resolved: the archived text is shown whole.
    const archive = await detailOf(ops.archive.seq);
    expect(texts(archive, 'Output')).toEqual([LONG]);
    // Raw text: sanitizing is the printer's job.
    expect(texts(await detailOf(ops.banner.seq), 'Output')).toEqual([BOMB]);
  });

  it('shows a decision with rule, reason, policy version and who decided', async () => {
    const policy = await detailOf(ops.policy.seq);
    const decision = section(policy, 'Policy decision').lines;
    expect(decision[0]).toEqual({ text: 'decision: deny', tone: 'denied' });
    expect(decision).toContainEqual({ text: 'subject: tool push_config', tone: 'key' });
    expect(decision).toContainEqual({ text: 'rule: no-prod-writes', tone: 'plain' });
    expect(decision).toContainEqual({ text: 'reason: push to staging first', tone: 'denied' });
    expect(decision).toContainEqual({ text: 'policy: ops-policy v3 (sha256 0123456789ab…)', tone: 'plain' });
    expect(decision).toContainEqual({ text: 'decided by: engine: policy-engine', tone: 'key' });
    expect(decision.map((l) => l.text)).toContain('  "environment": "production"');
    expect(texts(policy, 'Record')).toContain(`policy.decision record: seq ${ops.policyRecord}`);

    const request = await detailOf(ops.approvalRequest);
    const lines = section(request, 'Policy decision').lines;
    expect(lines[0]).toEqual({ text: 'decision: require_approval', tone: 'approval' });
    expect(lines.map((l) => l.text)).toEqual(
      expect.arrayContaining([
        'rule: needs_approval',
        'reason: tool "restart_service" requires human approval',
        'decided by: engine: agents-sdk',
        'call id: c9',
      ]),
    );
    const approved = section(await detailOf(ops.approved), 'Policy decision').lines.map((l) => l.text);
    expect(approved).toContain('decided by: human: lee@example.com');
    expect(approved).toContain('reason: checked with on-call');

    const who = section(await detailOf(ops.approver), 'Identity').lines;
    expect(who.map((l) => l.text)).toEqual(
      expect.arrayContaining(['role: approver', 'subject: lee@example.com', 'method: oidc']),
    );
    expect(who).toContainEqual({ text: 'verified: yes', tone: 'ok' });
  });

  it('shows the session start and end', async () => {
    const start = await detailOf(ops.session);
    expect(texts(start, 'Session start')).toContain('workflow: ops-desk');
    expect(texts(start, 'Identity')).toContain('subject: dana@example.com');
    expect(texts(start, 'Identity')).toContain('verified: no (as claimed, not proven)');
    const end = await detailOf(ops.sessionEnd);
    expect(section(end, 'Session end').lines[0]).toEqual({ text: 'status: completed', tone: 'ok' });
  });
});

// ---- hostile inputs --------------------------------------------------------------------------------------------

/** Writes a session whose last segments hold forged spans: self-parented, a parent cycle, ends without starts. */
async function writeForged(path: string): Promise<{ loop: number; cycleA: number; cycleB: number }> {
  const b = await SessionBuilder.create(path);
  b.record('session.start', { session_id: 'forged', trace_id: 'tf', workflow: 'forged', identity: null });
  b.record('trace.start', { trace_id: 'tf', workflow: 'forged', resumed: false });
  const task = b.start('task', null, { name: 'Agent workflow' });
  for (let i = 0; i < 60; i++) {
    const tool = b.start('function', task, { name: `pad_${i}`, input: '' });
    b.end(tool, { output: 'p'.repeat(200) });
  }
  // A span that is its own parent, started and ended.
  const loop = b.start('function', 'self', { name: 'self_parent' }, { id: 'self' });
  b.end(loop, { output: 'x' });
  // Two spans that are each other's parent.
  const cycleA = b.start('agent', 'cyc-b', { name: 'cycle_a' }, { id: 'cyc-a' });
  const cycleB = b.start('agent', 'cyc-a', { name: 'cycle_b' }, { id: 'cyc-b' });
  b.end(cycleB);
  b.end(cycleA);
  // Ends whose starts were never written, pointing at each other and at themselves.
  b.record('span.end', {
    span: { id: 'ghost-1', parent_id: 'ghost-2', kind: 'function', ended_at: b.at(), error: null, data: {} },
  });
  b.record('span.end', {
    span: { id: 'ghost-2', parent_id: 'ghost-1', kind: 'function', ended_at: b.at(), error: null, data: {} },
  });
  b.record('span.end', {
    span: { id: 'ghost-3', parent_id: 'ghost-3', kind: 'turn', ended_at: b.at(), error: null, data: {} },
  });
  // The same id started twice under itself, and a decision naming it.
  const twice = b.start(
    'custom',
    'twice',
    { name: POLICY_DECISION_SPAN, data: { decision: 'deny' } },
    { id: 'twice' },
  );
  b.start('custom', 'twice', { name: POLICY_DECISION_SPAN, data: { decision: 'deny' } }, { id: 'twice' });
  b.record('policy.decision', { decision: 'deny', span_id: 'twice' });
  b.end(twice);
  b.end(task);
  b.record('session.end', { status: 'completed', counts: {} });
  await b.close();
  return { loop: loop.seq, cycleA: cycleA.seq, cycleB: cycleB.seq };
}

/**
 * Runs the built analysis package on `path` in a worker thread: an endless loop would block this thread for good,
 * so the verdict "it hangs" can only come from outside. Resolves with what the worker reports.
 */
function inWorker(path: string, script: string, timeoutMs = 15_000): Promise<Rec> {
  const dist = new URL('../dist/index.js', import.meta.url).href;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.dist).then(async (A) => {
      const path = workerData.path;
      ${script}
    }).then((result) => parentPort.postMessage({ ok: true, result }), (error) => parentPort.postMessage({ ok: false, error: String(error && error.stack || error) }));
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { path, dist } });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`timeline operations on ${path} did not finish in ${timeoutMs} ms (endless loop?)`));
    }, timeoutMs);
    worker.once('message', (message: Rec) => {
      clearTimeout(timer);
      void worker.terminate();
      if (message.ok) resolve(message.result as Rec);
      else reject(new Error(message.error));
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Everything an investigator can do to a timeline, ahead of the ordered pass first, then in order. */
const EXERCISE = `
  const timeline = await A.SessionTimeline.open(path);
  const view = new A.TimelineView(timeline);
  await view.settle();
  await view.end(20);
  await view.move(-200, 20);
  const aheadDepths = [];
  for (let s = 1; s <= timeline.recordCount; s++) { const r = timeline.outline.row(s); if (r) aheadDepths.push(r.depth); }
  while (await timeline.loadMore(50)) {}
  await view.home(20);
  await view.move(1000, 20);
  while (await view.nextProblem(-1, 20)) {}
  for (let s = 1; s <= timeline.recordCount; s++) {
    const r = timeline.outline.row(s);
    if (!r) continue;
    view.toggle(s);
    view.visible(s);
    await view.reveal(s, 20);
    await A.rowDetail(timeline, r);
    await A.rowPreview(timeline, r);
  }
  view.attentionOnly = true;
  await view.setKinds(['tool', 'agent'], 20);
  await view.end(20);
  const search = new A.TimelineSearch(timeline, 'cycle');
  await search.run();
  const rows = [];
  for (let s = 1; s <= timeline.recordCount; s++) { const r = timeline.outline.row(s); if (r) rows.push(r); }
  timeline.close();
  return { rows, aheadDepths, hits: search.hits };
`;

describe('hostile inputs', () => {
  it('a span that is its own parent, parent cycles and dangling ends do not hang anything', async () => {
    const path = newPath('forged');
    const forged = await writeForged(path);
    const { rows, aheadDepths, hits } = await inWorker(path, EXERCISE);
    expect(aheadDepths.length).toBeGreaterThan(0);
    for (const depth of aheadDepths) expect(depth).toBeLessThanOrEqual(255);
    // In order, parents always come first, so the tree is a tree whatever the ids say.
    const bySeq = new Map<number, Rec>(rows.map((row: Rec) => [row.seq, row]));
    for (const row of rows as Rec[]) {
      expect(row.parent).toBeLessThan(row.seq);
      if (row.parent > 0) expect(row.depth).toBe(bySeq.get(row.parent)!.depth + 1);
      expect(row.flags & Flag.PROVISIONAL).toBe(0);
    }
    expect(bySeq.get(forged.loop)).toMatchObject({ kind: 'tool', name: 'self_parent', depth: 1 });
    expect(bySeq.get(forged.cycleA)).toMatchObject({ name: 'cycle_a', depth: 1 });
    expect(bySeq.get(forged.cycleB)).toMatchObject({ name: 'cycle_b', depth: 2, parent: forged.cycleA });
    expect(hits).toEqual([forged.cycleA, forged.cycleB]);

    // The same, in this thread, on the sources (now known not to hang).
    const timeline = await openLoaded(path);
    try {
      expect(allRows(timeline).map(({ seq, depth, parent }) => ({ seq, depth, parent }))).toEqual(
        (rows as Rec[]).map(({ seq, depth, parent }) => ({ seq, depth, parent })),
      );
    } finally {
      timeline.close();
    }
  });

  /** trace → 300 nested custom spans; the innermost one fails. */
  const writeDeep = async () => {
    const path = newPath('deep');
    const b = await SessionBuilder.create(path);
    b.record('session.start', { session_id: 'deep', trace_id: 'td', workflow: 'deep', identity: null });
    b.record('trace.start', { trace_id: 'td', workflow: 'deep', resumed: false });
    const chain: Span[] = [];
    for (let i = 0; i < 300; i++) chain.push(b.start('custom', chain.at(-1) ?? null, { name: `level_${i}` }));
    for (const span of [...chain].reverse())
      b.end(span, {}, span === chain.at(-1) ? { message: 'deep' } : null);
    b.record('session.end', { status: 'completed', counts: {} });
    await b.close();
    return { path, chain };
  };

  it('a 300-deep span chain caps depth at 255', async () => {
    const { path, chain } = await writeDeep();
    const { rows } = await inWorker(path, EXERCISE);
    expect(Math.max(...(rows as Rec[]).map((r) => r.depth))).toBe(255);

    const timeline = await openLoaded(path);
    try {
      const depths = chain.map((span) => timeline.outline.row(span.seq)!.depth);
      // Depth counts up and stays at 255 (a byte would wrap 300 to 44).
      expect(depths).toEqual(chain.map((_, i) => Math.min(255, i + 1)));
      expect(timeline.outline.row(chain[299]!.seq)!.flags & Flag.ERROR).toBe(Flag.ERROR);
      expect(timeline.outline.row(chain[299]!.seq)!.parent).toBe(chain[298]!.seq);
      // The view still walks it: to the end and back.
      const view = new TimelineView(timeline);
      await view.settle();
      expect(await view.nextProblem(1, 20)).toBe(true);
      expect(view.cursor).toBe(chain[299]!.seq);
    } finally {
      timeline.close();
    }
  });

  it('in a 300-deep chain, the root knows about the error at the bottom, and collapsing it hides the chain', async () => {
    const { path, chain } = await writeDeep();
    const timeline = await openLoaded(path);
    try {
      const root = chain[0]!.seq;
      expect
        .soft(timeline.outline.subtreeFlags(root) & Flag.ERROR, 'ERROR in the subtree of the root')
        .toBe(Flag.ERROR);
      const view = new TimelineView(timeline);
      await view.settle();
      view.toggle(root);
      expect(view.collapsed.has(root)).toBe(true);
      const visible = chain.filter((span) => view.visible(span.seq)).map((span) => span.seq);
      expect.soft(visible, 'chain rows visible with the root collapsed').toEqual([root]);
    } finally {
      timeline.close();
    }
  });
});
