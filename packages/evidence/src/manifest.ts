/**
 * The manifest of a bundle: an in-toto Statement v1 whose subjects are every file of the bundle (but the manifest,
 * its signature and SHA256SUMS), with a predicate describing the case. Signed as a DSSE envelope (Ed25519).
 */
import { type Checkpoint, canonicalize, type SignatureStatus, type Verdict } from '@agent-replay/format';
import { MANIFEST_PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE } from './layout.js';

export interface ManifestFile {
  name: string;
  sha256: string;
  size: number;
}

export interface ManifestSession {
  session_id: string;
  /** `original`: the session file byte for byte; `disclosed`: its records with some withheld (a redacted export). */
  form: 'original' | 'disclosed';
  member: string;
  /** For a disclosed session: the member holding the leaf hashes and inclusion proofs of what was withheld. */
  proofs: string | null;
  /** Records read from the original, and how many of them its last checkpoint covers (the tree size). */
  records: number;
  tree_size: number;
  merkle_root: string;
  /** The last checkpoint of the original, with its signature: what shown and withheld records prove against. */
  checkpoint: Checkpoint | null;
  /** The original's signing key as its header declares it (base64 SPKI DER), to check the checkpoint signature. */
  checkpoint_key: { id: string; public_key: string } | null;
  signature_status: SignatureStatus;
  verdict: Verdict;
  summary: string;
  time: { first: string | null; last: string | null };
  withheld: number;
  identities: unknown[];
}

export interface ManifestPredicate {
  case_id: string | null;
  created_at: string;
  producer: { name: string; version: string };
  time_range: {
    requested: { from: string | null; to: string | null };
    covered: { from: string | null; to: string | null };
  };
  signer: { fingerprint: string; ephemeral: boolean };
  redaction: { rule: string; withheld: number } | null;
  files: ManifestFile[];
  sessions: ManifestSession[];
  identities: unknown[];
}

export interface Manifest {
  _type: typeof STATEMENT_TYPE;
  subject: Array<{ name: string; digest: { sha256: string } }>;
  predicateType: typeof PREDICATE_TYPE;
  predicate: ManifestPredicate;
}

export function buildManifest(predicate: ManifestPredicate): Manifest {
  return {
    _type: STATEMENT_TYPE,
    subject: predicate.files.map((f) => ({ name: f.name, digest: { sha256: f.sha256 } })),
    predicateType: PREDICATE_TYPE,
    predicate,
  };
}

/** The manifest's bytes: RFC 8785 canonical JSON (what is hashed and signed), ending in a newline for tools. */
export const manifestBytes = (manifest: Manifest): Buffer =>
  Buffer.from(`${canonicalize(manifest)}\n`, 'utf8');

/** A DSSE envelope: the payload (base64) and its signatures, over DSSE's pre-authentication encoding. */
export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: Array<{ keyid: string; sig: string }>;
}

export function envelope(payload: Buffer, keyid: string, sig: string): DsseEnvelope {
  return {
    payloadType: MANIFEST_PAYLOAD_TYPE,
    payload: payload.toString('base64'),
    signatures: [{ keyid, sig }],
  };
}
