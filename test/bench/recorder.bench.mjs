// Recorder benchmark (issue [B]): what recording costs a running agent, measured in one process.
//
//   node test/bench/recorder.bench.mjs [--quick] [--json out.json]
//
// (1) A realistic agent loop on a zero-latency scripted model: 200 turns, one tool call per turn returning 2-20 KB,
//     every model call carrying the whole growing history. Run time (including the final flush) with
//       - no processor (tracing on, nothing registered),
//       - the obvious alternative: the SDK's BatchTraceProcessor with a hand-written exporter appending JSON lines,
//       - our SessionRecorder (redaction on, buffered durability, sessions sealed at the end).
//     Rounds are interleaved and the median is reported. Targets: ours <= 1.15x none, <= 1.0x JSON lines.
// (2) The hot path: p50/p99 of one onSpanEnd call for a 10 KB generation span (target p50 <= 20 us).
// (3) Event-loop delay added at 5,000 spans/s of 10 KB each (perf_hooks.monitorEventLoopDelay): p99 with the
//     recorder minus p99 with no processor (target <= 10 ms).
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { SessionRecorder } from '@agent-replay/recorder';
import { fc, SpanEmittingScriptedModel, say, scriptedProvider } from '@agent-replay/testkit';
import {
  Agent,
  BatchTraceProcessor,
  createGenerationSpan,
  getGlobalTraceProvider,
  Runner,
  setTraceProcessors,
  setTracingDisabled,
  tool,
  withTrace,
} from '@openai/agents';
import { z } from 'zod';
import { prng, text } from './workloads.mjs';

const quick = process.argv.includes('--quick');
const jsonOut = process.argv.includes('--json')
  ? process.argv[process.argv.indexOf('--json') + 1]
  : undefined;
const TURNS = 200;
const ROUNDS = quick ? 3 : 5;
const dir = mkdtempSync(join(tmpdir(), 'recorder-bench-'));
setTracingDisabled(false);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

// ---- (1) agent loop ----

const random = prng(7);
const documents = Array.from({ length: TURNS }, () => text(random, 300 + Math.floor(random() * 2700)));

function agentLoop() {
  const fetchDoc = tool({
    name: 'fetch_document',
    description: 'fetch a document',
    parameters: z.object({ id: z.number() }),
    execute: async ({ id }) => documents[id],
  });
  const model = new SpanEmittingScriptedModel(
    (_req, call) =>
      call < TURNS ? [fc(`call_${call}`, 'fetch_document', { id: call })] : [say('summary done')],
    { usage: (_req, call) => ({ inputTokens: 1000 * call, outputTokens: 20 }) },
  );
  const agent = new Agent({
    name: 'Summarizer',
    instructions: 'Summarize every document.',
    tools: [fetchDoc],
  });
  return new Runner({ modelProvider: scriptedProvider(model) }).run(agent, 'Summarize the corpus.', {
    maxTurns: TURNS + 5,
  });
}

/** The obvious alternative: the SDK's batch processor and an exporter that appends one JSON line per item. */
class JsonLinesExporter {
  constructor(path) {
    this.stream = createWriteStream(path, { flags: 'a' });
  }
  async export(items) {
    let chunk = '';
    for (const item of items) chunk += `${JSON.stringify(item)}\n`;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }
  async close() {
    this.stream.end();
    await once(this.stream, 'finish');
  }
}

const variants = {
  none: async () => {
    setTraceProcessors([]);
    const t0 = performance.now();
    await agentLoop();
    return performance.now() - t0;
  },
  jsonl: async (round) => {
    const exporter = new JsonLinesExporter(join(dir, `jsonl-${round}.jsonl`));
    const processor = new BatchTraceProcessor(exporter, { maxQueueSize: 1_000_000, maxBatchSize: 1000 });
    setTraceProcessors([processor]);
    const t0 = performance.now();
    await agentLoop();
    await getGlobalTraceProvider().forceFlush();
    await exporter.close();
    const elapsed = performance.now() - t0;
    await processor.shutdown();
    return elapsed;
  },
  ours: async (round) => {
    const recorder = new SessionRecorder({
      dir: join(dir, `ours-${round}`),
      redactionKeyFile: join(dir, 'redaction.key'),
      handleUncaughtExceptions: false,
    });
    setTraceProcessors([recorder]);
    const t0 = performance.now();
    await agentLoop();
    await recorder.forceFlush();
    await recorder.shutdown();
    return performance.now() - t0;
  },
};

async function agentLoopBenchmark() {
  for (const variant of Object.values(variants)) await variant('warmup');
  const times = { none: [], jsonl: [], ours: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, variant] of Object.entries(variants)) times[name].push(await variant(round));
  }
  const ms = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  return { ms, oursVsNone: ms.ours / ms.none, oursVsJsonl: ms.ours / ms.jsonl };
}

// ---- (2) and (3): span-level measurements with real SDK spans ----

