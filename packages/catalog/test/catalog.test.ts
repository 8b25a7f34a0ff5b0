import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionReader, SessionWriter } from '@agent-replay/format';
import { SessionRecorder } from '@agent-replay/recorder';
import { fc, SpanEmittingScriptedModel, say } from '@agent-replay/testkit';
import {
  Agent,
  Runner,
  setTraceProcessors,
  setTracingDisabled,
  tool,
  withCustomSpan,
  withTrace,
} from '@openai/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AmbiguousSessionError, Catalog, ftsQuery, summarizeFile } from '../src/index.js';

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function agentReplayDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'catalog-'));
  roots.push(root);
  mkdirSync(join(root, 'sessions'), { recursive: true });
  return root;
}

/** A session written record by record (shapes as the recorder writes them). */
async function writeSession(
  dir: string,
  id: string,
  records: [string, Record<string, unknown>][],
  options: { seal?: boolean } = {},
): Promise<string> {
  const path = join(dir, 'sessions', `${id}.arec`);
  const writer = await SessionWriter.create(path, { sessionId: id });
  for (const [type, fields] of records) writer.append(type, fields);
  if (options.seal === false) {
    await writer.flush();
    await writer.abandon();
  } else await writer.close();
  return path;
}

const toolSpan = (name: string, input: unknown, output: unknown, error: unknown = null) =>
  [
    'span.end',
    { span: { id: `s_${name}`, kind: 'function', error, data: { type: 'function', name, input, output } } },
  ] as [string, Record<string, unknown>];

const start = (workflow: string, subject: string) =>
  [
    'session.start',
    { workflow, identity: { subject, kind: 'human', verified: false, method: 'static' } },
  ] as [string, Record<string, unknown>];

describe('indexing and listing', () => {
  it('lists sessions with their summary and filters them like ls does', async () => {
    const dir = agentReplayDir();
    await writeSession(dir, 'trace_aaa111', [
      start('deploy-bot', 'svc-deployer'),
      ['trace.start', { resumed: false }],
      toolSpan('push_config', '{"environment":"production"}', 'pushed'),
      [
        'policy.decision',
        { decision: 'deny', subject: { kind: 'tool', name: 'push_config' }, reason: 'push to staging first' },
      ],
      ['session.end', { status: 'completed', counts: { tool_calls: 1, denials: 1, traces: 1 } }],
    ]);
    await writeSession(dir, 'trace_bbb222', [
      start('ci_agent', 'alice@example.com'),
      ['trace.start', { resumed: false }],
      toolSpan('pushXconfig', '{}', 'ok'),
      toolSpan('read_file', '{"path":"/etc/hosts"}', null, { message: 'EACCES' }),
    ]);
    const catalog = Catalog.open(dir);
    const report = await catalog.sync();
    expect(report).toMatchObject({ files: 2, indexed: 2, unchanged: 0, failures: [] });
    const all = catalog.list();
    expect(all.map((s) => s.session_id).sort()).toEqual(['trace_aaa111', 'trace_bbb222']);

    const deploy = all.find((s) => s.session_id === 'trace_aaa111');
    expect(deploy).toMatchObject({ workflow: 'deploy-bot', status: 'completed', verdict: 'VALID' });
    expect(deploy?.counts.denials).toBe(1);
    expect(deploy?.by_tool.push_config).toEqual({ calls: 1, errors: 0, denials: 1 });

    // No session.end: totals recomputed from the records, status inferred (no live writer).
    const ci = all.find((s) => s.session_id === 'trace_bbb222');
    expect(ci).toMatchObject({ status: 'incomplete', verdict: 'VALID' });
    expect(ci?.counts).toMatchObject({ tool_calls: 2, errors: 1, traces: 1 });

    expect(catalog.list({ denied: true }).map((s) => s.session_id)).toEqual(['trace_aaa111']);
    // `_` is literal, `*` is the wildcard.
    expect(catalog.list({ tool: 'push_config' }).map((s) => s.session_id)).toEqual(['trace_aaa111']);
    expect(catalog.list({ tool: 'push*' })).toHaveLength(2);
    expect(catalog.list({ workflow: 'ci_agent' }).map((s) => s.session_id)).toEqual(['trace_bbb222']);
    expect(catalog.list({ workflow: 'ci%' })).toHaveLength(0);
    expect(catalog.list({ identity: 'alice@*' }).map((s) => s.session_id)).toEqual(['trace_bbb222']);
    expect(catalog.list({ status: ['incomplete'] }).map((s) => s.session_id)).toEqual(['trace_bbb222']);
    expect(catalog.list({ since: Date.now() + 60_000 })).toHaveLength(0);
    expect(catalog.list({ until: Date.now() - 86_400_000 })).toHaveLength(0);
    expect(() => catalog.list({ since: 'yesterday-ish' })).toThrow(/not a time/);

    // The second sync only stats the files.
    expect(await catalog.sync()).toMatchObject({ indexed: 0, unchanged: 2 });
    catalog.close();
  });

  it('finds sessions by id, unique prefix and latest; an ambiguous prefix names the candidates', async () => {
    const dir = agentReplayDir();
    await writeSession(dir, 'trace_abc1', [start('w', 'a')]);
    await writeSession(dir, 'trace_abc2', [start('w', 'b')]);
    const catalog = Catalog.open(dir);
    await catalog.sync();
    expect(catalog.find('trace_abc1')?.session_id).toBe('trace_abc1');
    expect(catalog.find('latest')?.session_id).toBe('trace_abc2');
    expect(catalog.find('trace_x')).toBeUndefined();
    // LIKE metacharacters in a prefix are literal.
    expect(catalog.find('trace%')).toBeUndefined();
    let error: unknown;
    try {
      catalog.find('trace_abc');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AmbiguousSessionError);
    expect((error as AmbiguousSessionError).candidates.map((c) => c.session_id).sort()).toEqual([
      'trace_abc1',
      'trace_abc2',
    ]);
    catalog.close();
  });
});

