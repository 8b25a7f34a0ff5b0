// Micro-benchmark for packages/format/src/canonical-json.ts on realistic agent records.
//
//   cd packages/format && npx tsc -p . && cd ../.. && node test/bench/canonical-json.bench.mjs
//
// When the package build is broken by unrelated files, compile the one file and point CANONICAL_JSON at it:
//   cd packages/format && npx tsc --ignoreConfig --outDir /tmp/cj --module nodenext --target es2023 \
//     --moduleResolution nodenext --types node --skipLibCheck src/canonical-json.ts
//   CANONICAL_JSON=/tmp/cj/canonical-json.js node test/bench/canonical-json.bench.mjs
//
// Prints MB/s (UTF-8 bytes of output per CPU second) for JSON.stringify, our canonicalize, the `canonicalize`
// npm package and a "key-sorted copy + one JSON.stringify" prototype, plus ratios against JSON.stringify.
// Env: RECORDS (default 2000), SECONDS per implementation and data set (default 1.5), SEED (default 1), FLATTEN
// (default 1, see below), UNICODE (fraction of
// texts containing non-Latin-1 characters, default 0.5).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const ourPath = process.env.CANONICAL_JSON ?? path.join(root, 'packages/format/dist/canonical-json.js');
const { canonicalize, newCanonicalStats } = await import(pathToFileURL(path.resolve(ourPath)).href);
// The package is a devDependency of @agent-replay/format, so resolve it from there.
const requireFromFormat = createRequire(path.join(root, 'packages/format/package.json'));
const { default: pkgCanonicalize } = await import(
  pathToFileURL(requireFromFormat.resolve('canonicalize')).href
);

// ---------------------------------------------------------------------------------------------------------
// Seeded generator of OpenAI Responses API shaped records (1–20 KB each).

let seed = Number(process.env.SEED ?? 1) >>> 0 || 1;
function rand() {
  // mulberry32
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const id = (prefix) =>
  prefix + '_' + Math.floor(rand() * 2 ** 52).toString(36) + Math.floor(rand() * 2 ** 52).toString(36);

const ASCII_WORDS = (
  'the model agent tool call returns result value function search file read write error retry response ' +
  'token context window user assistant system message stream event trace span handoff guardrail output ' +
  'input reasoning summary because therefore however x=1 if(a<b){return "ok";} path\\to\\file C:\\tmp'
).split(' ');
// Model output frequently contains at least one non-Latin-1 character (curly quotes, dashes, emoji), which
// makes V8 store the whole string as two-byte (slower to escape and to check for lone surrogates); by default
// half of the generated texts do.
const UNICODE = Number(process.env.UNICODE ?? 0.5);
const UNICODE_WORDS = ASCII_WORDS.concat(
  'résumé naïve café 東京 数据 Привет 🙂 🚀 — “quoted” ‘single’ don’t'.split(' '),
);

function prose(bytes) {
  const words = rand() < UNICODE ? UNICODE_WORDS : ASCII_WORDS;
  let s = '';
  while (s.length < bytes) {
    s += pick(words);
    const r = rand();
    s += r < 0.04 ? '\n\n' : r < 0.08 ? '.\n' : r < 0.1 ? '\t' : r < 0.12 ? ', "' : ' ';
  }
  return s;
}

function toolArgs(bytes) {
  const obj = {
    query: prose(40),
    path: '/repo/src/' + pick(ASCII_WORDS) + '.ts',
    limit: int(1, 100),
    flags: [],
  };
  while (JSON.stringify(obj).length < bytes) {
    obj.flags.push({ name: pick(ASCII_WORDS), on: rand() < 0.5, note: prose(60) });
  }
  return JSON.stringify(obj);
}

function usage() {
  const input = int(100, 120000);
  const output = int(10, 8000);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: int(0, input) },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: int(0, output) },
    total_tokens: input + output,
  };
}

// A function tool definition: many small objects, the structure-heavy part of a request.
function tool() {
  const properties = {};
  const n = int(1, 6);
  for (let i = 0; i < n; i++) {
    properties[pick(ASCII_WORDS) + '_' + i] =
      rand() < 0.3
        ? { type: 'array', items: { type: 'string' }, description: prose(40) }
        : { type: pick(['string', 'integer', 'boolean']), description: prose(60) };
  }
  return {
    type: 'function',
    name: pick(['read_file', 'search', 'run_shell', 'write_file', 'fetch_url']) + '_' + int(0, 9),
    description: prose(int(50, 300)),
    parameters: {
      type: 'object',
      properties,
      required: Object.keys(properties).slice(0, 2),
      additionalProperties: false,
    },
    strict: true,
  };
}