const tenKbInput = Array.from({ length: 10 }, (_, i) => ({
  role: i % 2 ? 'assistant' : 'user',
  content: text(prng(100 + i), 160),
}));

function tenKbSpan(i) {
  const span = createGenerationSpan({
    data: {
      model: 'bench-model',
      model_config: { temperature: 0 },
      input: tenKbInput,
      output: [
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: `answer ${i}` }] },
      ],
      usage: { input_tokens: 2500, output_tokens: 3 },
    },
  });
  span.start();
  return span;
}

async function hotPathBenchmark() {
  const recorder = new SessionRecorder({
    dir: join(dir, 'hot'),
    redactionKeyFile: join(dir, 'redaction.key'),
    handleUncaughtExceptions: false,
  });
  setTraceProcessors([]);
  const costs = [];
  await withTrace('hot-path', async (trace) => {
    await recorder.onTraceStart(trace);
    for (let batch = 0; batch < (quick ? 50 : 200); batch++) {
      const spans = Array.from({ length: 50 }, (_, i) => tenKbSpan(batch * 50 + i));
      for (const span of spans) {
        const t0 = performance.now();
        recorder.onSpanEnd(span);
        costs.push((performance.now() - t0) * 1000);
      }
      await new Promise((r) => setImmediate(r)); // let the background writer run, as it would between spans
    }
    await recorder.onTraceEnd(trace);
  });
  await recorder.forceFlush();
  await recorder.shutdown();
  return { spans: costs.length, p50us: percentile(costs, 0.5), p99us: percentile(costs, 0.99) };
}

/** Produces `rate` spans/s for `seconds`, in 10 ms ticks, and returns the p99 event-loop delay seen meanwhile. */
async function loopDelayUnderLoad(recorder, rate, seconds) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let produced = 0;
  await withTrace('load', async (trace) => {
    if (recorder) await recorder.onTraceStart(trace);
    histogram.enable();
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      for (; produced < due; produced++) {
        const span = tenKbSpan(produced);
        span.end();
        if (recorder) recorder.onSpanEnd(span);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    histogram.disable();
    if (recorder) await recorder.onTraceEnd(trace);
  });
  if (recorder) {
    await recorder.forceFlush();
    await recorder.shutdown();
  }
  return { p99ms: histogram.percentile(99) / 1e6, spans: produced };
}

async function loopDelayBenchmark() {
  const seconds = quick ? 2 : 5;
  setTraceProcessors([]);
  const baseline = await loopDelayUnderLoad(undefined, 5000, seconds);
  const recorder = new SessionRecorder({
    dir: join(dir, 'load'),
    redactionKeyFile: join(dir, 'redaction.key'),
    handleUncaughtExceptions: false,
  });
  const withRecorder = await loopDelayUnderLoad(recorder, 5000, seconds);
  return {
    spansPerSecond: Math.round(withRecorder.spans / seconds),
    baselineP99ms: baseline.p99ms,
    recorderP99ms: withRecorder.p99ms,
    addedP99ms: Math.max(0, withRecorder.p99ms - baseline.p99ms),
  };
}

const mark = (ok) => (ok ? 'ok ' : 'MISS');
const loop = await agentLoopBenchmark();
console.log(`recorder bench (Node ${process.versions.node}${quick ? ', quick' : ''})`);
console.log(
  `agent loop, ${TURNS} turns, median of ${ROUNDS}: none ${loop.ms.none.toFixed(0)} ms, JSON lines ${loop.ms.jsonl.toFixed(0)} ms, ours ${loop.ms.ours.toFixed(0)} ms`,
);
console.log(
  `  ${mark(loop.oursVsNone <= 1.15)} ours / no processor  = ${loop.oursVsNone.toFixed(3)}x (target <= 1.15x)`,
);
console.log(
  `  ${mark(loop.oursVsJsonl <= 1.0)} ours / JSON lines    = ${loop.oursVsJsonl.toFixed(3)}x (target <= 1.0x)`,
);
const hot = await hotPathBenchmark();
console.log(
  `  ${mark(hot.p50us <= 20)} onSpanEnd, 10 KB span: p50 ${hot.p50us.toFixed(1)} us, p99 ${hot.p99us.toFixed(1)} us (${hot.spans} calls; target p50 <= 20 us)`,
);
const delay = await loopDelayBenchmark();
console.log(
  `  ${mark(delay.addedP99ms <= 10)} event-loop delay at ${delay.spansPerSecond} spans/s: p99 ${delay.recorderP99ms.toFixed(2)} ms vs ${delay.baselineP99ms.toFixed(2)} ms without, added ${delay.addedP99ms.toFixed(2)} ms (target <= 10 ms)`,
);
if (jsonOut) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(jsonOut, JSON.stringify({ node: process.versions.node, quick, loop, hot, delay }, null, 2));
}
rmSync(dir, { recursive: true, force: true });
