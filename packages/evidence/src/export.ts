/**
 * `exportBundle`: sessions into an audit bundle. Each session is verified, copied byte for byte (or, for a redacted
 * export, disclosed record by record with the withheld ones as leaf hashes and proofs), read once for the
 * transcript and the reports, and everything is listed in a signed manifest and in SHA256SUMS.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Transform, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  canonicalize,
  type HeaderKey,
  holdsReferences,
  leafHash,
  loadSigningKey,
  MerkleTree,
  publicKeyFingerprint,
  SessionFileError,
  SessionReader,
  SessionVerifierPool,
  type SigningKey,
  signDsse,
  type VerifyReport,
} from '@agent-replay/format';
import yazl from 'yazl';
import {
  CHECKSUMS,
  MANIFEST,
  MANIFEST_PAYLOAD_TYPE,
  MANIFEST_SIGNATURE,
  PROOFS_DIR,
  REPORT_HTML,
  REPORT_MD,
  SESSIONS_DIR,
  SIGNER_PUBLIC_KEY,
  TRANSCRIPT,
  VERIFY_GUIDE,
} from './layout.js';
import {
  buildManifest,
  envelope,
  type ManifestFile,
  type ManifestSession,
  manifestBytes,
} from './manifest.js';
import { renderReports } from './report.js';
import type { ReportRecord, ReportSession } from './report-model.js';
import { verifyGuide } from './verify-guide.js';
import { describeRule, validateRule, type WithholdRule, withholdReason } from './withhold.js';

export interface ExportOptions {
  /** Session files, in the order they appear in the bundle. */
  sessions: readonly string[];
  /** The bundle to write (.zip). It is written under a temporary name and renamed when complete. */
  output: string;
  caseId?: string;
  /** Ed25519 private key (PEM) that signs the manifest; without one a key is made for this export only. */
  signingKeyPem?: string | Buffer;
  /** Records to withhold (a redacted export). */
  withhold?: WithholdRule;
  /** The time range the export was asked for (recorded next to the range the sessions cover). */
  requested?: { from: string | null; to: string | null };
  producer: { name: string; version: string };
  /** Bytes of session data processed so far, of the total. */
  onProgress?: (done: number, total: number, session: string) => void;
  now?: () => Date;
}

export interface ExportResult {
  output: string;
  files: ManifestFile[];
  sessions: ManifestSession[];
  signer: { fingerprint: string; ephemeral: boolean };
  withheld: number;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

function signerOf(pem: string | Buffer | undefined): { key: SigningKey; ephemeral: boolean } {
  if (pem !== undefined) return { key: loadSigningKey(pem), ephemeral: false };
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    key: loadSigningKey(privateKey.export({ type: 'pkcs8', format: 'pem' })),
    ephemeral: true,
  };
}

/** Characters of lines gathered before they are written as one chunk. */
const BATCH_CHARS = 1 << 20;

/**
 * Lines written to a stream in ~1 MiB chunks: every chunk written to the archive becomes a compression job on the
 * thread pool (and every wait for 'drain' a round trip), which a line at a time would make the cost of the export.
 */
class LineWriter {
  #parts: string[] = [];
  #chars = 0;

  constructor(private readonly stream: Writable) {}

