// Session-file benchmark (issue [A]): our writer/verifier against the obvious hand-written alternative —
// JSON.stringify each record, append as lines, gzip -6 the stream; verify = gunzip + JSON.parse every line.
// Everything is measured in one process and reported as ratios (absolute times on shared machines are noise).
//
//   node test/bench/format.bench.mjs [--quick] [--json out.json]
//
// Workloads (seeded, reproducible):
//   (a) conversation: 200 turns, every model call carries the whole growing history (quadratic for naive logs)
//   (b) varied: records of ~2-3 KB without repetition (tool outputs, code, JSON)
// Plus: a sealed 1M-record file, reading record N must decode exactly one segment.
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createGzip, gunzipSync } from 'node:zlib';
import { getCodec, SessionReader, SessionWriter, verifySession } from '@agent-replay/format';
import { code, prng, text } from './workloads.mjs';

const quick = process.argv.includes('--quick');
const jsonOut = process.argv.includes('--json')
  ? process.argv[process.argv.indexOf('--json') + 1]
  : undefined;
const dir = mkdtempSync(join(tmpdir(), 'arec-bench-'));

function conversation(turns) {
  const random = prng(1);
  const records = [];
  const history = [{ role: 'system', content: text(random, 300) }];
  for (let turn = 1; turn <= turns; turn++) {
    history.push(
      turn % 3 === 0
        ? {
            type: 'function_call_output',
            call_id: `call_${turn}`,
            output: text(random, 250 + Math.floor(random() * 250)),
          }
        : { role: 'user', content: text(random, 120 + Math.floor(random() * 200)) },
    );
    const output = {
      type: 'message',
      role: 'assistant',
      content: [{ type: 'output_text', text: text(random, 150) }],
    };
    records.push({
      type: 'span.end',
      fields: {
        span: {
          id: `span_${turn}`,
          kind: 'response',
          data: {
            _input: [...history],
            _response: { id: `resp_${turn}`, output: [output], usage: { input_tokens: turn * 900 } },
          },
        },
      },
    });
    history.push(output);
  }
  return records;
}

/** (b) ~2-3 KB records, no repetition: tool outputs, code, JSON results. */
function varied(count) {
  const random = prng(2);
  const records = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 3;
    const data =
      kind === 0
        ? {
            name: 'read_file',
            input: JSON.stringify({ path: `/srv/app/${i}.ts` }),
            output: code(random, 22 + Math.floor(random() * 10)),
          }
        : kind === 1
          ? {
              name: 'search',
              input: JSON.stringify({ q: text(random, 4) }),
              output: text(random, 300 + Math.floor(random() * 120)),
            }
          : {
              name: 'query_db',
              input: JSON.stringify({ sql: `select * from t${i}` }),
              output: JSON.stringify(
                Array.from({ length: 12 + Math.floor(random() * 6) }, (_, r) => ({
                  id: i * 100 + r,
                  name: text(random, 3),
                  value: random() * 1000,
                  ok: random() < 0.9,
                })),
              ),
            };
    records.push({ type: 'span.end', fields: { span: { id: `span_${i}`, kind: 'function', data } } });
  }
  return records;
}

async function baselineWrite(records, path) {
  const started = performance.now();
  const gzip = createGzip({ level: 6 });
  const file = createWriteStream(path);
  gzip.pipe(file);
  let seq = 0;
  for (const r of records) {
    const line = `${JSON.stringify({ seq: ++seq, ts: new Date().toISOString(), type: r.type, ...r.fields })}\n`;
    if (!gzip.write(line)) await once(gzip, 'drain');
  }
  gzip.end();
  await once(file, 'finish');
  return performance.now() - started;
}

function baselineVerify(path) {
  const started = performance.now();
  const text = gunzipSync(readFileSync(path)).toString('utf8');
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    JSON.parse(line);
    n++;
  }
  return { ms: performance.now() - started, records: n };
}

async function oursWrite(records, path, codec) {
  const started = performance.now();
  const writer = await SessionWriter.create(path, { codec });
  for (const r of records) writer.append(r.type, r.fields);
  await writer.close();
  return performance.now() - started;
}

