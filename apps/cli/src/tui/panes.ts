/**
 * The screen's parts as lines of styled text: header, timeline tree, detail pane and status bar. Pure functions
 * of the view and what has been loaded, so components stay thin and tests can check exactly what a person sees.
 */
import {
  type DetailSection,
  Flag,
  type RowKind,
  type TimelineRow,
  type TimelineView,
  type Tone,
} from '@agent-replay/analysis';
import { compact } from '../display.js';
import { type Color, clip, type Line, type Span, safe, width, wrap } from './screen-text.js';

export const ICONS: Readonly<Record<RowKind, string>> = {
  none: ' ',
  session: '●',
  trace: '◎',
  task: '□',
  agent: '◆',
  turn: '↻',
  model: '◇',
  tool: 'ƒ',
  handoff: '⇄',
  guardrail: '‡',
  policy: '¶',
  approval: '¤',
  identity: '@',
  custom: '·',
  mcp: '⊕',
  audio: '♪',
  recovery: '↯',
  divergence: '≠',
  other: '·',
};

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
  return `${Math.floor(ms / 3_600_000)}h${Math.round((ms % 3_600_000) / 60_000)}m`;
}

/** The colour a row is painted in: what a person must not miss first. */
function rowColor(flags: number): Color | undefined {
  if (flags & (Flag.DENIED | Flag.ERROR)) return 'red';
  if (flags & Flag.APPROVAL) return 'yellow';
  if (flags & Flag.REDACTED) return 'magenta';
  return undefined;
}

function tags(flags: number): string {
  const out: string[] = [];
  if (flags & Flag.DENIED) out.push('DENIED');
  if (flags & Flag.ERROR) out.push('ERROR');
  if (flags & Flag.APPROVAL) out.push('APPROVAL');
  if (flags & Flag.REDACTED) out.push('REDACTED');
  return out.join(' ');
}

export interface TreeContext {
  view: TimelineView;
  previews: ReadonlyMap<number, string>;
  hits: ReadonlySet<number>;
  focused: boolean;
}

/** One tree row: indent, expander, icon, kind, name, preview; duration and tokens on the right. */
export function treeLine(row: TimelineRow, columns: number, ctx: TreeContext): Line {
  const { view } = ctx;
  const head = view.playback.head;
  // In playback a span that has not ended yet shows as running, and what its end revealed stays hidden.
  const ended = row.endSeq > 0 && row.endSeq <= head;
  const flags = row.endSeq > head ? row.flags & ~(Flag.DENIED | Flag.ERROR | Flag.REDACTED) : row.flags;
  const collapsed = view.collapsed.has(row.seq);
  const below = collapsed ? row.subtreeFlags : 0;
  const expander = row.flags & Flag.HAS_CHILDREN ? (collapsed ? '▸' : '▾') : ' ';
  const indent = ' '.repeat(Math.min(row.depth, 24) * 2);
  const selected = row.seq === view.cursor;
  const color = rowColor(flags) ?? rowColor(below);
  const right: string[] = [];
  const tagText = tags(flags);
  if (tagText) right.push(tagText);
  else if (below) right.push(`(${tags(below).toLowerCase()} inside)`);
  if (row.tokens) right.push(`${compact(row.tokens)} tok`);
  if (ended) right.push(duration(row.endMs - row.startMs));
  else if (row.flags & Flag.OPEN || row.endSeq > head) right.push('running');
  const rightText = right.join('  ');
  const preview = ctx.previews.get(row.seq);
  // Turns and session markers are named for what they are ("turn 3", "session completed").
  const label =
    row.kind === 'turn' || row.kind === 'session' ? safe(row.name) : `${row.kind} ${safe(row.name)}`;
  const left = `${indent}${expander} ${ICONS[row.kind]} ${label}${preview ? ` ${safe(preview)}` : ''}`;
  const room = Math.max(0, columns - width(rightText) - 1);
  const mark = ctx.hits.has(row.seq) ? '*' : ' ';
  const leftFitted = clip(`${mark}${left}`, room);
  const pad = ' '.repeat(Math.max(1, columns - width(leftFitted) - width(rightText)));
  const style: Partial<Span> = {
    ...(color ? { color } : {}),
    ...(selected ? { inverse: ctx.focused, bold: true } : {}),
  };
  return [{ text: `${leftFitted}${pad}${rightText}`, ...style }];
}

/** The tree pane: `height` lines from the view's top (loading rows say so). */
export function treeLines(
  rows: readonly (TimelineRow | undefined)[],
  pending: boolean,
  height: number,
  columns: number,
  ctx: TreeContext,
): Line[] {
  const lines: Line[] = [];
  for (const row of rows) if (row && lines.length < height) lines.push(treeLine(row, columns, ctx));
  if (pending && lines.length < height) lines.push([{ text: '  loading…', dim: true }]);
  if (lines.length === 0)
    lines.push([{ text: '  nothing to show (f: filter, x: leave playback)', dim: true }]);
  while (lines.length < height) lines.push([]);
  return lines;
}

const TONES: Readonly<Record<Tone, Partial<Span>>> = {
  plain: {},
  dim: { color: 'gray' },
  key: { bold: true },
  new: { color: 'green' },
  error: { color: 'red' },
  denied: { color: 'red', bold: true },
  approval: { color: 'yellow' },
  ok: { color: 'green' },
};

/** Detail sections as wrapped lines (all of them: the pane shows a window, zoom shows more). */
export function detailLines(sections: readonly DetailSection[], columns: number): Line[] {
  const lines: Line[] = [];
  for (const section of sections) {
    if (lines.length > 0) lines.push([]);
    lines.push([{ text: safe(section.title), color: 'cyan', bold: true }]);
    for (const entry of section.lines) {
      const prefix = entry.tone === 'new' ? '+ ' : '  ';
      const pieces = wrap(safe(entry.text), Math.max(8, columns - 2));
      pieces.forEach((piece, i) => {
        lines.push([{ text: `${i === 0 ? prefix : '  '}${piece}`, ...TONES[entry.tone] }]);
      });
    }
  }
  return lines;
}

export interface HeaderInfo {
  workflow: string;
  sessionId: string;
  identity: string;
  verdict: string;
  status: string;
  totals: string;
  /** Why the file could not be read to its end (torn tail, damage); empty when it could. */
  warning: string;
}

export function headerLines(info: HeaderInfo, columns: number): Line[] {
  const verdictColor: Color =
    info.verdict === 'VALID'
      ? 'green'
      : info.verdict === 'UNSEALED' || info.verdict === 'TORN'
        ? 'yellow'
        : info.verdict === 'verifying…'
          ? 'gray'
          : 'red';
  const statusColor: Color =
    info.status === 'completed' ? 'green' : info.status === 'error' ? 'red' : 'yellow';
  const lines: Line[] = [
    [
      { text: ' agent-replay ', inverse: true, bold: true },
      // The verdict first: whatever the width, it must not be the part that is cut off.
      { text: ` ${info.verdict} `, color: verdictColor, bold: true },
      { text: ` ${safe(info.workflow)} `, bold: true },
      { text: ` ${safe(info.identity)} ` },
      { text: ` ${safe(info.sessionId)} `, color: 'gray' },
    ],
    [
      { text: ` ${info.status} `, color: statusColor },
      ...(info.warning ? [{ text: ` ${safe(info.warning)} `, color: 'red', bold: true } as const] : []),
      { text: ` ${info.totals}`, color: 'gray' },
    ],
  ];
  return lines.map((line) => line.map((span) => ({ ...span, text: clip(span.text, columns) })));
}