describe('search', () => {
  it('turns plain words into phrases, so punctuation is never an FTS5 syntax error', () => {
    expect(ftsQuery('prod.example.com  "x" deploy*')).toBe('"prod.example.com" "x" "deploy"*');
    expect(ftsQuery('  ')).toBe('');
  });

  it('finds text inside deduplicated blobs, points at the record, and indexes a repeated message once', async () => {
    const dir = agentReplayDir();
    const longOutput = `${'log line\n'.repeat(300)}needle-7c1f in the middle${'\nmore log'.repeat(300)}`;
    const history: unknown[] = [{ role: 'user', content: 'rotate the unicorn-credentials please' }];
    const records: [string, Record<string, unknown>][] = [start('ops', 'bob')];
    for (let turn = 0; turn < 5; turn++) {
      history.push({ role: 'assistant', content: `turn ${turn} ${'filler '.repeat(200)}` });
      records.push([
        'span.end',
        {
          span: {
            kind: 'generation',
            error: null,
            data: { type: 'generation', model: 'm', input: [...history] },
          },
        },
      ]);
    }
    records.push(toolSpan('fetch_logs', '{"service":"billing"}', longOutput));
    records.push(toolSpan('fetch_logs', '{"service":"billing"}', longOutput)); // the same output: one blob
    const path = await writeSession(dir, 'trace_blob', records);

    // The file really stores the output once, as a blob referenced by both tool spans.
    const reader = await SessionReader.open(path);
    const blobRecords: number[] = [];
    for await (const record of reader.records({ types: ['blob'] })) blobRecords.push(record.seq);
    reader.close();
    expect(blobRecords.length).toBeGreaterThan(0);

    const catalog = Catalog.open(dir);
    await catalog.sync();
    const hits = catalog.search('needle-7c1f');
    expect(hits.map((h) => h.seq)).toHaveLength(2);
    for (const hit of hits) {
      expect(hit).toMatchObject({ kind: 'tool', name: 'fetch_logs', session_id: 'trace_blob' });
      const [start, end] = hit.highlights[0] ?? [0, 0];
      expect(hit.snippet.slice(start, end)).toBe('needle-7c1f');
    }
    // The first user message rides along in every model call's input, but is indexed at the first call only.
    const first = catalog.search('unicorn credentials');
    expect(first).toHaveLength(1);
    expect(first[0]?.kind).toBe('message');
    expect(catalog.search('nothing-like-this')).toEqual([]);
    expect(catalog.search('billing', { kind: ['message'] })).toEqual([]);
    expect(() => catalog.search('"unbalanced', { raw: true })).toThrow();
    catalog.close();
  });
});

