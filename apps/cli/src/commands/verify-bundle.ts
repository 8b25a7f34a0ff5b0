import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { BundleError, type BundleVerification, verifyBundle } from '@agent-replay/evidence';
import { count } from '../display.js';
import { UserError } from '../errors.js';
import { createProgress } from '../progress.js';
import { sanitize, styleFor, terminalSafeJson } from '../terminal.js';

/** True when `path` is a file that starts like a zip archive (a bundle), not a session. */
export function isBundle(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.readUInt32LE(0) === 0x04034b50;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** `agent-replay verify <bundle…>`: every check of verifyBundle, reported per member and counted. */
export async function verifyBundlesCommand(
  bundles: string[],
  options: { json?: boolean; key?: string },
): Promise<number> {
  const trustedKeyPem = options.key ? readFileSync(options.key) : undefined;
  const results: BundleVerification[] = [];
  for (const bundle of bundles) {
    const progress = options.json ? undefined : createProgress('verifying', 0);
    try {
      results.push(
        await verifyBundle(bundle, {
          ...(trustedKeyPem ? { trustedKeyPem } : {}),
          onProgress: (_done, total, member) => {
            progress?.setTotal(total);
            progress?.tick(1, member);
          },
        }),
      );
    } catch (error) {
      if (error instanceof BundleError) throw new UserError(`verify: ${error.message}`);
      throw error;
    } finally {
      progress?.done();
    }
  }
  const exitCode = results.some((r) => r.exitCode === 1) ? 1 : results.some((r) => r.exitCode === 3) ? 3 : 0;
  const out = process.stdout;
  if (options.json) {
    out.write(
      `${terminalSafeJson(bundles.length === 1 ? results[0] : { bundles: results, exit_code: exitCode })}\n`,
    );
    return exitCode;
  }
  const style = styleFor(out);
  for (const r of results) {
    const paint = r.verdict === 'VALID' ? style.green : r.verdict === 'INCOMPLETE' ? style.yellow : style.red;
    out.write(
      `${paint(r.verdict)} ${sanitize(r.bundle)}${r.case_id ? ` (case ${sanitize(r.case_id)})` : ''}\n`,
    );
    const sig = r.signature;
    out.write(
      `  manifest signature: ${sig.status}${sig.fingerprint ? `, key fingerprint ${sig.fingerprint}` : ''}` +
        `${sig.trusted === true ? ' (the trusted key)' : sig.trusted === false ? ' (NOT the trusted key)' : sig.ephemeral ? ' (a one-off key: integrity only)' : ' (compare with the fingerprint you expect, or pass --key)'}\n`,
    );
    for (const p of r.problems)
      out.write(`  ${style.red('INVALID')} ${sanitize(p.member)}: ${sanitize(p.reason)}\n`);
    for (const s of r.sessions) {
      if (s.verdict !== 'VALID')
        out.write(`  ${style.red(s.verdict)} ${sanitize(s.member)}: ${sanitize(s.summary)}\n`);
    }
    const validSessions = r.sessions.filter((s) => s.verdict === 'VALID').length;
    const withheld = r.sessions.reduce((n, s) => n + s.withheld, 0);
    out.write(
      `  ${count(r.files.valid)}/${count(r.files.total)} files valid, ${count(validSessions)}/${count(r.sessions.length)} sessions valid` +
        `${withheld > 0 ? `, ${count(withheld)} records withheld (each proven against its signed checkpoint)` : ''}\n`,
    );
  }
  return exitCode;
}