function outputItem(budget) {
  switch (int(0, 3)) {
    case 0:
      return {
        type: 'message',
        id: id('msg'),
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: prose(budget), annotations: [], logprobs: [] }],
      };
    case 1:
      return {
        type: 'function_call',
        id: id('fc'),
        call_id: id('call'),
        name: pick(['read_file', 'search', 'run_shell', 'write_file']),
        arguments: toolArgs(budget),
        status: 'completed',
      };
    case 2:
      return {
        type: 'function_call_output',
        call_id: id('call'),
        output: JSON.stringify({ ok: true, data: prose(budget) }),
      };
    default:
      return { type: 'reasoning', id: id('rs'), summary: [{ type: 'summary_text', text: prose(budget) }] };
  }
}

function envelope(i, kind, data) {
  return {
    v: 1,
    seq: i,
    ts: 1760000000000 + i * 37,
    kind,
    trace_id: id('trace'),
    span_id: id('span'),
    parent_id: rand() < 0.5 ? null : id('span'),
    data,
  };
}

// Three record shapes, 1–20 KB: model responses (few long strings), model requests (conversation input
// items + tool schemas: many small objects) and tool spans (medium strings).
function record(i) {
  const size = int(1000, 20000);
  const shape = int(0, 2);
  if (shape === 0) {
    const n = int(1, 4);
    const output = [];
    for (let k = 0; k < n; k++) output.push(outputItem(size / n));
    return envelope(i, 'model_response', {
      response: {
        id: id('resp'),
        object: 'response',
        created_at: 1760000000 + i,
        model: 'gpt-4.1-2025-04-14',
        status: 'completed',
        temperature: 1,
        top_p: 1,
        parallel_tool_calls: true,
        tool_choice: 'auto',
        text: { format: { type: 'text' } },
        reasoning: { effort: null, summary: null },
        output,
        usage: usage(),
        metadata: {},
      },
    });
  }
  if (shape === 1) {
    const tools = [];
    const input = [{ role: 'user', content: prose(int(20, 400)) }];
    let bytes = 0;
    while (bytes < size) {
      const t = rand() < 0.3 ? tool() : outputItem(int(30, 600));
      (t.type === 'function' ? tools : input).push(t);
      bytes += JSON.stringify(t).length;
    }
    return envelope(i, 'model_request', {
      model: 'gpt-4.1',
      instructions: prose(int(100, 800)),
      input,
      tools,
      model_settings: {
        temperature: 0.2,
        top_p: null,
        parallel_tool_calls: true,
        truncation: 'auto',
        store: false,
      },
    });
  }
  return envelope(i, 'tool_span', {
    name: pick(['read_file', 'search', 'run_shell']),
    input: toolArgs(int(50, 500)),
    output: prose(size),
    duration_ms: int(1, 5000),
    error: null,
  });
}

const RECORDS = Number(process.env.RECORDS ?? 2000);
const SECONDS = Number(process.env.SECONDS ?? 1.5);
const records = Array.from({ length: RECORDS }, (_, i) => record(i));

// ---------------------------------------------------------------------------------------------------------
// The alternative design: build a key-sorted plain copy, then one native JSON.stringify. Only valid for plain
// JSON data, and it has to fall back to hand serialization for any object whose sorted keys JS would
// re-order (integer-like keys such as "10" before "9"), so it is shown here for comparison only.

const INDEX_KEY = /^(?:0|[1-9][0-9]*)$/;
function sortedCopy(v) {
  // Lone surrogates must be repaired here too, or the comparison would be unfair.
  if (typeof v === 'string') return v.isWellFormed() ? v : v.toWellFormed();
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(sortedCopy);
  const keys = Object.keys(v).sort();
  const out = {};
  for (const k of keys) {
    if (INDEX_KEY.test(k) || !k.isWellFormed()) return { __needsSlowPath: true };
    out[k] = sortedCopy(v[k]);
  }
  return out;
}
const copyTrick = (v) => JSON.stringify(sortedCopy(v));

