import {
  type DiffEntry,
  diffSessions,
  type FieldChange,
  type SessionDiff,
  STEP_KIND_WORDS,
  type StepKind,
} from '@agent-replay/analysis';
import { SessionFileError } from '@agent-replay/format';
import { resolveSessionPath } from '../catalog-access.js';
import { count, shortId } from '../display.js';
import { UserError } from '../errors.js';
import { type Style, sanitize, styleFor, terminalSafeJson } from '../terminal.js';
import { loadTui } from '../tui-loader.js';

export interface DiffCommandOptions {
  json?: boolean;
  markdown?: boolean;
  tui?: boolean;
  kinds?: StepKind[];
  includeVolatile?: boolean;
  /** Changed steps listed in the human and Markdown reports (default 50). */
  limit?: number;
}

/** Exit codes as diff(1): 0 equivalent, 1 different, 2 trouble. */
const TROUBLE = 2;

export async function diffCommand(
  dir: string,
  refA: string,
  refB: string,
  options: DiffCommandOptions,
): Promise<number> {
  let report: SessionDiff;
  try {
    const [a, b] = [await resolveSessionPath(refA, dir), await resolveSessionPath(refB, dir)];
    report = await diffSessions(a, b, {
      ...(options.kinds ? { kinds: options.kinds } : {}),
      includeVolatile: options.includeVolatile ?? false,
      aligned: options.tui ?? false,
    });
  } catch (error) {
    if (error instanceof UserError) throw new UserError(error.message, TROUBLE);
    if (error instanceof SessionFileError) throw new UserError(error.message, TROUBLE);
    throw error;
  }
  const code = report.equivalent ? 0 : 1;
  if (options.tui) {
    if (!process.stdout.isTTY || !process.stdin.isTTY) {
      throw new UserError('--tui needs an interactive terminal; without it the report is printed', TROUBLE);
    }
    const { runDiffTui } = await loadTui();
    await runDiffTui(report);
    return code;
  }
  const limit = options.limit ?? 50;
  if (options.json) process.stdout.write(`${terminalSafeJson(report)}\n`);
  else if (options.markdown) process.stdout.write(markdownReport(report, limit));
  else process.stdout.write(humanReport(report, styleFor(process.stdout), limit));
  return code;
}

const valueText = (value: unknown): string => (value === null ? '(none)' : JSON.stringify(value));

function where(entry: DiffEntry): string {
  const step = (entry.b ?? entry.a)!;
  const seqs = [entry.a ? `A seq ${entry.a.seq}` : '', entry.b ? `B seq ${entry.b.seq}` : ''].filter(Boolean);
  // A turn step is named after its turn already.
  const turn = step.turn > 0 && entry.kind !== 'turn' ? `turn ${step.turn}, ` : '';
  const agent = step.agent ? ` (agent ${step.agent})` : '';
  return `${turn}${STEP_KIND_WORDS[entry.kind]}${step.name ? ` ${step.name}` : ''}${agent} — ${seqs.join(', ')}`;
}

function sideLine(label: string, side: SessionDiff['a']): string {
  const partial = side.partial ? `\n   only the valid prefix was compared: ${side.partial}` : '';
  const diverged = side.divergences
    .map((d) => `\n   replay divergence at seq ${d.seq}: ${d.reason}`)
    .join('');
  const unsealed = !side.sealed && !side.partial ? ' (unsealed: still being written or cut short)' : '';
  return `${label}  ${side.workflow ?? '(no workflow)'}  ${shortId(side.session_id)}  ${count(side.records)} records, ${count(side.steps)} steps${unsealed}  ${side.path}${partial}${diverged}`;
}

