// TUI benchmark (`agent-replay open`): on a generated 1M-record session, the time to the first complete screen and
// the peak RSS, against the baseline of `agent-replay cat` piping the whole file; and the latency of jumps. Targets
// (issue): first screen ≤ 1/20 of the baseline's time and ≤ 2 s; peak RSS ≤ 300 MB; `G` (last record) ≤ 200 ms.
//
//   node test/bench/tui.bench.mjs [--quick] [--records N] [--json out.json]
//
// Data: `writeBigSession` (big-session.mjs) writes one long agent run of N records (default 1,000,000; --quick
// 100,000) into a temp directory (deleted at the end).
//
// Measured, every process spawned as a user runs it:
//   - floor: `node -e 0` (Node start-up) and `agent-replay --version` (Node + the CLI's entry point), median of 5;
//   - baseline: `node main.js cat <file>` with stdout to a pipe this process drains (median of 3, --quick 1);
//   - these and the TUI runs are interleaved in rounds (floor, cat, TUI), so that other jobs on the machine weigh
//     on both sides alike;
//   - the TUI in a real terminal: a private tmux server (`tmux -L <socket>`), a detached 120×40 session per run
//     running `node main.js open <file>`. One tmux control-mode client (`tmux -C`) stays connected for the whole
//     run: sessions are created, keys sent and the screen captured (`capture-pane -p`) over it, so a poll costs a
//     round-trip to the tmux server and no process start. The screen is polled every POLL_MS; the report gives the
//     polling intervals actually achieved. Per run (median of 5, --quick 3):
//       first screen   spawn (the new-session command) → the status bar (last line) shows "? help";
//       filled         spawn → the detail pane shows the first record and tool rows show their arguments (the
//                      frames that follow the first);
//       G cold         right after the first screen, `G` → the status bar shows `seq N/N` and "session completed"
//                      is on screen (the background load is still running);
//       loaded         spawn → the status bar no longer shows "loading N%";
//       verdict        spawn → the header no longer shows "verifying…" (the verifier runs in a worker thread);
//       peak RSS       VmHWM of the node process (/proc/<pid>/status; the pane's shell's child) when loaded, when
//                      the verdict showed, and at the end of the run;
//       after the load (median of 3 per run): `g` then `G` → last seq; `d` from the first row → the cursor moves
//                      (next denial); `D` from the last row → the cursor moves (previous denial).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { writeBigSession } from './big-session.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const CLI = join(root, 'apps', 'cli', 'dist', 'main.js');

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const option = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const jsonOut = option('--json');
const RECORDS = Number(option('--records') ?? (quick ? 100_000 : 1_000_000));
const TUI_RUNS = quick ? 3 : 5;
const BASE_RUNS = quick ? 1 : 3;
const FLOOR_RUNS = quick ? 3 : 5;
const JUMP_REPS = 3;
const POLL_MS = 5;
const COLUMNS = 120;
const ROWS = 40;
const TIMEOUT_MS = 300_000;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const log = (message) => console.error(`[tui bench] ${message}`);
const count = (n) => n.toLocaleString('en-US');

if (spawnSync('tmux', ['-V']).status !== 0) {
  console.log('tui bench: skipped (tmux not found)');
  process.exit(0);
}
if (!existsSync(CLI)) throw new Error(`${CLI} not found: run pnpm run build first`);

const tmp = mkdtempSync(join(tmpdir(), 'tui-bench-'));
const socket = `tui-bench-${process.pid}`;
let socketPath;
const stopTmux = () => {
  // Our private server only (the processes of its sessions get SIGHUP).
  spawnSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
  if (socketPath) rmSync(socketPath, { force: true }); // the server leaves its socket file behind
};
process.on('exit', () => {
  stopTmux();
  rmSync(tmp, { recursive: true, force: true }); // also when a step fails
});
// Interrupted (Ctrl-C, kill): exit normally so the cleanup above runs.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(130));
const started = performance.now();

// ---------------------------------------------------------------- the session