describe('incremental indexing', () => {
  it('indexes only what a session appended, restarts a replaced file, and forgets deleted ones', async () => {
    const dir = agentReplayDir();
    const path = await writeSession(dir, 'trace_grow', [start('w', 'a'), toolSpan('t1', 'alpha-one', 'x')]);
    await writeSession(dir, 'trace_other', [start('w', 'b')]);
    const catalog = Catalog.open(dir);
    await catalog.sync();

    const writer = await SessionWriter.open(path);
    writer.append('span.end', toolSpan('t2', 'beta-two', 'y')[1]);
    await writer.close();
    const grown = await catalog.sync();
    expect(grown).toMatchObject({ indexed: 1, unchanged: 1 });
    // The header of the reopened file, the recovery-free append and the one new record: not the old ones again.
    expect(grown.records).toBeLessThanOrEqual(2);
    expect(catalog.search('alpha one')).toHaveLength(1);
    expect(catalog.search('beta two')).toHaveLength(1);
    expect(catalog.find('trace_grow')?.by_tool).toMatchObject({ t1: { calls: 1 }, t2: { calls: 1 } });

    // A different session written over the same name is indexed from scratch.
    rmSync(path);
    await writeSession(dir, 'trace_grow', [start('w2', 'c'), toolSpan('t3', 'gamma-three', 'z')]);
    await catalog.sync();
    expect(catalog.search('alpha one')).toHaveLength(0);
    expect(catalog.search('gamma three')).toHaveLength(1);
    expect(catalog.find('trace_grow')?.workflow).toBe('w2');

    rmSync(join(dir, 'sessions', 'trace_other.arec'));
    expect((await catalog.sync()).removed).toBe(1);
    expect(catalog.list().map((s) => s.session_id)).toEqual(['trace_grow']);
    catalog.close();
  });

  it('lists a session whose writer is alive as recording, and incomplete once the writer is gone', async () => {
    const dir = agentReplayDir();
    const path = join(dir, 'sessions', 'trace_live.arec');
    const writer = await SessionWriter.create(path);
    writer.append('session.start', { workflow: 'live' });
    await writer.flush();
    const catalog = Catalog.open(dir);
    await catalog.sync();
    expect(catalog.find('trace_live') ?? catalog.list()[0]).toMatchObject({
      status: 'recording',
      verdict: 'UNSEALED',
    });
    await writer.abandon(); // releases the lock without sealing, as a killed process would leave it
    await catalog.sync();
    expect(catalog.list()[0]).toMatchObject({ status: 'incomplete' });
    catalog.close();
  });
});

describe('a damaged catalog', () => {
  it('is set aside and rebuilt from the files, with a warning', async () => {
    const dir = agentReplayDir();
    await writeSession(dir, 'trace_keep', [start('w', 'a'), toolSpan('t', 'kept-text', 'x')]);
    const first = Catalog.open(dir);
    await first.sync();
    first.close();
    writeFileSync(join(dir, 'catalog.sqlite'), Buffer.alloc(8192, 0x5a));
    for (const suffix of ['-wal', '-shm']) rmSync(join(dir, `catalog.sqlite${suffix}`), { force: true });

    const warnings: string[] = [];
    const catalog = Catalog.open(dir, { onWarning: (message) => warnings.push(message) });
    await catalog.sync();
    expect(warnings.join('\n')).toMatch(/damaged.*rebuilding/);
    expect(catalog.search('kept text')).toHaveLength(1);
    expect(readdirSync(dir).some((name) => name.startsWith('catalog.sqlite.broken-'))).toBe(true);
    catalog.close();
  });

  it('lists a file that is not a session as UNREADABLE instead of failing the index', async () => {
    const dir = agentReplayDir();
    writeFileSync(join(dir, 'sessions', 'notes.arec'), 'just some text\n');
    const catalog = Catalog.open(dir);
    const report = await catalog.sync();
    expect(report.failures).toEqual([]);
    expect(catalog.list()[0]).toMatchObject({ verdict: 'UNREADABLE', session_id: null });
    catalog.close();
  });
});