  async write(line: string): Promise<void> {
    this.#parts.push(line);
    this.#chars += line.length + 1;
    if (this.#chars >= BATCH_CHARS) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#parts.length === 0) return;
    this.#parts.push('');
    const chunk = Buffer.from(this.#parts.join('\n'), 'utf8');
    this.#parts = [];
    this.#chars = 0;
    if (!this.stream.write(chunk))
      await new Promise<void>((resolve) => this.stream.once('drain', () => resolve()));
  }

  /** Flushes and ends the stream; resolves when everything written has been consumed. */
  async end(): Promise<void> {
    await this.flush();
    this.stream.end();
    await finished(this.stream);
  }
}

interface SessionPlan {
  path: string;
  /** Verification runs on a worker thread while earlier sessions' records are read. */
  verifying: Promise<VerifyReport>;
  /** Set once `verifying` has settled, before any of the session's records are read. */
  verification?: VerifyReport;
  fileSize: number;
  sessionId: string;
  member: string;
  proofsMember: string | null;
  /** Filled while its records are read. */
  withheld: number;
  identities: unknown[];
  /** The records' time range, from the segment headers. */
  time: { first: string | null; last: string | null };
  /** The signing key the session's header declares. */
  headerKey: HeaderKey | null;
}

export async function exportBundle(options: ExportOptions): Promise<ExportResult> {
  if (options.sessions.length === 0) throw new TypeError('nothing to export: no sessions');
  const rule =
    options.withhold && (options.withhold.types.length > 0 || options.withhold.profiles.length > 0)
      ? options.withhold
      : undefined;
  if (rule) validateRule(rule);
  const createdAt = (options.now?.() ?? new Date()).toISOString();
  const signer = signerOf(options.signingKeyPem);
  const fingerprint = publicKeyFingerprint(signer.key.publicKey);
  const work = mkdtempSync(join(tmpdir(), 'agent-replay-export-'));
  const verifier = new SessionVerifierPool();
  const partial = join(dirname(options.output), `.${basename(options.output)}.partial-${process.pid}`);
  try {
    // 1. Every session's header now (a file that is not a session fails the export before anything is written), and
    //    its complete verification on the worker threads: an export states each one's verdict.
    const plans: SessionPlan[] = [];
    const seenIds = new Set<string>();
    for (const path of options.sessions) {
      let reader: SessionReader;
      try {
        reader = await SessionReader.open(path);
      } catch (error) {
        const reason = error instanceof SessionFileError ? error.reason : (error as Error).message;
        throw new TypeError(`cannot export ${path}: UNREADABLE: ${reason}`);
      }
      const sessionId = reader.header.session_id;
      const time = { first: reader.segments[0]?.tFirst ?? null, last: reader.segments.at(-1)?.tLast ?? null };
      const headerKey = reader.header.key;
      reader.close();
      if (seenIds.has(sessionId)) throw new TypeError(`session ${sessionId} is listed twice (${path})`);
      seenIds.add(sessionId);
      const safeId = sessionId.replace(/[^A-Za-z0-9._-]/g, '_');
      const verifying = verifier.verify(path);
      // Awaited in order later; an export that stops early must not leave a rejection unhandled meanwhile.
      verifying.catch(() => undefined);
      plans.push({
        path,
        verifying,
        fileSize: statSync(path).size,
        sessionId,
        member: `${SESSIONS_DIR}${safeId}${rule ? '.disclosed.jsonl' : '.arec'}`,
        proofsMember: rule ? `${PROOFS_DIR}${safeId}.json` : null,
        withheld: 0,
        identities: [],
        time,
        headerKey,
      });
    }
    const totalBytes = plans.reduce((n, p) => n + p.fileSize, 0);
    let doneBytes = 0;

    const zip = new yazl.ZipFile();
    const out = createWriteStream(partial, { mode: 0o600, flags: 'wx' });
    const written = finished(zip.outputStream.pipe(out));
    const mtime = new Date(createdAt);
    const files: ManifestFile[] = [];
    const addFile = async (path: string, name: string, compress: boolean) => {
      const { sha256: digest, size } = await hashFile(path);
      zip.addFile(path, name, { compressionLevel: compress ? 1 : 0, mtime, mode: 0o100644 });
      files.push({ name, sha256: digest, size });
    };
    const addBuffer = (data: Buffer, name: string) => {
      zip.addBuffer(data, name, { compressionLevel: 6, mtime, mode: 0o100644 });
      files.push({ name, sha256: sha256(data), size: data.length });
    };

    // 2. Originals byte for byte (already compressed: stored as they are).
    if (!rule) for (const plan of plans) await addFile(plan.path, plan.member, false);

    // 3. One pass over each session's records: transcript, reports, and (redacted) the disclosed form and proofs.
    //    The transcript streams into the archive (hashed on the way), so it is compressed while the records are read
    //    and never lands on disk uncompressed.
    const transcriptHash = createHash('sha256');
    let transcriptSize = 0;
    const transcript = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _encoding, done) {
        transcriptHash.update(chunk);
        transcriptSize += chunk.length;
        done(null, chunk);
      },
    });
    zip.addReadStream(transcript, TRANSCRIPT, { compressionLevel: 1, mtime, mode: 0o100644 });
    const transcriptLines = new LineWriter(transcript);
    const proofs = new Map<SessionPlan, Buffer>();
    const records = async function* (plan: SessionPlan): AsyncGenerator<ReportRecord> {
      // Which records to withhold is decided over the whole session first: a deduplicated value (blob record) is
      // written before the records that use it, and is withheld when only withheld records use it.
      const verification = await plan.verifying;
      if (verification.verdict === 'UNREADABLE')
        throw new TypeError(`cannot export ${plan.path}: ${verification.summary}`);
      plan.verification = verification;
      const withholding = rule ? await recordsToWithhold(plan.path, verification.records, rule) : undefined;
      const reader = await SessionReader.open(plan.path);
      const disclosedPath = join(work, basename(plan.member));
      const disclosed = rule ? new LineWriter(createWriteStream(disclosedPath, { mode: 0o600 })) : undefined;
      const leaves: Buffer[] = [];
      const withheldLeaves: Array<{ seq: number; leaf: string; reason: string }> = [];
      let lastBytes = 0;
      try {
        for await (const { seq, line } of reader.lines({ toSeq: verification.records })) {
          const reason = withholding?.get(seq);
          const raw = JSON.parse(line) as Record<string, unknown>;
          const resolved =
            reason || !holdsReferences(line) ? raw : await reader.resolve<Record<string, unknown>>(raw);
          if (rule) {
            const leaf = leafHash(Buffer.from(line, 'utf8'));
            leaves.push(leaf);
            if (reason) {
              withheldLeaves.push({ seq, leaf: leaf.toString('hex'), reason });
              await disclosed!.write(canonicalize({ leaf: leaf.toString('hex'), seq, withheld: reason }));
            } else {
              await disclosed!.write(line);
            }
          }
          if (reason) {
            plan.withheld++;
            await transcriptLines.write(canonicalize({ session_id: plan.sessionId, seq, withheld: reason }));
            yield { withheld: true, seq, reason };
            continue;
          }
          if (resolved.type === 'identity' || resolved.type === 'session.start') {
            const identity = resolved.identity;
            if (identity && !plan.identities.some((i) => canonicalize(i) === canonicalize(identity)))
              plan.identities.push(identity);
          }
          await transcriptLines.write(canonicalize({ session_id: plan.sessionId, ...resolved }));
          yield { withheld: false, seq, record: resolved };
          // Progress by the share of records read (sizes of compressed segments are not known per record).
          const bytes = Math.round((seq / Math.max(1, verification.records)) * plan.fileSize);
          doneBytes += bytes - lastBytes;
          lastBytes = bytes;
          options.onProgress?.(doneBytes, totalBytes, plan.sessionId);
        }
      } finally {
        reader.close();
        await disclosed?.end();
      }
      doneBytes += plan.fileSize - lastBytes;
      options.onProgress?.(doneBytes, totalBytes, plan.sessionId);
      if (rule) {
        await addFile(disclosedPath, plan.member, true);
        proofs.set(plan, proofsFor(plan, leaves, withheldLeaves));
      }
    };
    const reportSessions: ReportSession[] = plans.map((plan) => ({
      member: plan.member,
      sessionId: plan.sessionId,
      get verification() {
        return verified(plan);
      },
      get withheld() {
        return plan.withheld;
      },
      records: records(plan),
    }));
    const covered = coveredRange(plans);
    const requested = options.requested ?? { from: null, to: null };
    const redaction = rule ? describeRule(rule) : null;
    const reports = await renderReports({
      caseId: options.caseId ?? null,
      createdAt,
      producer: options.producer,
      requested,
      covered,
      signer: { fingerprint, ephemeral: signer.ephemeral },
      redaction,
      sessions: reportSessions,
    });
    await transcriptLines.end();
    for (const plan of plans) {
      const proof = proofs.get(plan);
      if (proof && plan.proofsMember) addBuffer(proof, plan.proofsMember);
    }
    files.push({ name: TRANSCRIPT, sha256: transcriptHash.digest('hex'), size: transcriptSize });
    addBuffer(Buffer.from(reports.html, 'utf8'), REPORT_HTML);
    addBuffer(Buffer.from(reports.markdown, 'utf8'), REPORT_MD);
    const publicPem = signer.key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    addBuffer(Buffer.from(publicPem, 'utf8'), SIGNER_PUBLIC_KEY);
    addBuffer(
      Buffer.from(
        verifyGuide({
          bundleName: basename(options.output),
          caseId: options.caseId ?? null,
          createdAt,
          producer: options.producer,
          signer: { fingerprint, ephemeral: signer.ephemeral },
          originalSessions: rule ? [] : plans.map((p) => p.member),
          disclosedSessions: rule ? plans.map((p) => p.member) : [],
        }),
        'utf8',
      ),
      VERIFY_GUIDE,
    );

