/**
 * Audit bundles of sessions recorded by the real recorder from real Agents SDK runs (scripted models): exported,
 * verified with `verifyBundle` and with nothing but unzip, sha256sum, openssl and zstd (VERIFY.md run verbatim),
 * tampered member by member (also by an attacker who re-signs the manifest with a key of their own), redacted
 * without leaking what was withheld, and hostile archives (path traversal, symlinks, bombs, floods, duplicates)
 * refused by the verifier and the extractor before anything is written.
 */
import { randomUUID } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  canonicalize,
  generateSigningKey,
  loadSigningKey,
  publicKeyFingerprint,
  SessionReader,
  signDsse,
  verifySession,
} from '@agent-replay/format';
import { fc, SpanEmittingScriptedModel, say } from '@agent-replay/testkit';
import { Agent, Runner, setTraceProcessors, tool } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  BundleError,
  type BundleLimits,
  type BundleVerification,
  DEFAULT_LIMITS,
  type ExportOptions,
  exportBundle,
  extractBundle,
  MANIFEST_PAYLOAD_TYPE,
  type Manifest,
  verifyBundle,
  walkBundle,
} from '../src/index.js';
import {
  CARD,
  type CraftedEntry,
  EMAIL,
  filesUnder,
  flipByte,
  guideCommands,
  MARKER,
  type Member,
  member,
  type Run,
  readZip,
  recordSessions,
  replaced,
  run,
  runConfigAgent,
  runSupportDesk,
  SSN,
  sha256,
  writeZip,
} from './fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'arec-evidence-bundle-'));
afterAll(() => {
  setTraceProcessors([]);
  rmSync(work, { recursive: true, force: true });
});

/** Signs the recorder's checkpoints. */
const recorderKey = generateSigningKey();
/** Signs bundle manifests (`--sign`). */
const bundleKey = generateSigningKey();
const otherKey = generateSigningKey();
/** Re-signs a tampered manifest: someone who can write the bundle but does not hold the exporter's key. */
const attackerKey = generateSigningKey();

const WITHHELD_VALUES = [EMAIL, SSN, CARD, CARD.replace(/ /g, ''), MARKER];

const producer = { name: 'agent-replay-test', version: '9.9.9' };
const CASE_ID = 'CASE-123';

/** The recorded sessions: config-agent (a denial), support-desk (personal data), and support-desk before sealing. */
let config: string;
let support: string;
let live: string;
let archive: string;
/** In a tool output stored as a blob. */
const ARCHIVE_MARKER = 'PANGOLIN-88B1-ARCHIVE-MARKER';

beforeAll(async () => {
  const dir = join(work, 'recordings');
  live = join(work, 'loose', 'live.arec');
  const options = { redactionKeyFile: join(work, 'redaction.key'), signingKey: recorderKey.privateKeyPem };
  await recordSessions(dir, options, async () => {
    // config-agent: the policy denies the production push; the model pushes to staging.
    expect(await runConfigAgent()).toEqual(['staging']);
    // support-desk: a customer lookup returns personal data; the notes carry the marker. Copied while the trace
    // is still open: that copy is a session the recorder has not sealed (as after a crash).
    await runSupportDesk(dir, live);

    // archive-desk: a tool output long enough that its second sighting (in the next model input) is stored once
    // as a blob record, which the model input then refers to.
    const fetchArchive = tool({
      name: 'fetch_archive',
      description: 'an archived document',
      parameters: z.object({ id: z.string() }),
      execute: async () => `${ARCHIVE_MARKER} ${'archived paragraph of no importance. '.repeat(60)}`,
    });
    const archiveModel = new SpanEmittingScriptedModel(
      (req) =>
        JSON.stringify(req.input).includes('function_call_result')
          ? [say('Archived document read.')]
          : [fc('a1', 'fetch_archive', { id: 'doc-7' })],
      { model: 'scripted-4' },
    );
    await new Runner({ workflowName: 'archive-desk' }).run(
      new Agent({ name: 'Archivist', model: archiveModel, tools: [fetchArchive] }),
      'read doc-7',
    );
  });
  const files = readdirSync(join(dir, 'sessions')).map((f) => join(dir, 'sessions', f));
  const byWorkflow = new Map<string, string>();
  for (const file of files) {
    const reader = await SessionReader.open(file);
    for await (const record of reader.records({ types: ['session.start'] }))
      byWorkflow.set(String((record as { workflow?: unknown }).workflow), file);
    reader.close();
  }
  config = byWorkflow.get('config-agent')!;
  support = byWorkflow.get('support-desk')!;
  archive = byWorkflow.get('archive-desk')!;
  expect(config).toBeDefined();
  expect(support).toBeDefined();
  for (const path of [config, support]) {
    const report = await verifySession(path, { publicKey: recorderKey.publicKeyPem });
    expect(report.verdict, report.summary).toBe('VALID');
  }
  const unsealed = await verifySession(live);
  expect(unsealed.verdict, unsealed.summary).toBe('UNSEALED');
}, 60_000);

// ---------------------------------------------------------------------------------------------------------------
// Helpers

let counter = 0;
const fresh = (name: string) => join(work, `${++counter}-${name}`);

function exportTo(name: string, options: Partial<ExportOptions> & { sessions: string[] }) {
  const output = join(mkdtempSync(join(work, 'out-')), name);
  return exportBundle({ output, producer, ...options });
}