describe('sessions recorded by the real recorder', () => {
  it('recomputes the totals of a session that lost its session.end exactly as the recorder counted them', async () => {
    const dir = agentReplayDir();
    const recorder = new SessionRecorder({
      dir,
      redactionKeyFile: join(dir, 'redaction.key'),
      closeDelayMs: 20,
    });
    setTracingDisabled(false);
    setTraceProcessors([recorder]);
    const lookup = tool({
      name: 'lookup_order',
      description: 'find an order',
      parameters: z.object({ id: z.string() }),
      execute: async ({ id }) => `order ${id}: shipped, token sk-proj-${'a1B2'.repeat(12)}`,
    });
    const model = new SpanEmittingScriptedModel([
      () => [fc('call_1', 'lookup_order', { id: 'A-17' }), fc('call_2', 'lookup_order', { id: 'B-2' })],
      () => [say('Both shipped.')],
    ]);
    const agent = new Agent({ name: 'Support', instructions: 'help', model, tools: [lookup] });
    await withTrace('support-desk', async () => {
      await withCustomSpan(async () => {}, {
        data: {
          name: 'agent_replay.policy_decision',
          data: { decision: 'deny', subject: { kind: 'tool', name: 'refund' }, reason: 'over limit' },
        },
      });
      await new Runner().run(agent, 'Where are A-17 and B-2?');
    });
    await recorder.shutdown();
    setTraceProcessors([]);

    const [name] = readdirSync(join(dir, 'sessions')).filter((n) => n.endsWith('.arec'));
    const original = join(dir, 'sessions', name as string);
    const sealed = await summarizeFile(original);
    expect(sealed.status).toBe('completed');
    expect(sealed.redactions.openai_key).toBeGreaterThan(0);

    // The same records minus session.end, as a crash would leave them.
    const crashedDir = agentReplayDir();
    const reader = await SessionReader.open(original);
    const writer = await SessionWriter.create(join(crashedDir, 'sessions', 'crashed.arec'));
    for await (const record of reader.records()) {
      if (record.type === 'session.end' || record.type === 'blob') continue;
      const {
        seq: _seq,
        ts: _ts,
        type,
        ...fields
      } = (await reader.resolve(record)) as Record<string, unknown>;
      writer.append(String(type), fields);
    }
    reader.close();
    await writer.close();
    const catalog = Catalog.open(crashedDir);
    await catalog.sync();
    const crashed = catalog.list()[0];
    expect(crashed?.status).toBe('incomplete');
    expect(crashed?.counts).toEqual(sealed.counts);
    expect(crashed?.usage).toEqual(sealed.usage);
    expect(crashed?.tools).toEqual(sealed.tools);
    expect(crashed?.models).toEqual(sealed.models);
    // Redactions are recovered from the [REDACTED:kind:…] markers in the records.
    expect(crashed?.redactions).toEqual(sealed.redactions);
    expect(catalog.search('over limit')[0]).toMatchObject({ kind: 'policy', name: 'refund' });
    catalog.close();
  });
});

/** A forger's writer: valid hashes around a record line chosen byte for byte (the real writer refuses this). */
async function writeForged(path: string, lines: string[]): Promise<void> {
  const writer = await SessionWriter.create(path);
  const internals = writer as unknown as { nextSeq: number; push(line: string, ts: string): void };
  for (const line of lines) {
    internals.nextSeq++;
    internals.push(line, '2026-11-21T00:00:00.000000Z');
  }
  await writer.close();
}