export function humanReport(report: SessionDiff, style: Style, limit: number): string {
  const out: string[] = [];
  const safe = (text: string) => sanitize(text);
  for (const line of [...sideLine('A', report.a).split('\n'), ...sideLine('B', report.b).split('\n')]) {
    out.push(safe(line));
  }
  if (report.a.workflow !== report.b.workflow)
    out.push(style.yellow('note: the sessions belong to different workflows'));
  const c = report.counts;
  out.push(
    `${count(c.aligned)} steps aligned: ${count(c.equal)} equal, ${count(c.changed)} changed, ${count(c.added)} only in B, ${count(c.removed)} only in A`,
  );
  const first = report.first_divergence;
  if (!first) {
    out.push('', style.green('equivalent: same steps, same arguments, outputs and decisions'));
  } else {
    out.push('', style.bold(`First divergence: ${safe(where(first))}`), `  ${safe(first.reason)}`);
    out.push(...changeLines(first.changes, style, '  '));
  }
  if (report.changes.length > 0) {
    out.push('', style.bold('Changes'));
    for (const entry of report.changes.slice(0, limit)) {
      const mark =
        entry.status === 'added'
          ? style.green('+')
          : entry.status === 'removed'
            ? style.red('-')
            : style.yellow('~');
      const fields = entry.fields.length > 0 ? `  [${entry.fields.join(', ')}]` : '';
      out.push(`${mark} ${safe(where(entry))}${fields}`);
      out.push(...changeLines(entry.changes, style, '    '));
    }
    if (report.changes.length > limit)
      out.push(`… ${count(report.changes.length - limit)} more (--json lists all)`);
  }
  out.push('', style.bold('Deltas (A → B)'));
  for (const [name, d] of Object.entries(report.deltas)) {
    const sign = d.delta > 0 ? `+${count(d.delta)}` : d.delta < 0 ? `-${count(-d.delta)}` : '±0';
    const text = `  ${name.replace(/_/g, ' ').padEnd(18)} ${count(d.a)} → ${count(d.b)} (${sign})`;
    out.push(d.delta === 0 ? style.dim(text) : text);
  }
  return `${out.join('\n')}\n`;
}

function changeLines(changes: readonly FieldChange[], style: Style, indent: string): string[] {
  const out: string[] = [];
  for (const change of changes) {
    out.push(`${indent}${sanitize(change.path)}`);
    out.push(`${indent}  ${style.red(`A: ${sanitize(valueText(change.a))}`)}`);
    out.push(`${indent}  ${style.green(`B: ${sanitize(valueText(change.b))}`)}`);
  }
  return out;
}

/** Text for a Markdown table cell or inline code: no pipes, backticks or newlines that would break the layout. */
const md = (text: string) => sanitize(text).replace(/\|/g, '\\|').replace(/`/g, 'ʼ');

function markdownReport(report: SessionDiff, limit: number): string {
  const out: string[] = ['# Session diff', ''];
  out.push('| | workflow | session | records | steps | file |', '|---|---|---|---|---|---|');
  for (const [label, side] of [
    ['A', report.a],
    ['B', report.b],
  ] as const) {
    out.push(
      `| ${label} | ${md(side.workflow ?? '-')} | \`${md(side.session_id ?? '-')}\` | ${side.records} | ${side.steps} | \`${md(side.path)}\` |`,
    );
  }
  for (const [label, side] of [
    ['A', report.a],
    ['B', report.b],
  ] as const) {
    if (side.partial) out.push('', `> ${label}: only the valid prefix was compared (${md(side.partial)})`);
  }
  const c = report.counts;
  out.push(
    '',
    `**${report.equivalent ? 'Equivalent' : 'Different'}** — ${c.aligned} steps aligned: ${c.equal} equal, ${c.changed} changed, ${c.added} only in B, ${c.removed} only in A.`,
  );
  const first = report.first_divergence;
  if (first) {
    out.push('', '## First divergence', '', `**${md(where(first))}**: ${md(first.reason)}`, '');
    out.push(...mdChanges(first.changes));
  }
  if (report.changes.length > 0) {
    out.push('', '## Changes', '');
    for (const entry of report.changes.slice(0, limit)) {
      out.push(
        `- **${entry.status}** ${md(where(entry))}${entry.fields.length ? ` — ${entry.fields.join(', ')}` : ''}`,
      );
      out.push(...mdChanges(entry.changes).map((line) => `  ${line}`));
    }
    if (report.changes.length > limit) out.push(`- … ${report.changes.length - limit} more`);
  }
  out.push('', '## Deltas', '', '| | A | B | Δ |', '|---|---|---|---|');
  for (const [name, d] of Object.entries(report.deltas))
    out.push(`| ${name.replace(/_/g, ' ')} | ${d.a} | ${d.b} | ${d.delta > 0 ? '+' : ''}${d.delta} |`);
  return `${out.join('\n')}\n`;
}

function mdChanges(changes: readonly FieldChange[]): string[] {
  return changes.map(
    (change) => `- \`${md(change.path)}\`: \`${md(valueText(change.a))}\` → \`${md(valueText(change.b))}\``,
  );
}
