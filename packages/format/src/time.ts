/**
 * RFC 3339 UTC timestamps with microseconds ("2026-11-21T19:59:01.123456Z"). Fixed width, so string order is
 * time order, which the reader's time-range search relies on.
 */
export function formatTimestamp(epochMicros: number): string {
  const millis = Math.floor(epochMicros / 1000);
  const micros = Math.floor(epochMicros - millis * 1000);
  const iso = new Date(millis).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}

/** Wall-clock microseconds; performance.now() supplies the sub-millisecond part. */
export function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function isTimestamp(value: unknown): value is string {
  return typeof value === 'string' && TIMESTAMP_RE.test(value);
}

/**
 * Normalises a user-supplied time (ISO string, Date or epoch ms) to the file's timestamp form, for range queries.
 * Returns undefined for values that do not denote a time.
 */
export function toTimestamp(value: string | Date | number): string | undefined {
  if (typeof value === 'string' && TIMESTAMP_RE.test(value)) return value;
  const date = value instanceof Date ? value : new Date(value);
  const ms = date.getTime();
  if (!Number.isFinite(ms)) return undefined;
  return formatTimestamp(ms * 1000);
}

/** Produces non-decreasing timestamps even when the wall clock steps back. */
export class MonotonicClock {
  private last = '';

  constructor(floor?: string) {
    if (floor) this.last = floor;
  }

  now(): string {
    const ts = formatTimestamp(nowMicros());
    if (ts > this.last) this.last = ts;
    return this.last;
  }

  /** Accept an externally supplied timestamp but never go backwards. */
  clamp(ts: string): string {
    if (ts > this.last) this.last = ts;
    return this.last;
  }
}
