/**
 * VERIFY.md: how a reviewer checks the bundle with standard tools only (unzip, sha256sum, openssl, zstd). Every
 * command is in a ```sh block and is run verbatim by the tests, from the unpacked bundle's directory.
 */
import {
  CHECKSUMS,
  MANIFEST,
  MANIFEST_PAYLOAD_TYPE,
  MANIFEST_SIGNATURE,
  SIGNER_PUBLIC_KEY,
} from './layout.js';

export interface GuideFacts {
  bundleName: string;
  caseId: string | null;
  createdAt: string;
  producer: { name: string; version: string };
  signer: { fingerprint: string; ephemeral: boolean };
  /** Members of sessions kept byte for byte (`zstd -dc` reads them). */
  originalSessions: string[];
  disclosedSessions: string[];
}

export function verifyGuide(facts: GuideFacts): string {
  const type = MANIFEST_PAYLOAD_TYPE;
  const typeBytes = Buffer.byteLength(type, 'utf8');
  const sample = facts.originalSessions[0];
  const lines = [
    '# Verifying this audit bundle',
    '',
    `Case ${facts.caseId ?? '(no case id)'}, exported ${facts.createdAt} by ${facts.producer.name} ${facts.producer.version}.`,
    `The manifest is signed with the Ed25519 key whose SHA-256 fingerprint (of its SPKI DER form) is`,
    '',
    `    ${facts.signer.fingerprint}`,
    '',
    facts.signer.ephemeral
      ? 'This key was made for this export only: the signature proves the bundle is intact, not who made it. Ask the sender for a bundle signed with a key you know.'
      : 'Compare it with the fingerprint you received from the sender by another channel: a matching signature only means something if the key is the one you expect.',
    '',
    'You need `unzip`, `sha256sum`, `openssl` (3.0 or later) and `zstd`; nothing here needs agent-replay.',
    'Run the steps in order, in an empty directory holding the bundle; each must succeed.',
    '',
    '## 1. Unpack',
    '',
    '```sh',
    `mkdir -p bundle && unzip -q -o ${shellWord(facts.bundleName)} -d bundle && cd bundle`,
    '```',
    '',
    'The remaining steps run inside `bundle/`.',
    '',
    '## 2. Every file is intact',
    '',
    '```sh',
    `sha256sum -c ${CHECKSUMS}`,
    '```',
    '',
    'Every line must end in `OK`.',
    '',
    '## 3. The manifest is signed by the key above',
    '',
    'The key in the bundle has the fingerprint above:',
    '',
    '```sh',
    `openssl pkey -pubin -in ${SIGNER_PUBLIC_KEY} -outform DER | sha256sum | grep -q '^${facts.signer.fingerprint} ' && echo "key fingerprint OK"`,
    '```',
    '',
    `The signature (DSSE: Ed25519 over \`DSSEv1 <len(type)> <type> <len(body)> <body>\`, type \`${type}\`) verifies over the manifest, and the envelope carries exactly the manifest:`,
    '',
    '```sh',
    `grep -o '"sig":"[^"]*"' ${MANIFEST_SIGNATURE} | cut -d'"' -f4 | base64 -d > manifest.sig.bin`,
    `printf 'DSSEv1 %d %s %d ' ${typeBytes} '${type}' "$(wc -c < ${MANIFEST})" > manifest.pae`,
    `cat ${MANIFEST} >> manifest.pae`,
    `openssl pkeyutl -verify -pubin -inkey ${SIGNER_PUBLIC_KEY} -rawin -in manifest.pae -sigfile manifest.sig.bin`,
    `grep -o '"payload":"[^"]*"' ${MANIFEST_SIGNATURE} | cut -d'"' -f4 | base64 -d | cmp - ${MANIFEST} && echo "envelope carries the manifest"`,
    '```',
    '',
    'openssl must print `Signature Verified Successfully`.',
    '',
    '## 4. The signed manifest lists the same files as SHA256SUMS',
    '',
    '```sh',
    `grep -o '{"name":"[^"]*","sha256":"[0-9a-f]*"' ${MANIFEST} | sed 's/{"name":"\\([^"]*\\)","sha256":"\\([0-9a-f]*\\)"/\\2  \\1/' | sort > manifest.sums`,
    `grep -v -e ' ${MANIFEST}$' -e ' ${MANIFEST_SIGNATURE}$' ${CHECKSUMS} | sort | diff - manifest.sums && echo "SHA256SUMS matches the signed manifest"`,
    '```',
    '',
    ...(sample
      ? [
          '## 5. The sessions read with zstd',
          '',
          'Session files are zstd frames (the metadata frames are skippable), one JSON record per line:',
          '',
          '```sh',
          `zstd -dc ${shellWord(sample)} | head -n 3`,
          '```',
          '',
        ]
      : []),
    '## What these steps do not check',
    '',
    'Inside each session, every record is hash-chained and covered by Merkle roots in checkpoints that the recorder',
    'signs. `agent-replay verify <bundle>` checks those too, and the proofs of records withheld from a redacted',
    ...(facts.disclosedSessions.length > 0
      ? [
          "export: the `proofs/` files hold each withheld record's leaf hash and its inclusion proof against the signed",
          'checkpoint root, and the disclosed sessions show every other record exactly as it was hashed.',
        ]
      : ['export (this bundle has none).']),
    '',
  ];
  return lines.join('\n');
}

/** A file name as one shell word. */
function shellWord(name: string): string {
  return /^[A-Za-z0-9._\-/]+$/.test(name) ? name : `'${name.replace(/'/g, `'\\''`)}'`;
}
