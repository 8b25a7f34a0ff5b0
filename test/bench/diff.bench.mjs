// Diff of two large sessions of the same workflow that differ in about 1% of their steps: `agent-replay diff`
// against the baseline a person would reach for, `diff` over the two `cat --json` outputs (which also answers
// badly: every record differs in its ids and timestamps).
//   node test/bench/diff.bench.mjs [--quick] [--records N] [--json out.json]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBigSession } from './big-session.mjs';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const option = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const records = Number(option('--records') ?? (quick ? 20_000 : 100_000));
const runs = quick ? 1 : 3;
const cli = fileURLToPath(new URL('../../apps/cli/dist/main.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'arec-diff-bench-'));

/** Runs a shell command; wall time and peak RSS of the whole process tree (GNU time of `sh -c`). */
function measure(command) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%M', 'sh', '-c', command], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d.length > 0 && out.length < 4096 ? d.toString() : '';
    });
    child.stderr.on('data', (d) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const rssKb = Number(err.trim().split('\n').at(-1));
      resolve({ code, ms, rssMb: rssKb / 1024, out });
    });
  });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

try {
  const a = join(work, 'a.arec');
  const b = join(work, 'b.arec');
  // Every 97th turn differs: its model call, its tool call and the next model call's input (~1% of steps).
  const written = await writeBigSession(a, records);
  await writeBigSession(b, records, { variant: (turn) => turn % 97 === 0 });
  console.log(`[diff bench] two sessions of ${written.records.toLocaleString('en-US')} records`);
  const ours = [];
  const baseline = [];
  for (let i = 0; i < runs; i++) {
    const result = await measure(`node ${cli} diff ${a} ${b} --json > ${join(work, 'report.json')}`);
    ours.push(result);
    baseline.push(
      await measure(
        `node ${cli} cat ${a} --json > ${join(work, 'a.jsonl')} && node ${cli} cat ${b} --json > ${join(work, 'b.jsonl')} && diff ${join(work, 'a.jsonl')} ${join(work, 'b.jsonl')} | wc -l`,
      ),
    );
  }
  const report = JSON.parse(readFileSync(join(work, 'report.json'), 'utf8'));
  const results = {
    records: written.records,
    steps: report.counts.aligned,
    changed: report.counts.changed,
    first_divergence_turn: report.first_divergence?.turn ?? null,
    diff_ms: median(ours.map((r) => r.ms)),
    diff_peak_rss_mb: Math.max(...ours.map((r) => r.rssMb)),
    baseline_ms: median(baseline.map((r) => r.ms)),
    baseline_peak_rss_mb: Math.max(...baseline.map((r) => r.rssMb)),
    baseline_diff_lines: Number(baseline.at(-1).out.trim()),
  };
  console.log(
    `  agent-replay diff --json   ${(results.diff_ms / 1000).toFixed(2)} s, peak RSS ${results.diff_peak_rss_mb.toFixed(0)} MB`,
  );
  console.log(
    `    ${results.steps.toLocaleString('en-US')} steps aligned, ${results.changed} changed, first divergence at turn ${results.first_divergence_turn}`,
  );
  console.log(
    `  baseline cat --json ×2 + diff   ${(results.baseline_ms / 1000).toFixed(2)} s, peak RSS ${results.baseline_peak_rss_mb.toFixed(0)} MB, ${results.baseline_diff_lines.toLocaleString('en-US')} lines of diff output`,
  );
  console.log(
    `  ratio baseline/ours: ${(results.baseline_ms / results.diff_ms).toFixed(2)}×  (targets: ≤ 5 s, ≤ 500 MB, faster than the baseline)`,
  );
  const jsonOut = option('--json');
  if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
