import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Catalog, type SessionSummary, summarizeFile } from '@agent-replay/catalog';
import type { SessionRecord } from '@agent-replay/format';
import { resolveSession, syncCatalog } from '../catalog-access.js';
import { bytes, compact, count, duration, paintStatus, paintVerdict, plural, shortTime } from '../display.js';
import { openSession } from '../open-session.js';
import { escapeForTerminal, outputWidth, sanitize, styleFor, truncate } from '../terminal.js';

export interface ShowCommandOptions {
  json?: boolean;
  /** How many notable events to list (default 20). */
  events?: number;
}

/** Something an investigator looks for first: a denial, an approval, an error, a resume, a new identity. */
export interface NotableEvent {
  seq: number;
  ts: string;
  kind: 'policy' | 'error' | 'identity' | 'resumed' | 'recovery';
  text: string;
}

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (v !== null && typeof v === 'object' ? (v as Obj) : {});

function notable(record: SessionRecord): NotableEvent | undefined {
  const at = { seq: record.seq, ts: record.ts };
  switch (record.type) {
    case 'policy.decision': {
      if (record.decision === 'allow') return undefined;
      const subject = asObj(record.subject);
      const by = asObj(record.decided_by);
      const text = [
        String(record.decision).toUpperCase(),
        `${subject.kind ?? ''} ${subject.name ?? ''}`.trim(),
        record.rule ? `rule ${record.rule}` : '',
        record.reason ? `— ${record.reason}` : '',
        by.kind ? `(by ${by.kind}${by.id ? ` ${by.id}` : ''})` : '',
      ];
      return { ...at, kind: 'policy', text: text.filter(Boolean).join(' ') };
    }
    case 'span.end': {
      const span = asObj(record.span);
      if (span.error == null) return undefined;
      const error = asObj(span.error);
      const data = asObj(span.data);
      const name = typeof data.name === 'string' ? ` ${data.name}` : '';
      return {
        ...at,
        kind: 'error',
        text: `${span.kind}${name}: ${String(error.message ?? JSON.stringify(span.error))}`,
      };
    }
    case 'identity': {
      const who = asObj(record.identity);
      return {
        ...at,
        kind: 'identity',
        text: `${record.role ?? 'identity'} ${who.subject ?? '?'}${who.verified ? ' (verified)' : ''}`,
      };
    }
    case 'trace.start':
      return record.resumed === true ? { ...at, kind: 'resumed', text: 'run resumed' } : undefined;
    case 'recovery':
      return {
        ...at,
        kind: 'recovery',
        text: `recovered after a crash: ${record.dropped_bytes} torn bytes kept in ${record.sidecar}`,
      };
  }
  return undefined;
}

async function notableEvents(path: string, limit: number): Promise<{ events: NotableEvent[]; more: number }> {
  const reader = await openSession(path);
  const events: NotableEvent[] = [];
  let more = 0;
  try {
    const types = ['policy.decision', 'span.end', 'identity', 'trace.start', 'recovery'];
    for await (const record of reader.records({ types })) {
      const event = notable(record);
      if (!event) continue;
      if (events.length < limit) events.push(event);
      else more++;
    }
  } catch {
    // damage past the readable prefix: the verdict line already says so
  } finally {
    reader.close();
  }
  return { events, more };
}

/** From the catalog when the file is one of its sessions; otherwise (or with no usable catalog) from the file. */
async function summaryOf(path: string, dir: string): Promise<SessionSummary> {
  if (existsSync(join(dir, 'sessions'))) {
    let catalog: Catalog | undefined;
    try {
      catalog = Catalog.open(dir);
      if (catalog.contains(path)) {
        await syncCatalog(catalog);
        const summary = catalog.get(path);
        if (summary) return summary;
      }
    } catch {
      // a read-only or broken place for a catalog: the file alone answers
    } finally {
      catalog?.close();
    }
  }
  return summarizeFile(path);
}

