import stringWidth from 'string-width';
import { sanitize } from './terminal.js';

export interface Column<Row> {
  header: string;
  /** Plain text of the cell (sanitized here). */
  value(row: Row): string;
  align?: 'left' | 'right';
  /** Colours the padded cell; applied after alignment so escape codes never count as width. */
  paint?(text: string, row: Row): string;
  /** This column gives up width first when the table is wider than the terminal. */
  shrink?: boolean;
}

/** Cuts text to a display width (wide characters count double), marking the cut with an ellipsis. */
export function fitWidth(text: string, width: number): string {
  if (stringWidth(text) <= width) return text;
  let out = '';
  for (const char of text) {
    if (stringWidth(`${out}${char}`) > width - 1) break;
    out += char;
  }
  return `${out}…`;
}

function pad(text: string, width: number, align: 'left' | 'right'): string {
  const gap = ' '.repeat(Math.max(0, width - stringWidth(text)));
  return align === 'right' ? `${gap}${text}` : `${text}${gap}`;
}

/**
 * An aligned table with a header row, fitted to `maxWidth` by narrowing the shrinkable columns. Every cell is
 * sanitized: cells hold workflow names, identities and tool names, which come from agents.
 */
export function renderTable<Row>(
  columns: Column<Row>[],
  rows: readonly Row[],
  options: { maxWidth: number; headerPaint?: (text: string) => string },
): string {
  const cells = rows.map((row) => columns.map((column) => sanitize(column.value(row))));
  // A loop, not Math.max(...cells): spreading one argument per row overflows the stack past ~130,000 rows.
  const widths = columns.map((column, i) =>
    cells.reduce((widest, row) => Math.max(widest, stringWidth(row[i] ?? '')), stringWidth(column.header)),
  );
  const gap = 2;
  let excess = widths.reduce((a, b) => a + b, 0) + gap * (columns.length - 1) - options.maxWidth;
  for (const [i, column] of columns.entries()) {
    if (excess <= 0) break;
    if (!column.shrink) continue;
    const floor = Math.max(stringWidth(column.header), 8);
    const cut = Math.min(excess, Math.max(0, (widths[i] ?? 0) - floor));
    widths[i] = (widths[i] ?? 0) - cut;
    excess -= cut;
  }
  const header = columns
    .map((column, i) => pad(column.header, widths[i] ?? 0, column.align ?? 'left'))
    .join(' '.repeat(gap))
    .trimEnd();
  const lines = [options.headerPaint ? options.headerPaint(header) : header];
  for (const [r, row] of rows.entries()) {
    const line = columns.map((column, i) => {
      const width = widths[i] ?? 0;
      const text = pad(fitWidth(cells[r]?.[i] ?? '', width), width, column.align ?? 'left');
      return column.paint ? column.paint(text, row) : text;
    });
    lines.push(line.join(' '.repeat(gap)).trimEnd());
  }
  return `${lines.join('\n')}\n`;
}
