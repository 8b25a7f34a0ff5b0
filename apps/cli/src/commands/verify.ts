import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadPublicKey, type Verdict, type VerifyReport, verifySession } from '@agent-replay/format';
import { UserError } from '../errors.js';
import { sanitize, styleFor, terminalSafeJson } from '../terminal.js';

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

export async function verifyCommand(files: string[], options: VerifyCommandOptions): Promise<number> {
  const publicKey = options.key ? readKey(options.key) : undefined;
  const reports: VerifyReport[] = [];
  const out = process.stdout;
  const style = styleFor(out);
  for (const file of files) {
    const report = await verifySession(file, {
      thorough: options.thorough === true,
      ...(publicKey ? { publicKey } : {}),
    });
    reports.push(report);
    if (!options.json) {
      const colour =
        report.verdict === 'VALID' ? style.green : SEVERITY[report.verdict] === 1 ? style.yellow : style.red;
      out.write(
        `${colour(report.verdict.padEnd(10))} ${sanitize(file)}\n           ${sanitize(report.summary)}\n`,
      );
    }
  }
  const valid = reports.filter((r) => r.verdict === 'VALID').length;
  const exitCode = combinedExitCode(reports);
  if (options.json) {
    out.write(`${terminalSafeJson({ total: reports.length, valid, exit_code: exitCode, files: reports })}\n`);
  } else {
    const line = `${valid}/${reports.length} session${reports.length === 1 ? '' : 's'} valid`;
    out.write(`${exitCode === 0 ? style.green(line) : style.bold(line)}\n`);
  }
  return exitCode;
}
