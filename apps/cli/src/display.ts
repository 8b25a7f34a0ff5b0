import type { SessionSummary } from '@agent-replay/catalog';
import type { Style } from './terminal.js';

/** "2026-11-21 19:59:01" from a record timestamp (UTC, as recorded). */
export function shortTime(ts: string | null | undefined): string {
  return ts ? `${ts.slice(0, 10)} ${ts.slice(11, 19)}` : '-';
}

/** Session ids are trace ids ("trace_" + 32 hex): the first 8 hex tell them apart in any listing a person reads. */
export function shortId(id: string | null | undefined): string {
  if (!id) return '?';
  return id.startsWith('trace_') ? id.slice(0, 14) : id.length > 16 ? id.slice(0, 16) : id;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** `1 rule`, `3 rules`: a count and its noun, plural when it is not one. */
export function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
}

/** Tokens compactly: 950, 12.3k, 4.1M. */
export function compact(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function duration(from: string | null, to: string | null): string {
  if (!from || !to) return '-';
  const ms = Date.parse(to) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

export function identityLabel(summary: SessionSummary): string {
  const who = summary.identity;
  if (!who) return '-';
  return who.verified ? `${who.subject} ✓` : who.subject;
}

export function paintStatus(style: Style, status: string, text: string = status): string {
  if (status === 'completed') return style.green(text);
  if (status === 'error') return style.red(text);
  if (status === 'recording') return style.bold(text);
  return style.yellow(text);
}

export function paintVerdict(style: Style, verdict: string, text: string = verdict): string {
  if (verdict === 'VALID') return style.green(text);
  if (verdict === 'UNSEALED' || verdict === 'TORN') return style.yellow(text);
  return style.red(text);
}
