import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createProgress } from '../src/progress.js';

const CLEAR = '\r\u001b[2K';
const ANSI_COLOUR = /\u001b\[\d+m/;

/** A terminal as far as the progress bar can tell: isTTY, a width, and every write kept. */
function fakeTerminal(columns = 80, isTTY = true) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  Object.assign(stream, { isTTY, columns });
  return { stream: stream as unknown as NodeJS.WriteStream, chunks };
}

/** What the line shows after the last redraw (text after the last clear-line). */
function screen(chunks: string[]): string {
  const all = chunks.join('');
  return all.slice(all.lastIndexOf(CLEAR) + CLEAR.length);
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubEnv('NO_COLOR', '1');
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('createProgress', () => {
  it('shows nothing for work that ends before the delay', () => {
    const { stream, chunks } = fakeTerminal();
    const progress = createProgress('verifying', 10, { stream, delayMs: 300 });
    for (let i = 0; i < 10; i++) progress.tick(1, `file-${i}.arec`);
    vi.advanceTimersByTime(299);
    progress.done();
    vi.advanceTimersByTime(10_000);
    expect(chunks).toEqual([]);
  });

  it('appears once the delay is over, even without a tick, and shows n/total, percent and detail', () => {
    const { stream, chunks } = fakeTerminal();
    const progress = createProgress('verifying', 8, { stream });
    progress.tick(2, 'sessions/first.arec');
    vi.advanceTimersByTime(299);
    expect(chunks).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.startsWith(CLEAR)).toBe(true);
    const line = screen(chunks);
    expect(line).toMatch(/^verifying /);
    expect(line).toContain(' 2/8 ');
    expect(line).toContain('25%');
    expect(line).toContain('sessions/first.arec');
    expect(line).not.toContain('\n');
    progress.done();
  });

  it('redraws at most about ten times a second and always ends up showing the latest count', () => {
    const { stream, chunks } = fakeTerminal();
    const progress = createProgress('indexing', 1000, { stream, delayMs: 0 });
    expect(chunks).toHaveLength(1); // no delay: drawn at once
    for (let i = 0; i < 500; i++) {
      progress.tick(1, `f${i}`);
      vi.advanceTimersByTime(1); // 500 ticks over 500 ms
    }
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    expect(chunks.length).toBeLessThanOrEqual(7);
    // the last ticks fell inside the throttle window; the trailing redraw shows them
    vi.advanceTimersByTime(100);
    expect(screen(chunks)).toContain('500/1000');
    expect(screen(chunks)).toContain('f499');
    const before = chunks.length;
    vi.advanceTimersByTime(5_000); // nothing new happened: no more writes
    expect(chunks).toHaveLength(before);
    progress.done();
  });

  it('setTotal changes the denominator', () => {
    const { stream, chunks } = fakeTerminal();
    const progress = createProgress('indexing', 0, { stream, delayMs: 0 });
    progress.tick(3);
    vi.advanceTimersByTime(100);
    expect(screen(chunks)).toContain('3');
    expect(screen(chunks)).not.toContain('%');
    progress.setTotal(12);
    vi.advanceTimersByTime(100);
    expect(screen(chunks)).toContain('3/12');
    expect(screen(chunks)).toContain('25%');
    progress.done();
  });

  it('done() clears the line, stops the timers, and makes later calls no-ops', () => {
    const { stream, chunks } = fakeTerminal();
    const progress = createProgress('verifying', 4, { stream, delayMs: 0 });
    progress.tick(1);
    progress.done();
    expect(chunks.at(-1)).toBe(CLEAR);
    const count = chunks.length;
    progress.tick(1);
    progress.setTotal(9);
    progress.done();
    vi.advanceTimersByTime(10_000);
    expect(chunks).toHaveLength(count);
  });

  it('done() before anything was drawn writes nothing at all', () => {
    const { stream, chunks } = fakeTerminal();
    const progress = createProgress('verifying', 4, { stream });
    progress.tick(4);
    progress.done();
    vi.advanceTimersByTime(10_000);
    expect(chunks).toEqual([]);
  });

  it('writes nothing when the stream is not a terminal', () => {
    const { stream, chunks } = fakeTerminal(80, false);
    const progress = createProgress('verifying', 4, { stream, delayMs: 0 });
    vi.advanceTimersByTime(1_000);
    progress.tick(2, 'x.arec');
    vi.advanceTimersByTime(1_000);
    progress.setTotal(5);
    progress.done();
    expect(chunks).toEqual([]);
  });

  it('fits the line to the terminal width, keeping the end of a long file name', () => {
    const { stream, chunks } = fakeTerminal(60);
    const progress = createProgress('verifying', 100, { stream, delayMs: 0 });
    const long = `/very/long/${'directory/'.repeat(20)}session-2026-01-01.arec`;
    progress.tick(42, long);
    vi.advanceTimersByTime(100);
    const line = screen(chunks);
    expect(Array.from(line).length).toBeLessThan(60); // a full-width line would wrap on some terminals
    expect(line).toContain('42/100');
    expect(line).toMatch(/ …[^…/]*-2026-01-01\.arec$/);
    progress.done();

    const wide = fakeTerminal(100);
    const again = createProgress('verifying', 100, { stream: wide.stream, delayMs: 0 });
    again.tick(42, long);
    vi.advanceTimersByTime(100);
    expect(Array.from(screen(wide.chunks)).length).toBeLessThan(100);
    expect(screen(wide.chunks)).toMatch(/ …[^…]*\/session-2026-01-01\.arec$/);
    again.done();
  });

  it('neutralizes control characters in the detail and the label', () => {
    const { stream, chunks } = fakeTerminal(200);
    const progress = createProgress('scan\u001b]0;x\u0007', 2, { stream, delayMs: 0 });
    progress.tick(1, 'evil\u001b[2J\u202ename.arec\nsecond line');
    vi.advanceTimersByTime(100);
    const line = screen(chunks);
    expect(line).not.toMatch(/[\u0007\u202e\n]/);
    expect(line.replaceAll(CLEAR, '')).not.toContain('\u001b');
    expect(line).toContain('evil\\x1b[2J\\u202ename.arec\\nsecond line');
    progress.done();
  });

  it('uses colour on a terminal unless NO_COLOR is set, and never breaks the line either way', () => {
    const plain = fakeTerminal();
    const a = createProgress('verifying', 10, { stream: plain.stream, delayMs: 0 });
    a.tick(5);
    vi.advanceTimersByTime(100);
    a.done();
    expect(plain.chunks.join('')).not.toMatch(ANSI_COLOUR);
    expect(plain.chunks.join('')).toContain('█');

    vi.stubEnv('NO_COLOR', '');
    const coloured = fakeTerminal();
    const b = createProgress('verifying', 10, { stream: coloured.stream, delayMs: 0 });
    b.tick(5);
    vi.advanceTimersByTime(100);
    b.done();
    expect(coloured.chunks.join('')).toMatch(ANSI_COLOUR);
  });
});
