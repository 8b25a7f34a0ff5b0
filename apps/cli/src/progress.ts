import { sanitize, styleFor } from './terminal.js';

/** A one-line progress bar on a terminal; a no-op anywhere else. */
export interface Progress {
  /** Adds `amount` (default 1) to the count; `detail` (e.g. the current file) stays until replaced. */
  tick(amount?: number, detail?: string): void;
  /** Changes the total, for work whose size is learnt as it goes. */
  setTotal(total: number): void;
  /** Clears the line so following output starts at column 0 on an empty line. Later calls do nothing. */
  done(): void;
}

export interface ProgressOptions {
  /** Default process.stderr: stdout may be a pipe carrying the real output. */
  stream?: NodeJS.WriteStream;
  /** Nothing is drawn before this many ms (default 300): a bar that flashes for an instant is noise. */
  delayMs?: number;
}

const DEFAULT_DELAY_MS = 300;
/** At most ~10 redraws a second: faster is unreadable and costs terminal time on every tick of a hot loop. */
const REDRAW_INTERVAL_MS = 100;
const CLEAR_LINE = '\r\u001b[2K';
const BAR_MAX = 30;
const BAR_MIN = 10;

const NOOP: Progress = { tick() {}, setTotal() {}, done() {} };

/**
 * Shortens to `width` code points, keeping the end: for a path the file name is what tells the user where the
 * work is. Slicing code points (not UTF-16 units) never leaves half a surrogate pair on the terminal.
 */
function keepTail(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  if (width <= 0) return '';
  return `…${chars.slice(chars.length - width + 1).join('')}`;
}

function keepHead(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  if (width <= 0) return '';
  return `${chars.slice(0, width - 1).join('')}…`;
}

function length(text: string): number {
  return Array.from(text).length;
}

export function createProgress(label: string, total: number, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  if (!stream.isTTY) return NOOP;
  const delayMs = Math.max(0, options.delayMs ?? DEFAULT_DELAY_MS);
  const style = styleFor(stream);
  const safeLabel = sanitize(label);
  const started = Date.now();

  let count = 0;
  let goal = Math.max(0, total);
  let detail = '';
  let lastDraw = Number.NEGATIVE_INFINITY;
  let drawn = false;
  let finished = false;
  let timer: NodeJS.Timeout | undefined;

  function line(): string {
    // One column spare: writing into the last column leaves some terminals about to wrap, and the next \r
    // would then return to a fresh line instead of overwriting this one.
    const width = Math.max(20, stream.columns ?? 80) - 1;
    const known = goal > 0;
    const shown = known ? Math.min(count, goal) : count;
    const counter = known
      ? ` ${shown}/${goal} ${String(Math.floor((shown * 100) / goal)).padStart(3)}%`
      : ` ${count}`;
    const name = keepHead(safeLabel, Math.max(8, Math.floor(width / 3)));
    let used = length(name) + counter.length;
    if (used > width) return keepHead(`${name}${counter}`, width); // a very narrow terminal
    let bar = '';
    if (known) {
      // The detail (which file) tells more than a long bar: its room is set aside first.
      const detailRoom = detail ? Math.min(length(detail) + 2, Math.max(20, Math.floor(width * 0.4))) : 0;
      const barWidth = Math.min(BAR_MAX, width - used - detailRoom - 1);
      if (barWidth >= BAR_MIN) {
        const filled = Math.floor((barWidth * shown) / goal);
        bar = ` ${style.green('█'.repeat(filled))}${style.dim('░'.repeat(barWidth - filled))}`;
        used += barWidth + 1;
      }
    }
    const room = width - used - 2;
    const tail = detail && room >= 4 ? `  ${style.dim(keepTail(detail, room))}` : '';
    return `${name}${bar}${counter}${tail}`;
  }

  function draw(): void {
    if (finished) return;
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    lastDraw = Date.now();
    drawn = true;
    stream.write(`${CLEAR_LINE}${line()}`);
  }

  /** Draws now if allowed, else makes sure the latest state is drawn once the delay or the throttle allows. */
  function update(): void {
    if (finished) return;
    const now = Date.now();
    const due = Math.max(started + delayMs, lastDraw + REDRAW_INTERVAL_MS);
    if (now >= due) {
      draw();
    } else if (!timer) {
      timer = setTimeout(draw, due - now);
      // The bar must never keep the process alive on its own.
      timer.unref();
    }
  }

  // Long work may not tick at all for a while (one large file): the bar still appears once the delay is over.
  update();

  return {
    tick(amount = 1, text?: string) {
      if (finished) return;
      count += amount;
      if (text !== undefined) detail = sanitize(text);
      update();
    },
    setTotal(next: number) {
      if (finished) return;
      goal = Math.max(0, next);
      update();
    },
    done() {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (drawn) stream.write(CLEAR_LINE);
    },
  };
}