    // 4. The manifest over everything so far, its signature, and SHA256SUMS over every member but itself.
    const sessions = plans.map((plan) => manifestSession(plan));
    const withheld = plans.reduce((n, p) => n + p.withheld, 0);
    const manifest = buildManifest({
      case_id: options.caseId ?? null,
      created_at: createdAt,
      producer: options.producer,
      time_range: { requested, covered },
      signer: { fingerprint, ephemeral: signer.ephemeral },
      redaction: redaction ? { rule: redaction, withheld } : null,
      files: [...files],
      sessions,
      identities: unique(plans.flatMap((p) => p.identities)),
    });
    const manifestData = manifestBytes(manifest);
    addBuffer(manifestData, MANIFEST);
    const sig = signDsse(signer.key.privateKey, MANIFEST_PAYLOAD_TYPE, manifestData);
    // Compact canonical JSON: VERIFY.md takes the signature out with grep and cut.
    addBuffer(Buffer.from(`${canonicalize(envelope(manifestData, fingerprint, sig))}\n`), MANIFEST_SIGNATURE);
    const sums = files.map((f) => `${f.sha256}  ${f.name}\n`).join('');
    zip.addBuffer(Buffer.from(sums, 'utf8'), CHECKSUMS, { compress: true, mtime, mode: 0o100644 });
    zip.end();
    await written;
    renameSync(partial, options.output);
    return {
      output: options.output,
      files,
      sessions,
      signer: { fingerprint, ephemeral: signer.ephemeral },
      withheld,
    };
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    await verifier.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/** A session's verification, which its records pass has awaited (reports and the manifest come after it). */
function verified(plan: SessionPlan): VerifyReport {
  if (!plan.verification) throw new Error(`internal: ${plan.path} read before its verification settled`);
  return plan.verification;
}

function manifestSession(plan: SessionPlan): ManifestSession {
  const v = verified(plan);
  const key = plan.headerKey ? { id: plan.headerKey.id, public_key: plan.headerKey.public_key } : null;
  return {
    session_id: plan.sessionId,
    form: plan.proofsMember ? 'disclosed' : 'original',
    member: plan.member,
    proofs: plan.proofsMember,
    records: v.records,
    tree_size: v.lastCheckpoint?.tree_size ?? 0,
    merkle_root: v.merkleRoot,
    checkpoint: v.lastCheckpoint ?? null,
    checkpoint_key: key,
    signature_status: v.signatures.status,
    verdict: v.verdict,
    summary: v.summary,
    time: plan.time,
    withheld: plan.withheld,
    identities: plan.identities,
  };
}

/** The earliest and latest record times over all sessions. */
function coveredRange(plans: readonly SessionPlan[]): { from: string | null; to: string | null } {
  const firsts = plans.map((p) => p.time.first).filter((t): t is string => t !== null);
  const lasts = plans.map((p) => p.time.last).filter((t): t is string => t !== null);
  return { from: firsts.sort()[0] ?? null, to: lasts.sort().at(-1) ?? null };
}

function unique(values: readonly unknown[]): unknown[] {
  const seen = new Map<string, unknown>();
  for (const value of values) seen.set(canonicalize(value), value);
  return [...seen.values()];
}

/**
 * The proofs file of a disclosed session: each withheld record's leaf hash with its inclusion proof against the
 * last checkpoint's root (records after that checkpoint are covered by no signature and have no proof).
 */
function proofsFor(
  plan: SessionPlan,
  leaves: readonly Buffer[],
  withheld: ReadonlyArray<{ seq: number; leaf: string; reason: string }>,
): Buffer {
  const checkpoint = verified(plan).lastCheckpoint ?? null;
  const treeSize = checkpoint?.tree_size ?? 0;
  const tree = treeSize > 0 ? new MerkleTree(leaves.slice(0, treeSize)) : undefined;
  const body = {
    session_id: plan.sessionId,
    records: leaves.length,
    tree_size: treeSize,
    root: checkpoint?.root ?? null,
    checkpoint,
    checkpoint_key: plan.headerKey ? { id: plan.headerKey.id, public_key: plan.headerKey.public_key } : null,
    withheld: withheld.map((w) => ({
      ...w,
      proof: tree && w.seq <= treeSize ? tree.inclusionProof(w.seq - 1).map((h) => h.toString('hex')) : null,
    })),
  };
  return Buffer.from(`${canonicalize(body)}\n`, 'utf8');
}

const BLOB_REFERENCE = /"\$blob":"([0-9a-f]{64})"/g;

const blobReferences = (line: string): string[] => [...line.matchAll(BLOB_REFERENCE)].map((m) => m[1]!);

/**
 * The records of a session to withhold, with why. A record is withheld by the rule (its type or span kind, or the
 * personal data in its resolved content), or because it refers to a withheld blob (its resolved form would show
 * the value); a blob record is withheld when no shown record uses it.
 */
async function recordsToWithhold(
  path: string,
  through: number,
  rule: WithholdRule,
): Promise<Map<number, string>> {
  const reasons = new Map<number, string>();
  const blobSeq = new Map<string, number>();
  const blobUses = new Map<number, string[]>();
  const withheldBlobs = new Set<string>();
  const usedByShown = new Set<string>();
  const reader = await SessionReader.open(path);
  try {
    for await (const { seq, line } of reader.lines({ toSeq: through })) {
      const raw = JSON.parse(line) as Record<string, unknown>;
      const uses = blobReferences(line);
      const resolved = holdsReferences(line) ? await reader.resolve(raw) : raw;
      const withheldUse = uses.find((hash) => withheldBlobs.has(hash));
      const reason =
        withholdReason(raw, JSON.stringify(resolved), rule) ??
        (withheldUse ? `refers to withheld blob ${withheldUse.slice(0, 12)}` : undefined);
      if (reason) reasons.set(seq, reason);
      if (raw.type === 'blob' && typeof raw.sha256 === 'string') {
        blobSeq.set(raw.sha256, seq);
        blobUses.set(seq, uses);
        if (reason) withheldBlobs.add(raw.sha256);
      } else if (!reason) {
        for (const hash of uses) usedByShown.add(hash);
      }
    }
  } finally {
    reader.close();
  }
  // Blobs used by shown blobs are shown too.
  const queue = [...usedByShown];
  while (queue.length > 0) {
    const seq = blobSeq.get(queue.pop()!);
    if (seq === undefined || reasons.has(seq)) continue;
    for (const hash of blobUses.get(seq) ?? []) {
      if (!usedByShown.has(hash)) {
        usedByShown.add(hash);
        queue.push(hash);
      }
    }
  }
  for (const [hash, seq] of blobSeq)
    if (!reasons.has(seq) && !usedByShown.has(hash)) reasons.set(seq, 'used only by withheld records');
  return reasons;
}
