/**
 * A real terminal for end-to-end tests: programs run in panes of a private tmux server (its socket in a directory
 * the test owns, so nothing touches, or is touched by, anyone else's sessions), keys are typed with `send-keys`,
 * and what a person would see is read back with `capture-pane`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface PaneOptions {
  columns?: number;
  rows?: number;
  /** Variables to set (a string) or unset (undefined) for the program, on top of the test's environment. */
  env?: Record<string, string | undefined>;
}

export interface CaptureOptions {
  /** Keep colour escapes (`capture-pane -e`). */
  escapes?: boolean;
  /** Join wrapped lines (`capture-pane -J`). */
  joined?: boolean;
}

export interface WaitOptions {
  escapes?: boolean;
  /** Default 10 s. */
  timeoutMs?: number;
  /** The program may have exited by then (otherwise its exit fails the wait at once). */
  exitExpected?: boolean;
}

const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class TmuxTerminal {
  /** Printed in the pane when the program ends (followed by its exit status); a shell then keeps the pane open. */
  static readonly EXITED = 'program exited with status';

  private readonly socket: string;
  private readonly panes = new Set<string>();
  private count = 0;

  constructor(dir: string) {
    this.socket = join(dir, 'tmux.sock');
  }

  /** Whether tmux is installed. */
  static available(): boolean {
    return spawnSync('tmux', ['-V']).status === 0;
  }

  tmux(...args: string[]): string {
    const result = spawnSync('tmux', ['-S', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  }

  /** Runs `argv` in a new pane, as a person would from a shell. Returns the pane's name. */
  open(argv: readonly string[], options: PaneOptions = {}): string {
    const name = `pane-${process.pid}-${++this.count}`;
    const env = Object.entries(options.env ?? {}).flatMap(([key, value]) =>
      value === undefined ? ['-u', key] : [`${key}=${value}`],
    );
    const command = ['env', ...env, ...argv].map(shellQuote).join(' ');
    // The server exits with its last session; a pane opened just as another closes can meet the dying server.
    this.retryingDyingServer(() =>
      this.tmux(
        'new-session',
        '-d',
        '-s',
        name,
        '-x',
        String(options.columns ?? 100),
        '-y',
        String(options.rows ?? 30),
        `${command}; echo "${TmuxTerminal.EXITED} $?"; exec sh`,
      ),
    );
    this.panes.add(name);
    return name;
  }

  private retryingDyingServer(action: () => void): void {
    for (let attempt = 1; ; attempt++) {
      try {
        action();
        return;
      } catch (error) {
        if (attempt >= 5 || !/server exited unexpectedly/.test((error as Error).message)) throw error;
      }
    }
  }

  /** Types keys (tmux key names: j, Enter, Tab…), one write each. */
  press(pane: string, ...keys: string[]): void {
    for (const key of keys) this.tmux('send-keys', '-t', pane, key);
  }

  /** Types text literally, in one write. */
  type(pane: string, text: string): void {
    this.tmux('send-keys', '-t', pane, '-l', text);
  }

  capture(pane: string, options: CaptureOptions = {}): string {
    return this.tmux(
      'capture-pane',
      '-p',
      ...(options.escapes ? ['-e'] : []),
      ...(options.joined ? ['-J'] : []),
      '-t',
      pane,
    );
  }

  /**
   * Polls the screen until `predicate` holds (no fixed waits) and returns that screen; throws with the last screen
   * seen when the time is up, or at once when the program has exited and that was not expected.
   */
  async waitFor(
    pane: string,
    what: string,
    predicate: (screen: string) => boolean,
    options: WaitOptions = {},
  ): Promise<string> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      const screen = this.capture(pane, { escapes: options.escapes ?? false });
      if (predicate(screen)) return screen;
      const exited = !options.exitExpected && screen.includes(TmuxTerminal.EXITED);
      if (exited || Date.now() > deadline)
        throw new Error(
          `${exited ? 'the program exited' : 'timed out'} waiting for ${what}; the screen:\n${screen}`,
        );
      await sleep(40);
    }
  }

  close(pane: string): void {
    if (!this.panes.delete(pane)) return;
    spawnSync('tmux', ['-S', this.socket, 'kill-session', '-t', pane]);
  }

  /** Ends every pane and the server. */
  closeAll(): void {
    for (const pane of [...this.panes]) this.close(pane);
    spawnSync('tmux', ['-S', this.socket, 'kill-server']);
  }
}
