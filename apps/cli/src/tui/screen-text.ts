/**
 * Screen text for the TUI: every line is built here at an exact display width (wide characters counted with
 * string-width) from sanitized strings, so Ink never wraps, a row never spills into the next, and nothing an agent
 * wrote can reach the terminal as a control sequence.
 */
import stringWidth from 'string-width';
import { sanitize } from '../terminal.js';

export type Color = 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan' | 'gray' | 'white';

/** A run of text with one style. */
export interface Span {
  text: string;
  color?: Color;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}

export type Line = Span[];

/** Text from a session made printable: control characters escaped, tabs as spaces. */
export function safe(text: string): string {
  return sanitize(text.replace(/\t/g, '  '));
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Display columns of `text` (printable ASCII, most of what is drawn, is one column per character). */
export const width = (text: string): number => (PRINTABLE_ASCII.test(text) ? text.length : stringWidth(text));

/** Cuts `text` to at most `columns` display columns (an ellipsis marks the cut). */
export function clip(text: string, columns: number): string {
  if (columns <= 0) return '';
  if (text.length <= columns && width(text) <= columns) return text;
  let out = '';
  let used = 0;
  for (const char of text) {
    const w = width(char);
    if (used + w > columns - 1) break;
    out += char;
    used += w;
  }
  return `${out}…`;
}

/** Splits `text` into pieces of at most `columns` display columns. */
export function wrap(text: string, columns: number): string[] {
  if (columns <= 0) return [text];
  if (text.length <= columns && width(text) <= columns) return [text];
  const out: string[] = [];
  let current = '';
  let used = 0;
  for (const char of text) {
    const w = width(char);
    if (used + w > columns) {
      out.push(current);
      current = '';
      used = 0;
    }
    current += char;
    used += w;
  }
  if (current) out.push(current);
  return out;
}

/** Fits a line of spans to exactly `columns` columns: clipped at the end, padded with spaces. */
export function fitLine(line: Line, columns: number): Line {
  const out: Line = [];
  let used = 0;
  for (const span of line) {
    if (used >= columns) break;
    const room = columns - used;
    const w = width(span.text);
    const text = w <= room ? span.text : clip(span.text, room);
    out.push({ ...span, text });
    used += w <= room ? w : width(text);
  }
  if (used < columns) out.push({ text: ' '.repeat(columns - used) });
  return out;
}

/** Two lines side by side (left fitted to `leftColumns`, a separator, right fitted to the rest). */
export function besides(left: Line, right: Line, leftColumns: number, total: number): Line {
  return [
    ...fitLine(left, leftColumns),
    { text: '│', color: 'gray' },
    ...fitLine(right, total - leftColumns - 1),
  ];
}
