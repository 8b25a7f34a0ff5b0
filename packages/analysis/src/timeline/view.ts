/**
 * What an investigator is looking at in a timeline: the cursor, collapsed rows, the kind filter and the playback
 * head. Positions are seqs, so nothing here needs the whole session loaded: moving walks the typed arrays of the
 * outline and asks the timeline to outline a segment when it walks into one it has not seen.
 */
import { ATTENTION, Flag, KIND_CODE, type RowKind } from './rows.js';
import type { SessionTimeline } from './timeline.js';

/** Playback speeds offered (multiples of real time). */
export const SPEEDS = [0.5, 1, 2, 4, 8, 16] as const;

export interface PlaybackState {
  /** Records after the head have not happened yet; Infinity when not playing back. */
  head: number;
  playing: boolean;
  speed: number;
  /** Longest real wait between two events (ms); longer idle stretches are compressed to it. */
  idleCapMs: number;
}

export class TimelineView {
  readonly timeline: SessionTimeline;
  cursor = 0;
  /** First row on screen. */
  top = 0;
  readonly collapsed = new Set<number>();
  /** Bit mask of shown kinds (bit = KIND_CODE); 0 shows every kind. */
  kindMask = 0;
  /** Only rows that are (or contain) a denial, error, approval or redaction. */
  attentionOnly = false;
  readonly playback: PlaybackState = {
    head: Number.POSITIVE_INFINITY,
    playing: false,
    speed: 1,
    idleCapMs: 2000,
  };

  constructor(timeline: SessionTimeline) {
    this.timeline = timeline;
  }

  private get outline() {
    return this.timeline.outline;
  }

  /** Whether row `seq` is shown under the current filter, collapse state and playback head. */
  visible(seq: number): boolean {
    const o = this.outline;
    if (!o.isRow(seq) || seq > this.playback.head) return false;
    if (this.kindMask !== 0 && ((1 << o.kindCode(seq)) & this.kindMask) === 0) {
      if ((o.subtreeKinds(seq) & this.kindMask) === 0) return false;
    }
    if (this.attentionOnly && (o.flags(seq) & ATTENTION) === 0 && (o.subtreeFlags(seq) & ATTENTION) === 0)
      return false;
    // Parents precede their children (placed-ahead rows have none yet), so the walk up ends.
    if (this.collapsed.size > 0) {
      for (let p = o.parent(seq); p > 0; p = o.parent(p)) if (this.collapsed.has(p)) return false;
    }
    return true;
  }

  /** The last seq rows may occupy (the playback head, or the end of the file). */
  private get lastSeq(): number {
    return Math.min(this.timeline.recordCount, this.playback.head);
  }

  /**
   * The next seq after (direction 1) or before (-1) `from` that satisfies `accept`, outlining segments as the walk
   * reaches them. Undefined when there is none.
   */
  async find(from: number, direction: 1 | -1, accept: (seq: number) => boolean): Promise<number | undefined> {
    const last = this.lastSeq;
    for (let seq = from + direction; seq >= 1 && seq <= last; seq += direction) {
      if (!this.timeline.isKnown(seq)) await this.timeline.ensure(seq);
      if (accept(seq)) return seq;
    }
    return undefined;
  }

  /** Puts the cursor on the first visible row (after opening, or when the cursor's row got hidden). */
  async settle(): Promise<void> {
    if (this.cursor > 0 && this.visible(this.cursor)) return;
    const below = await this.find(Math.max(0, this.cursor - 1), 1, (s) => this.visible(s));
    const target = below ?? (await this.find(this.cursor, -1, (s) => this.visible(s)));
    this.cursor = target ?? 0;
    if (this.top === 0 || !this.visible(this.top) || this.top > this.cursor) this.top = this.cursor;
  }

  /** Moves the cursor by `rows` visible rows (negative: up). */
  async move(rows: number, height: number): Promise<void> {
    const direction = rows < 0 ? -1 : 1;
    let seq = this.cursor;
    for (let i = 0; i < Math.abs(rows); i++) {
      const next = await this.find(seq, direction, (s) => this.visible(s));
      if (next === undefined) break;
      seq = next;
    }
    this.cursor = seq;
    await this.scrollToCursor(height);
  }

  async home(height: number): Promise<void> {
    this.cursor = (await this.find(0, 1, (s) => this.visible(s))) ?? 0;
    await this.scrollToCursor(height);
  }

  async end(height: number): Promise<void> {
    this.cursor = (await this.find(this.lastSeq + 1, -1, (s) => this.visible(s))) ?? this.cursor;
    await this.scrollToCursor(height);
  }

  /** Moves the cursor to row `seq`, revealing it (expanding its ancestors, clearing a filter that hides it). */
  async reveal(seq: number, height: number): Promise<void> {
    const row = this.outline.owner(seq) || seq;
    for (let p = this.outline.parent(row); p > 0; p = this.outline.parent(p)) this.collapsed.delete(p);
    if (!this.visible(row) && this.outline.isRow(row) && row <= this.playback.head) {
      this.kindMask = 0;
      this.attentionOnly = false;
    }
    this.cursor = row;
    await this.scrollToCursor(height);
  }