async function oursVerify(path, codec) {
  const started = performance.now();
  const report = await verifySession(path, { codec });
  if (report.verdict !== 'VALID') throw new Error(`bench file not VALID: ${report.summary}`);
  return performance.now() - started;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (bytes) => (bytes / 1e6).toFixed(1);

async function workload(name, records, codec, repeats) {
  const raw = records.reduce((n, r) => n + JSON.stringify(r.fields).length + 60, 0);
  const base = [];
  const ours = [];
  const baseV = [];
  const oursV = [];
  let baseSize = 0;
  let oursSize = 0;
  for (let i = 0; i < repeats; i++) {
    const gz = join(dir, `${name}-${i}.jsonl.gz`);
    const arec = join(dir, `${name}-${i}.arec`);
    // alternate the order so neither side always runs on a warmer machine
    if (i % 2 === 0) {
      base.push(await baselineWrite(records, gz));
      ours.push(await oursWrite(records, arec, codec));
    } else {
      ours.push(await oursWrite(records, arec, codec));
      base.push(await baselineWrite(records, gz));
    }
    baseSize = statSync(gz).size;
    oursSize = statSync(arec).size;
    baseV.push(baselineVerify(gz).ms);
    oursV.push(await oursVerify(arec, codec));
    rmSync(gz);
    if (i < repeats - 1) rmSync(arec);
  }
  return {
    workload: name,
    records: records.length,
    raw_mb: Number(mb(raw)),
    write_speedup: median(base) / median(ours),
    size_ratio: oursSize / baseSize,
    verify_speedup: median(baseV) / median(oursV),
    ours_mb: Number(mb(oursSize)),
    gzip_mb: Number(mb(baseSize)),
    ours_write_ms: Math.round(median(ours)),
    baseline_write_ms: Math.round(median(base)),
    ours_verify_ms: Math.round(median(oursV)),
    baseline_verify_ms: Math.round(median(baseV)),
  };
}

async function randomAccess(codec, count) {
  const path = join(dir, 'million.arec');
  const writer = await SessionWriter.create(path, { codec });
  for (let i = 1; i <= count; i++) writer.append('tick', { i, note: `record ${i}` });
  await writer.close();
  const started = performance.now();
  const reader = await SessionReader.open(path);
  const target = Math.floor(count * 0.737);
  const record = await reader.get(target);
  const ms = performance.now() - started;
  if (record?.i !== target) throw new Error('random access returned the wrong record');
  const result = {
    records: count,
    file_mb: Number(mb(statSync(path).size)),
    segments: reader.segments.length,
    segments_decoded: reader.stats.segmentsDecoded,
    open_and_get_ms: Number(ms.toFixed(1)),
  };
  reader.close();
  rmSync(path);
  return result;
}

const codec = await getCodec('auto');
const turns = quick ? 80 : 200;
const variedCount = quick ? 4000 : 20000;
const repeats = quick ? 1 : 3;
console.error(
  `format bench: Node ${process.versions.node}, codec ${codec.name}, ${quick ? 'quick' : 'full'} run`,
);
const results = {
  node: process.versions.node,
  codec: codec.name,
  conversation: await workload('conversation', conversation(turns), codec, repeats),
  varied: await workload('varied', varied(variedCount), codec, repeats),
  random_access: await randomAccess(codec, quick ? 100_000 : 1_000_000),
};
rmSync(dir, { recursive: true, force: true });

const row = (r) =>
  `${r.workload.padEnd(13)} ${String(r.records).padStart(6)} rec ${String(r.raw_mb).padStart(7)} MB raw | write ${r.write_speedup.toFixed(2)}x | size ${r.size_ratio.toFixed(3)}x gzip (${r.ours_mb} vs ${r.gzip_mb} MB) | verify ${r.verify_speedup.toFixed(2)}x`;
console.log(`Node ${results.node} (${results.codec}) — ratios vs JSON lines + gzip -6, same run`);
console.log(row(results.conversation));
console.log(row(results.varied));
const ra = results.random_access;
console.log(
  `random access: ${ra.records} records (${ra.file_mb} MB, ${ra.segments} segments): open + get(N) ${ra.open_and_get_ms} ms, ${ra.segments_decoded} segment decoded`,
);
if (jsonOut) (await import('node:fs')).writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
