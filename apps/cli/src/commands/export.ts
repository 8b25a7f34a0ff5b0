import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { exportBundle, PROFILES } from '@agent-replay/evidence';
import { loadSigningKey } from '@agent-replay/format';
import { resolveSessionPath, withCatalog } from '../catalog-access.js';
import { count } from '../display.js';
import { UserError } from '../errors.js';
import { createProgress } from '../progress.js';
import { sanitize } from '../terminal.js';
import { VERSION } from '../version.js';

export interface ExportCommandOptions {
  output: string;
  caseId?: string;
  sign?: string;
  redact?: string[];
  withholdTypes?: string[];
  from?: string;
  to?: string;
  identity?: string;
  workflow?: string;
  force?: boolean;
}

/** The sessions named, or (with none named) every session the catalog has for the query. */
async function sessionsToExport(
  dir: string,
  refs: string[],
  options: ExportCommandOptions,
): Promise<string[]> {
  if (refs.length > 0) {
    const paths: string[] = [];
    for (const ref of refs) paths.push(await resolveSessionPath(ref, dir));
    return paths;
  }
  if (!options.from && !options.to && !options.identity && !options.workflow)
    throw new UserError('export: name sessions, or select them with --from/--to, --identity or --workflow');
  const found = await withCatalog(dir, (catalog) =>
    catalog.list({
      ...(options.from ? { since: options.from } : {}),
      ...(options.to ? { until: options.to } : {}),
      ...(options.identity ? { identity: options.identity } : {}),
      ...(options.workflow ? { workflow: options.workflow } : {}),
    }),
  );
  const paths = found.filter((s) => s.session_id !== null).map((s) => s.path);
  if (paths.length === 0) throw new UserError('export: no sessions match');
  // Oldest first: a case reads in the order things happened.
  return paths.reverse();
}

/** `agent-replay export <session…> -o case.zip`: an audit bundle. */
export async function exportCommand(
  dir: string,
  refs: string[],
  options: ExportCommandOptions,
): Promise<number> {
  if (existsSync(options.output) && !options.force)
    throw new UserError(`export: ${options.output} already exists (use --force to replace it)`);
  for (const profile of options.redact ?? []) {
    if (!(profile in PROFILES))
      throw new UserError(
        `export: unknown redaction profile "${profile}" (known: ${Object.keys(PROFILES).join(', ')})`,
      );
  }
  let signingKeyPem: Buffer | undefined;
  if (options.sign) {
    try {
      signingKeyPem = readFileSync(options.sign);
    } catch (error) {
      throw new UserError(
        `export: cannot read ${options.sign}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
    try {
      loadSigningKey(signingKeyPem);
    } catch (error) {
      throw new UserError(
        `export: ${options.sign} is not an Ed25519 private key (${(error as Error).message})`,
      );
    }
  }
  const sessions = await sessionsToExport(dir, refs, options);
  const progress = createProgress('exporting', 0);
  let shown = 0;
  let result: Awaited<ReturnType<typeof exportBundle>>;
  try {
    result = await exportBundle({
      sessions,
      output: options.output,
      ...(options.caseId ? { caseId: options.caseId } : {}),
      ...(signingKeyPem ? { signingKeyPem } : {}),
      withhold: { profiles: options.redact ?? [], types: options.withholdTypes ?? [] },
      requested: { from: options.from ?? null, to: options.to ?? null },
      producer: { name: 'agent-replay', version: VERSION },
      onProgress: (done, total, session) => {
        progress.setTotal(total);
        progress.tick(done - shown, session);
        shown = done;
      },
    });
  } catch (error) {
    progress.done();
    if (error instanceof TypeError || (error as Error).message?.startsWith('cannot export'))
      throw new UserError(`export: ${(error as Error).message}`);
    throw error;
  }
  progress.done();
  const out = process.stdout;
  const problems = result.sessions.filter((s) => s.verdict !== 'VALID');
  out.write(
    `${sanitize(basename(result.output))}: ${count(result.sessions.length)} session${result.sessions.length === 1 ? '' : 's'}, ${count(result.files.length + 1)} files` +
      `${result.withheld > 0 ? `, ${count(result.withheld)} records withheld` : ''}\n`,
  );
  for (const s of problems) out.write(`  ${sanitize(s.session_id)}: ${s.verdict} — ${sanitize(s.summary)}\n`);
  out.write(
    `  manifest signed by ${result.signer.ephemeral ? 'a one-off key (integrity only: use --sign for a key reviewers know)' : 'your key'}, fingerprint ${result.signer.fingerprint}\n`,
  );
  out.write(
    `  check it: agent-replay verify ${sanitize(options.output)}   (or follow VERIFY.md inside, with standard tools)\n`,
  );
  return 0;
}
