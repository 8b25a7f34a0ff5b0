// Audit bundles: export and verify a case of 100 sessions holding ~1 GB of records (raw: the decompressed record
// lines, what `zstd -dc` prints), against what a person would do with stock tools on the same files:
//   export  `zip -r -q case.zip sessions/` + `sha256sum sessions/*.arec`       vs  exportBundle({sessions, output})
//   verify  `sha256sum -c SHA256SUMS` in the extracted bundle (unzip untimed)  vs  verifyBundle(bundle)
// Ours runs in a child process of this Node per measurement (so its peak RSS is its own, not the generator's); the
// baselines run in the same loop, interleaved; results are ratios of times over the same bytes.
//   node test/bench/evidence.bench.mjs [--quick] [--sessions N] [--raw-mb MB] [--runs N] [--cpu-prof DIR] [--json out.json]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
// test/ does not depend on @agent-replay/evidence: the built package is imported by path.
const evidence = new URL('../../packages/evidence/dist/index.js', import.meta.url).href;
const argv = process.argv.slice(2);
const option = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const MB = 1e6;

// ---- child modes: generate sessions, or run one export / one verify and report time and peak RSS -------------------
if (argv[0] === '--child') {
  const task = JSON.parse(argv[2]);
  const result = await child(argv[1], task);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

async function child(mode, task) {
  if (mode === 'generate') {
    const { writeBigSession } = await import('./big-session.mjs');
    const { SessionReader } = await import('@agent-replay/format');
    const files = [];
    for (const { path, records, seed } of task.sessions) {
      await writeBigSession(path, records, { seed });
      // Raw size: every record line as stored, newline included (= `zstd -dc file | wc -c`).
      const reader = await SessionReader.open(path);
      let raw = 0;
      let count = 0;
      for await (const { line } of reader.lines()) {
        raw += Buffer.byteLength(line, 'utf8') + 1;
        count++;
      }
      reader.close();
      files.push({ path, records: count, raw, disk: statSync(path).size });
    }
    return { files };
  }
  const { exportBundle, verifyBundle } = await import(evidence);
  // Sampled memory next to the kernel's high-water mark (maxRSS), to tell the JS heap from buffers and WASM.
  const peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    for (const key of Object.keys(peak)) peak[key] = Math.max(peak[key], m[key]);
  };
  const sampler = setInterval(sample, 50);
  const started = performance.now();
  let outcome;
  if (mode === 'export') {
    const result = await exportBundle({
      sessions: task.sessions,
      output: task.output,
      producer: { name: 'agent-replay', version: 'bench' },
    });
    outcome = { files: result.files.length, verdicts: result.sessions.map((s) => s.verdict) };
  } else {
    const result = await verifyBundle(task.bundle);
    outcome = {
      verdict: result.verdict,
      files: result.files,
      problems: result.problems.slice(0, 5),
      sessions: result.sessions.length,
    };
  }
  const ms = performance.now() - started;
  clearInterval(sampler);
  sample();
  return {
    ms,
    max_rss_mb: (process.resourceUsage().maxRSS * 1024) / MB,
    sampled_peak_mb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, v / MB])),
    ...outcome,
  };
}

// ---- the benchmark -----------------------------------------------------------------------------------------------
const quick = argv.includes('--quick');
const sessionCount = Number(option('--sessions') ?? (quick ? 10 : 100));
const rawTarget = Number(option('--raw-mb') ?? (quick ? 50 : 1000)) * MB;
const runs = Number(option('--runs') ?? (quick ? 1 : 3));
const cpuProf = option('--cpu-prof');
const jsonOut = option('--json');
const node = `Node ${process.versions.node}`;

/** Runs `command` in a shell (cwd `dir`): wall time, exit code, peak RSS (GNU time) and the end of its output. */
function shell(command, dir) {
  return new Promise((resolveRun, reject) => {
    const started = performance.now();
    const proc = spawn('/usr/bin/time', ['-f', '%M', 'sh', '-c', command], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => {
      out = (out + d.toString()).slice(-4096);
    });
    proc.stderr.on('data', (d) => {
      err = (err + d.toString()).slice(-4096);
    });
    proc.on('error', reject);
    proc.on('close', (code) => {
      const ms = performance.now() - started;
      const lines = err.trim().split('\n');
      resolveRun({
        code,
        ms,
        rss_mb: (Number(lines.at(-1)) * 1024) / MB,
        out,
        err: lines.slice(0, -1).join('\n'),
      });
    });
  });
}

