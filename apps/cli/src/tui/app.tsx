/**
 * `agent-replay open`: the timeline of one session, a detail pane for the selected row, search, filters, jumps to
 * denials and errors, playback and follow mode. The view state lives in a TimelineView (analysis); this component
 * turns keys into view operations (one at a time, in order) and draws the lines the pane builders return.
 */
import {
  type DetailSection,
  type RowKind,
  rowDetail,
  rowPreview,
  type SessionTimeline,
  type TimelineRow,
  TimelineSearch,
  TimelineView,
} from '@agent-replay/analysis';
import { type Key, useApp, useInput } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { compact, count, plural } from '../display.js';
import { detailLines, duration, headerLines, treeLines } from './panes.js';
import { besides, fitLine, type Line, safe } from './screen-text.js';
import { Lines, useTerminalSize } from './terminal-hooks.js';

export interface AppProps {
  timeline: SessionTimeline;
  /** Verifies the session file (in a worker thread in the CLI); resolves with the verdict. */
  verify: () => Promise<string>;
  follow?: boolean;
  /** Fixed size (tests); else the terminal's, following resizes. */
  size?: { columns: number; rows: number };
}

/** Kinds the filter menu offers, by key. */
export const FILTERS: readonly { key: string; label: string; kinds: readonly RowKind[] }[] = [
  { key: '1', label: 'model calls', kinds: ['model'] },
  { key: '2', label: 'tool calls', kinds: ['tool', 'mcp'] },
  { key: '3', label: 'policy decisions and approvals', kinds: ['policy', 'approval'] },
  { key: '4', label: 'handoffs', kinds: ['handoff'] },
  { key: '5', label: 'guardrails', kinds: ['guardrail'] },
  { key: '6', label: 'agents and turns', kinds: ['agent', 'turn'] },
  { key: '7', label: 'identities', kinds: ['identity'] },
];

export const HELP: readonly (readonly [string, string])[] = [
  ['↑ ↓  j k', 'move'],
  ['PgUp PgDn', 'page'],
  ['g G  Home End', 'first / last row'],
  ['Enter Space', 'expand / collapse'],
  ['Tab', 'switch between tree and detail (arrows scroll the focused pane)'],
  ['z', 'zoom the detail pane to the whole screen'],
  ['/  n  N', 'search, next hit, previous hit'],
  ['f', 'filter by kind (a: only denials, errors, approvals, redactions)'],
  ['d  D', 'next / previous denial or error'],
  ['p', 'play / pause (events appear as they happened)'],
  ['+ -', 'playback speed 0.5× … 16×'],
  ['← →  , .', 'step back / forward one event'],
  ['i', 'idle cap on/off (long waits compressed to 2 s)'],
  ['x', 'leave playback (show everything)'],
  ['?', 'this help'],
  ['q', 'quit'],
];

type Overlay = 'none' | 'help' | 'filter' | 'search';

interface UiState {
  overlay: Overlay;
  focus: 'tree' | 'detail';
  zoom: boolean;
  /** First detail line on screen, and how many lines the detail has (as last drawn). */
  detailTop: number;
  detailLength: number;
  /** The search being typed. */
  query: string;
  filterKeys: ReadonlySet<string>;
}

const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/** The key one character of a multi-character read stands for. */
function keyOf(char: string): Key {
  return {
    ...NO_KEY,
    return: char === '\r' || char === '\n',
    tab: char === '\t',
    backspace: char === '\u007f' || char === '\b',
    shift: char !== char.toLowerCase(),
  };
}

const TREE_SHARE = 0.55;
const HEADER_ROWS = 2;
const STATUS_ROWS = 1;

function identityText(timeline: SessionTimeline): string {
  const who = timeline.start?.identity as { subject?: string; verified?: boolean; kind?: string } | undefined;
  if (!who?.subject) return 'no identity';
  return `${who.subject}${who.kind ? ` (${who.kind})` : ''}${who.verified ? ' ✓ verified' : ' unverified'}`;
}

