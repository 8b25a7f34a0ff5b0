import type { ModelStatsRow, StatsOptions, StatsRow, ToolStatsRow } from '@agent-replay/catalog';
import { withCatalog } from '../catalog-access.js';
import { compact, count, shortTime } from '../display.js';
import { STATS_DIMENSIONS, type StatsDimension } from '../program.js';
import { type Column, renderTable } from '../table.js';
import { escapeForTerminal, outputWidth, styleFor } from '../terminal.js';

export interface StatsCommandOptions extends StatsOptions {
  json?: boolean;
  by?: StatsDimension[];
  /** Rows per table (default 10). */
  top?: number;
}

const num = (header: string, value: (row: StatsRow) => number, big = false): Column<StatsRow> => ({
  header,
  value: (row) => (big ? compact(value(row)) : count(value(row))),
  align: 'right',
});

const sessionColumns = (label: string): Column<StatsRow>[] => [
  { header: label, value: (row) => row.key ?? '-', shrink: true },
  num('SESSIONS', (r) => r.sessions),
  num('MODEL', (r) => r.model_calls),
  num('TOOLS', (r) => r.tool_calls),
  num('IN', (r) => r.input_tokens, true),
  num('OUT', (r) => r.output_tokens, true),
  num('TOKENS', (r) => r.total_tokens, true),
  num('DENIED', (r) => r.denials),
  num('ERR', (r) => r.errors),
];

const modelColumns: Column<ModelStatsRow>[] = [
  { header: 'MODEL', value: (row) => row.model, shrink: true },
  { header: 'SESSIONS', value: (r) => count(r.sessions), align: 'right' },
  { header: 'CALLS', value: (r) => count(r.calls), align: 'right' },
  { header: 'IN', value: (r) => compact(r.input_tokens), align: 'right' },
  { header: 'OUT', value: (r) => compact(r.output_tokens), align: 'right' },
  { header: 'TOKENS', value: (r) => compact(r.total_tokens), align: 'right' },
];

const toolColumns: Column<ToolStatsRow>[] = [
  { header: 'TOOL', value: (row) => row.tool, shrink: true },
  { header: 'SESSIONS', value: (r) => count(r.sessions), align: 'right' },
  { header: 'CALLS', value: (r) => count(r.calls), align: 'right' },
  { header: 'FAILED', value: (r) => count(r.errors), align: 'right' },
  { header: 'DENIED', value: (r) => count(r.denials), align: 'right' },
];

export async function statsCommand(dir: string, options: StatsCommandOptions): Promise<number> {
  const { json, by, top, ...range } = options;
  const stats = await withCatalog(dir, (catalog) => catalog.stats(range));
  const out = process.stdout;
  if (json) {
    out.write(`${escapeForTerminal(JSON.stringify(stats, null, 2))}\n`);
    return 0;
  }
  const style = styleFor(out);
  const width = outputWidth(out);
  const limit = top ?? 10;
  const t = stats.total;
  const range_ = `${stats.since ? shortTime(stats.since) : 'the beginning'} → ${stats.until ? shortTime(stats.until) : 'now'}`;
  out.write(
    `${style.bold(`${count(t.sessions)} session${t.sessions === 1 ? '' : 's'}`)} from ${range_}: ` +
      `${count(t.records)} records, ${count(t.model_calls)} model calls, ${count(t.tool_calls)} tool calls, ` +
      `${count(t.total_tokens)} tokens (in ${count(t.input_tokens)}, out ${count(t.output_tokens)}), ` +
      `${count(t.denials)} denied, ${count(t.errors)} errors\n`,
  );
  const wanted = new Set(by?.length ? by : STATS_DIMENSIONS);
  const section = <Row>(title: string, columns: Column<Row>[], rows: Row[]) => {
    if (rows.length === 0) return;
    out.write(
      `\n${style.bold(title)}${rows.length > limit ? style.dim(` (top ${limit} of ${rows.length})`) : ''}\n`,
    );
    out.write(renderTable(columns, rows.slice(0, limit), { maxWidth: width, headerPaint: style.dim }));
  };
  if (wanted.has('workflow')) section('By workflow', sessionColumns('WORKFLOW'), stats.by_workflow);
  if (wanted.has('identity')) section('By identity', sessionColumns('IDENTITY'), stats.by_identity);
  if (wanted.has('model')) section('By model', modelColumns, stats.by_model);
  if (wanted.has('tool')) section('By tool', toolColumns, stats.by_tool);
  return 0;
}
