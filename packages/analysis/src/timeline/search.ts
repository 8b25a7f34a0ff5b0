/**
 * Text search through one session, in file order, a segment at a time. A record matches when one of its string
 * values (keys and JSON syntax do not count) contains the query, case-insensitively; a match inside a blob counts
 * for every record that references the blob. Hits are rows (a `span.end` hit is its span's row), kept sorted.
 */
import type { SessionTimeline } from './timeline.js';

export interface SearchProgress {
  hits: readonly number[];
  scanned: number;
  total: number;
  done: boolean;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** True when some string in `value` (not a key) contains the query. */
function valueContains(value: unknown, needle: string, depth = 0): boolean {
  if (typeof value === 'string') return value.toLowerCase().includes(needle);
  if (depth > 256 || value === null || typeof value !== 'object') {
    return typeof value === 'number' || typeof value === 'boolean' ? String(value).includes(needle) : false;
  }
  if (Array.isArray(value)) return value.some((item) => valueContains(item, needle, depth + 1));
  return Object.values(value).some((item) => valueContains(item, needle, depth + 1));
}

export class TimelineSearch {
  readonly query: string;
  readonly hits: number[] = [];
  private scanned = 0;
  private cancelled = false;
  private finished = false;
  /** The stored (JSON-escaped) form of the query, for a cheap first test of each line. */
  private readonly quick: RegExp;
  private readonly needle: string;
  private readonly matchedBlobs = new Set<string>();

  constructor(
    private readonly timeline: SessionTimeline,
    query: string,
  ) {
    this.query = query;
    this.needle = query.toLowerCase();
    this.quick = new RegExp(escapeRegExp(JSON.stringify(query).slice(1, -1)), 'i');
  }

  get progress(): SearchProgress {
    return { hits: this.hits, scanned: this.scanned, total: this.timeline.recordCount, done: this.finished };
  }

  cancel(): void {
    this.cancelled = true;
  }

  /** Scans the whole session; `onProgress` after each segment. Resolves when done or cancelled. */
  async run(onProgress: (progress: SearchProgress) => void = () => {}): Promise<SearchProgress> {
    let seq = 1;
    while (!this.cancelled && seq <= this.timeline.recordCount) {
      const segment = this.timeline.segmentOf(seq);
      if (!segment) break;
      // Hits are reported as rows: the outline must have placed this stretch in order first.
      await this.timeline.loadThrough(segment.lastSeq);
      for await (const { seq: at, line } of this.timeline.lines(segment.firstSeq, segment.lastSeq)) {
        if (this.cancelled) break;
        this.test(at, line);
      }
      this.scanned = segment.lastSeq;
      seq = segment.lastSeq + 1;
      onProgress(this.progress);
      // Yield to the event loop between segments so keys and rendering go on.
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.finished = !this.cancelled;
    onProgress(this.progress);
    return this.progress;
  }

  private test(seq: number, line: string): void {
    const quick = this.quick.test(line);
    const blobRef = this.matchedBlobs.size > 0 && line.includes('"$blob"');
    if (!quick && !blobRef) return;
    const record = JSON.parse(line) as Record<string, unknown>;
    if (record.type === 'blob') {
      if (quick && valueContains(record.value, this.needle)) this.matchedBlobs.add(String(record.sha256));
      return;
    }
    const { seq: _seq, ts: _ts, type: _type, ...fields } = record;
    let hit = quick && valueContains(fields, this.needle);
    if (!hit && blobRef) {
      for (const hash of this.matchedBlobs) {
        if (line.includes(`{"$blob":"${hash}"}`)) {
          hit = true;
          break;
        }
      }
    }
    if (!hit) return;
    const row = this.timeline.outline.owner(seq);
    if (row > 0) this.insert(row);
  }

  private insert(row: number): void {
    const hits = this.hits;
    let lo = 0;
    let hi = hits.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (hits[mid]! < row) lo = mid + 1;
      else hi = mid;
    }
    if (hits[lo] !== row) hits.splice(lo, 0, row);
  }

  /** The first hit after (direction 1) or before (-1) `seq`, wrapping around. */
  next(seq: number, direction: 1 | -1): number | undefined {
    if (this.hits.length === 0) return undefined;
    if (direction === 1) return this.hits.find((hit) => hit > seq) ?? this.hits[0];
    return this.hits.findLast((hit) => hit < seq) ?? this.hits.at(-1);
  }
}