export async function showCommand(dir: string, ref: string, options: ShowCommandOptions): Promise<number> {
  const { path, summary: found } = await resolveSession(ref, dir);
  await openSession(path).then((reader) => reader.close()); // a clear error for a file that is not a session
  const summary = found ?? (await summaryOf(path, dir));
  const { events, more } = await notableEvents(path, options.events ?? 20);
  const out = process.stdout;
  if (options.json) {
    out.write(`${escapeForTerminal(JSON.stringify({ ...summary, events, more_events: more }, null, 2))}\n`);
    return 0;
  }
  const style = styleFor(out);
  const width = outputWidth(out);
  const line = (label: string, value: string, paint: (text: string) => string = (t) => t) =>
    out.write(`${style.bold(label.padEnd(10))}${paint(truncate(sanitize(value), width - 10))}\n`);
  const s = summary;
  const who = s.identity;
  line('Session', s.session_id ?? '?');
  line('File', `${s.path} (${bytes(s.file_size)})`);
  line('Workflow', s.workflow ?? '-');
  line(
    'Identity',
    who
      ? `${who.subject}${who.email ? ` <${who.email}>` : ''} (${[who.kind, who.method, who.verified ? 'verified' : who.verification_error ? `unverified: ${who.verification_error}` : 'unverified'].filter(Boolean).join(', ')})`
      : '-',
    who?.verified ? style.green : (t) => t,
  );
  if (s.approvers.length) line('Approvers', s.approvers.join(', '));
  line(
    'Time',
    `${shortTime(s.started_at)} → ${shortTime(s.ended_at)} UTC (${duration(s.started_at, s.ended_at)}), ${count(s.counts.traces)} run${s.counts.traces === 1 ? '' : 's'}`,
  );
  line('Status', s.status, (t) => paintStatus(style, s.status, t));
  line('Verdict', s.verdict_summary, (t) => paintVerdict(style, s.verdict, t));
  const c = s.counts;
  line(
    'Counts',
    `${plural(s.records, 'record')} · ${plural(c.model_calls, 'model call')} · ${plural(c.tool_calls, 'tool call')} · ${plural(c.handoffs, 'handoff')} · ${plural(c.guardrails, 'guardrail')} · ${plural(c.policy_decisions, 'decision')} · ${count(c.denials)} denied · ${plural(c.errors, 'error')}`,
  );
  line(
    'Tokens',
    `${count(s.usage.total_tokens)} (input ${count(s.usage.input_tokens)}, output ${count(s.usage.output_tokens)}, cached ${count(s.usage.cached_input_tokens)})`,
  );
  const models = Object.entries(s.by_model).map(
    ([name, m]) =>
      `${name} (${count(m.calls)} call${m.calls === 1 ? '' : 's'}, ${compact(m.total_tokens)} tokens)`,
  );
  line('Models', models.join(', ') || '-');
  const tools = Object.entries(s.by_tool).map(([name, t]) => {
    const extra = [t.errors ? `${t.errors} failed` : '', t.denials ? `${t.denials} denied` : ''].filter(
      Boolean,
    );
    return `${name} ×${t.calls}${extra.length ? ` (${extra.join(', ')})` : ''}`;
  });
  line('Tools', tools.join(', ') || '-');
  line('Agents', s.agents.join(', ') || '-');
  const redactions = Object.entries(s.redactions).map(([kind, n]) => `${kind} ×${n}`);
  if (redactions.length) line('Redacted', redactions.join(', '));
  if (s.dropped_records)
    line('Dropped', `${count(s.dropped_records)} records (recorder queue overflow)`, style.red);
  if (events.length) {
    out.write(`${style.bold('Events')}\n`);
    for (const event of events) {
      const paint = event.kind === 'error' || /^(DENY|REJECTED)/.test(event.text) ? style.red : style.yellow;
      const head = sanitize(`  seq ${String(event.seq).padEnd(6)} ${shortTime(event.ts)}  `);
      out.write(`${head}${paint(truncate(sanitize(event.text), width - head.length))}\n`);
    }
    if (more)
      out.write(
        style.dim(
          sanitize(
            `  … ${count(more)} more (agent-replay cat ${s.session_id ?? path} --type policy.decision)`,
          ) + '\n',
        ),
      );
  }
  return 0;
}
