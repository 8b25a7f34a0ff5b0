/**
 * A session file opened for stepping through: the outline is built in file order a few segments at a time (so the
 * first screen never waits for the whole file), segments far ahead are placed on demand (a jump to the end of a
 * million records decodes one segment), and a growing file is followed with `refresh`.
 */
import { type ReaderOptions, type SegmentRef, SessionReader, type SessionRecord } from '@agent-replay/format';
import { SessionTotals, type SessionTotalsJSON } from '../totals.js';
import type { Obj } from '../values.js';
import { type AheadSpan, type OutlinedRecord, TimelineOutline } from './outline.js';

export interface TimelineOptions {
  codec?: ReaderOptions['codec'];
}

export class SessionTimeline {
  readonly outline: TimelineOutline;
  /** The first `session.start` (workflow, identity, host, versions). */
  readonly start: Obj | undefined;
  private readonly reader: SessionReader;
  private nextSegment = 0;
  private readonly ahead = new Set<number>();
  private readonly aheadSpans = new Map<string, AheadSpan>();
  private totals = new SessionTotals();
  private lastEnd: Obj | undefined;
  private readonly listeners = new Set<() => void>();
  private loading: Promise<void> | undefined;

  private constructor(reader: SessionReader, start: Obj | undefined, lastEnd: Obj | undefined) {
    this.reader = reader;
    this.start = start;
    this.lastEnd = lastEnd;
    this.outline = new TimelineOutline(reader.recordCount);
  }

  static async open(path: string, options: TimelineOptions = {}): Promise<SessionTimeline> {
    const reader = await SessionReader.open(path, {
      cacheSegments: 8,
      ...(options.codec ? { codec: options.codec } : {}),
    });
    try {
      const first = reader.recordCount > 0 ? ((await reader.get(1)) as Obj | undefined) : undefined;
      const last =
        reader.recordCount > 0 ? ((await reader.get(reader.recordCount)) as Obj | undefined) : undefined;
      const timeline = new SessionTimeline(
        reader,
        first?.type === 'session.start' ? first : undefined,
        last?.type === 'session.end' ? last : undefined,
      );
      return timeline;
    } catch (error) {
      reader.close();
      throw error;
    }
  }

  get path(): string {
    return this.reader.path;
  }

  get recordCount(): number {
    return this.reader.recordCount;
  }

  /** Records 1..loadedThrough are in the outline in file order (what search and filters can rely on). */
  get loadedThrough(): number {
    return this.outline.orderedThrough;
  }

  get fullyLoaded(): boolean {
    return this.nextSegment >= this.reader.segments.length;
  }

  /** Why the reader stopped before the end of the file (a torn tail, damage), if it did. */
  get stoppedAt(): { message: string; offset: number } | undefined {
    return this.reader.stoppedAt;
  }

  /** The totals of the last `session.end` when the file ends with one, else as folded so far. */
  sessionTotals(): SessionTotalsJSON & { status?: string } {
    if (this.lastEnd && this.fullyLoadedOrSealed) return this.lastEnd as unknown as SessionTotalsJSON;
    return this.totals.toJSON();
  }

  /** Status of the session: the last `session.end`'s, else still being recorded or cut short. */
  get status(): string | undefined {
    return this.lastEnd && this.fullyLoadedOrSealed ? String(this.lastEnd.status) : undefined;
  }

  private get fullyLoadedOrSealed(): boolean {
    return this.lastEnd !== undefined && Number(this.lastEnd.seq) === this.recordCount;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** True when the segment holding `seq` is outlined (in order, or placed ahead). */
  isKnown(seq: number): boolean {
    if (seq <= this.outline.orderedThrough) return true;
    const index = this.segmentIndexOf(seq);
    return index >= 0 && this.ahead.has(index);
  }

  /**
   * Outlines the next segments in file order for about `budgetMs`, then returns (so a UI stays responsive between
   * calls). Returns false when everything is loaded.
   */
  async loadMore(budgetMs = 16): Promise<boolean> {
    const until = performance.now() + budgetMs;
    do {
      if (this.fullyLoaded) return false;
      await this.loadSegment(this.nextSegment);
    } while (performance.now() < until);
    this.changed();
    return !this.fullyLoaded;
  }

  /** Loads in file order through `seq`. */
  async loadThrough(seq: number): Promise<void> {
    let loaded = false;
    while (this.outline.orderedThrough < seq && !this.fullyLoaded) {
      await this.loadSegment(this.nextSegment);
      loaded = true;
    }
    if (loaded) this.changed();
  }

  /** Makes sure the segment holding `seq` is outlined, placing it ahead of the ordered pass when that is far away. */
  async ensure(seq: number): Promise<void> {
    if (this.isKnown(seq)) return;
    const index = this.segmentIndexOf(seq);
    if (index < 0) return;
    // Close to the ordered pass: just continue it (exact parents, filters and search stay consistent).
    if (index - this.nextSegment <= 2) return this.loadThrough(seq);
    const records = await this.segmentRecords(this.reader.segments[index]!);
    this.outline.ingestAhead(records, this.aheadSpans);
    this.ahead.add(index);
    this.changed();
  }

  private async loadSegment(index: number): Promise<void> {
    // One load at a time: the ordered pass and a search may both drive it.
    while (this.loading) await this.loading;
    if (index !== this.nextSegment) return;
    const run = (async () => {
      const records = await this.segmentRecords(this.reader.segments[index]!);
      for (const item of records) {
        this.outline.ingest(item);
        this.fold(item.record);
      }
      this.ahead.delete(index);
      this.nextSegment = index + 1;
    })();
    this.loading = run;
    try {
      await run;
    } finally {
      this.loading = undefined;
    }
  }

  private fold(record: Obj): void {
    if (record.type === 'session.end') {
      this.totals = SessionTotals.from(record);
      this.lastEnd = record;
    } else {
      this.totals.add(record as { type: string } & Obj);
    }
  }

  private async segmentRecords(ref: SegmentRef): Promise<OutlinedRecord[]> {
    const out: OutlinedRecord[] = [];
    for await (const { seq, line } of this.reader.lines({ fromSeq: ref.firstSeq, toSeq: ref.lastSeq })) {
      out.push({ seq, line, record: JSON.parse(line) as Obj });
    }
    return out;
  }

  /** seq range of the segment holding `seq`, or undefined past the end. */
  segmentOf(seq: number): { firstSeq: number; lastSeq: number } | undefined {
    return this.reader.segments[this.segmentIndexOf(seq)];
  }

  private segmentIndexOf(seq: number): number {
    const segments = this.reader.segments;
    let lo = 0;
    let hi = segments.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const ref = segments[mid]!;
      if (seq < ref.firstSeq) hi = mid - 1;
      else if (seq > ref.lastSeq) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** Picks up records appended since (follow mode). True when there are new ones. */
  async refresh(): Promise<boolean> {
    const grew = await this.reader.refresh();
    if (!grew) return false;
    this.outline.reserve(this.reader.recordCount);
    await this.loadThrough(this.reader.recordCount);
    this.changed();
    return true;
  }

  /** One record as stored, blob references resolved. */
  async record(seq: number): Promise<SessionRecord | undefined> {
    const record = await this.reader.get(seq);
    return record === undefined ? undefined : this.reader.resolve<SessionRecord>(record);
  }

  /** Stored lines in seq order (for search), decoded a segment at a time. */
  lines(fromSeq: number, toSeq: number) {
    return this.reader.lines({ fromSeq, toSeq });
  }

  close(): void {
    this.listeners.clear();
    this.reader.close();
  }
}