/** `members` written as a new bundle. */
async function rezip(members: Member[], name = 'tampered.zip'): Promise<string> {
  return writeZip(fresh(name), members);
}

/**
 * What someone who can change the bundle but not use the exporter's key can do: recompute every hash in the
 * manifest and SHA256SUMS and sign the manifest again with a key of their own, put into the bundle.
 */
function reseal(members: Member[], key = attackerKey): Member[] {
  const withKey = replaced(members, 'manifest.pub.pem', key.publicKeyPem);
  const manifest = JSON.parse(member(withKey, 'manifest.json').data.toString('utf8')) as Manifest;
  for (const file of manifest.predicate.files) {
    const m = withKey.find((x) => x.name === file.name);
    if (m) Object.assign(file, { sha256: sha256(m.data), size: m.data.length });
  }
  manifest.subject = manifest.predicate.files.map((f) => ({ name: f.name, digest: { sha256: f.sha256 } }));
  const signing = loadSigningKey(key.privateKeyPem);
  const fingerprint = publicKeyFingerprint(signing.publicKey);
  manifest.predicate.signer = { fingerprint, ephemeral: false };
  const manifestData = Buffer.from(`${canonicalize(manifest)}\n`, 'utf8');
  const sig = signDsse(signing.privateKey, MANIFEST_PAYLOAD_TYPE, manifestData);
  const envelope = {
    payloadType: MANIFEST_PAYLOAD_TYPE,
    payload: manifestData.toString('base64'),
    signatures: [{ keyid: fingerprint, sig }],
  };
  let next = replaced(withKey, 'manifest.json', manifestData);
  next = replaced(next, 'manifest.sig', `${canonicalize(envelope)}\n`);
  const sums = next
    .filter((m) => m.name !== 'SHA256SUMS')
    .map((m) => `${sha256(m.data)}  ${m.name}\n`)
    .join('');
  return replaced(next, 'SHA256SUMS', sums);
}

function expectInvalid(result: BundleVerification, ...members: string[]): void {
  expect(result.verdict, JSON.stringify(result.problems)).toBe('INVALID');
  expect(result.exitCode).toBe(1);
  const named = result.problems.map((p) => p.member);
  for (const m of members) expect(named, JSON.stringify(result.problems)).toContain(m);
}

/** VERIFY.md's commands, verbatim, in one `sh -e`, from a fresh directory holding only the bundle. */
async function runGuide(bundle: string, exportedAs: string): Promise<Run & { guide: string; at: string }> {
  const at = mkdtempSync(join(work, 'guide-'));
  copyFileSync(bundle, join(at, exportedAs));
  const unpacked = mkdtempSync(join(work, 'guide-read-'));
  await extractBundle(bundle, unpacked);
  const guide = readFileSync(join(unpacked, 'VERIFY.md'), 'utf8');
  const result = await run('sh', ['-e', '-c', guideCommands(guide).join('\n')], { cwd: at });
  return { ...result, guide, at };
}

// ---------------------------------------------------------------------------------------------------------------

