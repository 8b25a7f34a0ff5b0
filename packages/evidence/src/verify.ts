/**
 * `verifyBundle`: everything a bundle claims, checked offline — every member against SHA256SUMS and the signed
 * manifest, the manifest's DSSE signature, each session (the original file verified completely, or a disclosed
 * session's records and withheld leaves recomputed into the signed checkpoint root, with every inclusion proof),
 * and that the manifest says what the files say. Reports like CloudTrail's validate-logs: per member, then counts.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import {
  CHECKPOINT_PAYLOAD_TYPE,
  canonicalize,
  checkpointBody,
  leafHash,
  loadPublicKey,
  merkleRoot,
  publicKeyFingerprint,
  publicKeyFromHeader,
  SessionVerifierPool,
  type Verdict,
  type VerifyReport,
  verifyDsse,
  verifyInclusion,
} from '@agent-replay/format';
import type { z } from 'zod';
import {
  type BundleLimits,
  CHECKSUMS,
  DEFAULT_LIMITS,
  MANIFEST,
  MANIFEST_PAYLOAD_TYPE,
  MANIFEST_SIGNATURE,
  PREDICATE_TYPE,
  SIGNER_PUBLIC_KEY,
  STATEMENT_TYPE,
} from './layout.js';
import {
  envelopeSchema,
  manifestSchema,
  type manifestSessionSchema,
  parseMember,
  proofsSchema,
  withheldLineSchema,
} from './schemas.js';
import { BundleError, readAll, walkBundle } from './zip-reader.js';

export interface VerifyBundleOptions {
  /** The Ed25519 public key (PEM) the manifest must be signed with; without it any key is reported, not trusted. */
  trustedKeyPem?: string | Buffer;
  limits?: BundleLimits;
  /** Members read so far, of all. */
  onProgress?: (done: number, total: number, member: string) => void;
}

export interface MemberProblem {
  member: string;
  reason: string;
}

export interface SessionResult {
  session_id: string;
  member: string;
  form: 'original' | 'disclosed';
  verdict: Verdict;
  summary: string;
  withheld: number;
  /** Disclosed sessions: withheld records whose inclusion proof verified. */
  proofs_verified: number;
}