/** Runs a child mode of this file under this Node; resolves with the JSON it prints. */
function runChild(mode, task, { profile = false } = {}) {
  return new Promise((resolveRun, reject) => {
    const flags =
      profile && cpuProf
        ? ['--cpu-prof', '--cpu-prof-dir', cpuProf, `--cpu-prof-name=${mode}-${Date.now()}.cpuprofile`]
        : [];
    const proc = spawn(process.execPath, [...flags, self, '--child', mode, JSON.stringify(task)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d.toString();
    });
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) reject(new Error(`${mode} child exited with ${code}`));
      else resolveRun(JSON.parse(out.trim().split('\n').at(-1)));
    });
  });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const mbps = (bytes, ms) => bytes / MB / (ms / 1000);
const fmt = (n, digits = 1) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const elapsed = (() => {
  const t0 = performance.now();
  return () => `${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s`;
})();

const missing = ['/usr/bin/zip', '/usr/bin/unzip', '/usr/bin/sha256sum', '/usr/bin/time'].filter((bin) => {
  try {
    statSync(bin);
    return false;
  } catch {
    return true;
  }
});
if (missing.length > 0) {
  console.log(`[evidence bench] skipped: ${missing.join(', ')} not found (the baselines need them)`);
  process.exit(0);
}
if (cpuProf) mkdirSync(resolve(cpuProf), { recursive: true });

