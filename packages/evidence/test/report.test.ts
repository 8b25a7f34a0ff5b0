/**
 * report.html and report.md rendered from real sessions (real Agents SDK, scripted model, real policy guard, real
 * recorder, read back with the real reader and verifier): what a reviewer sees, and that nothing an agent wrote can
 * reach either document raw.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey, type VerifyReport, verifySession } from '@agent-replay/format';
import type { Identity } from '@agent-replay/recorder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clip, escapeHtml, escapeMarkdown, neutralize, renderReports } from '../src/report.js';
import type { ReportRecord, ReportSession } from '../src/report-model.js';
import {
  HOSTILE,
  oidcIdentities,
  once,
  RAW_CONTROL,
  readRecords,
  recordConfigSession,
  recordJanitorSession,
  reportCase,
  reportSession,
} from './report-sessions.js';

const work = mkdtempSync(join(tmpdir(), 'arec-evidence-report-'));
let configFile = '';
let janitorFile = '';
let bob: Identity;
let expiredService: Identity;

beforeAll(async () => {
  ({ bob, expiredService } = await oidcIdentities());
  configFile = await recordConfigSession(join(work, 'config'), generateSigningKey().privateKeyPem);
  janitorFile = await recordJanitorSession(join(work, 'janitor'), bob, expiredService);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

// ---- reading the HTML back (every value in it is escaped text, so cells hold no markup) ----

const fromHtml = (text: string): string =>
  text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

function section(html: string, id: string): string {
  const start = html.indexOf(`<section id="${id}"`);
  expect(start, `section ${id}`).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</section>', start));
}

interface Row {
  attrs: string;
  cells: string[];
  text: string;
}

function rows(fragment: string): Row[] {
  return [...fragment.matchAll(/<tr( data-seq="[^"]*"[^>]*)>(.*?)<\/tr>/g)].map((m) => {
    const cells = [...(m[2] as string).matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) =>
      fromHtml(c[1] as string),
    );
    return { attrs: m[1] as string, cells, text: cells.join(' | ') };
  });
}

const mdLines = (markdown: string, ...needles: string[]): string[] =>
  markdown.split('\n').filter((line) => needles.every((needle) => line.includes(needle)));

describe('renderReports on real recorded sessions', () => {
  it('a denied production push: the verdict, the denial with its rule, reason and policy, the tool calls with their arguments', async () => {
    const session = await reportSession(configFile);
    const records = await readRecords(configFile);
    const { html, markdown } = await renderReports(reportCase([session]));
    expect(session.records.iterations).toBe(1);

    // Verification: VALID, green, with the Merkle root and the signature of the file's own key.
    const verification = section(html, 's1-verification');
    expect(verification).toContain('<span class="verdict verdict-ok" data-verdict="VALID">VALID</span>');
    expect(verification).toContain(session.verification.merkleRoot);
    expect(verification).toMatch(
      /signed \(1 signed checkpoint\), verified with the key embedded in the file/,
    );
    expect(html).toContain(`data-session-id="${session.sessionId}" data-verdict="VALID"`);

    // The denial, as the policy engine decided it.
    const deny = records.find((r) => r.type === 'policy.decision' && r.decision === 'deny');
    const decisions = rows(section(html, 's1-decisions'));
    expect(decisions).toHaveLength(3);
    const denied = decisions.find((r) => r.attrs.includes('data-decision="deny"'));
    expect(denied?.attrs).toContain(`data-seq="${deny?.seq}"`);
    expect(denied?.attrs).toContain('class="denied"');
    expect(denied?.cells).toEqual([
      String(deny?.seq),
      deny?.ts,
      'deny',
      'tool push_config',
      'environment=production, file=payments.yaml',
      'staging-first',
      'push to staging first',
      expect.stringMatching(/^prod-guard v3 \(sha256 [0-9a-f]{12}…\)$/),
      'engine: prod-guard',
      '',
      'p1',
    ]);
    const [mdDeny] = mdLines(markdown, '⛔ deny');
    expect(mdDeny).toMatch(
      /^\| \d+ \| \S+ \| ⛔ deny \| tool push_config \| environment=production, file=payments.yaml \| staging-first \| push to staging first \| prod-guard v3/,
    );

    // The tool calls, with their arguments and outputs; the denied push says why it did not run.
    const tools = rows(section(html, 's1-tool-calls'));
    expect(tools.map((r) => r.cells.slice(2, 5))).toEqual([
      [
        'push_config',
        'environment=production, file=payments.yaml',
        'Denied by policy prod-guard v3 (rule staging-first): push to staging first',
      ],
      ['push_config', 'environment=staging, file=payments.yaml', 'pushed to staging'],
      ['fetch_page', expect.stringContaining('url=https://status.example/x'), expect.any(String)],
    ]);
    expect(
      mdLines(markdown, '| push_config | environment=staging, file=payments.yaml | pushed to staging |'),
    ).toHaveLength(1);

    // Model calls: model, what it was asked last, what it answered, tokens.
    const models = rows(section(html, 's1-model-calls'));
    expect(models).toHaveLength(4);
    expect(models[0]?.cells.slice(2, 7)).toEqual([
      'scripted-4',
      '1 item; last: user: fix payments.yaml and ship it',
      '→ push_config(environment=production, file=payments.yaml)',
      '100',
      '7',
    ]);
    expect(models[1]?.cells[3]).toBe(
      '3 items; last: ← push_config: Denied by policy prod-guard v3 (rule staging-first): push to staging first',
    );

    // Totals computed while reading agree with the session.end the recorder wrote.
    const end = records.at(-1) as Record<string, any>;
    expect(end.type).toBe('session.end');
    const totals = section(html, 's1-totals');
    const total = (field: string) =>
      fromHtml(
        totals.match(new RegExp(`<tr data-field="${field}"><th>[^<]*</th><td>([^<]*)</td>`))?.[1] ?? '',
      );
    expect(total('model_calls')).toBe(String(end.counts.model_calls));
    expect(total('tool_calls')).toBe(String(end.counts.tool_calls));
    expect(total('denials')).toBe('1');
    expect(total('errors')).toBe('0');
    expect(total('tokens')).toMatch(new RegExp(`^${end.usage.total_tokens} \\(input 1000, output 28`));

    // Timeline: one row per span (start … end), decisions and session records; nothing truncated.
    const timeline = rows(section(html, 's1-timeline'));
    const pushRow = timeline.find((r) => r.attrs.includes('data-kind="tool"'));
    expect(pushRow?.cells.slice(2)).toEqual([
      'tool',
      'push_config',
      '(environment=production, file=payments.yaml) → Denied by policy prod-guard v3 (rule staging-first): push to staging first',
    ]);
    expect(timeline.find((r) => r.attrs.includes(`data-seq="${deny?.seq}"`))?.cells.slice(2)).toEqual([
      'policy',
      'tool push_config',
      'deny — staging-first: push to staging first',
    ]);
    // The policy engine's span and its policy.decision record are one row, not two.
    expect(timeline.filter((r) => r.attrs.includes('data-kind="policy"'))).toHaveLength(3);
    expect(timeline.at(-1)?.cells.slice(2, 4)).toEqual(['session', 'session completed']);
    expect(html).not.toContain('data-note="timeline-truncated"');

    // Case summary.
    const summary = section(html, 'summary');
    expect(summary).toContain('<tr data-field="case-id"><th>Case</th><td>INC-4711</td></tr>');
    expect(summary).toMatch(/SHA256:Zm9v[^<]*one-off \(ephemeral\) key/);
    expect(summary).toContain('2026-02-28T00:00:00Z → (open)');
    expect(summary).toContain('none: every record of every session is included');
    expect(markdown).toMatch(/^# Audit report — case INC-4711\n/);
    expect(markdown).toContain('✅ **VALID**');
  });

  it('approvals: who asked, who approved and who rejected (verified by OIDC), and the run identity whose token had expired', async () => {
    const session = await reportSession(janitorFile);
    const { html, markdown } = await renderReports(reportCase([session]));

    const decisions = rows(section(html, 's1-decisions'));
    const byDecision = (d: string) => decisions.filter((r) => r.attrs.includes(`data-decision="${d}"`));
    // Per waiting call: the policy rule that asked for a human, then the SDK's pause.
    expect(byDecision('require_approval').map((r) => [r.cells[4], r.cells[5]])).toEqual([
      ['path=/srv/tmp/cache', 'prod-deletes-need-approval'],
      ['path=/srv/db', 'prod-deletes-need-approval'],
      ['path=/srv/tmp/cache', 'needs_approval'],
      ['path=/srv/db', 'needs_approval'],
    ]);
    const [approved] = byDecision('approved');
    expect(approved?.cells.slice(2)).toEqual([
      'approved',
      'tool delete_path',
      'path=/srv/tmp/cache',
      'needs_approval',
      'cache only',
      '',
      'human: bob@example.com',
      'yes',
      'c1',
    ]);
    const [rejected] = byDecision('rejected');
    expect(rejected?.attrs).toContain('class="denied"');
    expect(rejected?.cells.slice(2)).toEqual([
      'rejected',
      'tool delete_path',
      'path=/srv/db',
      'needs_approval',
      'never delete the database',
      '',
      'human: bob@example.com',
      'yes',
      'c2',
    ]);
    expect(
      mdLines(markdown, '⛔ rejected', 'never delete the database', 'human: bob@example.com', '| yes |'),
    ).toHaveLength(1);

    // Identities: the service the run was started as (not proven: its token had expired), and the approver.
    const identities = rows(section(html, 's1-identities'));
    const run = identities.find((r) => r.attrs.includes('data-role="session"'));
    expect(run?.attrs).toContain('data-verified="false"');
    expect(run?.cells.slice(1, 11)).toEqual([
      'session',
      'svc-janitor',
      'Janitor service',
      'service',
      'https://idp.example',
      '',
      '',
      'no (as claimed, not proven)',
      'oidc',
      expect.stringMatching(/^token expired/),
    ]);
    const approvers = identities.filter((r) => r.attrs.includes('data-role="approver"'));
    expect(approvers.map((r) => [r.attrs.includes('data-verified="true"'), r.cells[11]])).toEqual([
      [true, 'c1'],
      [true, 'c2'],
    ]);
    expect(approvers[0]?.cells.slice(2, 10)).toEqual([
      'bob@example.com',
      'Bob Ops',
      'human',
      'https://idp.example',
      'bob@example.com',
      'sre',
      'yes',
      'oidc',
    ]);
    expect(
      mdLines(markdown, '| approver | bob@example.com | Bob Ops | human | https://idp.example |'),
    ).toHaveLength(2);

    // The rejected call is the session's one error; the resumed run is in the same timeline.
    const errors = rows(section(html, 's1-errors'));
    expect(errors.map((r) => r.cells.slice(2))).toEqual([
      ['tool delete_path', expect.stringMatching(/^never delete the database \(error=Tool execution for c2/)],
    ]);
    const timeline = rows(section(html, 's1-timeline'));
    expect(timeline.filter((r) => r.attrs.includes('data-kind="trace"')).map((r) => r.cells[3])).toEqual([
      'janitor',
      'trace ended',
      'trace (resumed)',
    ]);
    expect(timeline.find((r) => r.attrs.includes('data-kind="identity"'))?.cells.slice(3)).toEqual([
      'approver: bob@example.com',
      'bob@example.com — verified (oidc) · call c1',
    ]);
  });

  it('hostile agent strings (terminal escapes, markup, bidi overrides) never reach either document raw', async () => {
    const { html, markdown } = await renderReports(reportCase([await reportSession(configFile)]));
    for (const [name, doc] of [
      ['html', html],
      ['markdown', markdown],
    ] as const) {
      expect(doc, name).not.toMatch(RAW_CONTROL);
      for (const raw of [
        '<script',
        '<img',
        '<b>',
        '</td></tr></table>',
        '\u001b',
        '\u0007',
        '\u202e',
        '\u2066',
        '\u0085',
      ]) {
        expect(doc.includes(raw), `${name} contains ${JSON.stringify(raw)}`).toBe(false);
      }
      // What was there is still visible, as text.
      expect(doc).toContain('\\u{1b}');
      expect(doc).toContain('0;pwned\\u{7}');
      expect(doc).toContain('invoice\\u{202e}fdp.exe');
    }
    expect(html).toContain(
      '&lt;script&gt;alert(1)&lt;/script&gt; &lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;img src=x',
    );
    expect(html).toContain('&amp; &quot;quoted&quot; &#39;single&#39;');
    expect(markdown).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // The hostile output is in the tool call table and in the input of the next model call, escaped both times.
    const fetch = rows(section(html, 's1-tool-calls')).find((r) =>
      r.attrs.includes('data-tool="fetch_page"'),
    );
    expect(fetch?.cells[4]).toBe(neutralize(HOSTILE));
    const models = rows(section(html, 's1-model-calls'));
    expect(models.at(-1)?.cells[3]).toBe(`7 items; last: ← fetch_page: ${neutralize(HOSTILE)}`);
    // Every table row of the markdown still has its columns (no `|` or newline broke out of a cell).
    for (const table of markdown.split('\n\n').filter((block) => block.startsWith('| '))) {
      const [head, , ...body] = table.split('\n');
      const columns = (line: string) => line.replace(/\\\\/g, '').replace(/\\\|/g, '').split('|').length;
      for (const line of body.filter(Boolean)) expect(columns(line), line).toBe(columns(head as string));
    }
  });

  it('a redacted export: withheld records become marker rows, are counted with the reason, and totals say they cover the disclosed records', async () => {
    const reason = 'types span:generation';
    const session = await reportSession(configFile, {
      withhold: (record) =>
        (record.type === 'span.start' || record.type === 'span.end') &&
        (record.span as { kind?: string }).kind === 'generation'
          ? reason
          : undefined,
    });
    expect(session.withheld).toBe(8);
    const { html, markdown } = await renderReports(
      reportCase([session], { redaction: 'types span.start:generation span.end:generation' }),
    );
    const withheld = section(html, 's1-withheld');
    expect(withheld).toContain('data-withheld="8"');
    expect(withheld).toContain(
      '8 records withheld (types span:generation) — their leaf hashes prove them against the signed root',
    );
    expect(markdown).toContain(
      '8 records withheld (types span:generation) — their leaf hashes prove them against the signed root',
    );
    const markers = rows(section(html, 's1-timeline')).filter((r) =>
      r.attrs.includes('data-kind="withheld"'),
    );
    // Each generation span's start and end are adjacent: one marker row per model call.
    expect(markers).toHaveLength(4);
    expect(markers[0]?.cells.slice(0, 1).concat(markers[0]?.cells.slice(2) ?? [])).toEqual([
      '6–7',
      'withheld',
      '2 records withheld',
      reason,
    ]);
    expect(rows(section(html, 's1-model-calls'))).toHaveLength(0);
    expect(section(html, 's1-totals')).toContain('Computed from the disclosed records only.');
    expect(section(html, 'summary')).toContain(
      'redacted export: types span.start:generation span.end:generation — withheld records are replaced by their leaf hashes',
    );
    // The decisions are all still there.
    expect(rows(section(html, 's1-decisions'))).toHaveLength(3);
  });

  it('verdicts: an unfinished (torn) copy is shown amber, a tampered one red, each with its summary', async () => {
    const torn = join(work, 'torn.arec');
    copyFileSync(configFile, torn);
    truncateSync(torn, statSync(torn).size - 100);
    const tampered = join(work, 'tampered.arec');
    const bytes = readFileSync(configFile);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] as number) ^ 0x40;
    writeFileSync(tampered, bytes);
    const tornReport = await verifySession(torn);
    const tamperedReport = await verifySession(tampered);
    expect(['TORN', 'UNSEALED']).toContain(tornReport.verdict);
    expect(['TAMPERED', 'UNREADABLE']).toContain(tamperedReport.verdict);
    const empty = (verification: VerifyReport, id: string): ReportSession => ({
      member: `sessions/${id}.arec`,
      sessionId: id,
      verification,
      withheld: 0,
      records: once((async function* (): AsyncGenerator<ReportRecord> {})()),
    });
    const { html, markdown } = await renderReports(
      reportCase([empty(tornReport, 'torn-one'), empty(tamperedReport, 'tampered-one')]),
    );
    expect(section(html, 's1-verification')).toContain(
      `<span class="verdict verdict-warn" data-verdict="${tornReport.verdict}">`,
    );
    expect(section(html, 's1-verification')).toContain(escapeHtml(tornReport.summary));
    expect(section(html, 's2-verification')).toContain(
      `<span class="verdict verdict-bad" data-verdict="${tamperedReport.verdict}">`,
    );
    expect(section(html, 's2-verification')).toContain(escapeHtml(tamperedReport.summary));
    expect(section(html, 's2-details')).toContain('(no session.end: the session did not close)');
    expect(markdown).toContain(`⚠️ **${tornReport.verdict}**`);
    expect(markdown).toContain(`❌ **${tamperedReport.verdict}**`);
    expect(markdown).toContain(escapeMarkdown(tamperedReport.summary));
  });

  it('limits: past them, lists say how many more there are; decisions, identities and errors are capped separately', async () => {
    const session = await reportSession(janitorFile);
    const { html, markdown } = await renderReports(reportCase([session]), {
      limits: { timelineRows: 5, evidenceEntries: 2, callEntries: 1, valueChars: 12 },
    });
    const records = await readRecords(janitorFile);
    const timeline = rows(section(html, 's1-timeline'));
    expect(timeline).toHaveLength(5);
    const shown = 5 + timeline.filter((r) => /^\d+–\d+$/.test(r.cells[0] as string)).length;
    const blobs = records.filter((r) => r.type === 'blob').length;
    const more = records.length - blobs - shown;
    expect(html).toContain(
      `<p class="note" data-note="timeline-truncated">… ${more} more records — see transcript.jsonl</p>`,
    );
    expect(markdown).toContain(`… ${more} more records — see transcript.jsonl`);
    expect(rows(section(html, 's1-decisions'))).toHaveLength(2);
    expect(section(html, 's1-decisions')).toContain(
      '… 5 more decisions not listed here (7 in all) — see transcript.jsonl',
    );
    expect(section(html, 's1-identities')).toContain('… 1 more identities not listed here (3 in all)');
    expect(section(html, 's1-tool-calls')).toContain('… 2 more tool calls not listed here (3 in all)');
    expect(rows(section(html, 's1-decisions'))[0]?.cells[4]).toBe('path=/srv/tm… (7 more chars)');
  });
});

describe('a huge session', () => {
  it('is read in one pass into a bounded report: 2,000 timeline rows, then a count; every decision kept', async () => {
    const spans = 60_000;
    const decisionsEvery = 50;
    async function* records(): AsyncGenerator<ReportRecord> {
      let seq = 0;
      const ts = '2026-02-28T10:00:00.000000Z';
      const rec = (record: Record<string, unknown>): ReportRecord => ({
        withheld: false,
        seq: ++seq,
        record: { seq, ts, ...record },
      });
      yield rec({ type: 'session.start', session_id: 'huge', workflow: 'load', identity: null });
      for (let i = 0; i < spans; i++) {
        const span = { id: `span_${i}`, parent_id: null, kind: 'function', started_at: ts };
        yield rec({ type: 'span.start', span: { ...span, data: { type: 'function', name: 'lookup' } } });
        yield rec({
          type: 'span.end',
          span: {
            ...span,
            ended_at: ts,
            error: null,
            data: { type: 'function', name: 'lookup', input: `{"n":${i}}`, output: 'x'.repeat(2_000) },
          },
        });
        if (i % decisionsEvery === 0) {
          yield rec({
            type: 'policy.decision',
            decision: i % 100 === 0 ? 'deny' : 'allow',
            subject: { kind: 'tool', name: 'lookup', args: { n: i } },
            rule: `rule-${i}`,
            reason: 'load test',
            policy: { id: 'p', version: '1', sha256: 'ab'.repeat(32) },
            decided_by: { kind: 'engine', id: 'p' },
            span_id: span.id,
            call_id: `c${i}`,
          });
        }
      }
      yield rec({ type: 'session.end', status: 'completed' });
    }
    const source = once(records());
    const verification = {
      verdict: 'VALID' as const,
      summary: 'VALID: synthetic',
      records: 0,
      sealed: true,
      merkleRoot: '00'.repeat(32),
      signatures: { status: 'none' as const, signedCheckpoints: 0 },
      checkpointedRecords: 0,
    };
    const { html, markdown } = await renderReports(
      reportCase([
        { member: 'sessions/huge.arec', sessionId: 'huge', verification, withheld: 0, records: source },
      ]),
    );
    expect(source.iterations).toBe(1);
    const total = 1 + spans * 2 + spans / decisionsEvery + 1;
    const timeline = rows(section(html, 's1-timeline'));
    expect(timeline).toHaveLength(2_000);
    // Shown: 2,000 rows, each span row standing for its start and end (span rows kept: all but the decisions).
    const spanRows = timeline.filter((r) => r.attrs.includes('data-kind="tool"')).length;
    const more = total - 2_000 - spanRows;
    expect(html).toContain(`… ${more} more records — see transcript.jsonl`);
    expect(markdown).toContain(`… ${more} more records — see transcript.jsonl`);
    const decisions = rows(section(html, 's1-decisions'));
    expect(decisions).toHaveLength(spans / decisionsEvery);
    expect(decisions.filter((r) => r.attrs.includes('data-decision="deny"'))).toHaveLength(spans / 100);
    expect(section(html, 's1-totals')).toContain(
      `<tr data-field="tool_calls"><th>Tool calls</th><td>${spans}</td>`,
    );
    expect(rows(section(html, 's1-tool-calls'))).toHaveLength(2_000);
    expect(section(html, 's1-tool-calls')).toContain(
      `… ${spans - 2_000} more tool calls not listed here (${spans} in all) — see transcript.jsonl`,
    );
    // 60,000 tool outputs of 2,000 chars (120 MB) make a report of a few MB.
    expect(html.length).toBeLessThan(8_000_000);
    expect(markdown.length).toBeLessThan(8_000_000);
  });
});

describe('a case of many sessions', () => {
  it('shares the timeline and call budgets between sessions: 100 sessions make a report no longer than a few', async () => {
    const ts = '2026-02-28T10:00:00.000000Z';
    async function* records(id: string): AsyncGenerator<ReportRecord> {
      let seq = 0;
      const rec = (record: Record<string, unknown>): ReportRecord => ({
        withheld: false,
        seq: ++seq,
        record: { seq, ts, ...record },
      });
      yield rec({ type: 'session.start', session_id: id, workflow: 'load', identity: null });
      for (let i = 0; i < 400; i++) {
        const span = { id: `span_${i}`, parent_id: null, kind: 'function', started_at: ts };
        yield rec({ type: 'span.start', span: { ...span, data: { type: 'function', name: 'lookup' } } });
        const data = { type: 'function', name: 'lookup', input: `{"n":${i}}`, output: 'x'.repeat(500) };
        yield rec({ type: 'span.end', span: { ...span, ended_at: ts, error: null, data } });
      }
      yield rec({ type: 'session.end', status: 'completed' });
    }
    const verification = {
      verdict: 'VALID' as const,
      summary: 'VALID: synthetic',
      records: 0,
      sealed: true,
      merkleRoot: '00'.repeat(32),
      signatures: { status: 'none' as const, signedCheckpoints: 0 },
      checkpointedRecords: 0,
    };
    const session = (n: number) => ({
      member: `sessions/s${n}.arec`,
      sessionId: `s${n}`,
      verification,
      withheld: 0,
      records: records(`s${n}`),
    });
    const { html } = await renderReports(reportCase(Array.from({ length: 100 }, (_, n) => session(n))));
    // 2,000 rows and 2,000 calls shared by 100 sessions: 20 each, but never fewer than 50.
    for (const n of [1, 50, 100]) {
      expect(rows(section(html, `s${n}-timeline`))).toHaveLength(50);
      expect(rows(section(html, `s${n}-tool-calls`))).toHaveLength(50);
    }
    const one = await renderReports(reportCase([session(0)]));
    expect(rows(section(one.html, 's1-timeline'))).toHaveLength(402); // start, 400 spans, end
    expect(html.length).toBeLessThan(40 * one.html.length);
  });
});

describe('the HTML document', () => {
  it('is self-contained: no script, no external reference, a CSP that allows only its own inline style', async () => {
    const { html } = await renderReports(
      reportCase([await reportSession(configFile), await reportSession(janitorFile)]),
    );
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|<object|<embed|<base|@import|url\(/i);
    expect(html).not.toMatch(/<[a-z][^>]*\s(src|srcset|action|formaction|background|poster)=/i);
    for (const [, href] of html.matchAll(/href="([^"]*)"/g)) expect(href).toMatch(/^#s\d+(-[a-z-]+)?$/);
    const style = html.match(/<style>([\s\S]*?)<\/style>/)?.[1] ?? '';
    const hash = createHash('sha256').update(style).digest('base64');
    expect(html).toContain(`style-src 'sha256-${hash}'`);
    expect(html).toContain("default-src 'none'");
    expect(style).toContain('@media print');
    expect(style).toMatch(/tr,[^{]*\{[^}]*break-inside: avoid/);
    // Two sessions, each with all its sections, ids unique.
    const ids = [...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const s of ['s1', 's2']) {
      for (const name of [
        'verification',
        'details',
        'identities',
        'totals',
        'decisions',
        'errors',
        'withheld',
        'timeline',
        'model-calls',
        'tool-calls',
      ]) {
        expect(ids).toContain(`${s}-${name}`);
      }
    }
  });
});

describe('escaping helpers', () => {
  it('neutralize makes C0, C1, DEL, bidi controls and lone surrogates visible and keeps newlines, tabs and emoji', () => {
    expect(neutralize('a\u0000b\u001b[1mc\u007fd\u0085e\u202af\u202eg\u2066h\u2069i\r\n\tj')).toBe(
      'a\\u{0}b\\u{1b}[1mc\\u{7f}d\\u{85}e\\u{202a}f\\u{202e}g\\u{2066}h\\u{2069}i\\u{d}\n\tj',
    );
    expect(neutralize('ok 👍 é \ud800')).toBe('ok 👍 é \\u{d800}');
  });

  it('escapeHtml escapes & < > " \' ; escapeMarkdown keeps cells in one piece and identifiers readable', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(escapeMarkdown('a|b `c` *d* _e_ snake_case [l](u) ~~s~~ <i>&\nnext\\ \\u{1b} \\| end\\')).toBe(
      'a\\|b \\`c\\` \\*d\\* \\_e\\_ snake_case \\[l\\](u) \\~\\~s\\~\\~ &lt;i&gt;&amp;<br>next\\ \\u{1b} \\\\\\| end\\\\',
    );
  });

  it('clip cuts long values with the count of what was cut, never inside a surrogate pair', () => {
    expect(clip('abcdef', 10)).toBe('abcdef');
    expect(clip('abcdef', 4)).toBe('abcd… (2 more chars)');
    expect(clip('ab👍cd', 3)).toBe('ab… (4 more chars)');
  });
});