const file = join(tmp, 'big.arec');
log(`writing ${count(RECORDS)} records…`);
const written = await writeBigSession(file, RECORDS);
const results = {
  node: process.versions.node,
  tmux: spawnSync('tmux', ['-V'], { encoding: 'utf8' }).stdout.trim(),
  commit: spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim(),
  records: written.records,
  file_mb: statSync(file).size / 1e6,
  terminal: `${COLUMNS}x${ROWS}`,
  poll_ms: POLL_MS,
  /** 1-minute load average at the start and the end (other jobs on a shared machine). */
  loadavg: { start: loadavg()[0] },
};
const TOTAL = written.records;
const lastSeqText = `seq ${count(TOTAL)}/${count(TOTAL)}`;
log(`${count(TOTAL)} records, ${results.file_mb.toFixed(1)} MB`);

// ---------------------------------------------------------------- floor and baseline

function timedRun(args, { drain = false } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', drain ? 'pipe' : 'ignore', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    child.stdout?.on('data', (chunk) => {
      bytes += chunk.length;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (status) => {
      const elapsed = performance.now() - t0;
      if (status !== 0) reject(new Error(`node ${args.join(' ')} exited ${status}: ${stderr}`));
      else resolve({ ms: elapsed, bytes });
    });
  });
}

const nodeFloor = [];
const cliFloor = [];
const catRuns = [];
let catBytes = 0;

// ---------------------------------------------------------------- a tmux control-mode client

/** One `tmux -C` client: commands in, their output blocks (%begin … %end) out, in order. */
class Tmux {
  constructor() {
    // A holder session keeps the server up between runs; the control client attaches to it (the measured sessions
    // are separate and detached, so no client resizes them).
    const made = spawnSync('tmux', [
      '-L',
      socket,
      '-f',
      '/dev/null',
      'new-session',
      '-d',
      '-s',
      'holder',
      'sleep 86400',
    ]);
    if (made.status !== 0) throw new Error(`tmux new-session: ${made.stderr}`);
    this.child = spawn('tmux', ['-L', socket, '-C', 'attach-session', '-t', 'holder'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.pending = [];
    this.block = undefined;
    this.buffer = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk) => this.onData(chunk));
  }

  onData(chunk) {
    this.buffer += chunk;
    let newline = this.buffer.indexOf('\n');
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      newline = this.buffer.indexOf('\n');
      if (this.block) {
        if (line.startsWith('%end ') || line.startsWith('%error ')) {
          const { lines } = this.block;
          this.block = undefined;
          // The reply to the attach itself comes first and has no waiter.
          if (this.skipFirst) this.skipFirst = false;
          else {
            const waiter = this.pending.shift();
            if (line.startsWith('%error')) waiter?.reject(new Error(`tmux: ${lines.join('\n')}`));
            else waiter?.resolve(lines);
          }
        } else this.block.lines.push(line);
      } else if (line.startsWith('%begin ')) this.block = { lines: [] };
      // other lines are notifications (%sessions-changed, %output of the holder, …)
    }
  }

  command(text) {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin.write(`${text}\n`);
    });
  }

  async ready() {
    this.skipFirst = true;
    await this.command('display-message -p ok');
  }

  capture(target) {
    return this.command(`capture-pane -p -t ${target}`);
  }

  close() {
    this.child.stdin.end();
  }
}

const quoteTmux = (s) => `'${s.replaceAll("'", "'\\''")}'`;

// ---------------------------------------------------------------- the TUI

const tmux = new Tmux();
await tmux.ready();
[socketPath] = await tmux.command("display-message -p '#{socket_path}'");

