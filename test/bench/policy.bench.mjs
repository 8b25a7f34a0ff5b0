// Policy evaluation cost per call with a 200-rule policy (p50/p99, every call timed on its own), and what-if
// throughput over a large recorded session, against reading the same session without deciding anything.
//   node test/bench/policy.bench.mjs [--quick] [--records N] [--json out.json]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionReader } from '@agent-replay/format';
import { PolicyEngine, parsePolicy, whatIf } from '@agent-replay/policy';
import { writeBigSession } from './big-session.mjs';
import { prng } from './workloads.mjs';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const option = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const records = Number(option('--records') ?? (quick ? 100_000 : 1_000_000));

/** 200 rules of the kinds a real policy has: tool names and globs with argument conditions, models, handoffs. */
function bigPolicy() {
  const rules = [];
  const tests = [
    (i) => `{ equals: env-${i} }`,
    (i) => `{ in: [a-${i}, b-${i}, c-${i}] }`,
    (i) => `{ glob: "prod-${i}-*" }`,
    (i) => `{ regex: "^host-${i}\\\\d+$" }`,
  ];
  for (let i = 0; i < 200; i++) {
    if (i % 10 === 7)
      rules.push(`  - { id: model-${i}, model: [model-${i}, "model-${i}-*"], decision: deny }`);
    else if (i % 10 === 9)
      rules.push(`  - { id: handoff-${i}, handoff: { to: agent-${i} }, decision: require_approval }`);
    else
      rules.push(
        `  - { id: tool-${i}, tool: ${i % 3 === 0 ? `"tool_${i}_*"` : `tool_${i}`}, when: { args.target: ${tests[i % 4](i)} }, decision: deny, reason: rule ${i} }`,
      );
  }
  return parsePolicy(
    `policy: { id: bench, version: 1 }\ndefault: allow\nrules:\n${rules.join('\n')}\n`,
    'bench.yaml',
  );
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const engine = new PolicyEngine(bigPolicy());
const random = prng(5);
const calls = Array.from({ length: 50_000 }, (_, n) => {
  const i = Math.floor(random() * 220);
  const r = random();
  if (r < 0.7)
    return {
      kind: 'tool',
      name: i % 3 === 0 ? `tool_${i}_x` : `tool_${i}`,
      args: JSON.stringify({ target: `host-${i}${n % 10}` }),
    };
  if (r < 0.9) return { kind: 'model', name: `model-${i}` };
  return { kind: 'handoff', from: 'triage', to: `agent-${i}` };
});
for (const call of calls.slice(0, 5000)) engine.decide(call); // warm up
const times = new Float64Array(calls.length);
let floor = 0n;
for (let n = 0; n < 2000; n++) {
  const a = process.hrtime.bigint();
  floor += process.hrtime.bigint() - a;
}
const floorNs = Number(floor) / 2000;
for (let n = 0; n < calls.length; n++) {
  const a = process.hrtime.bigint();
  engine.decide(calls[n]);
  times[n] = Number(process.hrtime.bigint() - a) - floorNs;
}
times.sort();
const p50 = percentile(times, 50) / 1000;
const p99 = percentile(times, 99) / 1000;
console.log(
  `policy bench (Node ${process.versions.node}): 200 rules, ${calls.length.toLocaleString('en-US')} calls (70% tool, 20% model, 10% handoff)`,
);
console.log(
  `  decide: p50 ${p50.toFixed(2)} µs, p99 ${p99.toFixed(2)} µs (target p99 <= 50 µs; timer floor ${(floorNs / 1000).toFixed(2)} µs subtracted)`,
);

const work = mkdtempSync(join(tmpdir(), 'arec-policy-bench-'));
try {
  const path = join(work, 'big.arec');
  await writeBigSession(path, records);
  let t = performance.now();
  const reader = await SessionReader.open(path);
  let lines = 0;
  for await (const _ of reader.lines()) lines++;
  reader.close();
  const readMs = performance.now() - t;
  t = performance.now();
  const report = await whatIf(engine, path);
  const whatIfMs = performance.now() - t;
  const rate = report.calls / (whatIfMs / 1000);
  console.log(
    `  what-if: ${report.calls.toLocaleString('en-US')} calls in ${lines.toLocaleString('en-US')} records, ${(whatIfMs / 1000).toFixed(2)} s = ${Math.round(rate).toLocaleString('en-US')} calls/s (target >= 100,000); ${report.changes.length} would change`,
  );
  console.log(
    `    baseline: reading the records without deciding ${(readMs / 1000).toFixed(2)} s (what-if / read: ${(whatIfMs / readMs).toFixed(2)}x)`,
  );
  const jsonOut = option('--json');
  if (jsonOut) {
    writeFileSync(
      jsonOut,
      `${JSON.stringify({ rules: 200, p50_us: p50, p99_us: p99, records: lines, calls: report.calls, what_if_ms: whatIfMs, read_ms: readMs, calls_per_s: rate }, null, 2)}\n`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
