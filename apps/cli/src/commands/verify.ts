import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sessionFilesUnder } from '@agent-replay/catalog';
import {
  loadPublicKey,
  SessionVerifierPool,
  type Verdict,
  type VerifyReport,
  verifySession,
} from '@agent-replay/format';
import { looksLikePath, resolveSessionPath } from '../catalog-access.js';
import { UserError } from '../errors.js';
import { createProgress } from '../progress.js';
import { sanitize, styleFor, terminalSafeJson } from '../terminal.js';
import { isBundle, verifyBundlesCommand } from './verify-bundle.js';

export interface VerifyCommandOptions {
  json?: boolean;
  key?: string;
  thorough?: boolean;
}

const SEVERITY: Record<Verdict, number> = { VALID: 0, UNSEALED: 1, TORN: 1, TAMPERED: 2, UNREADABLE: 2 };

/** Overall exit code: 1 if anything is tampered or unreadable, else 3 if anything is unsealed or torn, else 0. */
export function combinedExitCode(reports: readonly VerifyReport[]): number {
  const worst = Math.max(0, ...reports.map((r) => SEVERITY[r.verdict]));
  return worst === 2 ? 1 : worst === 1 ? 3 : 0;
}

function readKey(path: string): KeyObject {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (error) {
    throw new UserError(
      `cannot read key ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  try {
    return loadPublicKey(pem);
  } catch (error) {
    throw new UserError(`${path} is not an Ed25519 public key: ${(error as Error).message}`);
  }
}

/** Files to verify: each argument is a file, a directory (its sessions) or a session id; none means every session. */
async function filesToVerify(dir: string, refs: string[]): Promise<string[]> {
  // An agent-replay dir keeps its sessions under sessions/; any other folder is searched as it is.
  const sessionsOf = (folder: string): string[] => {
    const root = existsSync(join(folder, 'sessions')) ? join(folder, 'sessions') : folder;
    return sessionFilesUnder(root).map((name) => join(root, name));
  };
  if (refs.length === 0) {
    const all = sessionsOf(dir);
    if (all.length === 0) throw new UserError(`no session files in ${join(dir, 'sessions')}`);
    return all;
  }
  const files: string[] = [];
  for (const ref of refs) {
    if (existsSync(ref) && statSync(ref).isDirectory()) {
      const inside = sessionsOf(ref);
      if (inside.length === 0) throw new UserError(`${ref}: no session files in this directory`);
      files.push(...inside);
    } else if (existsSync(ref) || looksLikePath(ref)) {
      files.push(ref); // a missing file is reported UNREADABLE among the others, not an abort of them all
    } else files.push(await resolveSessionPath(ref, dir));
  }
  return files;
}

/** Many files get a progress bar and a list of the failures; a few get a verdict line each. */
const FEW_FILES = 10;

export async function verifyCommand(
  dir: string,
  refs: string[],
  options: VerifyCommandOptions,
): Promise<number> {
  const publicKey = options.key ? readKey(options.key) : undefined;
  const bundles = refs.filter(isBundle);
  if (bundles.length > 0) {
    if (bundles.length < refs.length)
      throw new UserError('verify: give bundles and sessions in separate commands');
    return verifyBundlesCommand(bundles, options);
  }
  const files = await filesToVerify(dir, refs);
  const reports: VerifyReport[] = [];
  const out = process.stdout;
  const style = styleFor(out);
  const few = files.length <= FEW_FILES && !options.json;
  const printReport = (report: VerifyReport) => {
    const colour =
      report.verdict === 'VALID' ? style.green : SEVERITY[report.verdict] === 1 ? style.yellow : style.red;
    out.write(
      `${colour(report.verdict.padEnd(10))} ${sanitize(report.file)}\n           ${sanitize(report.summary)}\n`,
    );
  };
  const progress = few ? undefined : createProgress('verifying', files.length);
  const verifyOptions = { thorough: options.thorough === true, ...(publicKey ? { publicKey } : {}) };
  // Several files verify on worker threads, one per core, and are reported in the order given.
  const pool = files.length > 1 ? new SessionVerifierPool(verifyOptions) : undefined;
  const pending = files.map((file) => {
    const report = pool ? pool.verify(file) : verifySession(file, verifyOptions);
    report.catch(() => undefined); // awaited in order below; one failing first must not go unhandled
    return report;
  });
  try {
    for (const [i, file] of files.entries()) {
      progress?.tick(0, file);
      const report = await pending[i]!;
      reports.push(report);
      progress?.tick(1);
      if (few) printReport(report);
    }
  } finally {
    progress?.done();
    await pool?.close();
  }
  const valid = reports.filter((r) => r.verdict === 'VALID').length;
  const exitCode = combinedExitCode(reports);
  if (options.json) {
    out.write(`${terminalSafeJson({ total: reports.length, valid, exit_code: exitCode, files: reports })}\n`);
    return exitCode;
  }
  if (!few) for (const report of reports) if (report.verdict !== 'VALID') printReport(report);
  const line = `${valid}/${reports.length} session${reports.length === 1 ? '' : 's'} valid`;
  out.write(`${exitCode === 0 ? style.green(line) : style.bold(line)}\n`);
  return exitCode;
}