describe('export, then verify', () => {
  it('a signed export of two real sessions verifies VALID: every member, the manifest signature by the trusted key, each session', async () => {
    const result = await exportTo('case-123.zip', {
      sessions: [config, support],
      caseId: CASE_ID,
      signingKeyPem: bundleKey.privateKeyPem,
    });
    expect(result.signer).toEqual({
      fingerprint: publicKeyFingerprint(loadSigningKey(bundleKey.privateKeyPem).publicKey),
      ephemeral: false,
    });
    expect(result.withheld).toBe(0);
    const [configId, supportId] = result.sessions.map((s) => s.session_id);
    const configMember = `sessions/${configId}.arec`;
    const supportMember = `sessions/${supportId}.arec`;

    const names: string[] = [];
    await walkBundle(result.output, async (m, content) => {
      names.push(m.name);
      content.resume();
    });
    expect(names.sort()).toEqual(
      [
        configMember,
        supportMember,
        'transcript.jsonl',
        'report.html',
        'report.md',
        'manifest.pub.pem',
        'VERIFY.md',
        'manifest.json',
        'manifest.sig',
        'SHA256SUMS',
      ].sort(),
    );

    const verified = await verifyBundle(result.output, { trustedKeyPem: bundleKey.publicKeyPem });
    expect(verified.problems).toEqual([]);
    expect(verified).toMatchObject({
      verdict: 'VALID',
      exitCode: 0,
      files: { total: 10, valid: 10 },
      signature: { status: 'valid', fingerprint: result.signer.fingerprint, ephemeral: false, trusted: true },
      case_id: CASE_ID,
    });
    expect(verified.sessions).toEqual([
      expect.objectContaining({
        session_id: configId,
        member: configMember,
        form: 'original',
        verdict: 'VALID',
      }),
      expect.objectContaining({
        session_id: supportId,
        member: supportMember,
        form: 'original',
        verdict: 'VALID',
      }),
    ]);

    // The sessions are the recorder's files byte for byte; the manifest states what the files say.
    const unpacked = mkdtempSync(join(work, 'unpacked-'));
    const extracted = await extractBundle(result.output, join(unpacked, 'case'));
    expect(extracted.map((m) => m.name).sort()).toEqual(names.sort());
    expect(readFileSync(join(unpacked, 'case', configMember)).equals(readFileSync(config))).toBe(true);
    expect(readFileSync(join(unpacked, 'case', supportMember)).equals(readFileSync(support))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(unpacked, 'case', 'manifest.json'), 'utf8')) as Manifest;
    const configReport = await verifySession(config);
    expect(manifest.predicate.sessions[0]).toMatchObject({
      session_id: configId,
      form: 'original',
      verdict: 'VALID',
      records: configReport.records,
      merkle_root: configReport.merkleRoot,
      tree_size: configReport.records,
      signature_status: 'embedded-key',
      checkpoint: { final: true, sig: expect.anything() },
    });
    expect(manifest.predicate.case_id).toBe(CASE_ID);
    expect(manifest.predicate.identities).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ subject: 'svc-deployer' }),
        expect.objectContaining({ subject: 'svc-support' }),
      ]),
    );
    // The denial is in the transcript, resolved, with its rule.
    const transcript = readFileSync(join(unpacked, 'case', 'transcript.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    expect(transcript).toHaveLength(configReport.records + (await verifySession(support)).records);
    expect(transcript.find((r) => r.type === 'policy.decision' && r.decision === 'deny')).toMatchObject({
      session_id: configId,
      rule: 'staging-first',
      reason: 'push to staging first',
    });
  });

  it('without a signing key the manifest is signed by a one-off key: VALID but reported ephemeral, and not trusted when a key is expected', async () => {
    const result = await exportTo('one-off.zip', { sessions: [config] });
    expect(result.signer.ephemeral).toBe(true);
    const verified = await verifyBundle(result.output);
    expect(verified).toMatchObject({
      verdict: 'VALID',
      exitCode: 0,
      signature: { status: 'valid', ephemeral: true, trusted: null },
    });
    const expected = await verifyBundle(result.output, { trustedKeyPem: bundleKey.publicKeyPem });
    expectInvalid(expected, 'manifest.pub.pem');
    expect(expected.signature.trusted).toBe(false);
  });

  it('a bundle signed with one key fails against another trusted key and passes against its own', async () => {
    const result = await exportTo('signed.zip', {
      sessions: [config],
      signingKeyPem: bundleKey.privateKeyPem,
    });
    const wrong = await verifyBundle(result.output, { trustedKeyPem: otherKey.publicKeyPem });
    expectInvalid(wrong, 'manifest.pub.pem');
    expect(wrong.signature).toMatchObject({ status: 'valid', trusted: false });
    const right = await verifyBundle(result.output, { trustedKeyPem: bundleKey.publicKeyPem });
    expect(right).toMatchObject({ verdict: 'VALID', signature: { trusted: true } });
  });

  it('the bundle file is created 0600, under a temporary name that does not outlive the export', async () => {
    const result = await exportTo('private.zip', { sessions: [config, support] });
    expect(statSync(result.output).mode & 0o777).toBe(0o600);
    expect(readdirSync(dirname(result.output))).toEqual(['private.zip']);
  });

  it('a bundle holding an unsealed session is INCOMPLETE (exit 3), with that session named', async () => {
    const result = await exportTo('unsealed.zip', { sessions: [config, live] });
    expect(result.sessions[1]!.verdict).toBe('UNSEALED');
    const verified = await verifyBundle(result.output);
    expect(verified.problems).toEqual([]);
    expect(verified).toMatchObject({ verdict: 'INCOMPLETE', exitCode: 3, files: { total: 10, valid: 10 } });
    expect(verified.sessions.map((s) => s.verdict)).toEqual(['VALID', 'UNSEALED']);
    expect(verified.sessions[1]!.member).toBe(result.sessions[1]!.member);
  });

  it('a redacted bundle holding an unsealed session is INCOMPLETE (exit 3), not INVALID: nothing was tampered with', async () => {
    const result = await exportTo('unsealed-redacted.zip', {
      sessions: [config, live],
      withhold: { profiles: ['pii'], types: [] },
    });
    const verified = await verifyBundle(result.output);
    expect(verified.problems).toEqual([]);
    expect(verified).toMatchObject({ verdict: 'INCOMPLETE', exitCode: 3 });
  });

  it('an unreadable session file is not exported: a clear error, and no bundle or partial file left behind', async () => {
    const garbage = join(work, 'garbage.arec');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37) % 251)));
    const outDir = mkdtempSync(join(work, 'out-'));
    await expect(
      exportBundle({ sessions: [config, garbage], output: join(outDir, 'x.zip'), producer }),
    ).rejects.toThrow(
      new RegExp(`cannot export ${garbage.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: UNREADABLE`),
    );
    await expect(
      exportBundle({ sessions: [join(work, 'missing.arec')], output: join(outDir, 'y.zip'), producer }),
    ).rejects.toThrow(/cannot export .*missing\.arec/);
    await expect(exportBundle({ sessions: [], output: join(outDir, 'z.zip'), producer })).rejects.toThrow(
      /no sessions/,
    );
    expect(readdirSync(outDir)).toEqual([]);
  });
});

