/**
 * `agent-replay diff --tui`: the two sessions side by side, one aligned step per row (equal steps plain, changed
 * yellow, only-in-A red, only-in-B green), the selected difference explained below, and keys to jump between
 * differences.
 */
import type { AlignedRow, DiffEntry, SessionDiff, StepRef } from '@agent-replay/analysis';
import { useApp, useInput } from 'ink';
import { useState } from 'react';
import { besides, type Color, fitLine, type Line, safe } from './screen-text.js';
import { Lines, useTerminalSize } from './terminal-hooks.js';

export interface DiffAppProps {
  report: SessionDiff;
  size?: { columns: number; rows: number };
}

const STATUS_COLOR: Readonly<Record<AlignedRow['status'], Color | undefined>> = {
  equal: undefined,
  changed: 'yellow',
  added: 'green',
  removed: 'red',
};

function cell(step: StepRef | null, kind: string): string {
  if (!step) return '';
  const turn = step.turn > 0 ? `t${step.turn} ` : '';
  return `${turn}${kind} ${step.name}  #${step.seq}`;
}

/** The diff entry describing a row, if it is one of the changes. */
function entryFor(report: SessionDiff, row: AlignedRow | undefined): DiffEntry | undefined {
  if (!row || row.status === 'equal') return undefined;
  return report.changes.find(
    (e) =>
      e.status === row.status &&
      (e.a?.seq ?? -1) === (row.a?.seq ?? -1) &&
      (e.b?.seq ?? -1) === (row.b?.seq ?? -1),
  );
}

export function DiffApp({ report, size }: DiffAppProps) {
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize(size);
  const aligned = report.aligned ?? [];
  const differences = aligned.flatMap((row, i) => (row.status === 'equal' ? [] : [i]));
  const [cursor, setCursor] = useState(differences[0] ?? 0);
  const detailRows = Math.max(4, Math.floor((rows - 3) / 3));
  const listRows = Math.max(3, rows - 3 - detailRows);
  const [top, setTop] = useState(Math.max(0, (differences[0] ?? 0) - Math.floor(listRows / 2)));

  const moveTo = (index: number) => {
    const next = Math.max(0, Math.min(aligned.length - 1, index));
    setCursor(next);
    setTop((t) => (next < t ? next : next >= t + listRows ? next - listRows + 1 : t));
  };
  useInput((input, key) => {
    if (input === 'q' || key.escape) return exit();
    if (key.upArrow || input === 'k') return moveTo(cursor - 1);
    if (key.downArrow || input === 'j') return moveTo(cursor + 1);
    if (key.pageUp) return moveTo(cursor - listRows);
    if (key.pageDown) return moveTo(cursor + listRows);
    if (input === 'g' || key.home) return moveTo(0);
    if (input === 'G' || key.end) return moveTo(aligned.length - 1);
    if (input === 'n' || key.tab)
      return moveTo(differences.find((i) => i > cursor) ?? differences[0] ?? cursor);
    if (input === 'N') return moveTo(differences.findLast((i) => i < cursor) ?? differences.at(-1) ?? cursor);
  });

  const half = Math.floor((columns - 1) / 2);
  const lines: Line[] = [];
  const c = report.counts;
  lines.push(
    fitLine(
      [
        { text: ' agent-replay diff ', inverse: true, bold: true },
        { text: ` A ${safe(report.a.workflow ?? '?')} ${safe(report.a.session_id ?? '')}`, color: 'red' },
        { text: `  B ${safe(report.b.workflow ?? '?')} ${safe(report.b.session_id ?? '')}`, color: 'green' },
      ],
      columns,
    ),
  );
  lines.push(
    fitLine(
      [
        report.equivalent
          ? { text: ' equivalent ', color: 'green', bold: true }
          : {
              text: ` first divergence: ${safe(report.first_divergence?.reason ?? '')} `,
              color: 'yellow',
              bold: true,
            },
        {
          text: ` ${c.equal} equal · ${c.changed} changed · ${c.removed} only in A · ${c.added} only in B`,
          color: 'gray',
        },
      ],
      columns,
    ),
  );
  for (let i = top; i < top + listRows; i++) {
    const row = aligned[i];
    if (!row) {
      lines.push(fitLine([], columns));
      continue;
    }
    const color = STATUS_COLOR[row.status];
    const style = { ...(color ? { color } : {}), ...(i === cursor ? { inverse: true } : {}) };
    const mark =
      row.status === 'equal' ? ' ' : row.status === 'changed' ? '~' : row.status === 'added' ? '+' : '-';
    lines.push(
      besides(
        [{ text: `${mark} ${safe(cell(row.a, row.kind))}`, ...style }],
        [{ text: ` ${safe(cell(row.b, row.kind))}`, ...style }],
        half,
        columns,
      ),
    );
  }
  const entry = entryFor(report, aligned[cursor]);
  const detail: Line[] = [[{ text: '─'.repeat(columns), color: 'gray' }]];
  if (!entry)
    detail.push([{ text: aligned.length ? ' the same in both sessions' : ' no steps', color: 'gray' }]);
  else {
    detail.push([{ text: ` ${entry.status}: ${entry.fields.join(', ') || entry.kind}`, bold: true }]);
    for (const change of entry.changes) {
      detail.push([{ text: `  ${safe(change.path)}` }]);
      detail.push([{ text: `    A: ${safe(JSON.stringify(change.a))}`, color: 'red' }]);
      detail.push([{ text: `    B: ${safe(JSON.stringify(change.b))}`, color: 'green' }]);
    }
  }
  for (const line of detail.slice(0, detailRows)) lines.push(fitLine(line, columns));
  while (lines.length < rows - 1) lines.push(fitLine([], columns));
  const position = differences.indexOf(cursor);
  lines.push(
    fitLine(
      [
        { text: ` row ${cursor + 1}/${aligned.length} `, bold: true },
        {
          text:
            position >= 0
              ? ` difference ${position + 1}/${differences.length} `
              : ` ${differences.length} differences `,
        },
        { text: ' n/Tab next difference  N previous  ↑↓ PgUp PgDn g G  q quit', color: 'gray' },
      ],
      columns,
    ),
  );
  return <Lines lines={lines} />;
}