  /** The next (or previous) row that is a denial or an error: what `d` jumps to. */
  async nextProblem(direction: 1 | -1, height: number): Promise<boolean> {
    const problem = Flag.DENIED | Flag.ERROR;
    const target = await this.find(this.cursor, direction, (s) => (this.outline.flags(s) & problem) !== 0);
    if (target === undefined) return false;
    await this.reveal(target, height);
    return true;
  }

  toggle(seq = this.cursor): void {
    if (!(this.outline.flags(seq) & Flag.HAS_CHILDREN)) return;
    if (this.collapsed.has(seq)) this.collapsed.delete(seq);
    else this.collapsed.add(seq);
  }

  /** Shows only these kinds (empty: every kind). */
  async setKinds(kinds: readonly RowKind[], height: number): Promise<void> {
    this.kindMask = kinds.reduce((mask, kind) => mask | (1 << KIND_CODE[kind]), 0);
    await this.settle();
    await this.scrollToCursor(height);
  }

  /** Keeps the cursor on screen, scrolling as little as possible, and the screen full when rows above allow. */
  async scrollToCursor(height: number): Promise<void> {
    if (this.cursor === 0) return;
    if (this.top === 0 || this.cursor <= this.top || !this.visible(this.top)) this.top = this.cursor;
    else {
      // Walk up from the cursor at most height-1 visible rows: if top is among them the cursor is on screen.
      let seq = this.cursor;
      const above: number[] = [];
      for (let i = 0; i < height - 1 && seq !== this.top; i++) {
        const previous = await this.find(seq, -1, (s) => this.visible(s));
        if (previous === undefined) break;
        above.push(previous);
        seq = previous;
      }
      // The cursor is below the screen: it becomes the last row.
      if (seq !== this.top) this.top = above.at(-1) ?? this.cursor;
    }
    await this.fillScreen(height);
  }

  /**
   * Moves `top` up while the screen has room below the last row (after a filter is cleared, at the end of the
   * file, or when outlining a segment merged rows that were counted).
   */
  private async fillScreen(height: number): Promise<void> {
    let shown = this.window(height);
    while (shown.pending === undefined && shown.rows.length < height) {
      const previous = await this.find(this.top, -1, (s) => this.visible(s));
      if (previous === undefined) return;
      this.top = previous;
      shown = this.window(height);
    }
  }

  /**
   * The visible rows from `top`, at most `height`, without waiting: rows in segments not outlined yet end the list
   * (`more` tells whether the screen could show more once they are).
   */
  window(height: number): { rows: number[]; pending: number | undefined } {
    const rows: number[] = [];
    const last = this.lastSeq;
    let seq = this.top > 0 ? this.top : 1;
    for (; seq <= last && rows.length < height; seq++) {
      if (!this.timeline.isKnown(seq)) return { rows, pending: seq };
      if (this.visible(seq)) rows.push(seq);
    }
    return { rows, pending: undefined };
  }

  // ---- playback -------------------------------------------------------------------------------------------

  /** Starts playing back from the cursor's row (or from the start when nothing is selected). */
  play(): void {
    if (this.playback.head === Number.POSITIVE_INFINITY) this.playback.head = Math.max(1, this.cursor);
    this.playback.playing = true;
  }

  pause(): void {
    this.playback.playing = false;
  }

  /** Leaves playback: every record is shown again. */
  stopPlayback(): void {
    this.playback.playing = false;
    this.playback.head = Number.POSITIVE_INFINITY;
  }

  get inPlayback(): boolean {
    return this.playback.head !== Number.POSITIVE_INFINITY;
  }

  faster(): void {
    const i = SPEEDS.indexOf(this.playback.speed as (typeof SPEEDS)[number]);
    this.playback.speed = SPEEDS[Math.min(SPEEDS.length - 1, i + 1)]!;
  }

  slower(): void {
    const i = SPEEDS.indexOf(this.playback.speed as (typeof SPEEDS)[number]);
    this.playback.speed = SPEEDS[Math.max(0, i - 1)]!;
  }

  /**
   * Real time to wait before the next record happens, at the current speed with idle stretches capped; undefined
   * at the end of the session.
   */
  delayToNext(): number | undefined {
    const head = this.playback.head;
    if (head >= this.timeline.recordCount) return undefined;
    const gap = this.outline.time(head + 1) - this.outline.time(head);
    const real = Number.isFinite(gap) && gap > 0 ? Math.min(gap, this.playback.idleCapMs) : 0;
    return real / this.playback.speed;
  }

  /** Moves the playback head by one record (forward or back); the cursor follows the newest row. */
  async stepPlayback(direction: 1 | -1, height: number): Promise<void> {
    const head =
      this.playback.head === Number.POSITIVE_INFINITY ? Math.max(1, this.cursor) : this.playback.head;
    const next = Math.min(this.timeline.recordCount, Math.max(1, head + direction));
    if (!this.timeline.isKnown(next)) await this.timeline.ensure(next);
    this.playback.head = next;
    const row = this.outline.owner(next);
    if (row > 0 && this.visible(row)) this.cursor = row;
    else await this.settle();
    await this.scrollToCursor(height);
  }
}