describe('VERIFY.md, run verbatim with standard tools only', () => {
  it('unzip, sha256sum -c, the openssl signature check, SHA256SUMS against the signed manifest, zstd reading a session', async () => {
    const result = await exportTo('case-123.zip', {
      sessions: [config, support],
      caseId: CASE_ID,
      signingKeyPem: bundleKey.privateKeyPem,
    });
    const guide = await runGuide(result.output, 'case-123.zip');
    expect(guide.code, guide.stdout + guide.stderr).toBe(0);
    expect(guideCommands(guide.guide)).toHaveLength(6);
    expect(guide.guide).toContain(result.signer.fingerprint);
    for (const file of result.files) expect(guide.stdout).toContain(`${file.name}: OK\n`);
    expect(guide.stdout).toContain('key fingerprint OK');
    expect(guide.stdout).toContain('Signature Verified Successfully');
    expect(guide.stdout).toContain('envelope carries the manifest');
    expect(guide.stdout).toContain('SHA256SUMS matches the signed manifest');
    // zstd -dc of the first session: its first three records, JSON.
    const records = guide.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { seq: number; type: string; session_id?: string });
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(records[0]).toMatchObject({ type: 'session.start', session_id: result.sessions[0]!.session_id });
  });

  it('the same steps fail on a tampered member, and on a manifest changed with SHA256SUMS fixed to match', async () => {
    const result = await exportTo('case-123.zip', {
      sessions: [config],
      signingKeyPem: bundleKey.privateKeyPem,
    });
    const members = await readZip(result.output);
    const report = member(members, 'report.md');
    const edited = await rezip(replaced(members, 'report.md', `${report.data.toString('utf8')}\nall fine\n`));
    const broken = await runGuide(edited, 'case-123.zip');
    expect(broken.code).not.toBe(0);
    expect(broken.stdout).toMatch(/report\.md: FAILED/);

    // A changed manifest with SHA256SUMS recomputed: only the signature can tell, and openssl does.
    const manifest = member(members, 'manifest.json')
      .data.toString('utf8')
      .replace('"ephemeral":false', '"ephemeral":true');
    let forged = replaced(members, 'manifest.json', manifest);
    forged = replaced(
      forged,
      'SHA256SUMS',
      forged
        .filter((m) => m.name !== 'SHA256SUMS')
        .map((m) => `${sha256(m.data)}  ${m.name}\n`)
        .join(''),
    );
    const unsigned = await runGuide(await rezip(forged), 'case-123.zip');
    expect(unsigned.code).not.toBe(0);
    expect(unsigned.stdout).toContain('manifest.json: OK');
    expect(unsigned.stdout + unsigned.stderr).toMatch(/Signature Verification Failure/);
    expect(unsigned.stdout).not.toContain('Signature Verified Successfully');
  });

  it("a bundle whose name needs quoting (spaces, a quote, $, parentheses) is unpacked by the guide's own command", async () => {
    const name = "case 12'3 $(touch pwned) (final).zip";
    const result = await exportTo(name, { sessions: [config] });
    const guide = await runGuide(result.output, name);
    expect(guide.code, guide.stdout + guide.stderr).toBe(0);
    expect(guide.stdout).toContain('Signature Verified Successfully');
    expect(guide.stdout).toContain('SHA256SUMS matches the signed manifest');
    expect(readdirSync(guide.at).sort()).toEqual(['bundle', name]);
  });

  it('a redacted bundle: the same steps pass (there is no original session for zstd)', async () => {
    const result = await exportTo('redacted.zip', {
      sessions: [support],
      signingKeyPem: bundleKey.privateKeyPem,
      withhold: { profiles: ['pii'], types: [] },
    });
    const guide = await runGuide(result.output, 'redacted.zip');
    expect(guide.code, guide.stdout + guide.stderr).toBe(0);
    for (const file of result.files) expect(guide.stdout).toContain(`${file.name}: OK\n`);
    expect(guide.stdout).toContain('Signature Verified Successfully');
    expect(guide.stdout).toContain('SHA256SUMS matches the signed manifest');
    expect(guide.guide).not.toContain('zstd -dc');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('tampering', () => {
  let bundle: string;
  let members: Member[];
  let configMember: string;

  beforeAll(async () => {
    const result = await exportTo('case-123.zip', {
      sessions: [config, support],
      caseId: CASE_ID,
      signingKeyPem: bundleKey.privateKeyPem,
    });
    bundle = result.output;
    members = await readZip(bundle);
    configMember = result.sessions[0]!.member;
  });

  it('the rebuilt but untouched bundle still verifies (the harness changes nothing by itself)', async () => {
    const same = await verifyBundle(await rezip(members), { trustedKeyPem: bundleKey.publicKeyPem });
    expect(same.problems).toEqual([]);
    expect(same.verdict).toBe('VALID');
  });

  const cases: Array<[string, (m: Member[]) => Member[], () => string[]]> = [
    [
      'one byte inside a session .arec',
      (m) => replaced(m, configMember, flipByte(member(m, configMember).data)),
      () => [configMember],
    ],
    [
      'report.html',
      (m) =>
        replaced(m, 'report.html', member(m, 'report.html').data.toString('utf8').replace('<', '<!-- -->')),
      () => ['report.html'],
    ],
    [
      'the case id in manifest.json',
      (m) => {
        const text = member(m, 'manifest.json').data.toString('utf8');
        expect(text).toContain(`"case_id":"${CASE_ID}"`);
        return replaced(m, 'manifest.json', text.replace(`"case_id":"${CASE_ID}"`, '"case_id":"CASE-124"'));
      },
      () => ['manifest.json', 'manifest.sig'],
    ],
    [
      'the signature in manifest.sig',
      (m) => {
        const envelope = JSON.parse(member(m, 'manifest.sig').data.toString('utf8'));
        envelope.signatures[0].sig = flipByte(Buffer.from(envelope.signatures[0].sig, 'base64'), 3).toString(
          'base64',
        );
        return replaced(m, 'manifest.sig', `${canonicalize(envelope)}\n`);
      },
      () => ['manifest.sig'],
    ],
    [
      'a hash in a SHA256SUMS line',
      (m) =>
        replaced(
          m,
          'SHA256SUMS',
          member(m, 'SHA256SUMS')
            .data.toString('utf8')
            .replace(/^[0-9a-f]{64}(?= {2}report\.md$)/m, sha256(Buffer.from('something else'))),
        ),
      () => ['report.md'],
    ],
    [
      'a line removed from SHA256SUMS',
      (m) =>
        replaced(
          m,
          'SHA256SUMS',
          member(m, 'SHA256SUMS')
            .data.toString('utf8')
            .replace(/^.* {2}transcript\.jsonl\n/m, ''),
        ),
      () => ['transcript.jsonl'],
    ],
    [
      'an extra member, listed nowhere',
      (m) => [...m, { name: 'notes/extra.txt', data: Buffer.from('nothing to see here\n') }],
      () => ['notes/extra.txt'],
    ],
    ['a member removed (report.md)', (m) => m.filter((x) => x.name !== 'report.md'), () => ['report.md']],
    ['a session member removed', (m) => m.filter((x) => x.name !== configMember), () => [configMember]],
    ['manifest.sig removed', (m) => m.filter((x) => x.name !== 'manifest.sig'), () => ['manifest.sig']],
  ];

  it.each(cases)('%s: INVALID, exit 1, naming the member', async (_name, tamper, named) => {
    const result = await verifyBundle(await rezip(tamper(members)));
    expectInvalid(result, ...named());
  });

  it('a flipped session byte, re-signed by someone else: the session itself is TAMPERED and named', async () => {
    const forged = reseal(replaced(members, configMember, flipByte(member(members, configMember).data)));
    const result = await verifyBundle(await rezip(forged));
    expectInvalid(result, configMember);
    expect(result.signature.status).toBe('valid'); // the attacker's own signature verifies…
    expect(result.sessions[0]!.verdict).toBe('TAMPERED'); // …but the session's hash chain does not
    const trusted = await verifyBundle(await rezip(forged), { trustedKeyPem: bundleKey.publicKeyPem });
    expectInvalid(trusted, configMember, 'manifest.pub.pem');
    expect(trusted.signature.trusted).toBe(false);
  });

  it.each([
    ['manifest.json is JSON null', () => 'null\n'],
    [
      'a session entry in manifest.json is null',
      (text: string) => {
        const manifest = JSON.parse(text);
        manifest.predicate.sessions[0] = null;
        return `${canonicalize(manifest)}\n`;
      },
    ],
    [
      'a file entry in manifest.json is null',
      (text: string) => {
        const manifest = JSON.parse(text);
        manifest.predicate.files[0] = null;
        return `${canonicalize(manifest)}\n`;
      },
    ],
  ] as Array<[string, (text: string) => string]>)(
    '%s: INVALID naming manifest.json, not a crash',
    async (_name, edit) => {
      const tampered = replaced(
        members,
        'manifest.json',
        edit(member(members, 'manifest.json').data.toString('utf8')),
      );
      const result = await verifyBundle(await rezip(tampered));
      expectInvalid(result, 'manifest.json');
    },
  );

  it('a removed member is not counted as a valid file: the counts do not say every file is valid', async () => {
    const result = await verifyBundle(await rezip(members.filter((x) => x.name !== 'report.md')));
    expectInvalid(result, 'report.md');
    expect(result.files.valid).toBeLessThan(result.files.total);
  });

  it('re-signed by someone else without other changes: self-consistent, so it is the trusted key that refuses it', async () => {
    const forged = await rezip(reseal(members));
    expect((await verifyBundle(forged)).verdict).toBe('VALID');
    expectInvalid(await verifyBundle(forged, { trustedKeyPem: bundleKey.publicKeyPem }), 'manifest.pub.pem');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('redacted exports', () => {
  async function everything(bundle: string): Promise<Map<string, Buffer>> {
    const into = join(mkdtempSync(join(work, 'redacted-')), 'x');
    await extractBundle(bundle, into);
    const files = filesUnder(into);
    files.set('<raw zip bytes>', readFileSync(bundle));
    return files;
  }

  function expectAbsent(files: Map<string, Buffer>, values: readonly string[]): void {
    const found: string[] = [];
    for (const [name, data] of files) {
      const text = data.toString('utf8');
      for (const value of values) if (text.includes(value)) found.push(`${value} in ${name}`);
    }
    expect(found, 'withheld values found in the bundle').toEqual([]);
  }

  it('--redact pii: VALID, every withheld record proven, and no e-mail, SSN or card number anywhere in the bundle', async () => {
    const result = await exportTo('pii.zip', {
      sessions: [config, support],
      signingKeyPem: bundleKey.privateKeyPem,
      withhold: { profiles: ['pii'], types: [] },
    });
    expect(result.withheld).toBeGreaterThanOrEqual(2); // the tool's output, and the model input that repeats it
    const verified = await verifyBundle(result.output, { trustedKeyPem: bundleKey.publicKeyPem });
    expect(verified.problems).toEqual([]);
    expect(verified.verdict).toBe('VALID');
    expect(verified.sessions.map((s) => s.form)).toEqual(['disclosed', 'disclosed']);
    expect(verified.sessions.reduce((n, s) => n + s.withheld, 0)).toBe(result.withheld);
    expect(verified.sessions.reduce((n, s) => n + s.proofs_verified, 0)).toBe(result.withheld);

    const files = await everything(result.output);
    expect(
      [...files.keys()].filter((n) => n.startsWith('sessions/')).every((n) => n.endsWith('.disclosed.jsonl')),
    ).toBe(true);
    expectAbsent(files, [EMAIL, SSN, CARD, CARD.replace(/ /g, '')]);
    // Only what holds personal data is withheld: the notes (no personal data) are still shown.
    expect(files.get('transcript.jsonl')!.toString('utf8')).toContain(MARKER);
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8')) as Manifest;
    expect(manifest.predicate.redaction).toEqual({ rule: 'profile pii', withheld: result.withheld });
    const disclosed = files.get(result.sessions[1]!.member)!.toString('utf8').trimEnd().split('\n');
    expect(disclosed).toHaveLength((await verifySession(support)).records);
    expect(disclosed.filter((l) => l.includes('"withheld":"pii: ')).length).toBeGreaterThanOrEqual(2);
  });

  it('--redact pii --withhold-types function: the marker in the notes is gone too', async () => {
    const result = await exportTo('pii-functions.zip', {
      sessions: [config, support],
      signingKeyPem: bundleKey.privateKeyPem,
      withhold: { profiles: ['pii'], types: ['function'] },
    });
    const verified = await verifyBundle(result.output, { trustedKeyPem: bundleKey.publicKeyPem });
    expect(verified.problems).toEqual([]);
    expect(verified.verdict).toBe('VALID');
    expect(verified.sessions.reduce((n, s) => n + s.withheld, 0)).toBe(result.withheld);
    const files = await everything(result.output);
    expectAbsent(files, WITHHELD_VALUES);
    const disclosed = files.get(result.sessions[1]!.member)!.toString('utf8');
    expect(disclosed).toContain('"withheld":"span kind function"');
  });

  it('--withhold-types function,generation: a tool output stored as a blob is withheld with the records that hold it', async () => {
    // The session really stores the output as a blob record, referred to by the next model input.
    const reader = await SessionReader.open(archive);
    const blobs: string[] = [];
    for await (const { line } of reader.lines()) if (line.includes('"type":"blob"')) blobs.push(line);
    reader.close();
    expect(blobs.some((b) => b.includes(ARCHIVE_MARKER))).toBe(true);

    const result = await exportTo('types.zip', {
      sessions: [archive],
      signingKeyPem: bundleKey.privateKeyPem,
      withhold: { profiles: [], types: ['function', 'generation'] },
    });
    const verified = await verifyBundle(result.output);
    expect(verified.problems).toEqual([]);
    expect(verified.verdict).toBe('VALID');
    const files = await everything(result.output);
    expectAbsent(files, [ARCHIVE_MARKER]);
  });

  it('an unknown redaction profile is refused before anything is written', async () => {
    const outDir = mkdtempSync(join(work, 'out-'));
    await expect(
      exportBundle({
        sessions: [config],
        output: join(outDir, 'x.zip'),
        producer,
        withhold: { profiles: ['everything'], types: [] },
      }),
    ).rejects.toThrow(/unknown redaction profile "everything"/);
    expect(readdirSync(outDir)).toEqual([]);
  });

  describe('tampered', () => {
    let members: Member[];
    let disclosedMember: string;
    let proofsMember: string;
    let lines: string[];
    let proofs: { withheld: Array<{ seq: number; leaf: string; proof: string[] | null }> } & Record<
      string,
      unknown
    >;

    beforeAll(async () => {
      const result = await exportTo('pii.zip', {
        sessions: [support],
        signingKeyPem: bundleKey.privateKeyPem,
        withhold: { profiles: ['pii'], types: [] },
      });
      members = await readZip(result.output);
      disclosedMember = result.sessions[0]!.member;
      proofsMember = result.sessions[0]!.proofs!;
      lines = member(members, disclosedMember).data.toString('utf8').trimEnd().split('\n');
      proofs = JSON.parse(member(members, proofsMember).data.toString('utf8'));
      expect(proofs.withheld.length).toBeGreaterThanOrEqual(2);
      expect(proofs.withheld.every((w) => Array.isArray(w.proof) && w.proof.length > 0)).toBe(true);
    });

    const withLines = (m: Member[], next: string[]) => replaced(m, disclosedMember, `${next.join('\n')}\n`);
    /** A shown line with one word changed (still valid JSON, same seq). */
    const editedShown = () => {
      const at = lines.findIndex((l) => l.includes('"type":"session.start"'));
      expect(at).toBeGreaterThan(-1);
      const next = [...lines];
      next[at] = next[at]!.replace('"workflow":"support-desk"', '"workflow":"support-desx"');
      expect(next[at]).not.toBe(lines[at]);
      return next;
    };
    const otherLeaf = (leaf: string) => sha256(Buffer.from(leaf));
    const withheldSeq = () => proofs.withheld[0]!.seq;
    const editedLeafLine = () => {
      const next = [...lines];
      const line = JSON.parse(next[withheldSeq() - 1]!);
      line.leaf = otherLeaf(line.leaf);
      next[withheldSeq() - 1] = canonicalize(line);
      return next;
    };
    const editedProofs = (edit: (p: typeof proofs) => void) => {
      const copy = structuredClone(proofs);
      edit(copy);
      return `${canonicalize(copy)}\n`;
    };

    it.each([
      ['a disclosed line', () => withLines(members, editedShown()), () => disclosedMember],
      ['a withheld leaf hash', () => withLines(members, editedLeafLine()), () => disclosedMember],
      [
        'a proof hash',
        () =>
          replaced(
            members,
            proofsMember,
            editedProofs((p) => {
              p.withheld[0]!.proof![0] = otherLeaf(p.withheld[0]!.proof![0]!);
            }),
          ),
        () => proofsMember,
      ],
    ] as Array<[string, () => Member[], () => string]>)(
      '%s: INVALID naming the member',
      async (_name, tamper, named) => {
        expectInvalid(await verifyBundle(await rezip(tamper())), named());
      },
    );

    it.each([
      ['the proofs member is {}', () => replaced(members, proofsMember, '{}\n'), () => proofsMember],
      [
        'the proofs list withheld records without leaves',
        () =>
          replaced(
            members,
            proofsMember,
            editedProofs((p) => {
              for (const w of p.withheld) delete (w as Partial<typeof w>).leaf;
            }),
          ),
        () => proofsMember,
      ],
      [
        'a disclosed line is JSON null',
        () => withLines(members, ['null', ...lines.slice(1)]),
        () => disclosedMember,
      ],
    ] as Array<[string, () => Member[], () => string]>)(
      '%s: INVALID naming the member, not a crash',
      async (_name, tamper, named) => {
        expectInvalid(await verifyBundle(await rezip(tamper())), named());
      },
    );

    it('re-signed by someone else, a shown record that was edited no longer hashes to the signed checkpoint root', async () => {
      const result = await verifyBundle(await rezip(reseal(withLines(members, editedShown()))));
      expect(result.signature.status).toBe('valid');
      expectInvalid(result, disclosedMember);
      expect(result.problems.find((p) => p.member === disclosedMember)!.reason).toMatch(/Merkle root/);
      expect(result.sessions[0]!.verdict).toBe('TAMPERED');
    });

    it('re-signed by someone else, a withheld leaf changed in the session and the proofs alike breaks the root', async () => {
      const next = editedLeafLine();
      const forged = reseal(
        replaced(
          withLines(members, next),
          proofsMember,
          editedProofs((p) => {
            p.withheld[0]!.leaf = otherLeaf(p.withheld[0]!.leaf);
          }),
        ),
      );
      const result = await verifyBundle(await rezip(forged));
      expectInvalid(result, disclosedMember);
      expect(result.problems.find((p) => p.member === disclosedMember)!.reason).toMatch(/Merkle root/);
    });

    it('re-signed by someone else, a withheld leaf changed in the session only is not in the proofs', async () => {
      const result = await verifyBundle(await rezip(reseal(withLines(members, editedLeafLine()))));
      expectInvalid(result, disclosedMember);
      expect(result.problems.find((p) => p.member === disclosedMember)!.reason).toMatch(/not in the proofs/);
    });

    it('re-signed by someone else, a proof hash changed: that inclusion proof does not verify', async () => {
      const forged = reseal(
        replaced(
          members,
          proofsMember,
          editedProofs((p) => {
            p.withheld[0]!.proof![0] = otherLeaf(p.withheld[0]!.proof![0]!);
          }),
        ),
      );
      const result = await verifyBundle(await rezip(forged));
      expectInvalid(result, proofsMember);
      expect(result.problems.find((p) => p.member === proofsMember)!.reason).toMatch(
        new RegExp(`inclusion proof of withheld record ${withheldSeq()} does not verify`),
      );
    });

    it('re-signed by someone else, a withheld record revealed with different content fails (a record cannot be swapped in)', async () => {
      const next = [...lines];
      next[withheldSeq() - 1] = canonicalize({ seq: withheldSeq(), type: 'note', text: 'nothing here' });
      const forged = reseal(
        replaced(
          withLines(members, next),
          proofsMember,
          editedProofs((p) => {
            p.withheld.shift();
          }),
        ),
      );
      const result = await verifyBundle(await rezip(forged));
      expectInvalid(result, disclosedMember);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('hostile archives', () => {
  const tag = randomUUID().slice(0, 8);
  const evilName = `evil-${tag}.txt`;
  /** A harmless first member: an extractor that wrote members as it went would have written this one. */
  const first: CraftedEntry = { name: 'aaa-first.txt', data: 'first member\n' };

  /** Where traversal names would land, were they followed. */
  const escapes = () => [
    join(work, evilName),
    join(tmpdir(), evilName),
    `/tmp/${evilName}`,
    `/tmp/evil-${tag}`,
  ];

  const hostile: Array<[string, () => CraftedEntry[], string | undefined, RegExp, BundleLimits?]> = [
    [
      'a ../ member',
      () => [first, { name: `../${evilName}`, data: 'pwned' }],
      `../${evilName}`,
      /refused|invalid relative path/,
    ],
    [
      'a member climbing out through a subdirectory',
      () => [first, { name: `sub/../../${evilName}`, data: 'pwned' }],
      `sub/../../${evilName}`,
      /refused|invalid relative path/,
    ],
    [
      'an absolute member',
      () => [first, { name: `/tmp/evil-${tag}`, data: 'pwned' }],
      `/tmp/evil-${tag}`,
      /refused|absolute path/,
    ],
    [
      'a backslash member',
      () => [first, { name: `..\\${evilName}`, data: 'pwned' }],
      `..\\${evilName}`,
      /backslash|invalid characters/,
    ],
    [
      'a symlink member',
      () => [first, { name: `link-${tag}`, data: '/etc/passwd', attr: 0o120777 }],
      `link-${tag}`,
      /refused: not a regular file \(mode 120000\)/,
    ],
    [
      'a directory entry',
      () => [first, { name: 'sessions/', data: '', attr: 0o040755 }],
      'sessions/',
      /refused: a directory entry/,
    ],
    [
      'a member declaring an absurd size',
      () => [first, { name: 'huge.bin', data: 'tiny', declare: 0xfffffff0 }],
      'huge.bin',
      /declares 4294967280 bytes, over the limit/,
    ],
    [
      'duplicate names',
      () => [first, { name: 'report.md', data: 'one' }, { name: 'report.md', data: 'two' }],
      'report.md',
      /appears twice/,
    ],
    [
      'a zip bomb over the member size limit',
      () => [first, { name: 'bomb.bin', zeros: 200 * 2 ** 20 }],
      'bomb.bin',
      /over the limit/,
      { ...DEFAULT_LIMITS, maxMemberBytes: 10 * 2 ** 20 },
    ],
    [
      'members over the total size limit',
      () => [first, ...[1, 2, 3].map((i) => ({ name: `part-${i}.bin`, zeros: 4 * 2 ** 20 }))],
      undefined,
      /more than 10485760 bytes in all/,
      { ...DEFAULT_LIMITS, maxTotalBytes: 10 * 2 ** 20 },
    ],
    [
      'too many members',
      () => Array.from({ length: 21 }, (_, i) => ({ name: `m${i}.txt`, data: `${i}` })),
      undefined,
      /21 members, more than the limit of 20/,
      { ...DEFAULT_LIMITS, maxMembers: 20 },
    ],
  ];

  it.each(hostile)(
    '%s: verifyBundle and extractBundle refuse it, name it, and write nothing anywhere',
    async (_name, entries, named, reason, limits = DEFAULT_LIMITS) => {
      const zip = await writeZip(fresh('hostile.zip'), entries());
      const verifying = verifyBundle(zip, { limits });
      await expect(verifying).rejects.toBeInstanceOf(BundleError);
      const error = (await verifying.catch((e: unknown) => e)) as BundleError;
      expect(error.reason).toMatch(reason);
      // Named: as the error's member, or (names the zip library refuses itself) in its message.
      if (named) {
        expect([undefined, named]).toContain(error.member);
        expect(error.message).toContain(named);
      } else expect(error.member).toBeUndefined();

      const parent = mkdtempSync(join(work, 'extract-'));
      const target = join(parent, 'case');
      const extracting = extractBundle(zip, target, limits);
      await expect(extracting).rejects.toBeInstanceOf(BundleError);
      expect(((await extracting.catch((e: unknown) => e)) as BundleError).message).toBe(error.message);
      // Nothing written: not into the target (it may exist, empty), not beside it, not in /tmp.
      expect(!existsSync(target) || readdirSync(target).length === 0, readdirSync(parent).join()).toBe(true);
      expect(readdirSync(parent).filter((f) => f !== 'case')).toEqual([]);
      for (const path of escapes()) expect(existsSync(path), path).toBe(false);
    },
  );

  const liar = () =>
    writeZip(fresh('liar.zip'), [first, { name: 'liar.bin', zeros: 200 * 2 ** 20, declare: 1000 }]);

  it('a zip bomb that lies about its size: verifyBundle stops at the declared size and names the member', async () => {
    const verifying = verifyBundle(await liar());
    await expect(verifying).rejects.toBeInstanceOf(BundleError);
    const error = (await verifying.catch((e: unknown) => e)) as BundleError;
    expect(error.member).toBe('liar.bin');
    expect(error.message).toMatch(/too many bytes/);
  });

  it('a zip bomb that lies about its size: extractBundle refuses it as a BundleError naming the member, and leaves nothing behind', async () => {
    const parent = mkdtempSync(join(work, 'extract-'));
    const target = join(parent, 'case');
    const extracting = extractBundle(await liar(), target);
    const error = (await extracting.catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    const left = existsSync(target) ? [...filesUnder(target).entries()] : [];
    expect(
      left.map(([name, data]) => `${name} (${data.length} bytes)`),
      'files left in the target of a refused bundle',
    ).toEqual([]);
    expect(error).toBeInstanceOf(BundleError);
    expect((error as BundleError).member).toBe('liar.bin');
  });

  it('a file that is not a zip archive is refused as one', async () => {
    const path = fresh('not-a-zip.zip');
    writeFileSync(path, 'PK\u0003\u0004 but nothing more');
    await expect(verifyBundle(path)).rejects.toThrow(/not a readable zip archive/);
    await expect(verifyBundle(config)).rejects.toThrow(/not a readable zip archive/);
  });

  it('extractBundle writes a good bundle into a new directory, files 0600, and refuses a directory that is not empty', async () => {
    const result = await exportTo('good.zip', { sessions: [config] });
    const target = join(mkdtempSync(join(work, 'extract-')), 'case');
    const members = await extractBundle(result.output, target);
    const files = filesUnder(target);
    expect([...files.keys()].sort()).toEqual(members.map((m) => m.name).sort());
    for (const name of files.keys()) expect(statSync(join(target, name)).mode & 0o777).toBe(0o600);
    await expect(extractBundle(result.output, target)).rejects.toThrow(/not empty/);
  });
});