/** Polls the screen every POLL_MS until `test(lines)`; returns the time (performance.now) it held, and the lines. */
async function waitFor(target, test, intervals, what) {
  const deadline = performance.now() + TIMEOUT_MS;
  let previous;
  for (;;) {
    const at = performance.now();
    if (previous !== undefined) intervals.push(at - previous);
    previous = at;
    const lines = await tmux.capture(target);
    if (test(lines)) return { at: performance.now(), lines };
    if (at > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${lines.join('\n')}`);
    const wait = Math.ceil(POLL_MS - (performance.now() - at));
    if (wait > 0) await sleep(wait);
  }
}

const statusOf = (lines) => {
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].trim() !== '') return lines[i];
  return '';
};
const cursorSeq = (lines) => {
  const match = /seq ([\d,]+)\//.exec(statusOf(lines));
  return match ? Number(match[1].replaceAll(',', '')) : undefined;
};
const hasHelp = (lines) => statusOf(lines).includes('? help');
const atLast = (lines) =>
  statusOf(lines).includes(lastSeqText) && lines.some((l) => l.includes('session completed'));
/** The detail pane shows a record (its first line has text right of the separator) and tool rows their arguments. */
const settled = (lines) =>
  hasHelp(lines) && /│\S/.test(lines[2] ?? '') && lines.some((l) => /ƒ tool \S+ \(/.test(l));
const loaded = (lines) => hasHelp(lines) && !statusOf(lines).includes('loading');
/** The verdict in the header (first line), once the worker has verified the file; undefined while "verifying…". */
const verdictOf = (lines) => /\b(VALID|UNSEALED|TORN|TAMPERED|UNREADABLE)\b/.exec(lines[0] ?? '')?.[1];

function peakRss(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
    return { hwm_mb: kb('VmHWM') / 1024, rss_mb: kb('VmRSS') / 1024 };
  } catch {
    return { hwm_mb: Number.NaN, rss_mb: Number.NaN };
  }
}

/** The CLI's process: the pane's process (the shell running the command) or its child running main.js. */
async function nodePid(target) {
  const [panePid] = await tmux.command(`display-message -p -t ${target} '#{pane_pid}'`);
  const isCli = (pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(CLI);
    } catch {
      return false;
    }
  };
  if (isCli(panePid)) return Number(panePid);
  const children = spawnSync('pgrep', ['-P', panePid], { encoding: 'utf8' }).stdout.trim().split('\n');
  const pid = children.find((p) => p && isCli(p));
  if (!pid) throw new Error(`no agent-replay process under pane pid ${panePid}`);
  return Number(pid);
}

/** Sends a key and waits until `test` holds; returns the latency and the screen. */
async function keyLatency(target, key, test, intervals, what) {
  const t0 = performance.now();
  await tmux.command(`send-keys -t ${target} ${key}`);
  const { at, lines } = await waitFor(target, test, intervals, what);
  return { ms: at - t0, lines };
}

async function tuiRun(index) {
  const name = `run${index}`;
  const target = `${name}:0.0`;
  const intervals = { first: [], rest: [] };
  const command = `${quoteTmux(process.execPath)} ${quoteTmux(CLI)} open ${quoteTmux(file)}; sleep 600`;
  const t0 = performance.now();
  await tmux.command(`new-session -d -s ${name} -x ${COLUMNS} -y ${ROWS} ${quoteTmux(command)}`);
  const first = await waitFor(target, hasHelp, intervals.first, 'the first screen');
  const run = { first_screen_ms: first.at - t0, first_screen_status: statusOf(first.lines).trim() };
  if (index === 1) run.first_screen_text = first.lines;
  // The frames after it fill the detail pane (the first row's record) and the previews (tool arguments).
  const filled = await waitFor(target, settled, intervals.first, 'the detail pane and previews');
  run.screen_filled_ms = filled.at - t0;

  // G right away, while the outline is still being built in the background.
  const cold = await keyLatency(target, 'G', atLast, intervals.rest, 'G (cold)');
  run.g_cold_ms = cold.ms;
  run.g_cold_status = statusOf(cold.lines).trim();
  const pid = await nodePid(target);

  // Then wait for the full load and the verdict, reading the peak RSS as each shows.
  let loadedAt;
  let verdictAt;
  while (loadedAt === undefined || verdictAt === undefined) {
    const { at, lines } = await waitFor(
      target,
      (l) => (loadedAt === undefined && loaded(l)) || (verdictAt === undefined && verdictOf(l) !== undefined),
      intervals.rest,
      'the load and the verdict',
    );
    if (loadedAt === undefined && loaded(lines)) {
      loadedAt = at;
      run.loaded_ms = at - t0;
      run.rss_at_loaded_mb = peakRss(pid).hwm_mb;
    }
    if (verdictAt === undefined && verdictOf(lines) !== undefined) {
      verdictAt = at;
      run.verdict = verdictOf(lines);
      run.verdict_ms = at - t0;
      run.rss_at_verdict_mb = peakRss(pid).hwm_mb;
    }
  }

  // Warm jumps: g then G; d from the first row; D from the last.
  const gWarm = [];
  const dNext = [];
  const dPrevious = [];
  for (let i = 0; i < JUMP_REPS; i++) {
    await keyLatency(target, 'g', (l) => cursorSeq(l) === 1, intervals.rest, 'g');
    dNext.push(await keyLatency(target, 'd', (l) => (cursorSeq(l) ?? 1) > 1, intervals.rest, 'd'));
    gWarm.push((await keyLatency(target, 'G', atLast, intervals.rest, 'G (warm)')).ms);
    dPrevious.push(
      await keyLatency(target, 'D', (l) => (cursorSeq(l) ?? TOTAL) < TOTAL, intervals.rest, 'D'),
    );
  }
  run.g_warm_ms = median(gWarm);
  run.d_next_ms = median(dNext.map((d) => d.ms));
  run.d_next_seq = cursorSeq(dNext[0].lines);
  run.d_previous_ms = median(dPrevious.map((d) => d.ms));
  run.d_previous_seq = cursorSeq(dPrevious[0].lines);
  run.peak_rss_mb = peakRss(pid).hwm_mb;
  run.rss_end_mb = peakRss(pid).rss_mb;
  run.poll_interval_first_ms = {
    median: median(intervals.first),
    max: Math.max(...intervals.first),
    polls: intervals.first.length + 1,
  };
  run.poll_interval_rest_ms = { median: median(intervals.rest), max: Math.max(...intervals.rest) };

  await tmux.command(`send-keys -t ${target} q`);
  await tmux.command(`kill-session -t ${name}`);
  for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await sleep(10);
  return run;
}

// Rounds, so that load from other jobs on the machine hits baseline and TUI alike: each round measures the floor,
// one `cat` (the first BASE_RUNS rounds) and one TUI run.
const runs = [];
for (let i = 0; i < Math.max(TUI_RUNS, BASE_RUNS, FLOOR_RUNS); i++) {
  if (i < FLOOR_RUNS) {
    nodeFloor.push((await timedRun(['-e', '0'])).ms);
    cliFloor.push((await timedRun([CLI, '--version'])).ms);
  }
  if (i < BASE_RUNS) {
    const cat = await timedRun([CLI, 'cat', file], { drain: true });
    catRuns.push(cat.ms);
    catBytes = cat.bytes;
    log(`cat ${i + 1}/${BASE_RUNS}: ${ms(cat.ms)} ms`);
  }
  if (i >= TUI_RUNS) continue;
  const run = await tuiRun(i + 1);
  runs.push(run);
  log(
    `open ${i + 1}/${TUI_RUNS}: first screen ${ms(run.first_screen_ms)} ms (filled ${ms(run.screen_filled_ms)} ms), G ${ms(run.g_cold_ms)} ms (cold) / ` +
      `${ms(run.g_warm_ms)} ms (warm), d ${ms(run.d_next_ms)} ms, D ${ms(run.d_previous_ms)} ms, loaded ${ms(run.loaded_ms)} ms, ` +
      `${run.verdict} at ${ms(run.verdict_ms)} ms, peak RSS ${run.peak_rss_mb.toFixed(0)} MB`,
  );
}
results.floor = {
  node_e0_ms: median(nodeFloor),
  cli_version_ms: median(cliFloor),
  node_e0_runs_ms: nodeFloor,
};
results.baseline = { cat_ms: median(catRuns), cat_runs_ms: catRuns, cat_output_mb: catBytes / 1e6 };
tmux.close();
stopTmux();

const pick = (key) => median(runs.map((r) => r[key]));
results.tui = {
  runs: runs.length,
  first_screen_ms: pick('first_screen_ms'),
  screen_filled_ms: pick('screen_filled_ms'),
  g_cold_ms: pick('g_cold_ms'),
  g_cold_max_ms: Math.max(...runs.map((r) => r.g_cold_ms)),
  g_warm_ms: pick('g_warm_ms'),
  d_next_ms: pick('d_next_ms'),
  d_previous_ms: pick('d_previous_ms'),
  loaded_ms: pick('loaded_ms'),
  verdict_ms: pick('verdict_ms'),
  verdicts: [...new Set(runs.map((r) => r.verdict))],
  rss_at_loaded_mb: pick('rss_at_loaded_mb'),
  rss_at_verdict_mb: pick('rss_at_verdict_mb'),
  peak_rss_mb: pick('peak_rss_mb'),
  peak_rss_max_mb: Math.max(...runs.map((r) => r.peak_rss_mb)),
  poll_interval_first_ms: median(runs.map((r) => r.poll_interval_first_ms.median)),
  poll_interval_first_max_ms: Math.max(...runs.map((r) => r.poll_interval_first_ms.max)),
  poll_interval_rest_ms: median(runs.map((r) => r.poll_interval_rest_ms.median)),
  each: runs,
};
results.total_s = (performance.now() - started) / 1000;
results.loadavg.end = loadavg()[0];

// ---------------------------------------------------------------- ratios and report

const t = results.tui;
results.ratios = {
  cat_vs_first_screen: results.baseline.cat_ms / t.first_screen_ms,
  first_screen_vs_node_e0: t.first_screen_ms / results.floor.node_e0_ms,
  cat_vs_loaded: results.baseline.cat_ms / t.loaded_ms,
};
results.targets = {
  first_screen_20x: results.ratios.cat_vs_first_screen >= 20,
  first_screen_2s: t.first_screen_ms <= 2000,
  peak_rss_300mb: t.peak_rss_max_mb <= 300,
  g_200ms: t.g_cold_ms <= 200 && t.g_warm_ms <= 200,
};
const r = results.ratios;
const mark = (ok) => (ok ? 'ok  ' : 'MISS');
const x = (v) => `${v >= 100 ? v.toFixed(0) : v.toFixed(1)}x`;
console.log(
  `tui bench (Node ${results.node}, ${results.tmux}${quick ? ', quick' : ''}): ${count(TOTAL)} records, ` +
    `${results.file_mb.toFixed(1)} MB; ${COLUMNS}x${ROWS} terminal; medians of ${t.runs} runs ` +
    `(screen polled every ${POLL_MS} ms: achieved ${ms(t.poll_interval_first_ms)} ms median, ${ms(t.poll_interval_first_max_ms)} ms max)`,
);
console.log(
  `  floor: node -e 0 ${ms(results.floor.node_e0_ms)} ms, agent-replay --version ${ms(results.floor.cli_version_ms)} ms`,
);
console.log(
  `  baseline: agent-replay cat | (drained) ${ms(results.baseline.cat_ms)} ms (${results.baseline.cat_output_mb.toFixed(0)} MB out, median of ${BASE_RUNS})`,
);
console.log(
  `  ${mark(results.targets.first_screen_20x && results.targets.first_screen_2s)} first screen          ${ms(t.first_screen_ms).padStart(7)} ms  ` +
    `${x(r.cat_vs_first_screen)} faster than cat (target >= 20x and <= 2000 ms); ${x(r.first_screen_vs_node_e0)} node -e 0`,
);
console.log(
  `       detail and previews   ${ms(t.screen_filled_ms).padStart(7)} ms  (the frames after the first: the detail pane and the rows' previews filled)`,
);
console.log(
  `  ${mark(t.g_cold_ms <= 200)} G right after         ${ms(t.g_cold_ms).padStart(7)} ms  (max ${ms(t.g_cold_max_ms)} ms; target <= 200 ms; the load still running)`,
);
console.log(
  `  ${mark(t.g_warm_ms <= 200)} G after the load      ${ms(t.g_warm_ms).padStart(7)} ms  (target <= 200 ms)`,
);
console.log(`       d (next denial)       ${ms(t.d_next_ms).padStart(7)} ms  from the first row`);
console.log(`       D (previous denial)   ${ms(t.d_previous_ms).padStart(7)} ms  from the last row`);
console.log(
  `       fully loaded          ${ms(t.loaded_ms).padStart(7)} ms  (cat / loaded: ${x(r.cat_vs_loaded)})`,
);
console.log(
  `       verdict ${t.verdicts.join('/')}         ${ms(t.verdict_ms).padStart(7)} ms  (worker thread)`,
);
console.log(
  `  ${mark(results.targets.peak_rss_300mb)} peak RSS (VmHWM)      ${t.peak_rss_mb.toFixed(0).padStart(7)} MB  ` +
    `(max ${t.peak_rss_max_mb.toFixed(0)} MB; at full load ${t.rss_at_loaded_mb.toFixed(0)} MB, at the verdict ${t.rss_at_verdict_mb.toFixed(0)} MB; target <= 300 MB)`,
);
log(`total ${results.total_s.toFixed(0)} s`);
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
