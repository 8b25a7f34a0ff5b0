import { basename } from 'node:path';
import type { ListFilter, SessionSummary } from '@agent-replay/catalog';
import { withCatalog } from '../catalog-access.js';
import { compact, count, identityLabel, paintStatus, paintVerdict, shortId, shortTime } from '../display.js';
import { type Column, renderTable } from '../table.js';
import { escapeForTerminal, outputWidth, styleFor } from '../terminal.js';

export interface LsCommandOptions extends ListFilter {
  json?: boolean;
}

export async function lsCommand(dir: string, options: LsCommandOptions): Promise<number> {
  const { json, ...filter } = options;
  const sessions = await withCatalog(dir, (catalog) => catalog.list(filter));
  const out = process.stdout;
  if (json) {
    // One JSON array; every string escaped so a terminal shows it inert (the JSON value is unchanged).
    out.write(`${escapeForTerminal(JSON.stringify(sessions, null, 2))}\n`);
    return 0;
  }
  const style = styleFor(out);
  if (sessions.length === 0) {
    process.stderr.write('no sessions match\n');
    return 0;
  }
  const columns: Column<SessionSummary>[] = [
    { header: 'STARTED', value: (s) => shortTime(s.started_at) },
    // A file that is not a session has no id: its name says which one it is.
    { header: 'SESSION', value: (s) => (s.session_id ? shortId(s.session_id) : basename(s.path)) },
    { header: 'WORKFLOW', value: (s) => s.workflow ?? '-', shrink: true },
    { header: 'IDENTITY', value: identityLabel, shrink: true },
    { header: 'STATUS', value: (s) => s.status, paint: (text, s) => paintStatus(style, s.status, text) },
    { header: 'MODEL', value: (s) => count(s.counts.model_calls), align: 'right' },
    { header: 'TOOLS', value: (s) => count(s.counts.tool_calls), align: 'right' },
    { header: 'TOKENS', value: (s) => compact(s.usage.total_tokens), align: 'right' },
    {
      header: 'DENIED',
      value: (s) => count(s.counts.denials),
      align: 'right',
      paint: (text, s) => (s.counts.denials > 0 ? style.red(text) : text),
    },
    {
      header: 'ERR',
      value: (s) => count(s.counts.errors),
      align: 'right',
      paint: (text, s) => (s.counts.errors > 0 ? style.red(text) : text),
    },
    { header: 'VERDICT', value: (s) => s.verdict, paint: (text, s) => paintVerdict(style, s.verdict, text) },
  ];
  out.write(renderTable(columns, sessions, { maxWidth: outputWidth(out), headerPaint: style.bold }));
  return 0;
}
