/** Names, media types and limits of an audit bundle: what a writer writes and a verifier accepts. */

export const MANIFEST = 'manifest.json';
export const MANIFEST_SIGNATURE = 'manifest.sig';
export const SIGNER_PUBLIC_KEY = 'manifest.pub.pem';
export const CHECKSUMS = 'SHA256SUMS';
export const REPORT_HTML = 'report.html';
export const REPORT_MD = 'report.md';
export const TRANSCRIPT = 'transcript.jsonl';
export const VERIFY_GUIDE = 'VERIFY.md';
export const SESSIONS_DIR = 'sessions/';
export const PROOFS_DIR = 'proofs/';

/** in-toto Statement v1, signed as a DSSE envelope. */
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://agent-replay.dev/audit-bundle/v1';
export const MANIFEST_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/**
 * What a verifier accepts before it reads a byte of content: a bundle is hostile until proven otherwise (zip bombs,
 * millions of members, names that climb out of the target).
 */
export interface BundleLimits {
  /** Members in the archive. */
  maxMembers: number;
  /** Uncompressed size of one member. */
  maxMemberBytes: number;
  /** Uncompressed size of all members together. */
  maxTotalBytes: number;
}

export const DEFAULT_LIMITS: BundleLimits = {
  maxMembers: 100_000,
  maxMemberBytes: 2 ** 31 - 1, // what one Buffer holds on every supported Node
  maxTotalBytes: 64 * 2 ** 30,
};

/** Member names a bundle may contain: relative, forward slashes, no `..`, no control or odd characters. */
const SAFE_NAME = /^(?!\/)(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._\-/]+$/;

/** Why `name` may not be a bundle member, or undefined when it may. */
export function unsafeMemberName(name: string): string | undefined {
  if (name.length === 0 || name.length > 255) return 'an empty or overlong name';
  if (name.includes('\\')) return 'a backslash in the name';
  if (name.endsWith('/')) return 'a directory entry';
  if (!SAFE_NAME.test(name))
    return 'an absolute path, a ".." or "." component, or characters outside [A-Za-z0-9._-/]';
  return undefined;
}
