/**
 * The worker side of `SessionVerifierPool`: verifies one session per task, from its path or from bytes handed
 * over by the caller. Runs in a worker thread; only plain data crosses the boundary.
 */
import type { CodecName } from './codec.js';
import { type VerifyReport, verifySession, verifySessionBytes } from './verify.js';

export interface VerifyTask {
  source: { path: string } | { bytes: Uint8Array; name: string };
  /** The trusted public key as PEM (a KeyObject does not cross threads as such). */
  publicKeyPem?: string;
  codec?: CodecName | 'auto';
  thorough?: boolean;
}

export default async function verifyTask(task: VerifyTask): Promise<VerifyReport> {
  const options = {
    ...(task.publicKeyPem !== undefined ? { publicKey: task.publicKeyPem } : {}),
    ...(task.codec !== undefined ? { codec: task.codec } : {}),
    ...(task.thorough !== undefined ? { thorough: task.thorough } : {}),
  };
  const source = task.source;
  return 'path' in source
    ? verifySession(source.path, options)
    : verifySessionBytes(source.bytes, source.name, options);
}