function totalsText(timeline: SessionTimeline): string {
  const totals = timeline.sessionTotals();
  const c = totals.counts ?? ({} as Record<string, number>);
  const parts = [
    plural(c.model_calls ?? 0, 'model call'),
    plural(c.tool_calls ?? 0, 'tool call'),
    plural(c.denials ?? 0, 'denial'),
    plural(c.errors ?? 0, 'error'),
    `${compact(totals.usage?.total_tokens ?? 0)} tokens`,
    plural(timeline.recordCount, 'record'),
  ];
  return parts.join(' · ');
}

export function App({ timeline, verify, follow = false, size: fixedSize }: AppProps) {
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize(fixedSize);
  const view = useMemo(() => new TimelineView(timeline), [timeline]);
  const [, setVersion] = useState(0);
  const redraw = useCallback(() => setVersion((v) => v + 1), []);
  const queue = useRef<Promise<void>>(Promise.resolve());
  // What keys change lives in a ref, not in React state: keys can arrive faster than renders, and each must see
  // what the one before it did (Tab then ↓ scrolls the detail, / then q types a q).
  const ui = useRef<UiState>({
    overlay: 'none',
    focus: 'tree',
    zoom: false,
    detailTop: 0,
    detailLength: 0,
    query: '',
    filterKeys: new Set(),
  }).current;
  const [detail, setDetail] = useState<{ seq: number; sections: DetailSection[] }>();
  const [verdict, setVerdict] = useState('verifying…');
  const [message, setMessage] = useState('');
  const search = useRef<TimelineSearch | undefined>(undefined);

  const bodyRows = Math.max(3, rows - HEADER_ROWS - STATUS_ROWS);
  const { overlay, focus, zoom } = ui;
  const treeColumns = zoom ? 0 : Math.max(30, Math.floor(columns * TREE_SHARE));
  const detailColumns = zoom ? columns : columns - treeColumns - 1;

  /** Runs view operations one after another (keys arrive faster than segments decode) and redraws after each. */
  const act = useCallback(
    (operation: () => Promise<unknown> | unknown) => {
      queue.current = queue.current
        .then(async () => {
          await operation();
        })
        .catch((error: unknown) =>
          setMessage(`error: ${error instanceof Error ? error.message : String(error)}`),
        )
        .finally(redraw);
    },
    [redraw],
  );

  // First rows, then the rest of the outline in the background.
  useEffect(() => {
    let stopped = false;
    act(() => view.settle());
    // Redrawing costs as much as loading: only when the percentage shown moves, or the end is reached.
    const percent = () => Math.floor((100 * timeline.loadedThrough) / Math.max(1, timeline.recordCount));
    const step = async () => {
      if (stopped) return;
      const before = percent();
      const more = await timeline.loadMore(12);
      if (!more || percent() !== before) redraw();
      if (more) setImmediate(step);
    };
    setImmediate(step);
    return () => {
      stopped = true;
    };
  }, [act, redraw, timeline, view]);

  useEffect(() => {
    let live = true;
    verify().then(
      (v) => live && setVerdict(v),
      () => live && setVerdict('UNREADABLE'),
    );
    return () => {
      live = false;
    };
  }, [verify]);

  // Follow: pick up appended records; stay at the end if the cursor was on the last row.
  useEffect(() => {
    if (!follow) return;
    const timer = setInterval(() => {
      act(async () => {
        const last = await view.find(timeline.recordCount + 1, -1, (s) => view.visible(s));
        const atEnd = last === undefined || view.cursor >= last;
        if ((await timeline.refresh()) && atEnd) await view.end(bodyRows);
      });
    }, 500);
    return () => clearInterval(timer);
  }, [act, bodyRows, follow, timeline, view]);

  // Playback: advance the head as the recorded times say (all records of one instant in one step).
  const { playing } = view.playback;
  useEffect(() => {
    if (!playing) return;
    const delay = view.delayToNext();
    if (delay === undefined) {
      view.pause();
      redraw();
      return;
    }
    const timer = setTimeout(
      () =>
        act(async () => {
          await view.stepPlayback(1, bodyRows);
          for (let i = 0; i < 500 && view.delayToNext() === 0; i++) await view.stepPlayback(1, bodyRows);
        }),
      Math.min(delay, 60_000),
    );
    return () => clearTimeout(timer);
  });

  const { rows: windowSeqs, pending } = view.window(bodyRows);
  const visibleRows: (TimelineRow | undefined)[] = windowSeqs.map((seq) => timeline.outline.row(seq));
  if (pending !== undefined) act(() => timeline.ensure(pending));

  // Detail of the selected row (a fast scroll asks only for where it stops).
  const cursor = view.cursor;
  useEffect(() => {
    const row = timeline.outline.row(cursor);
    if (!row) return;
    let live = true;
    const timer = setTimeout(() => {
      rowDetail(timeline, row).then(
        (d) => {
          if (!live) return;
          ui.detailTop = 0;
          setDetail({ seq: cursor, sections: d.sections });
        },
        (error: unknown) =>
          live &&
          setDetail({
            seq: cursor,
            sections: [{ title: 'Error', lines: [{ text: String(error), tone: 'error' }] }],
          }),
      );
    }, 15);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [cursor, timeline, ui]);

  // Previews (tool arguments, decision reasons, model answers) of the rows on screen, kept by seq.
  const previews = useRef(new Map<number, string>());
  const previewKey = windowSeqs.join(',');
  useEffect(() => {
    const cache = previews.current;
    const missing = previewKey
      .split(',')
      .map(Number)
      .filter((seq) => seq > 0 && !cache.has(seq));
    if (missing.length === 0) return;
    (async () => {
      if (cache.size > 5000) cache.clear();
      for (const seq of missing) {
        const row = timeline.outline.row(seq);
        cache.set(seq, row ? await rowPreview(timeline, row).catch(() => '') : '');
      }
      redraw();
    })();
  }, [previewKey, redraw, timeline]);

  const detailAll = useMemo(
    () => (detail && detail.seq === cursor ? detailLines(detail.sections, detailColumns) : []),
    [detail, cursor, detailColumns],
  );

  const startSearch = (text: string) => {
    search.current?.cancel();
    if (!text) {
      search.current = undefined;
      return;
    }
    const job = new TimelineSearch(timeline, text);
    search.current = job;
    let jumped = false;
    const from = view.cursor;
    job
      .run((progress) => {
        if (!jumped && progress.hits.length > 0) {
          const target =
            progress.hits.find((hit) => hit > from) ?? (progress.done ? progress.hits[0] : undefined);
          if (target !== undefined) {
            jumped = true;
            act(() => view.reveal(target, bodyRows));
          }
        }
        redraw();
      })
      .catch((error: unknown) => setMessage(`search failed: ${String(error)}`));
  };

  const jumpToHit = (direction: 1 | -1) => {
    const job = search.current;
    const target = job?.next(view.cursor, direction);
    if (target === undefined) {
      setMessage(job ? `no hits for "${safe(job.query)}"` : 'no search yet: press /');
      return;
    }
    act(() => view.reveal(target, bodyRows));
  };

  const applyFilter = (keys: ReadonlySet<string>) => {
    ui.filterKeys = keys;
    view.attentionOnly = keys.has('a');
    const kinds = FILTERS.filter((f) => keys.has(f.key)).flatMap((f) => f.kinds);
    act(() => view.setKinds(kinds, bodyRows));
  };

  const onKey = (input: string, key: Key) => {
    setMessage('');
    if (ui.overlay === 'search') {
      if (key.escape) ui.overlay = 'none';
      else if (key.return) {
        ui.overlay = 'none';
        startSearch(ui.query);
      } else if (key.backspace || key.delete) ui.query = ui.query.slice(0, -1);
      else if (input && !key.ctrl && !key.meta) ui.query += input;
      return redraw();
    }
    if (ui.overlay === 'help') {
      ui.overlay = 'none';
      return redraw();
    }
    if (ui.overlay === 'filter') {
      if (key.escape || key.return || input === 'f' || input === 'q') ui.overlay = 'none';
      else if (input === '0') applyFilter(new Set());
      else if (input === 'a' || FILTERS.some((f) => f.key === input)) {
        const next = new Set(ui.filterKeys);
        if (next.has(input)) next.delete(input);
        else next.add(input);
        applyFilter(next);
      }
      return redraw();
    }
    if (input === 'q' || (key.ctrl && input === 'c')) {
      search.current?.cancel();
      exit();
      return;
    }
    if (key.escape) {
      if (ui.zoom) ui.zoom = false;
      else if (ui.focus === 'detail') ui.focus = 'tree';
      return redraw();
    }
    const show = (overlay: Overlay) => {
      ui.overlay = overlay;
      redraw();
    };
    if (input === '?') return show('help');
    if (input === 'f') return show('filter');
    if (input === '/') {
      ui.query = '';
      return show('search');
    }
    if (key.tab) {
      ui.focus = ui.focus === 'tree' ? 'detail' : 'tree';
      return redraw();
    }
    if (input === 'z') {
      ui.focus = ui.zoom ? 'tree' : 'detail';
      ui.zoom = !ui.zoom;
      return redraw();
    }
    if (ui.focus === 'detail' || ui.zoom) {
      const max = Math.max(0, ui.detailLength - bodyRows);
      const scrollTo = (top: number) => {
        ui.detailTop = Math.max(0, Math.min(max, top));
        redraw();
      };
      if (key.upArrow || input === 'k') return scrollTo(ui.detailTop - 1);
      if (key.downArrow || input === 'j') return scrollTo(ui.detailTop + 1);
      if (key.pageUp) return scrollTo(ui.detailTop - (bodyRows - 1));
      if (key.pageDown) return scrollTo(ui.detailTop + (bodyRows - 1));
      if (input === 'g' || key.home) return scrollTo(0);
      if (input === 'G' || key.end) return scrollTo(max);
    }
    if (key.upArrow || input === 'k') return act(() => view.move(-1, bodyRows));
    if (key.downArrow || input === 'j') return act(() => view.move(1, bodyRows));
    if (key.pageUp) return act(() => view.move(-(bodyRows - 1), bodyRows));
    if (key.pageDown) return act(() => view.move(bodyRows - 1, bodyRows));
    if (input === 'g' || key.home) return act(() => view.home(bodyRows));
    if (input === 'G' || key.end) return act(() => view.end(bodyRows));
    if (key.return || input === ' ') return act(() => view.toggle());
    if (input === 'n') return jumpToHit(1);
    if (input === 'N') return jumpToHit(-1);
    if (input === 'd' || input === 'D') {
      const direction = input === 'd' ? 1 : -1;
      return act(async () => {
        if (!(await view.nextProblem(direction, bodyRows))) {
          setMessage(`no ${direction === 1 ? 'later' : 'earlier'} denial or error`);
        }
      });
    }
    if (input === 'p') {
      if (view.playback.playing) view.pause();
      else view.play();
      return act(() => view.scrollToCursor(bodyRows));
    }
    if (input === '+' || input === '=') return act(() => view.faster());
    if (input === '-') return act(() => view.slower());
    if (input === 'i') {
      view.playback.idleCapMs =
        view.playback.idleCapMs === Number.POSITIVE_INFINITY ? 2000 : Number.POSITIVE_INFINITY;
      return redraw();
    }
    if (input === 'x') {
      view.stopPlayback();
      return act(() => view.scrollToCursor(bodyRows));
    }
    if (key.rightArrow || input === '.') {
      view.pause();
      return act(() => view.stepPlayback(1, bodyRows));
    }
    if (key.leftArrow || input === ',') {
      view.pause();
      return act(() => view.stepPlayback(-1, bodyRows));
    }
  };
  // Ink hands over everything one read returned as one string ("jjj", or "/q" typed fast): one key at a time.
  useInput((input, key) => {
    if (input.length <= 1 || key.ctrl || key.meta) return onKey(input, key);
    for (const char of input) onKey(char, keyOf(char));
  });

  // ---- drawing ----
  const header = headerLines(
    {
      workflow: String(timeline.start?.workflow ?? '(no workflow)'),
      sessionId: String(timeline.start?.session_id ?? timeline.path),
      identity: identityText(timeline),
      verdict,
      status: timeline.status ?? (follow ? 'recording' : 'incomplete (no session.end)'),
      warning: timeline.stoppedAt
        ? `reading stopped at byte ${timeline.stoppedAt.offset}: ${timeline.stoppedAt.message}`
        : '',
      totals: totalsText(timeline),
    },
    columns,
  ).map((line) => fitLine(line, columns));

  const hits = new Set(search.current?.hits ?? []);
  const tree = treeLines(visibleRows, pending !== undefined, bodyRows, treeColumns, {
    view,
    previews: previews.current,
    hits,
    focused: focus === 'tree' && !zoom,
  });
  ui.detailLength = detailAll.length;
  const detailWindow = detailAll.slice(ui.detailTop, ui.detailTop + bodyRows);
  while (detailWindow.length < bodyRows) detailWindow.push([]);

  let body: Line[];
  if (overlay === 'help') {
    body = [
      [{ text: ' Keys', bold: true, color: 'cyan' }],
      ...HELP.map(([keys, what]): Line => [{ text: `  ${keys.padEnd(16)}`, bold: true }, { text: what }]),
      [{ text: '  any key closes this help', color: 'gray' }],
    ];
  } else if (overlay === 'filter') {
    body = [
      [{ text: ' Show only (toggle; 0 clears; Enter closes)', bold: true, color: 'cyan' }],
      ...FILTERS.map(
        (f): Line => [{ text: `  [${ui.filterKeys.has(f.key) ? 'x' : ' '}] ${f.key}  ${f.label}` }],
      ),
      [
        {
          text: `  [${ui.filterKeys.has('a') ? 'x' : ' '}] a  only what needs attention (denials, errors, approvals, redactions)`,
        },
      ],
    ];
  } else if (zoom) {
    body = detailWindow;
  } else {
    body = tree.map((left, i) => besides(left, detailWindow[i] ?? [], treeColumns, columns));
  }
  body = body.slice(0, bodyRows).map((line) => fitLine(line, columns));
  while (body.length < bodyRows) body.push(fitLine([], columns));

  const status = statusLine({
    view,
    timeline,
    columns,
    overlay,
    query: ui.query,
    search: search.current,
    message,
    follow,
    focus: zoom ? 'detail (zoomed)' : focus,
  });
  return <Lines lines={[...header, ...body, status]} />;
}

interface StatusInput {
  view: TimelineView;
  timeline: SessionTimeline;
  columns: number;
  overlay: Overlay;
  query: string;
  search: TimelineSearch | undefined;
  message: string;
  follow: boolean;
  focus: string;
}

function statusLine(s: StatusInput): Line {
  const { view, timeline } = s;
  if (s.overlay === 'search') {
    return fitLine(
      [
        { text: ` /${safe(s.query)}`, bold: true },
        { text: '▏' },
        { text: '  Enter search · Esc cancel', color: 'gray' },
      ],
      s.columns,
    );
  }
  const parts: Line = [];
  const total = timeline.recordCount;
  const row = timeline.outline.row(view.cursor);
  parts.push({ text: ` seq ${count(view.cursor)}/${count(total)} `, bold: true });
  if (row && Number.isFinite(row.startMs))
    parts.push({ text: ` ${new Date(row.startMs).toISOString().slice(11, 23)} ` });
  if (view.inPlayback) {
    const p = view.playback;
    const cap = p.idleCapMs === Number.POSITIVE_INFINITY ? 'no idle cap' : `idle≤${duration(p.idleCapMs)}`;
    parts.push({
      text: ` ${p.playing ? '▶ playing' : '❚❚ paused'} ${p.speed}× ${cap} `,
      color: 'cyan',
      bold: true,
    });
  }
  if (s.follow) parts.push({ text: ' following ', color: 'cyan' });
  if (!timeline.fullyLoaded) {
    parts.push({
      text: ` loading ${Math.floor((100 * timeline.loadedThrough) / Math.max(1, total))}% `,
      color: 'gray',
    });
  }
  if (view.kindMask !== 0 || view.attentionOnly) parts.push({ text: ' filtered ', color: 'yellow' });
  if (s.search) {
    const p = s.search.progress;
    const at = s.search.hits.indexOf(view.cursor);
    const scanning = p.done ? '' : ` scanning ${Math.floor((100 * p.scanned) / Math.max(1, p.total))}%`;
    parts.push({
      text: ` "${safe(s.search.query)}" ${at >= 0 ? `${at + 1}/` : ''}${count(p.hits.length)} hits${scanning} `,
      color: 'magenta',
    });
  }
  if (s.message) parts.push({ text: ` ${safe(s.message)} `, color: 'yellow' });
  parts.push({ text: ` [${s.focus}]  ? help  / search  d denial  f filter  p play  q quit`, color: 'gray' });
  return fitLine(parts, s.columns);
}
