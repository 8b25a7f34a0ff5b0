import { compactValue } from '@agent-replay/analysis';
import { SessionFileError } from '@agent-replay/format';
import {
  loadPolicy,
  PolicyEngine,
  PolicyLoadError,
  type WhatIfChange,
  type WhatIfSession,
  whatIf,
} from '@agent-replay/policy';
import { resolveSessionPath } from '../catalog-access.js';
import { count, plural, shortId } from '../display.js';
import { UserError } from '../errors.js';
import { type Column, renderTable } from '../table.js';
import { escapeForTerminal, outputWidth, sanitize, styleFor, terminalSafeJson } from '../terminal.js';

function load(file: string) {
  try {
    return loadPolicy(file);
  } catch (error) {
    if (error instanceof PolicyLoadError) throw new UserError(error.message);
    throw error;
  }
}

/** `agent-replay policy lint <file>`: loads the policy as an agent would; one precise error, or what it is. */
export function policyLintCommand(file: string, options: { json?: boolean }): number {
  const policy = load(file);
  const { document, ref } = policy;
  if (options.json) {
    process.stdout.write(
      `${escapeForTerminal(JSON.stringify({ ...ref, file, rules: document.rules.length, default: document.default }))}\n`,
    );
  } else {
    process.stdout.write(
      `${sanitize(file)}: ok — ${sanitize(ref.id)} v${sanitize(ref.version)}, sha256 ${ref.sha256.slice(0, 16)}…, ` +
        `${plural(document.rules.length, 'rule')}, ${plural(document.rate_limits.length, 'rate limit')}, ${plural(document.masking.length, 'mask')}, default ${document.default}\n`,
    );
  }
  return 0;
}

/**
 * `agent-replay policy test <policy> <session…>`: what-if. Every recorded call decided again under the policy;
 * the decisions that would change are listed. Exit 0 when none would, 1 when some would.
 */
export async function policyTestCommand(
  dir: string,
  file: string,
  refs: string[],
  options: { json?: boolean },
): Promise<number> {
  const engine = new PolicyEngine(load(file));
  const sessions: WhatIfSession[] = [];
  for (const ref of refs) {
    const path = await resolveSessionPath(ref, dir);
    try {
      sessions.push(await whatIf(engine, path));
    } catch (error) {
      if (error instanceof SessionFileError) throw new UserError(error.message);
      throw error;
    }
  }
  const changed = sessions.reduce((n, s) => n + s.changes.length, 0);
  if (options.json) {
    process.stdout.write(`${terminalSafeJson({ policy: engine.policy.ref, sessions, changed })}\n`);
    return changed > 0 ? 1 : 0;
  }
  const style = styleFor(process.stdout);
  const paint = (decision: string) => (text: string) =>
    decision === 'deny' ? style.red(text) : decision === 'allow' ? style.green(text) : style.yellow(text);
  type Row = { session: WhatIfSession; change: WhatIfChange };
  const rows: Row[] = sessions.flatMap((session) => session.changes.map((change) => ({ session, change })));
  const name = ({ change: { call } }: Row) =>
    call.kind === 'handoff' ? `${call.from} → ${call.to}` : call.name;
  const columns: Column<Row>[] = [
    { header: 'session', value: (r) => shortId(r.session.session_id) },
    { header: 'seq', value: (r) => String(r.change.seq), align: 'right' },
    { header: 'kind', value: (r) => r.change.call.kind },
    { header: 'name', value: name },
    {
      header: 'arguments',
      value: (r) =>
        r.change.call.kind === 'tool' && r.change.call.args !== undefined
          ? compactValue(r.change.call.args)
          : '',
      shrink: true,
    },
    {
      header: 'recorded',
      value: (r) => `${r.change.before.decision}${r.change.before.rule ? ` (${r.change.before.rule})` : ''}`,
      paint: (text, r) => paint(r.change.before.decision)(text),
    },
    {
      header: 'would be',
      value: (r) => `${r.change.after.decision}${r.change.after.rule ? ` (${r.change.after.rule})` : ''}`,
      paint: (text, r) => paint(r.change.after.decision)(text),
    },
    { header: 'reason', value: (r) => r.change.after.reason, shrink: true },
  ];
  const ref = engine.policy.ref;
  process.stdout.write(
    `policy ${sanitize(ref.id)} v${sanitize(ref.version)} (sha256 ${ref.sha256.slice(0, 16)}…)\n`,
  );
  if (rows.length > 0)
    process.stdout.write(renderTable(columns, rows, { maxWidth: outputWidth(process.stdout) }));
  const calls = sessions.reduce((n, s) => n + s.calls, 0);
  process.stdout.write(
    `${count(changed)} of ${count(calls)} recorded calls in ${count(sessions.length)} session${sessions.length === 1 ? '' : 's'} would be decided differently\n`,
  );
  const rateLimited = sessions.reduce((n, s) => n + s.rate_limited, 0);
  if (rateLimited > 0) {
    process.stdout.write(
      `${count(rateLimited)} call${rateLimited === 1 ? ' was' : 's were'} denied by a rate limit: kept as recorded (rate limits depend on the traffic around a call and are not re-simulated)\n`,
    );
  }
  return changed > 0 ? 1 : 0;
}