const work = mkdtempSync(join(tmpdir(), 'arec-evidence-bench-'));
try {
  const sessionsDir = join(work, 'sessions');
  mkdirSync(sessionsDir);

  // 1. The case: sessions of the big-session workload (seeded per session), sizes from 0.5x to 1.5x the mean, the
  //    record count per session calibrated on a small session so the raw total comes near the target.
  const calibration = await runChild('generate', {
    sessions: [{ path: join(work, 'calibration.arec'), records: 8000, seed: 999 }],
  });
  rmSync(join(work, 'calibration.arec'));
  const perRecord = calibration.files[0].raw / calibration.files[0].records;
  const meanRecords = rawTarget / sessionCount / perRecord;
  const plan = Array.from({ length: sessionCount }, (_, i) => ({
    path: join(sessionsDir, `s${String(i).padStart(3, '0')}.arec`),
    records: Math.max(100, Math.round(meanRecords * (sessionCount > 1 ? 0.5 + i / (sessionCount - 1) : 1))),
    seed: i + 1,
  }));
  const workers = Math.max(1, Math.min(availableParallelism(), 4));
  const generated = await Promise.all(
    Array.from({ length: workers }, (_, w) =>
      runChild('generate', { sessions: plan.filter((_, i) => i % workers === w) }),
    ),
  );
  const files = generated.flatMap((g) => g.files).sort((a, b) => a.path.localeCompare(b.path));
  const raw = files.reduce((n, f) => n + f.raw, 0);
  const disk = files.reduce((n, f) => n + f.disk, 0);
  const records = files.reduce((n, f) => n + f.records, 0);
  console.log(
    `[evidence bench] ${node}: ${files.length} sessions, ${records.toLocaleString('en-US')} records, ${fmt(raw / MB)} MB raw (decompressed record lines), ${fmt(disk / MB)} MB on disk (${fmt(raw / disk)}x) — generated in ${elapsed()}`,
  );

  // 2. Export, interleaved: zip + sha256sum of the session files, then ours.
  // Reference, not the target's baseline: one pass over every record with stock tools (decompress, gzip -1), what
  // any export that writes a transcript must at least do.
  const zstd = (() => {
    try {
      return statSync('/usr/bin/zstd').isFile();
    } catch {
      return false;
    }
  })();
  const baseZip = [];
  const baseSum = [];
  const reference = [];
  const ours = [];
  let bundle;
  for (let r = 0; r < runs; r++) {
    rmSync(join(work, 'case.zip'), { force: true });
    const zip = await shell('zip -r -q case.zip sessions/', work);
    const sum = await shell('sha256sum sessions/*.arec > sessions.sha256', work);
    if (zip.code !== 0 || sum.code !== 0) throw new Error(`baseline export failed: ${zip.err} ${sum.err}`);
    baseZip.push(zip);
    baseSum.push(sum);
    if (zstd) {
      const ref = await shell('zstd -dcq sessions/*.arec | gzip -1 > reference.jsonl.gz', work);
      if (ref.code !== 0) throw new Error(`reference failed: ${ref.err}`);
      reference.push(ref);
    }
    const output = join(work, `bundle-${r}.zip`);
    const result = await runChild(
      'export',
      { sessions: files.map((f) => f.path), output },
      { profile: r === 0 },
    );
    if (result.verdicts.some((v) => v !== 'VALID')) throw new Error(`export: verdicts ${result.verdicts}`);
    ours.push(result);
    if (r === 0) bundle = output;
    else rmSync(output);
    console.log(
      `  export run ${r + 1}/${runs}: zip ${fmt(zip.ms / 1000, 2)} s + sha256sum ${fmt(sum.ms / 1000, 2)} s; exportBundle ${fmt(result.ms / 1000, 2)} s, max RSS ${fmt(result.max_rss_mb, 0)} MB  [${elapsed()}]`,
    );
  }
  const zipSize = statSync(join(work, 'case.zip')).size;
  const bundleSize = statSync(bundle).size;

  // 3. Verify, interleaved: sha256sum -c over the extracted bundle (extracted once, untimed), then ours.
  const extracted = join(work, 'extracted');
  const unzip = await shell(`unzip -q ${bundle} -d ${extracted}`, work);
  if (unzip.code !== 0) throw new Error(`unzip failed: ${unzip.err}`);
  const sums = readFileSync(join(extracted, 'SHA256SUMS'), 'utf8').trim().split('\n');
  const members = sums.map((line) => {
    const name = line.slice(66);
    return { name, size: statSync(join(extracted, name)).size };
  });
  const memberBytes = members.reduce((n, m) => n + m.size, 0);
  const largest = [...members].sort((a, b) => b.size - a.size);
  const transcript = members.find((m) => m.name === 'transcript.jsonl');
  const baseVerify = [];
  const oursVerify = [];
  for (let r = 0; r < runs; r++) {
    const check = await shell('sha256sum -c --quiet SHA256SUMS', extracted);
    if (check.code !== 0) throw new Error(`sha256sum -c failed: ${check.out} ${check.err}`);
    baseVerify.push(check);
    const result = await runChild('verify', { bundle }, { profile: r === 0 });
    if (result.verdict !== 'VALID')
      throw new Error(`verifyBundle: ${result.verdict} ${JSON.stringify(result.problems)}`);
    oursVerify.push(result);
    console.log(
      `  verify run ${r + 1}/${runs}: sha256sum -c ${fmt(check.ms / 1000, 2)} s; verifyBundle ${fmt(result.ms / 1000, 2)} s, max RSS ${fmt(result.max_rss_mb, 0)} MB  [${elapsed()}]`,
    );
  }

  const zipMs = median(baseZip.map((r) => r.ms));
  const sumMs = median(baseSum.map((r) => r.ms));
  const baseExportMs = median(baseZip.map((r, i) => r.ms + baseSum[i].ms));
  const exportMs = median(ours.map((r) => r.ms));
  const referenceMs = reference.length > 0 ? median(reference.map((r) => r.ms)) : null;
  const baseVerifyMs = median(baseVerify.map((r) => r.ms));
  const verifyMs = median(oursVerify.map((r) => r.ms));
  const results = {
    node: process.versions.node,
    sessions: files.length,
    records,
    raw_bytes: raw,
    disk_bytes: disk,
    runs,
    export: {
      baseline_zip_ms: zipMs,
      baseline_sha256sum_ms: sumMs,
      baseline_ms: baseExportMs,
      baseline_zip_bytes: zipSize,
      ours_ms: exportMs,
      ours_all_ms: ours.map((r) => r.ms),
      bundle_bytes: bundleSize,
      reference_zstd_gzip_ms: referenceMs,
      ratio_ours_reference: referenceMs === null ? null : referenceMs / exportMs,
      baseline_raw_mb_s: mbps(raw, baseExportMs),
      baseline_disk_mb_s: mbps(disk, baseExportMs),
      ours_raw_mb_s: mbps(raw, exportMs),
      ours_disk_mb_s: mbps(disk, exportMs),
      ratio_ours_baseline: baseExportMs / exportMs,
      ours_max_rss_mb: Math.max(...ours.map((r) => r.max_rss_mb)),
      ours_sampled_peak_mb: ours[0].sampled_peak_mb,
    },
    verify: {
      members: members.length,
      member_bytes: memberBytes,
      transcript_bytes: transcript?.size ?? 0,
      session_member_bytes: members
        .filter((m) => m.name.startsWith('sessions/'))
        .reduce((n, m) => n + m.size, 0),
      baseline_ms: baseVerifyMs,
      ours_ms: verifyMs,
      ours_all_ms: oursVerify.map((r) => r.ms),
      baseline_mb_s: mbps(memberBytes, baseVerifyMs),
      ours_mb_s: mbps(memberBytes, verifyMs),
      ours_raw_mb_s: mbps(raw, verifyMs),
      ratio_ours_baseline: baseVerifyMs / verifyMs,
      ours_max_rss_mb: Math.max(...oursVerify.map((r) => r.max_rss_mb)),
      ours_sampled_peak_mb: oursVerify[0].sampled_peak_mb,
    },
  };
  const e = results.export;
  const v = results.verify;
  console.log(`  export (median of ${runs}):`);
  console.log(
    `    baseline zip -r + sha256sum  ${fmt(e.baseline_ms / 1000, 2)} s (zip ${fmt(zipMs / 1000, 2)} s, sha256sum ${fmt(sumMs / 1000, 2)} s) = ${fmt(e.baseline_raw_mb_s)} MB/s raw, ${fmt(e.baseline_disk_mb_s)} MB/s on disk; case.zip ${fmt(zipSize / MB)} MB`,
  );
  console.log(
    `    exportBundle                 ${fmt(e.ours_ms / 1000, 2)} s = ${fmt(e.ours_raw_mb_s)} MB/s raw, ${fmt(e.ours_disk_mb_s)} MB/s on disk; bundle ${fmt(bundleSize / MB)} MB; max RSS ${fmt(e.ours_max_rss_mb, 0)} MB (target < 1,000 MB)`,
  );
  console.log(`    ours / baseline throughput: ${e.ratio_ours_baseline.toFixed(2)}x  (target >= 0.7x)`);
  if (referenceMs !== null)
    console.log(
      `    reference zstd -dc | gzip -1 ${fmt(referenceMs / 1000, 2)} s = ${fmt(mbps(raw, referenceMs))} MB/s raw (every record read once; ours / reference ${e.ratio_ours_reference.toFixed(2)}x)`,
    );
  console.log(
    `  verify (median of ${runs}) over the ${members.length} members in SHA256SUMS, ${fmt(memberBytes / MB)} MB (transcript.jsonl ${fmt((transcript?.size ?? 0) / MB)} MB, largest after it ${largest[1]?.name} ${fmt((largest[1]?.size ?? 0) / MB)} MB):`,
  );
  console.log(
    `    baseline sha256sum -c        ${fmt(v.baseline_ms / 1000, 2)} s = ${fmt(v.baseline_mb_s)} MB/s`,
  );
  console.log(
    `    verifyBundle                 ${fmt(v.ours_ms / 1000, 2)} s = ${fmt(v.ours_mb_s)} MB/s of members (${fmt(v.ours_raw_mb_s)} MB/s of raw records); max RSS ${fmt(v.ours_max_rss_mb, 0)} MB (target < 1,000 MB)`,
  );
  console.log(`    ours / baseline throughput: ${v.ratio_ours_baseline.toFixed(2)}x  (target >= 1x)`);
  if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
