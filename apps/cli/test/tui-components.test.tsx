/**
 * The `agent-replay open` TUI as components: the real App over a real SessionTimeline (a session written with the
 * real SessionWriter, records shaped as the recorder writes them), rendered by ink-testing-library at a fixed size;
 * keys go in through stdin and assertions read the frames a person would see. The pane builders are checked directly
 * on the same timeline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Flag,
  POLICY_DECISION_SPAN,
  rowDetail,
  SessionTimeline,
  type TimelineRow,
  TimelineView,
} from '@agent-replay/analysis';
import { SessionWriter } from '@agent-replay/format';
import { render } from 'ink-testing-library';
import stringWidth from 'string-width';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../src/tui/app.js';
import { detailLines, headerLines, treeLine, treeLines } from '../src/tui/panes.js';

type Rec = Record<string, any>;

const work = mkdtempSync(join(tmpdir(), 'arec-tui-components-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const BOMB = '\u001b]0;pwned\u0007\u001b[2J\u001b[31mred alert\u009b31m \u202eevil\u202c';
const SYSTEM = { role: 'system', content: 'You push configs. Staging first.' };
const ASK = { role: 'user', content: 'push the new config to production' };

interface Span {
  id: string;
  parent_id: string | null;
  kind: string;
  started_at: string;
  data: Rec;
  seq: number;
}

/** The config-agent session: a denied push, a tool call, a search target, an escape bomb and a failing tool. */
async function writeConfigSession(path: string) {
  const writer = await SessionWriter.create(path, { durability: 'none', segmentBytes: 4096 });
  let clock = Date.parse('2026-03-01T10:00:00.000Z');
  let ids = 0;
  const at = (ms = 5) => {
    clock += ms;
    return new Date(clock).toISOString();
  };
  const start = (kind: string, parent: Span | null, data: Rec = {}): Span => {
    const span = {
      id: `sp-${++ids}`,
      parent_id: parent?.id ?? null,
      kind,
      started_at: at(),
      data: { type: kind, ...data },
    };
    return { ...span, seq: writer.append('span.start', { span }) };
  };
  const end = (span: Span, data: Rec = {}, error: Rec | null = null, ms = 5) => {
    const { seq: _seq, ...rest } = span;
    return writer.append('span.end', {
      span: { ...rest, ended_at: at(ms), error, data: { ...span.data, ...data } },
    });
  };
  const identity = { kind: 'human', method: 'static', subject: 'dana@example.com', verified: false };
  const s: Rec = {};
  s.session = writer.append('session.start', {
    session_id: 'sess-config',
    trace_id: 'trace-config',
    group_id: null,
    workflow: 'config-agent',
    metadata: {},
    identity,
    policy: null,
  });
  s.trace = writer.append('trace.start', {
    trace_id: 'trace-config',
    workflow: 'config-agent',
    resumed: false,
    identity,
  });
  const task = start('task', null, { name: 'Agent workflow' });
  const agent = start('agent', task, { name: 'Configurator' });
  const turn1 = start('turn', agent, { turn: 1, agent_name: 'Configurator' });
  const model1 = start('generation', turn1);
  end(model1, {
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
    usage: { input_tokens: 100, output_tokens: 20 },
  });
  const decision = {
    decision: 'deny',
    subject: { kind: 'tool', name: 'push_config', args: { environment: 'production' } },
    rule: 'no-prod-writes',
    reason: 'push to staging first',
    policy: { id: 'config-policy', version: 2 },
    decided_by: { kind: 'engine', id: 'policy-engine' },
  };
  const policy = start('custom', turn1, { name: POLICY_DECISION_SPAN, data: decision });
  end(policy);
  writer.append('policy.decision', { ...decision, span_id: policy.id });
  const push = start('function', turn1, { name: 'push_config', input: '' });
  end(
    push,
    { input: '{"environment":"staging","dry_run":false}', output: 'pushed config v42 to staging' },
    null,
    400,
  );
  end(turn1);
  const turn2 = start('turn', agent, { turn: 2, agent_name: 'Configurator' });
  const model2 = start('generation', turn2);
  end(model2, {
    model: 'gpt-test',
    input: [
      SYSTEM,
      ASK,
      { type: 'function_call', name: 'push_config', call_id: 'c2', arguments: '{"environment":"staging"}' },
      {
        type: 'function_call_result',
        name: 'push_config',
        callId: 'c2',
        output: 'pushed config v42 to staging',
      },
    ],
    output: [{ role: 'assistant', content: [{ type: 'output_text', text: 'Drained the quokkaline pool.' }] }],
    usage: { input_tokens: 150, output_tokens: 25 },
  });
  const lookup = start('function', turn2, { name: 'lookup_runbook', input: '' });
  end(lookup, { input: '{"topic":"rollback"}', output: 'rollback: drain the quokkaline pool first' });
  const banner = start('function', turn2, { name: 'render_banner', input: '' });
  end(banner, { input: JSON.stringify({ text: BOMB }), output: BOMB });
  const audit = start('function', turn2, { name: 'read_audit', input: '' });
  end(audit, { input: '{}', output: '' }, { message: 'audit store unreachable', data: null }, 300);
  end(turn2);
  end(agent);
  end(task);
  writer.append('trace.end', { trace_id: 'trace-config', metadata: {} });
  s.sessionEnd = writer.append('session.end', {
    status: 'completed',
    counts: { model_calls: 2, tool_calls: 4, denials: 1, errors: 1, spans: 11, traces: 1 },
    usage: { input_tokens: 250, output_tokens: 45, total_tokens: 295 },
    redactions: {},
  });
  await writer.close();
  return {
    ...s,
    records: writer.stats.records,
    task: task.seq,
    agent: agent.seq,
    turn1: turn1.seq,
    model1: model1.seq,
    policy: policy.seq,
    push: push.seq,
    turn2: turn2.seq,
    model2: model2.seq,
    lookup: lookup.seq,
    banner: banner.seq,
    audit: audit.seq,
  } as Record<string, number>;
}