// ---------------------------------------------------------------------------------------------------------

function check() {
  for (const r of records) {
    const a = canonicalize(r);
    if (a !== pkgCanonicalize(r) || a !== copyTrick(r)) {
      throw new Error('implementations disagree on record ' + r.seq);
    }
  }
}

// Our output (and the package's) is a V8 rope that gets flattened on first use; JSON.stringify's is flat.
// The writer hashes every record, so by default each result is flattened inside the timed region
// (charCodeAt forces it) to charge that copy to the implementation that causes it. FLATTEN=0 skips it.
const FLATTEN = process.env.FLATTEN !== '0';

// The machine is shared, so CPU time (user + system, which also charges GC helper threads) is measured,
// implementations are interleaved round-robin, and the best and median pass of each are reported.
function run(set, impls) {
  const bytes = impls.map(([, fn]) => set.reduce((n, r) => n + Buffer.byteLength(fn(r)), 0));
  for (const [, fn] of impls) for (let i = 0; i < 3; i++) for (const r of set) fn(r); // warm-up
  const times = impls.map(() => []);
  const deadline = Date.now() + SECONDS * 1000 * impls.length;
  let sink = 0;
  for (let round = 0; round < 5 || Date.now() < deadline; round++) {
    impls.forEach(([, fn], i) => {
      const start = process.cpuUsage();
      if (FLATTEN) {
        for (const r of set) {
          const out = fn(r);
          sink += out.charCodeAt(out.length >> 1);
        }
      } else {
        for (const r of set) sink += fn(r).length;
      }
      const used = process.cpuUsage(start);
      times[i].push((used.user + used.system) / 1e6);
    });
  }
  if (sink === 0) console.log('');
  return impls.map(([name], i) => {
    const t = times[i].sort((x, y) => x - y);
    return { name, best: bytes[i] / t[0] / 1e6, median: bytes[i] / t[t.length >> 1] / 1e6, rounds: t.length };
  });
}

const stats = newCanonicalStats();
const impls = [
  ['JSON.stringify (not canonical)', (r) => JSON.stringify(r)],
  ['canonicalize (ours)', (r) => canonicalize(r)],
  [
    'canonicalize (ours, stats+onLarge+escape)',
    (r) =>
      canonicalize(r, { stats, onLarge: () => undefined, largeThreshold: 1024, escapeReservedKeys: true }),
  ],
  ['canonicalize (npm package)', (r) => pkgCanonicalize(r)],
  ['sorted copy + JSON.stringify', copyTrick],
];

function report(title, set) {
  const total = set.reduce((n, r) => n + Buffer.byteLength(JSON.stringify(r)), 0);
  console.log(
    `\n${title}: ${set.length} records, ${(total / 1e6).toFixed(1)} MB, avg ${(total / set.length / 1024).toFixed(1)} KB`,
  );
  const results = run(set, impls);
  const base = results[0];
  console.log(
    `${''.padEnd(44)} ${'best'.padStart(11)} ${'median'.padStart(11)}   ratio to JSON.stringify (best/median)`,
  );
  for (const r of results) {
    console.log(
      `${r.name.padEnd(44)} ${r.best.toFixed(0).padStart(6)} MB/s ${r.median.toFixed(0).padStart(6)} MB/s   ` +
        `${(r.best / base.best).toFixed(2)}× / ${(r.median / base.median).toFixed(2)}×`,
    );
  }
  const [, ours, , pkg, copy] = results;
  console.log(
    `ours vs npm package: ${(ours.best / pkg.best).toFixed(2)}× (median ${(ours.median / pkg.median).toFixed(2)}×); ` +
      `ours vs sorted copy: ${(ours.best / copy.best).toFixed(2)}× (median ${(ours.median / copy.median).toFixed(2)}×); ` +
      `${ours.rounds} rounds`,
  );
}

check();
console.log(
  `node ${process.version}; CPU-time MB/s of UTF-8 output; flatten ${FLATTEN ? 'on' : 'off'}; UNICODE=${UNICODE}`,
);
report('all shapes', records);
report(
  'text-heavy (model responses, tool spans)',
  records.filter((r) => r.kind !== 'model_request'),
);
report(
  'structure-heavy (model requests: input items + tool schemas)',
  records.filter((r) => r.kind === 'model_request'),
);