describe('regressions from review', () => {
  it('a record cannot claim another seq: a hit points where the record really is', async () => {
    const dir = agentReplayDir();
    await writeSession(dir, 'trace_victim', [start('w', 'a'), toolSpan('t', 'harmless', 'x')]);
    const forged = join(dir, 'sessions', 'zz-forged.arec');
    await writeForged(forged, [
      '{"seq":-4294967295,"span":{"data":{"input":"plantedneedle","name":"t","type":"function"},"kind":"function"},"ts":"2026-11-21T00:00:00.000000Z","type":"span.end"}',
      `{"seq":"\\u001b]0;x\\u0007","ts":7,"type":"identity","identity":{"subject":"${'['.repeat(1)}x"}}`,
    ]);
    const catalog = Catalog.open(dir);
    const report = await catalog.sync();
    expect(report.failures).toEqual([]);
    const hits = catalog.search('plantedneedle');
    expect(hits.map((h) => [h.path, h.seq])).toEqual([[forged, 1]]);
    expect(catalog.list()).toHaveLength(2);
    catalog.close();
  });

  it('indexes a file nested deeper than any agent data, and counts a replaced then grown file completely', async () => {
    const dir = agentReplayDir();
    const deep = `${'['.repeat(50_000)}"bottom"${']'.repeat(50_000)}`;
    const path = join(dir, 'sessions', 'x.arec');
    await writeForged(path, [
      `{"seq":1,"span":{"data":{"input":${deep},"name":"t","type":"function"},"kind":"function"},"ts":"2026-11-21T00:00:00.000000Z","type":"span.end"}`,
      ...Array.from(
        { length: 40 },
        (_, i) => `{"seq":${i + 2},"ts":"2026-11-21T00:00:00.000000Z","type":"trace.start"}`,
      ),
    ]);
    const catalog = Catalog.open(dir);
    expect((await catalog.sync()).failures).toEqual([]);

    // Replaced by a shorter session, which then grows past the old length.
    rmSync(path);
    await writeSession(dir, 'x', [start('w', 'a')]);
    await catalog.sync();
    const writer = await SessionWriter.open(path);
    for (let i = 0; i < 60; i++) writer.append('span.end', toolSpan('grow', `moretok${i}`, 'x')[1]);
    await writer.close();
    await catalog.sync();
    expect(catalog.list()[0]?.by_tool.grow?.calls).toBe(60);
    expect(catalog.search('moretok50')).toHaveLength(1);
    catalog.close();
  });

  it('sees an edit that restores size and mtime, keeps the catalog private, and forgets a copied dir’s old paths', async () => {
    const dir = agentReplayDir();
    const path = await writeSession(dir, 'trace_t', [start('w', 'a'), toolSpan('t', 'x', 'y')]);
    const catalog = Catalog.open(dir);
    await catalog.sync();
    expect(statSync(join(dir, 'catalog.sqlite')).mode & 0o777).toBe(0o600);
    expect(catalog.list()[0]?.verdict).toBe('VALID');
    const { mtime, atime } = statSync(path);
    const bytes = readFileSync(path);
    bytes[bytes.length - 200] = (bytes[bytes.length - 200] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);
    utimesSync(path, atime, mtime); // `touch -r`: same size, same mtime
    await catalog.sync();
    expect(catalog.list()[0]?.verdict).not.toBe('VALID');
    catalog.close();

    const copy = `${dir}-copy`;
    roots.push(copy);
    cpSync(dir, copy, { recursive: true });
    const copied = Catalog.open(copy);
    const report = await copied.sync();
    expect(report.removed).toBe(1);
    expect(copied.list().map((s) => s.path)).toEqual([join(realpathSync(copy), 'sessions', 'trace_t.arec')]);
    copied.close();
  });

  it('an ambiguous prefix reports how many sessions it matches, not just the ones it lists', async () => {
    const dir = agentReplayDir();
    for (let i = 0; i < 14; i++)
      await writeSession(dir, `trace_p${String(i).padStart(2, '0')}`, [start('w', 'a')]);
    const catalog = Catalog.open(dir);
    await catalog.sync();
    const error = (() => {
      try {
        catalog.find('trace_p');
      } catch (caught) {
        return caught as AmbiguousSessionError;
      }
    })();
    expect(error?.total).toBe(14);
    expect(error?.candidates).toHaveLength(10);
    expect(catalog.find('')).toBeUndefined();
    catalog.close();
  });
});