let S: Record<string, number>;
const sessionPath = join(work, 'config-agent.arec');
beforeAll(async () => {
  S = await writeConfigSession(sessionPath);
});

// ---- rendering helpers -----------------------------------------------------------------------------------------

const COLUMNS = 100;
const ROWS = 30;
/** SGR colour/style sequences Ink itself may write (if colours are on); anything else is not ours. */
const stripStyles = (frame: string) => frame.replace(/\u001b\[[0-9;]*m/g, '');

interface Screen {
  lastFrame: () => string;
  frames: string[];
  press: (keys: string) => Promise<void>;
  waitFor: (what: string, predicate: (frame: string) => boolean) => Promise<string>;
  /** Opens the search prompt and types `query` (Enter not pressed). */
  type: (query: string) => Promise<void>;
  /** Opens the filter menu. */
  filters: () => Promise<void>;
  timeline: SessionTimeline;
}

const mounted: { unmount: () => void; timeline: SessionTimeline }[] = [];
afterEach(() => {
  for (const m of mounted.splice(0)) {
    m.unmount();
    m.timeline.close();
  }
});

async function mount(verify: () => Promise<string> = async () => 'VALID'): Promise<Screen> {
  const timeline = await SessionTimeline.open(sessionPath);
  const instance = render(
    <App timeline={timeline} verify={verify} size={{ columns: COLUMNS, rows: ROWS }} />,
  );
  mounted.push({ unmount: instance.unmount, timeline });
  const lastFrame = () => stripStyles(instance.lastFrame() ?? '');
  const waitFor = async (what: string, predicate: (frame: string) => boolean) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const frame = lastFrame();
      if (predicate(frame)) return frame;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last frame:\n${frame}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  /** Sends keys, then waits until drawing has settled (no new frame for 40 ms). */
  const press = async (keys: string) => {
    instance.stdin.write(keys);
    let seen = instance.frames.length;
    let quiet = Date.now();
    const deadline = Date.now() + 3000;
    while (Date.now() - quiet < 40 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (instance.frames.length !== seen) {
        seen = instance.frames.length;
        quiet = Date.now();
      }
    }
  };
  await waitFor(
    'the first rows, their previews and detail',
    (f) => f.includes('session completed') && f.includes('(topic=rollback)') && f.includes('Session start'),
  );
  const type = async (query: string) => {
    await press('/');
    await waitFor('the search prompt', (f) => f.split('\n')[ROWS - 1]!.includes('Enter search'));
    await press(query);
    await waitFor(`"${query}" typed`, (f) => f.split('\n')[ROWS - 1]!.startsWith(` /${query}▏`));
  };
  const filters = async () => {
    await press('f');
    await waitFor('the filter menu', (f) => f.includes('Show only'));
  };
  return { lastFrame, frames: instance.frames, press, waitFor, type, filters, timeline };
}

/** The frame's parts: header (2 lines), tree and detail panes (split at the separator), status line. */
function parts(frame: string) {
  const lines = frame.split('\n');
  expect(lines).toHaveLength(ROWS);
  const body = lines.slice(2, ROWS - 1);
  const split = body.map((line) => {
    const at = line.indexOf('│');
    return at < 0 ? { tree: line, detail: '' } : { tree: line.slice(0, at), detail: line.slice(at + 1) };
  });
  return {
    header: lines.slice(0, 2),
    body,
    tree: split.map((l) => l.tree.trimEnd()).filter((l) => l !== ''),
    detail: split.map((l) => l.detail.trimEnd()),
    status: lines[ROWS - 1]!,
  };
}

const treeRow = (frame: string, label: string) => {
  const row = parts(frame).tree.find((line) => line.includes(label));
  expect(row, `tree row "${label}" in\n${frame}`).toBeDefined();
  return row!;
};
/** The tree rows, each checked to start (after its indentation) with the given text, in order. */
function expectTree(frame: string, prefixes: readonly string[]): void {
  const rows = parts(frame).tree.map((line) => line.trim());
  expect(rows, frame).toHaveLength(prefixes.length);
  rows.forEach((row, i) => {
    expect(row.startsWith(prefixes[i]!), `row ${i}: "${row}" should start with "${prefixes[i]}"`).toBe(true);
  });
}
/** Wrapped detail lines (each indented by 2) joined back into the text they came from. */
const unwrap = (lines: readonly string[]) => lines.map((line) => line.slice(2)).join('');
const cursorSeq = (frame: string) => Number(/ seq (\d+)\//.exec(parts(frame).status)?.[1]);

// ---- the App ---------------------------------------------------------------------------------------------------

describe('App', () => {
  it('draws the header and the tree: icons, indentation, labels, previews, tags', async () => {
    let pass: (verdict: string) => void = () => {};
    const screen = await mount(() => new Promise((resolve) => (pass = resolve)));
    let frame = screen.lastFrame();
    expect(parts(frame).header[0]).toContain('verifying…');
    pass('VALID');
    frame = await screen.waitFor('the verdict', (f) => parts(f).header[0]!.includes('VALID'));
    const { header, tree, status } = parts(frame);
    expect(header[0]).toContain('agent-replay');
    expect(header[0]).toContain('config-agent');
    expect(header[0]).toContain('sess-config');
    expect(header[0]).toContain('dana@example.com (human) unverified');
    expect(header[1]).toContain('completed');
    expect(header[1]).toContain(
      '2 model calls · 4 tool calls · 1 denial · 1 error · 295 tokens · ' + `${S.records} records`,
    );
    // Every row, in order (span ends, the trace end and the decision record are no rows of their own).
    expectTree(frame, [
      '● session started',
      '▾ ◎ trace config-agent',
      '▾ □ task Agent workflow',
      '▾ ◆ agent Configurator',
      '▾ ↻ turn 1',
      '◇ model gpt-test → push_config',
      '¶ policy push_config deny: push',
      'ƒ tool push_config (environment=stagi',
      '▾ ↻ turn 2',
      '◇ model gpt-test “Drained the',
      'ƒ tool lookup_runbook (topic=rollback)',
      'ƒ tool render_banner (text=\\x1b]0;pwned',
      'ƒ tool read_audit ()',
      '● session completed',
    ]);
    expect(tree).toHaveLength(14);
    // Indentation: two columns a level, after the search-hit mark.
    expect(treeRow(frame, 'turn 1')).toMatch(/^ {7}▾ ↻ turn 1/);
    expect(treeRow(frame, 'policy push_config')).toMatch(/^ {11}¶ policy/);
    // Tags, tokens and durations on the right.
    expect(treeRow(frame, 'policy push_config')).toMatch(/DENIED {2}5ms$/);
    expect(treeRow(frame, 'read_audit')).toMatch(/ERROR {2}300ms$/);
    expect(treeRow(frame, 'tool push_config')).toMatch(/ 400ms$/);
    expect(treeRow(frame, 'model gpt-test → push_config')).toMatch(/120 tok {2}5ms$/);
    expect(treeRow(frame, 'turn 1')).not.toContain('DENIED');
    // Every line fits the terminal exactly: nothing wraps into the next row.
    for (const line of frame.split('\n')) expect(stringWidth(line)).toBeLessThanOrEqual(COLUMNS);
    expect(status).toMatch(/^ seq 1\/\d+ /);
    expect(status).toContain('[tree]');
  });

  it('shows the detail of the selected row: the decision after d, pretty-printed tool arguments after j', async () => {
    const screen = await mount();
    await screen.press('d');
    let frame = await screen.waitFor('the policy row selected', (f) => cursorSeq(f) === S.policy);
    frame = await screen.waitFor('the decision detail', (f) => parts(f).detail.includes('Policy decision'));
    let { detail } = parts(frame);
    expect(detail).toContain('  decision: deny');
    expect(detail).toContain('  subject: tool push_config');
    expect(detail).toContain('  rule: no-prod-writes');
    expect(detail).toContain('  reason: push to staging first');
    expect(detail).toContain('  policy: config-policy v2');
    expect(detail).toContain('  decided by: engine: policy-engine');

    await screen.press('j');
    frame = await screen.waitFor('the tool detail', (f) => parts(f).detail.includes('Arguments'));
    expect(cursorSeq(frame)).toBe(S.push);
    detail = parts(frame).detail;
    const args = detail.indexOf('Arguments');
    expect(detail.slice(args, args + 5)).toEqual([
      'Arguments',
      '  {',
      '    "environment": "staging",',
      '    "dry_run": false',
      '  }',
    ]);
    expect(detail).toContain('  pushed config v42 to staging');
    expect(detail).toContain('  tool: push_config');

    // Down arrow moves too; the detail follows.
    await screen.press('\u001b[B');
    frame = await screen.waitFor('turn 2 selected', (f) => cursorSeq(f) === S.turn2);
    frame = await screen.waitFor('the turn detail', (f) => parts(f).detail.includes('turn span'));
    // Up, and G/g for the ends.
    await screen.press('k');
    await screen.waitFor('back on the tool', (f) => cursorSeq(f) === S.push);
    await screen.press('G');
    frame = await screen.waitFor('the last row', (f) => cursorSeq(f) === S.sessionEnd);
    await screen.waitFor('the session end detail', (f) => parts(f).detail.includes('Session end'));
    await screen.press('g');
    await screen.waitFor('the first row', (f) => cursorSeq(f) === S.session);
  });

  it('marks the items of a model call that are new since the previous one with +', async () => {
    const screen = await mount();
    await screen.type('quokkaline');
    await screen.press('\r');
    await screen.waitFor(
      'the second model call and its transcript',
      (f) => cursorSeq(f) === S.model2 && parts(f).detail.includes('Input'),
    );
    // Zoomed: the detail pane has the whole width.
    await screen.press('z');
    const frame = await screen.waitFor('the zoomed detail', (f) =>
      parts(f).status.includes('detail (zoomed)'),
    );
    const detail = parts(frame).body.map((line) => line.trimEnd());
    expect(detail).toContain('  4 input items, 2 new since the previous model call (marked +)');
    expect(detail).toContain('+ → call push_config');
    expect(detail).toContain('+ ← result push_config');
    expect(detail).toContain('  system:');
    expect(detail).not.toContain('+ system:');
  });

  it('searches: the prompt, Enter jumps to the first hit, n/N move through hits, the status counts them', async () => {
    const screen = await mount();
    await screen.press('/');
    let frame = await screen.waitFor('the search prompt', (f) => parts(f).status.includes('Enter search'));
    expect(parts(frame).status).toMatch(/^ \/▏/);
    await screen.press('QUOKKA');
    await screen.press('line');
    frame = await screen.waitFor('the typed query', (f) => parts(f).status.startsWith(' /QUOKKAline▏'));
    await screen.press('\u007f'); // backspace
    await screen.waitFor('the query minus a letter', (f) => parts(f).status.startsWith(' /QUOKKAlin▏'));
    await screen.press('e');
    await screen.press('\r');
    frame = await screen.waitFor('the first hit', (f) => parts(f).status.includes('"QUOKKAline" 1/2 hits'));
    expect(cursorSeq(frame)).toBe(S.model2);
    // Hits are marked in the tree.
    expect(treeRow(frame, 'model gpt-test “Drained')).toMatch(/^\*/);
    expect(treeRow(frame, 'tool lookup_runbook')).toMatch(/^\*/);
    expect(treeRow(frame, 'tool push_config')).toMatch(/^ /);
    await screen.press('n');
    frame = await screen.waitFor('the second hit', (f) => parts(f).status.includes('2/2 hits'));
    expect(cursorSeq(frame)).toBe(S.lookup);
    await screen.press('n');
    frame = await screen.waitFor('wrapped to the first hit', (f) => parts(f).status.includes('1/2 hits'));
    expect(cursorSeq(frame)).toBe(S.model2);
    await screen.press('N');
    frame = await screen.waitFor('back, wrapping to the last hit', (f) =>
      parts(f).status.includes('2/2 hits'),
    );
    expect(cursorSeq(frame)).toBe(S.lookup);

    // Esc cancels a prompt without searching; a query without hits says so on n.
    await screen.type('zzz-nothing');
    await screen.press('\u001b');
    frame = await screen.waitFor('the prompt closed', (f) => !parts(f).status.includes('Enter search'));
    expect(parts(frame).status).toContain('"QUOKKAline"');
    await screen.type('zzz-nothing');
    await screen.press('\r');
    frame = await screen.waitFor('no hits', (f) => parts(f).status.includes('"zzz-nothing" 0 hits'));
    await screen.press('n');
    frame = await screen.waitFor('the no-hits message', (f) => parts(f).status.includes('no hits for'));
    expect(cursorSeq(frame)).toBe(S.lookup);
  });

  it('filters by kind from the f menu: 1 shows model calls and their ancestors, a the attention rows, 0 clears', async () => {
    const screen = await mount();
    const all = parts(screen.lastFrame()).tree;
    await screen.press('f');
    let frame = await screen.waitFor('the filter menu', (f) => f.includes('Show only'));
    expect(frame).toContain('[ ] 1  model calls');
    expect(frame).toContain('[ ] a  only what needs attention');
    await screen.press('1');
    frame = await screen.waitFor('model calls ticked', (f) => f.includes('[x] 1  model calls'));
    await screen.press('\r');
    frame = await screen.waitFor(
      'the filtered tree',
      (f) => !f.includes('Show only') && f.includes(' filtered '),
    );
    expectTree(frame, [
      '▾ ◎ trace config-agent',
      '▾ □ task Agent workflow',
      '▾ ◆ agent Configurator',
      '▾ ↻ turn 1',
      '◇ model gpt-test → push_config',
      '▾ ↻ turn 2',
      '◇ model gpt-test “Drained the',
    ]);
    // The cursor left the hidden session row for the first row shown.
    expect(cursorSeq(frame)).toBe(S.trace);

    // Attention only (and no kind filter): the denial, the failing tool and what contains them.
    await screen.filters();
    await screen.press('1');
    await screen.press('a');
    await screen.waitFor('attention ticked', (f) => f.includes('[ ] 1  model') && f.includes('[x] a  only'));
    await screen.press('\r');
    frame = await screen.waitFor(
      'the attention filter',
      (f) => !f.includes('Show only') && f.includes('read_audit') && !f.includes('◇ model'),
    );
    expectTree(frame, [
      '▾ ◎ trace config-agent',
      '▾ □ task Agent workflow',
      '▾ ◆ agent Configurator',
      '▾ ↻ turn 1',
      '¶ policy push_config deny: push',
      '▾ ↻ turn 2',
      'ƒ tool read_audit ()',
    ]);

    await screen.filters();
    await screen.press('0');
    frame = await screen.waitFor('the filters cleared', (f) => f.includes('[ ] a  only'));
    await screen.press('\r');
    frame = await screen.waitFor('the menu closed', (f) => !f.includes('Show only'));
    expect(parts(frame).status).not.toContain('filtered');
    // Every row is back: everything fits, so the rows above the cursor (the trace) are shown too.
    expect(parts(frame).tree).toEqual(all);
    await screen.press('g');
    frame = await screen.waitFor('the first row', (f) => cursorSeq(f) === S.session);
    expect(parts(frame).tree).toEqual(all);
  });

  it('after a filter is cleared, rows above the cursor come back into view when everything fits', async () => {
    const screen = await mount();
    const all = parts(screen.lastFrame()).tree;
    expect(all).toHaveLength(14);
    await screen.filters();
    await screen.press('1');
    await screen.waitFor('model calls ticked', (f) => f.includes('[x] 1  model calls'));
    await screen.press('0');
    await screen.waitFor('the filters cleared', (f) => f.includes('[ ] 1  model calls'));
    await screen.press('\r');
    const frame = await screen.waitFor('the menu closed', (f) => !f.includes('Show only'));
    // 14 rows and 27 lines of screen: nothing needs to stay scrolled out of view above the cursor.
    expect(parts(frame).tree[0]).toBe(all[0]);
    expect(parts(frame).tree).toHaveLength(14);
  });

  it('shows the help on ? and closes it on any key', async () => {
    const screen = await mount();
    await screen.press('?');
    let frame = await screen.waitFor('the help', (f) => f.includes(' Keys'));
    expect(frame).toContain('first / last row');
    expect(frame).toContain('next / previous denial or error');
    expect(frame).toContain('any key closes this help');
    expect(frame).not.toContain('session started');
    await screen.press('j');
    frame = await screen.waitFor(
      'the tree again',
      (f) => !f.includes(' Keys') && f.includes('session started'),
    );
    // The key that closed the help did nothing else.
    expect(cursorSeq(frame)).toBe(S.session);
  });

  it('collapses a row with Enter (children hidden, what is inside summarised) and expands it again', async () => {
    const screen = await mount();
    for (let i = 0; i < 4; i++) await screen.press('j');
    let frame = await screen.waitFor('turn 1 selected', (f) => cursorSeq(f) === S.turn1);
    expect(parts(frame).tree).toHaveLength(14);
    await screen.press('\r');
    frame = await screen.waitFor('turn 1 collapsed', (f) => treeRow(f, 'turn 1').includes('▸'));
    const { tree } = parts(frame);
    expect(tree).toHaveLength(11);
    expect(tree.some((line) => line.includes('policy push_config'))).toBe(false);
    expect(tree.some((line) => line.includes('tool push_config'))).toBe(false);
    expect(treeRow(frame, 'turn 1')).toContain('(denied inside)');
    // Moving down skips what is collapsed.
    await screen.press('j');
    frame = await screen.waitFor('turn 2 selected', (f) => cursorSeq(f) === S.turn2);
    await screen.press('k');
    await screen.press(' ');
    frame = await screen.waitFor('turn 1 expanded', (f) => treeRow(f, 'turn 1').includes('▾'));
    expect(parts(frame).tree).toHaveLength(14);
    expect(treeRow(frame, 'turn 1')).not.toContain('inside');
  });

  it('never lets an escape sequence from the session reach the terminal', async () => {
    const screen = await mount();
    await screen.type('render_banner');
    await screen.press('\r');
    let frame = await screen.waitFor('the banner tool', (f) => cursorSeq(f) === S.banner);
    frame = await screen.waitFor('its detail', (f) => parts(f).detail.includes('Output'));
    // Shown, as visible escapes, in the tree preview and the detail pane.
    expect(treeRow(frame, 'render_banner')).toContain('\\x1b]0;pwned');
    const { detail } = parts(frame);
    const output = detail.indexOf('Output');
    expect(output).toBeGreaterThan(0);
    const end = detail.indexOf('', output);
    expect(unwrap(detail.slice(output + 1, end))).toBe(
      '\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred alert\\x9b31m \\u202eevil\\u202c',
    );
    // Zoomed, the same.
    await screen.press('z');
    frame = await screen.waitFor('the zoomed detail', (f) => parts(f).status.includes('detail (zoomed)'));
    expect(frame).toContain('\\x1b]0;pwned');
    for (const seen of [...screen.frames, frame]) {
      const text = stripStyles(seen);
      expect(text).not.toContain('\u001b');
      expect(text).not.toContain('\u0007');
      expect(text).not.toContain('\u009b');
      expect(text).not.toContain('\u202e');
      expect(text).not.toContain('\u202c');
    }
  });

  it('steps through a playback: rows after the head are hidden until they happen', async () => {
    const screen = await mount();
    await screen.press('.');
    let frame = await screen.waitFor('playback paused at the second record', (f) =>
      parts(f).status.includes('❚❚ paused'),
    );
    expectTree(frame, ['● session started', '▾ ◎ trace config-agent']);
    expect(treeRow(frame, 'trace config-agent')).toMatch(/running$/);
    for (let i = 0; i < 4; i++) await screen.press('.');
    frame = await screen.waitFor('the first model call started', (f) => cursorSeq(f) === S.model1);
    // Started and not ended at this point of the replay.
    expect(treeRow(frame, 'model gpt-test')).toMatch(/running$/);
    await screen.press(',');
    frame = await screen.waitFor('one step back', (f) => !f.includes('◇ model'));
    await screen.press('x');
    frame = await screen.waitFor('playback left', (f) => !parts(f).status.includes('paused'));
    expect(parts(frame).tree).toHaveLength(14);
  });
});

// ---- the pane builders -----------------------------------------------------------------------------------------

describe('panes', () => {
  let timeline: SessionTimeline;
  let view: TimelineView;
  beforeAll(async () => {
    timeline = await SessionTimeline.open(sessionPath);
    while (await timeline.loadMore(50)) {}
    view = new TimelineView(timeline);
    await view.settle();
  });
  afterAll(() => timeline.close());
  const ctx = () => ({ view, previews: new Map<number, string>(), hits: new Set<number>(), focused: true });
  const text = (line: { text: string }[]) => line.map((span) => span.text).join('');
  const row = (seq: number) => timeline.outline.row(seq)!;

  it('treeLine fits the width exactly, colours by flag and marks the cursor and hits', () => {
    for (const columns of [20, 55, 80]) {
      for (let seq = 1; seq <= timeline.recordCount; seq++) {
        const r = timeline.outline.row(seq);
        if (r)
          expect(stringWidth(text(treeLine(r, columns, ctx()))), `row ${seq} at ${columns}`).toBe(columns);
      }
    }
    const policy = treeLine(row(S.policy), 55, ctx());
    expect(policy[0]!.color).toBe('red');
    expect(text(policy)).toMatch(/DENIED {2}5ms$/);
    view.cursor = S.policy;
    expect(treeLine(row(S.policy), 55, ctx())[0]).toMatchObject({ inverse: true, bold: true });
    expect(treeLine(row(S.policy), 55, { ...ctx(), focused: false })[0]).toMatchObject({ inverse: false });
    expect(text(treeLine(row(S.push), 55, { ...ctx(), hits: new Set([S.push]) }))).toMatch(/^\*/);
    // A collapsed row carries the colour and a summary of what it hides.
    view.collapsed.add(S.turn2);
    const turn2 = treeLine(row(S.turn2), 55, ctx());
    expect(turn2[0]!.color).toBe('red');
    expect(text(turn2)).toContain('▸ ↻ turn 2');
    expect(text(turn2)).toContain('(error inside)');
    view.collapsed.clear();
  });

  it('treeLine in playback: a span not ended at the head is running and hides what its end revealed', () => {
    const audit = row(S.audit);
    expect(audit.flags & Flag.ERROR).toBe(Flag.ERROR);
    view.playback.head = audit.seq;
    try {
      const line = text(treeLine(audit, 55, ctx()));
      expect(line).toMatch(/running$/);
      expect(line).not.toContain('ERROR');
      expect(treeLine(audit, 55, ctx())[0]!.color).toBeUndefined();
      view.playback.head = audit.endSeq;
      expect(text(treeLine(audit, 55, ctx()))).toMatch(/ERROR {2}300ms$/);
    } finally {
      view.stopPlayback();
    }
  });

  it('treeLines pads to the height and says when rows are loading or nothing is shown', () => {
    const rows: TimelineRow[] = [row(S.session), row(S.trace)];
    const lines = treeLines(rows, true, 5, 40, ctx());
    expect(lines).toHaveLength(5);
    expect(text(lines[2]!)).toContain('loading…');
    expect(lines[3]).toEqual([]);
    expect(text(treeLines([], false, 3, 40, ctx())[0]!)).toContain('nothing to show');
  });

  it('detailLines wraps to the width, marks new items with + and sanitizes every string', async () => {
    const detail = await rowDetail(timeline, row(S.banner));
    const lines = detailLines(detail.sections, 30).map(text);
    for (const line of lines) {
      expect(stringWidth(line)).toBeLessThanOrEqual(30);
      expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
    }
    expect(lines.join('')).toContain('\\x1b]0;pwned');
    const model = detailLines((await rowDetail(timeline, row(S.model2))).sections, 60).map(text);
    expect(model).toContain('+ → call push_config');
    expect(model.filter((line) => line.startsWith('+ '))).toEqual([
      '+ → call push_config',
      '+ {',
      '+   "environment": "staging"',
      '+ }',
      '+ ← result push_config',
      '+ pushed config v42 to staging',
    ]);
    const titled = detailLines([{ title: 'bad\u001b[2Jtitle', lines: [{ text: 'x', tone: 'new' }] }], 40);
    expect(text(titled[0]!)).toBe('bad\\x1b[2Jtitle');
    expect(titled[1]).toEqual([{ text: '+ x', color: 'green' }]);
  });

  it('headerLines clips to the width, sanitizes and colours the verdict', () => {
    const lines = headerLines(
      {
        workflow: `wf${BOMB}`,
        sessionId: 's'.repeat(200),
        identity: 'dana',
        verdict: 'TAMPERED',
        status: 'error',
        totals: 't',
        warning: 'reading stopped',
      },
      40,
    );
    expect(text(lines[0]!)).toContain('wf\\x1b]0;pwned');
    for (const span of lines.flat()) expect(stringWidth(span.text)).toBeLessThanOrEqual(40);
    expect(lines[0]!.find((span) => span.text.includes('TAMPERED'))?.color).toBe('red');
    expect(lines[1]![0]).toMatchObject({ text: ' error ', color: 'red' });
    expect(lines[1]!.some((span) => span.text.includes('reading stopped'))).toBe(true);
    const valid = headerLines(
      {
        workflow: 'w',
        sessionId: 's',
        identity: 'i',
        verdict: 'VALID',
        status: 'completed',
        totals: '',
        warning: '',
      },
      80,
    );
    expect(valid[0]!.find((span) => span.text.includes('VALID'))?.color).toBe('green');
    expect(valid[1]).toHaveLength(2);
  });
});