export interface BundleVerification {
  bundle: string;
  verdict: 'VALID' | 'INCOMPLETE' | 'INVALID';
  /** 0 valid; 1 anything tampered, missing or unreadable; 3 intact but a session is unsealed or torn. */
  exitCode: 0 | 1 | 3;
  files: { total: number; valid: number };
  signature: {
    status: 'valid' | 'invalid' | 'missing';
    fingerprint: string | null;
    ephemeral: boolean | null;
    /** True when it matches the trusted key given; null when none was given. */
    trusted: boolean | null;
  };
  sessions: SessionResult[];
  problems: MemberProblem[];
  case_id: string | null;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

type Obj = Record<string, unknown>;
type ParsedManifest = z.infer<typeof manifestSchema>;
type ParsedSession = z.infer<typeof manifestSessionSchema>;

const sameJson = (a: unknown, b: unknown): boolean => canonicalize(a ?? null) === canonicalize(b ?? null);

/** Members kept in memory after hashing (everything else is only hashed as it streams by). */
const kept = (name: string) =>
  name === MANIFEST ||
  name === MANIFEST_SIGNATURE ||
  name === SIGNER_PUBLIC_KEY ||
  name === CHECKSUMS ||
  name.startsWith('proofs/') ||
  name.endsWith('.disclosed.jsonl');

interface ReadMembers {
  members: Awaited<ReturnType<typeof walkBundle>>;
  digests: Map<string, { sha256: string; size: number }>;
  /** The members kept whole (manifest, signature, key, sums, proofs, disclosed sessions). */
  contents: Map<string, Buffer>;
  /** Each original session file's complete verification. */
  originals: Map<string, VerifyReport>;
}

/**
 * Reads every member once: hashes it, keeps the small ones, and verifies each original session file. Session files
 * verify on worker threads while the other members are read and hashed here, a few at a time, so a bundle of many
 * large sessions is not held in memory waiting for a worker.
 */
async function readMembers(path: string, options: VerifyBundleOptions): Promise<ReadMembers> {
  const digests = new Map<string, { sha256: string; size: number }>();
  const contents = new Map<string, Buffer>();
  const originals = new Map<string, VerifyReport>();
  const verifier = new SessionVerifierPool();
  const verifying: Array<Promise<void>> = [];
  const maxInFlight = 2 * availableParallelism();
  const verifyOriginal = async (name: string, data: Buffer) => {
    if (verifying.length >= maxInFlight) await verifying.shift();
    const pending = verifier.verifyBytes(data, name).then((report) => {
      originals.set(name, report);
    });
    pending.catch(() => undefined); // awaited below; a walk that fails first must not leave it unhandled
    verifying.push(pending);
  };
  let done = 0;
  try {
    const members = await walkBundle(
      path,
      async (member, content, total) => {
        const whole = member.name.endsWith('.arec') || kept(member.name);
        if (whole) {
          const data = await readAll(content, member, path);
          digests.set(member.name, { sha256: sha256(data), size: data.length });
          if (member.name.endsWith('.arec')) await verifyOriginal(member.name, data);
          else contents.set(member.name, data);
        } else {
          const hash = createHash('sha256');
          let size = 0;
          try {
            for await (const chunk of content) {
              hash.update(chunk as Buffer);
              size += (chunk as Buffer).length;
            }
          } catch (error) {
            throw new BundleError(path, `cannot be read: ${(error as Error).message}`, member.name);
          }
          digests.set(member.name, { sha256: hash.digest('hex'), size });
        }
        options.onProgress?.(++done, total, member.name);
      },
      options.limits ?? DEFAULT_LIMITS,
    );
    await Promise.all(verifying);
    return { members, digests, contents, originals };
  } finally {
    await verifier.close();
  }
}

export async function verifyBundle(
  path: string,
  options: VerifyBundleOptions = {},
): Promise<BundleVerification> {
  const problems: MemberProblem[] = [];
  const { members, digests, contents, originals } = await readMembers(path, options);

  // SHA256SUMS: every member but itself, once, with its hash.
  const sums = contents.get(CHECKSUMS);
  const listedInSums = new Set<string>();
  if (!sums) problems.push({ member: CHECKSUMS, reason: 'missing' });
  else {
    for (const [n, line] of sums.toString('utf8').split('\n').entries()) {
      if (line === '') continue;
      const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
      if (!match) {
        problems.push({ member: CHECKSUMS, reason: `line ${n + 1} is not "<sha256>  <name>"` });
        continue;
      }
      const [, digest, name] = match as unknown as [string, string, string];
      listedInSums.add(name);
      const actual = digests.get(name);
      if (!actual) problems.push({ member: name, reason: `listed in ${CHECKSUMS} but not in the bundle` });
      else if (actual.sha256 !== digest)
        problems.push({ member: name, reason: `SHA-256 differs from ${CHECKSUMS}` });
    }
    for (const { name } of members) {
      if (name !== CHECKSUMS && !listedInSums.has(name))
        problems.push({ member: name, reason: `not listed in ${CHECKSUMS}` });
    }
  }

  // The manifest and its signature.
  const manifestData = contents.get(MANIFEST);
  const signature = checkSignature(contents, manifestData, options.trustedKeyPem, problems);
  let manifest: ParsedManifest | undefined;
  if (!manifestData) problems.push({ member: MANIFEST, reason: 'missing' });
  else {
    const parsed = parseMember(manifestData, manifestSchema);
    if ('error' in parsed) problems.push({ member: MANIFEST, reason: parsed.error });
    else manifest = parsed.value;
  }
  const sessions: SessionResult[] = [];
  if (manifest) {
    checkManifestFiles(manifest, members, digests, problems);
    for (const session of manifest.predicate.sessions) {
      sessions.push(
        session.form === 'disclosed'
          ? checkDisclosed(session, contents, problems)
          : checkOriginal(session, originals.get(session.member), problems),
      );
    }
    if (signature.status === 'valid') signature.ephemeral = manifest.predicate.signer.ephemeral;
  }

  // Files: those in the archive and those the manifest or SHA256SUMS list but the archive lacks.
  const names = new Set([
    ...members.map((m) => m.name),
    ...listedInSums,
    ...(manifest?.predicate.files ?? []).map((f) => f.name),
  ]);
  const badMembers = new Set(problems.map((p) => p.member));
  const files = { total: names.size, valid: [...names].filter((name) => !badMembers.has(name)).length };
  const broken =
    problems.length > 0 ||
    signature.status !== 'valid' ||
    signature.trusted === false ||
    sessions.some((s) => s.verdict === 'TAMPERED' || s.verdict === 'UNREADABLE');
  const incomplete = sessions.some((s) => s.verdict === 'UNSEALED' || s.verdict === 'TORN');
  return {
    bundle: path,
    verdict: broken ? 'INVALID' : incomplete ? 'INCOMPLETE' : 'VALID',
    exitCode: broken ? 1 : incomplete ? 3 : 0,
    files,
    signature,
    sessions,
    problems,
    case_id: manifest?.predicate.case_id ?? null,
  };
}

function checkSignature(
  contents: Map<string, Buffer>,
  manifestData: Buffer | undefined,
  trustedKeyPem: string | Buffer | undefined,
  problems: MemberProblem[],
): BundleVerification['signature'] {
  const result: BundleVerification['signature'] = {
    status: 'missing',
    fingerprint: null,
    ephemeral: null,
    trusted: null,
  };
  const sigData = contents.get(MANIFEST_SIGNATURE);
  const keyData = contents.get(SIGNER_PUBLIC_KEY);
  if (!sigData || !keyData || !manifestData) {
    if (!sigData) problems.push({ member: MANIFEST_SIGNATURE, reason: 'missing' });
    if (!keyData) problems.push({ member: SIGNER_PUBLIC_KEY, reason: 'missing' });
    return result;
  }
  let key: ReturnType<typeof loadPublicKey>;
  try {
    key = loadPublicKey(keyData);
  } catch (error) {
    problems.push({
      member: SIGNER_PUBLIC_KEY,
      reason: `not an Ed25519 public key (${(error as Error).message})`,
    });
    return result;
  }
  result.fingerprint = publicKeyFingerprint(key);
  if (trustedKeyPem !== undefined)
    result.trusted = publicKeyFingerprint(loadPublicKey(trustedKeyPem)) === result.fingerprint;
  const parsedEnvelope = parseMember(sigData, envelopeSchema);
  const env = 'value' in parsedEnvelope ? parsedEnvelope.value : undefined;
  const sig = env?.signatures[0]?.sig;
  if (!env || env.payloadType !== MANIFEST_PAYLOAD_TYPE || sig === undefined) {
    problems.push({ member: MANIFEST_SIGNATURE, reason: 'is not a DSSE envelope of an in-toto statement' });
    result.status = 'invalid';
    return result;
  }
  if (!Buffer.from(env.payload, 'base64').equals(manifestData)) {
    problems.push({ member: MANIFEST_SIGNATURE, reason: `its payload is not ${MANIFEST}` });
    result.status = 'invalid';
    return result;
  }
  if (!verifyDsse(key, MANIFEST_PAYLOAD_TYPE, manifestData, sig)) {
    problems.push({ member: MANIFEST_SIGNATURE, reason: `signature does not verify over ${MANIFEST}` });
    result.status = 'invalid';
    return result;
  }
  result.status = 'valid';
  if (result.trusted === false)
    problems.push({ member: SIGNER_PUBLIC_KEY, reason: 'signed by a key other than the trusted one' });
  return result;
}

/** The manifest lists every member (but itself, its signature and SHA256SUMS) with the right hash and size. */
function checkManifestFiles(
  manifest: ParsedManifest,
  members: ReadonlyArray<{ name: string }>,
  digests: Map<string, { sha256: string; size: number }>,
  problems: MemberProblem[],
): void {
  if (manifest._type !== STATEMENT_TYPE || manifest.predicateType !== PREDICATE_TYPE) {
    problems.push({ member: MANIFEST, reason: 'is not an agent-replay audit-bundle in-toto statement' });
    return;
  }
  const files = manifest.predicate.files;
  const listed = new Set<string>();
  for (const file of files) {
    listed.add(file.name);
    const actual = digests.get(file.name);
    if (!actual) problems.push({ member: file.name, reason: `listed in ${MANIFEST} but not in the bundle` });
    else if (actual.sha256 !== file.sha256 || actual.size !== file.size)
      problems.push({ member: file.name, reason: `SHA-256 or size differs from ${MANIFEST}` });
  }
  const subjects = manifest.subject;
  if (
    subjects.length !== files.length ||
    subjects.some((s, i) => s.name !== files[i]?.name || s.digest.sha256 !== files[i]?.sha256)
  ) {
    problems.push({ member: MANIFEST, reason: 'its subjects and files disagree' });
  }
  for (const { name } of members) {
    if (name !== MANIFEST && name !== MANIFEST_SIGNATURE && name !== CHECKSUMS && !listed.has(name))
      problems.push({ member: name, reason: `not listed in ${MANIFEST}` });
  }
}

function sessionResult(session: ParsedSession, verdict: Verdict, summary: string): SessionResult {
  return {
    session_id: session.session_id,
    member: session.member,
    form: session.form,
    verdict,
    summary,
    withheld: 0,
    proofs_verified: 0,
  };
}

/** An original session file: verified completely, and the manifest must say what the file says. */
function checkOriginal(
  session: ParsedSession,
  report: VerifyReport | undefined,
  problems: MemberProblem[],
): SessionResult {
  if (!report) {
    problems.push({ member: session.member, reason: 'session listed in the manifest is missing' });
    return sessionResult(session, 'UNREADABLE', 'missing from the bundle');
  }
  const mismatches = [
    report.sessionId !== session.session_id && 'session id',
    report.verdict !== session.verdict && 'verdict',
    report.records !== session.records && 'record count',
    report.merkleRoot !== session.merkle_root && 'Merkle root',
    (report.lastCheckpoint?.tree_size ?? 0) !== session.tree_size && 'tree size',
    !sameJson(report.lastCheckpoint ?? null, session.checkpoint) && 'checkpoint',
  ].filter((m): m is string => m !== false);
  if (mismatches.length > 0)
    problems.push({
      member: session.member,
      reason: `the manifest's ${mismatches.join(', ')} differ from the file`,
    });
  return sessionResult(session, report.verdict, report.summary);
}

/**
 * A disclosed session: shown records hash to their leaves, withheld ones bring theirs; all leaves recompute the
 * root of the original's signed checkpoint, and each withheld leaf's inclusion proof verifies on its own.
 */
function checkDisclosed(
  session: ParsedSession,
  contents: Map<string, Buffer>,
  problems: MemberProblem[],
): SessionResult {
  const member = session.member;
  const fail = (who: string, reason: string) => {
    problems.push({ member: who, reason });
    return sessionResult(session, 'TAMPERED', `${who}: ${reason}`);
  };
  const disclosed = contents.get(member);
  const proofsData = session.proofs ? contents.get(session.proofs) : undefined;
  if (!disclosed) return fail(member, 'disclosed session listed in the manifest is missing');
  if (!proofsData || !session.proofs)
    return fail(session.proofs ?? member, 'proofs of the withheld records are missing');
  const parsedProofs = parseMember(proofsData, proofsSchema);
  if ('error' in parsedProofs) return fail(session.proofs, parsedProofs.error);
  const proofs = parsedProofs.value;
  // The checkpoint the proofs are against is the one the signed manifest names.
  if (
    !sameJson(proofs.checkpoint, session.checkpoint) ||
    !sameJson(proofs.checkpoint_key, session.checkpoint_key)
  )
    return fail(session.proofs, 'its checkpoint or key differs from the manifest');
  const lines = disclosed.toString('utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const leaves: Buffer[] = [];
  const withheldBySeq = new Map(proofs.withheld.map((w) => [w.seq, w]));
  let withheld = 0;
  for (const [i, line] of lines.entries()) {
    const seq = i + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return fail(member, `line ${seq} is not JSON`);
    }
    const record =
      parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Obj) : undefined;
    if (record?.seq !== seq) return fail(member, `line ${seq} is not the record with seq ${seq}`);
    const marker = withheldLineSchema.safeParse(record);
    if (marker.success) {
      const entry = withheldBySeq.get(seq);
      if (!entry || entry.leaf !== marker.data.leaf)
        return fail(member, `withheld record ${seq} is not in the proofs`);
      leaves.push(Buffer.from(marker.data.leaf, 'hex'));
      withheld++;
    } else {
      leaves.push(leafHash(Buffer.from(line, 'utf8')));
    }
  }
  if (withheld !== proofs.withheld.length || withheld !== session.withheld)
    return fail(
      member,
      `${withheld} records withheld, the proofs list ${proofs.withheld.length} and the manifest ${session.withheld}`,
    );
  const checkpoint = proofs.checkpoint;
  // A session that crashed before its first checkpoint: shown as recorded, but nothing proves it.
  if (!checkpoint)
    return {
      ...sessionResult(
        session,
        'UNSEALED',
        `${leaves.length} records, no checkpoint: nothing proves them against the recorder`,
      ),
      withheld,
    };
  if (checkpoint.tree_size > leaves.length)
    return fail(
      session.proofs,
      `the checkpoint covers ${checkpoint.tree_size} records, the session has ${leaves.length}`,
    );
  const root = merkleRoot(leaves.slice(0, checkpoint.tree_size)).toString('hex');
  if (root !== checkpoint.root)
    return fail(member, `records 1..${checkpoint.tree_size} do not hash to the checkpoint's Merkle root`);
  if (checkpoint.sig) {
    if (!proofs.checkpoint_key) return fail(session.proofs, 'the checkpoint is signed but no key is given');
    const key = publicKeyFromHeader({ ...proofs.checkpoint_key, alg: 'ed25519' });
    if (
      !verifyDsse(key, CHECKPOINT_PAYLOAD_TYPE, Buffer.from(checkpointBody(checkpoint)), checkpoint.sig.sig)
    )
      return fail(session.proofs, 'the checkpoint signature does not verify');
  }
  let proven = 0;
  for (const entry of proofs.withheld) {
    if (entry.seq > checkpoint.tree_size) continue;
    const ok =
      Array.isArray(entry.proof) &&
      verifyInclusion(
        Buffer.from(entry.leaf, 'hex'),
        entry.seq - 1,
        checkpoint.tree_size,
        entry.proof.map((h) => Buffer.from(h, 'hex')),
        Buffer.from(checkpoint.root, 'hex'),
      );
    if (!ok)
      return fail(session.proofs, `the inclusion proof of withheld record ${entry.seq} does not verify`);
    proven++;
  }
  const sealed = checkpoint.final && checkpoint.tree_size === leaves.length;
  const verdict: Verdict = sealed ? 'VALID' : 'UNSEALED';
  const summary = sealed
    ? `${leaves.length} records (${withheld} withheld, proven) hash to the final checkpoint's root${checkpoint.sig ? ', signature valid' : ''}`
    : `records 1..${checkpoint.tree_size} of ${leaves.length} proven against the last checkpoint; not sealed`;
  return { ...sessionResult(session, verdict, summary), withheld, proofs_verified: proven };
}
