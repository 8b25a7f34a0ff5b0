/**
 * `agent-replay export` and `agent-replay verify <bundle.zip>` of the built CLI, on sessions recorded by the real
 * recorder from real Agents SDK runs with scripted models: a config agent whose production push a policy denied
 * (checkpoints signed), a support agent whose tool returned personal data, and that session copied before it was
 * sealed. Bundles are checked by the CLI and by VERIFY.md's own commands, then tampered with, redacted, and
 * replaced by hostile archives.
 */
import { randomUUID } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalize, generateSigningKey, loadPublicKey, publicKeyFingerprint } from '@agent-replay/format';
import { setTraceProcessors } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// Shared with the evidence package's bundle tests; why they live there: the comment at the top of fixtures.ts.
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
  sleep,
  writeZip,
} from '../../../packages/evidence/test/fixtures.js';

const bin = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'arec-export-cli-'));
/** The recording directory the CLI is pointed at (`--dir`). */
const dir = join(work, 'recordings');
/** Where the CLI runs: `..` from here is `work`. */
const cwd = join(work, 'cwd');
mkdirSync(cwd);

afterAll(() => {
  setTraceProcessors([]);
  rmSync(work, { recursive: true, force: true });
});

const recorderKey = generateSigningKey();
const bundleKey = generateSigningKey();
const otherKey = generateSigningKey();
const keyFile = join(work, 'key.pem');
const pubFile = join(work, 'key.pub.pem');
const otherPubFile = join(work, 'other.pub.pem');
writeFileSync(keyFile, bundleKey.privateKeyPem, { mode: 0o600 });
writeFileSync(pubFile, bundleKey.publicKeyPem);
writeFileSync(otherPubFile, otherKey.publicKeyPem);
const fingerprint = publicKeyFingerprint(loadPublicKey(bundleKey.publicKeyPem));

/** The built binary as a user runs it: `agent-replay --dir <recordings> …`, stdout a pipe, no colour. */
function cli(...args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  delete env.AGENT_REPLAY_DIR;
  return run(process.execPath, [bin, '--dir', dir, ...args], { cwd, env });
}

function expectOneLineError(result: Run, pattern: RegExp): void {
  expect(result.code, result.stdout + result.stderr).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(/^agent-replay: /);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

let config: { id: string; path: string };
let support: { id: string; path: string };
let live: string;
/** Between the config session's end and the support session's start. */
let between: string;
let before: string;

beforeAll(async () => {
  before = new Date(Date.now() - 1000).toISOString();
  live = join(work, 'loose', 'live.arec');
  const options = { redactionKeyFile: join(work, 'redaction.key'), signingKey: recorderKey.privateKeyPem };
  await recordSessions(dir, options, async () => {
    expect(await runConfigAgent()).toEqual(['staging']);
    await sleep(600);
    between = new Date().toISOString();
    await sleep(600);
    await runSupportDesk(dir, live);
  });
  const ls = await cli('ls', '--json');
  expect(ls.code, ls.stderr).toBe(0);
  const listed = JSON.parse(ls.stdout) as Array<{ session_id: string; path: string; workflow: string }>;
  expect(listed.map((s) => s.workflow).sort()).toEqual(['config-agent', 'support-desk']);
  const find = (workflow: string) => {
    const s = listed.find((x) => x.workflow === workflow)!;
    return { id: s.session_id, path: s.path };
  };
  config = find('config-agent');
  support = find('support-desk');
}, 60_000);

let counter = 0;
const fresh = (name: string) => join(work, `${++counter}-${name}`);

/** `agent-replay export …` into a new directory; the bundle's path. */
async function exportBundle(name: string, ...args: string[]): Promise<{ path: string; result: Run }> {
  const path = join(mkdtempSync(join(work, 'out-')), name);
  const result = await cli('export', ...args, '-o', path);
  return { path, result };
}

/** Both sealed sessions exported as case CASE-123, the manifest signed with the bundle key. */
const exportCase = (name: string) =>
  exportBundle(name, config.path, support.path, '--case-id', 'CASE-123', '--sign', keyFile);

interface VerifyJson {
  bundle: string;
  verdict: string;
  exitCode: number;
  files: { total: number; valid: number };
  signature: {
    status: string;
    fingerprint: string | null;
    ephemeral: boolean | null;
    trusted: boolean | null;
  };
  sessions: Array<{
    session_id: string;
    member: string;
    form: string;
    verdict: string;
    withheld: number;
    proofs_verified: number;
  }>;
  problems: Array<{ member: string; reason: string }>;
  case_id: string | null;
}

async function verifyJson(
  path: string,
  ...args: string[]
): Promise<{ code: number | null; report: VerifyJson }> {
  const result = await cli('verify', '--json', path, ...args);
  expect(result.stderr).toBe('');
  return { code: result.code, report: JSON.parse(result.stdout) as VerifyJson };
}

// ---------------------------------------------------------------------------------------------------------------

describe('agent-replay export, then agent-replay verify <bundle.zip>', () => {
  let bundle: string;

  beforeAll(async () => {
    const exported = await exportCase('case-123.zip');
    expect(exported.result.code, exported.result.stderr).toBe(0);
    bundle = exported.path;
  });

  it('writes a 0600 bundle and says what is in it and who signed it', async () => {
    const exported = await exportCase('again.zip');
    expect(exported.result.code, exported.result.stderr).toBe(0);
    expect(exported.result.stderr).toBe('');
    const lines = exported.result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('again.zip: 2 sessions, 10 files');
    expect(exported.result.stdout).toContain(`manifest signed by your key, fingerprint ${fingerprint}`);
    expect(exported.result.stdout).toContain(`agent-replay verify ${exported.path}`);
    expect(statSync(exported.path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(exported.path, '..'))).toEqual(['again.zip']);
  });

  it('verify: VALID, exit 0, "10/10 files valid, 2/2 sessions valid"', async () => {
    const result = await cli('verify', bundle);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`VALID ${bundle} (case CASE-123)`);
    expect(lines[1]).toBe(
      `  manifest signature: valid, key fingerprint ${fingerprint} (compare with the fingerprint you expect, or pass --key)`,
    );
    expect(lines.at(-1)).toBe('  10/10 files valid, 2/2 sessions valid');
  });

  it('verify --json: the whole result, machine-readable', async () => {
    const { code, report } = await verifyJson(bundle);
    expect(code).toBe(0);
    expect(report).toEqual({
      bundle,
      verdict: 'VALID',
      exitCode: 0,
      files: { total: 10, valid: 10 },
      signature: { status: 'valid', fingerprint, ephemeral: false, trusted: null },
      sessions: [
        {
          session_id: config.id,
          member: `sessions/${config.id}.arec`,
          form: 'original',
          verdict: 'VALID',
          summary: expect.stringMatching(/^VALID: records 1\.\.\d+/),
          withheld: 0,
          proofs_verified: 0,
        },
        {
          session_id: support.id,
          member: `sessions/${support.id}.arec`,
          form: 'original',
          verdict: 'VALID',
          summary: expect.stringMatching(/^VALID: records 1\.\.\d+/),
          withheld: 0,
          proofs_verified: 0,
        },
      ],
      problems: [],
      case_id: 'CASE-123',
    });
  });

  it('--key: the signer\'s public key passes ("the trusted key"); another key fails, exit 1', async () => {
    const right = await cli('verify', bundle, '--key', pubFile);
    expect(right.code, right.stdout).toBe(0);
    expect(right.stdout).toContain(
      `manifest signature: valid, key fingerprint ${fingerprint} (the trusted key)`,
    );
    const wrong = await cli('verify', bundle, '--key', otherPubFile);
    expect(wrong.code, wrong.stdout).toBe(1);
    expect(wrong.stdout).toMatch(/^INVALID /);
    expect(wrong.stdout).toContain('(NOT the trusted key)');
    expect(wrong.stdout).toContain('INVALID manifest.pub.pem: signed by a key other than the trusted one');
  });

  it('sessions can be named by id; an unsigned export says it used a one-off key', async () => {
    const exported = await exportBundle('by-id.zip', config.id);
    expect(exported.result.code, exported.result.stderr).toBe(0);
    expect(exported.result.stdout).toContain('manifest signed by a one-off key');
    const { code, report } = await verifyJson(exported.path);
    expect(code).toBe(0);
    expect(report.sessions.map((s) => s.session_id)).toEqual([config.id]);
    expect(report.signature).toMatchObject({ status: 'valid', ephemeral: true });
    const text = await cli('verify', exported.path);
    expect(text.stdout).toContain('(a one-off key: integrity only)');
  });

  it('--sign with a key that is not an Ed25519 private key: one line, exit 1, nothing written', async () => {
    const garbage = join(work, 'garbage-key.pem');
    writeFileSync(garbage, 'not a key\n');
    const out = mkdtempSync(join(work, 'out-'));
    for (const key of [garbage, pubFile]) {
      const result = await cli('export', config.path, '--sign', key, '-o', join(out, 'x.zip'));
      expectOneLineError(result, /^agent-replay: export: /);
      expect(result.stderr).not.toMatch(/internal error/);
    }
    const missing = await cli(
      'export',
      config.path,
      '--sign',
      join(work, 'nope.pem'),
      '-o',
      join(out, 'x.zip'),
    );
    expectOneLineError(missing, /cannot read .*nope\.pem: ENOENT/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('refuses to overwrite a file unless --force', async () => {
    const exported = await exportBundle('case.zip', config.path);
    expect(exported.result.code).toBe(0);
    const before = readFileSync(exported.path);
    const again = await cli('export', config.path, '-o', exported.path);
    expectOneLineError(again, /already exists \(use --force to replace it\)/);
    expect(readFileSync(exported.path).equals(before)).toBe(true);
    const forced = await cli('export', support.path, '-o', exported.path, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect((await verifyJson(exported.path)).report.sessions.map((s) => s.session_id)).toEqual([support.id]);
  });

  it('VERIFY.md, every command run verbatim with sh -e: sha256sum, openssl, the manifest, zstd', async () => {
    const at = mkdtempSync(join(work, 'guide-'));
    copyFileSync(bundle, join(at, 'case-123.zip'));
    const guide = await run('unzip', ['-p', bundle, 'VERIFY.md']);
    expect(guide.code).toBe(0);
    const blocks = guideCommands(guide.stdout);
    expect(blocks).toHaveLength(6);
    expect(blocks[0]).toContain('unzip');
    const result = await run('sh', ['-e', '-c', blocks.join('\n')], { cwd: at });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const names = readFileSync(join(at, 'bundle', 'SHA256SUMS'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => l.slice(66));
    expect(names).toHaveLength(9);
    for (const name of names) expect(result.stdout).toContain(`${name}: OK\n`);
    expect(result.stdout).toContain('key fingerprint OK');
    expect(result.stdout).toContain('Signature Verified Successfully');
    expect(result.stdout).toContain('envelope carries the manifest');
    expect(result.stdout).toContain('SHA256SUMS matches the signed manifest');
    const records = result.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { seq: number; type: string });
    expect(records.map((r) => [r.seq, r.type][0])).toEqual([1, 2, 3]);
    expect(records[0]!.type).toBe('session.start');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('a tampered bundle: INVALID, exit 1, naming the member', () => {
  let members: Member[];
  const configMember = () => `sessions/${config.id}.arec`;

  beforeAll(async () => {
    const exported = await exportCase('case-123.zip');
    expect(exported.result.code).toBe(0);
    members = await readZip(exported.path);
  });

  const cases: Array<[string, (m: Member[]) => Member[], () => string]> = [
    [
      'one byte inside a session .arec',
      (m) => replaced(m, configMember(), flipByte(member(m, configMember()).data)),
      configMember,
    ],
    [
      'report.html',
      (m) =>
        replaced(m, 'report.html', member(m, 'report.html').data.toString('utf8').replace('<', '<!-- -->')),
      () => 'report.html',
    ],
    [
      'case_id in manifest.json',
      (m) => {
        const text = member(m, 'manifest.json').data.toString('utf8');
        expect(text).toContain('"case_id":"CASE-123"');
        return replaced(m, 'manifest.json', text.replace('"case_id":"CASE-123"', '"case_id":"CASE-999"'));
      },
      () => 'manifest.json',
    ],
    [
      "manifest.sig's signature",
      (m) => {
        const envelope = JSON.parse(member(m, 'manifest.sig').data.toString('utf8'));
        envelope.signatures[0].sig = flipByte(Buffer.from(envelope.signatures[0].sig, 'base64'), 5).toString(
          'base64',
        );
        return replaced(m, 'manifest.sig', `${canonicalize(envelope)}\n`);
      },
      () => 'manifest.sig',
    ],
    [
      'a SHA256SUMS line',
      (m) =>
        replaced(
          m,
          'SHA256SUMS',
          member(m, 'SHA256SUMS')
            .data.toString('utf8')
            .replace(/^[0-9a-f]{64}(?= {2}transcript\.jsonl$)/m, sha256(Buffer.from('forged'))),
        ),
      () => 'transcript.jsonl',
    ],
    [
      'an extra member',
      (m) => [...m, { name: 'extra/readme.txt', data: Buffer.from('hello\n') }],
      () => 'extra/readme.txt',
    ],
    ['a member removed', (m) => m.filter((x) => x.name !== 'report.md'), () => 'report.md'],
  ];

  it.each(cases)('%s', async (_name, tamper, named) => {
    const tampered = await writeZip(fresh('tampered.zip'), tamper(members));
    const result = await cli('verify', tampered);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^INVALID ${tampered.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(result.stdout).toContain(`  INVALID ${named()}: `);
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
    const { code, report } = await verifyJson(tampered);
    expect(code).toBe(1);
    expect(report.verdict).toBe('INVALID');
    expect(report.problems.map((p) => p.member)).toContain(named());
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('redacted exports: --redact pii, --withhold-types', () => {
  const values = [EMAIL, SSN, CARD, CARD.replace(/ /g, ''), MARKER];

  async function everything(bundle: string): Promise<Map<string, Buffer>> {
    const into = mkdtempSync(join(work, 'unzipped-'));
    const unzip = await run('unzip', ['-q', bundle, '-d', into]);
    expect(unzip.code, unzip.stderr).toBe(0);
    const files = filesUnder(into);
    expect(files.size).toBeGreaterThanOrEqual(10);
    files.set('<raw zip bytes>', readFileSync(bundle));
    return files;
  }

  let redacted: string;
  let withheld: number;

  beforeAll(async () => {
    const exported = await exportBundle(
      'redacted.zip',
      config.path,
      support.path,
      '--redact',
      'pii',
      '--withhold-types',
      'function',
      '--sign',
      keyFile,
    );
    expect(exported.result.code, exported.result.stderr).toBe(0);
    redacted = exported.path;
    const match = /^redacted\.zip: 2 sessions, 12 files, (\d+) records withheld$/m.exec(
      exported.result.stdout,
    );
    expect(match, exported.result.stdout).not.toBeNull();
    withheld = Number(match![1]);
    expect(withheld).toBeGreaterThanOrEqual(4); // two function spans in each session, and the PII in model input
  });

  it('verifies VALID and reports the withheld records, each proven', async () => {
    const result = await cli('verify', redacted, '--key', pubFile);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe(
      `  12/12 files valid, 2/2 sessions valid, ${withheld} records withheld (each proven against its signed checkpoint)`,
    );
    const { report } = await verifyJson(redacted);
    expect(report.verdict).toBe('VALID');
    expect(report.sessions.map((s) => [s.form, s.verdict])).toEqual([
      ['disclosed', 'VALID'],
      ['disclosed', 'VALID'],
    ]);
    expect(report.sessions.reduce((n, s) => n + s.withheld, 0)).toBe(withheld);
    expect(report.sessions.reduce((n, s) => n + s.proofs_verified, 0)).toBe(withheld);
    expect(report.sessions.map((s) => s.member)).toEqual([
      `sessions/${config.id}.disclosed.jsonl`,
      `sessions/${support.id}.disclosed.jsonl`,
    ]);
  });

  it('none of the withheld values is anywhere in the bundle: not in the zip bytes, not in any member', async () => {
    const files = await everything(redacted);
    for (const [name, data] of files) {
      const text = data.toString('utf8');
      for (const value of values) expect(text.includes(value), `${value} in ${name}`).toBe(false);
    }
  });

  it('--redact pii alone withholds the personal data and still shows the notes', async () => {
    const exported = await exportBundle('pii.zip', support.path, '--redact', 'pii');
    expect(exported.result.code, exported.result.stderr).toBe(0);
    expect(exported.result.stdout).toMatch(/records withheld/);
    expect((await cli('verify', exported.path)).code).toBe(0);
    const files = await everything(exported.path);
    for (const [name, data] of files) {
      const text = data.toString('utf8');
      for (const value of [EMAIL, SSN, CARD]) expect(text.includes(value), `${value} in ${name}`).toBe(false);
    }
    expect(files.get('transcript.jsonl')!.toString('utf8')).toContain(MARKER);
  });

  it.each([
    [
      'the proofs member is {}',
      (m: Member[]) => replaced(m, `proofs/${support.id}.json`, '{}\n'),
      () => `proofs/${support.id}.json`,
    ],
    [
      'a disclosed line is JSON null',
      (m: Member[]) => {
        const name = `sessions/${support.id}.disclosed.jsonl`;
        const lines = member(m, name).data.toString('utf8').trimEnd().split('\n');
        return replaced(m, name, `${['null', ...lines.slice(1)].join('\n')}\n`);
      },
      () => `sessions/${support.id}.disclosed.jsonl`,
    ],
    [
      'a session entry of manifest.json is null',
      (m: Member[]) => {
        const manifest = JSON.parse(member(m, 'manifest.json').data.toString('utf8'));
        manifest.predicate.sessions[0] = null;
        return replaced(m, 'manifest.json', `${canonicalize(manifest)}\n`);
      },
      () => 'manifest.json',
    ],
  ] as Array<[string, (m: Member[]) => Member[], () => string]>)(
    'malformed content (%s): INVALID, exit 1, the member named, no crash',
    async (_name, tamper, named) => {
      const tampered = await writeZip(fresh('malformed.zip'), tamper(await readZip(redacted)));
      const result = await cli('verify', tampered);
      expect(result.stdout + result.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(result.code, result.stdout + result.stderr).toBe(1);
      expect(result.stdout).toMatch(/^INVALID /);
      expect(result.stdout).toContain(`  INVALID ${named()}: `);
    },
  );

  it('an unknown profile is refused in one line, nothing written', async () => {
    const out = mkdtempSync(join(work, 'out-'));
    const result = await cli('export', support.path, '--redact', 'everything', '-o', join(out, 'x.zip'));
    expectOneLineError(result, /unknown redaction profile "everything" \(known: pii\)/);
    expect(readdirSync(out)).toEqual([]);
  });

  describe('tampered', () => {
    let members: Member[];
    const disclosed = () => `sessions/${support.id}.disclosed.jsonl`;
    const proofs = () => `proofs/${support.id}.json`;

    beforeAll(async () => {
      members = await readZip(redacted);
    });

    const lines = (m: Member[]) => member(m, disclosed()).data.toString('utf8').trimEnd().split('\n');

    it.each([
      [
        'a disclosed line',
        (m: Member[]) => {
          const next = lines(m);
          const at = next.findIndex((l) => l.includes('"type":"session.start"'));
          next[at] = next[at]!.replace('"workflow":"support-desk"', '"workflow":"support-desx"');
          return replaced(m, disclosed(), `${next.join('\n')}\n`);
        },
        disclosed,
      ],
      [
        'a withheld leaf hash',
        (m: Member[]) => {
          const next = lines(m);
          const at = next.findIndex((l) => l.includes('"withheld":'));
          const line = JSON.parse(next[at]!);
          line.leaf = sha256(Buffer.from(line.leaf));
          next[at] = canonicalize(line);
          return replaced(m, disclosed(), `${next.join('\n')}\n`);
        },
        disclosed,
      ],
      [
        'a proof hash',
        (m: Member[]) => {
          const body = JSON.parse(member(m, proofs()).data.toString('utf8'));
          body.withheld[0].proof[0] = sha256(Buffer.from(body.withheld[0].proof[0]));
          return replaced(m, proofs(), `${canonicalize(body)}\n`);
        },
        proofs,
      ],
    ] as Array<[string, (m: Member[]) => Member[], () => string]>)(
      '%s: exit 1, the member named',
      async (_name, tamper, named) => {
        const tampered = await writeZip(fresh('tampered.zip'), tamper(members));
        const result = await cli('verify', tampered);
        expect(result.code, result.stdout).toBe(1);
        expect(result.stdout).toMatch(/^INVALID /);
        expect(result.stdout).toContain(`  INVALID ${named()}: `);
      },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('hostile archives: exit 1, one line naming the member, nothing written anywhere', () => {
  const tag = randomUUID().slice(0, 8);
  const evil = `evil-${tag}.txt`;
  const first: CraftedEntry = { name: 'aaa-first.txt', data: 'first\n' };
  const landings = () => [
    join(work, evil),
    join(cwd, evil),
    join(tmpdir(), evil),
    `/tmp/${evil}`,
    `/tmp/evil-${tag}`,
  ];

  it.each([
    ['a ../ member', () => [first, { name: `../${evil}`, data: 'pwned' }], () => `../${evil}`],
    [
      'an absolute member',
      () => [first, { name: `/tmp/evil-${tag}`, data: 'pwned' }],
      () => `/tmp/evil-${tag}`,
    ],
    [
      'a symlink member',
      () => [first, { name: `link-${tag}`, data: '/etc/passwd', attr: 0o120777 }],
      () => `link-${tag}`,
    ],
    [
      'a member declaring an absurd size',
      () => [first, { name: 'huge.bin', data: 'tiny', declare: 0xfffffff0 }],
      () => 'huge.bin',
    ],
    [
      'a zip bomb lying about its size (200 MB of zeros declared as 1000 bytes)',
      () => [first, { name: 'bomb.bin', zeros: 200 * 2 ** 20, declare: 1000 }],
      () => 'bomb.bin',
    ],
    [
      'duplicate names',
      () => [first, { name: 'manifest.json', data: '{}' }, { name: 'manifest.json', data: '{}' }],
      () => 'manifest.json',
    ],
    [
      'more members than the limit (100,001)',
      () => [{ name: 'many', many: 100_001 }],
      () => '100001 members, more than the limit of 100000',
    ],
  ] as Array<[string, () => CraftedEntry[], () => string]>)('%s', async (_name, entries, named) => {
    const zip = await writeZip(fresh('hostile.zip'), entries());
    const before = readdirSync(cwd);
    const result = await cli('verify', zip);
    expectOneLineError(result, /^agent-replay: verify: /);
    expect(result.stderr).toContain(named());
    expect(readdirSync(cwd)).toEqual(before);
    for (const path of landings()) expect(existsSync(path), path).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('incomplete and unreadable sessions', () => {
  it('a bundle with an unsealed session: the export says so, verify is INCOMPLETE, exit 3', async () => {
    const exported = await exportBundle('unsealed.zip', config.path, live);
    expect(exported.result.code, exported.result.stderr).toBe(0);
    expect(exported.result.stdout).toMatch(
      new RegExp(`  ${support.id}: UNSEALED — UNSEALED: records 1\\.\\.\\d+ verified, not sealed`),
    );
    const result = await cli('verify', exported.path);
    expect(result.code, result.stdout).toBe(3);
    expect(result.stdout).toMatch(/^INCOMPLETE /);
    expect(result.stdout).toContain(`  UNSEALED sessions/${support.id}.arec: UNSEALED: records 1..`);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('  10/10 files valid, 1/2 sessions valid');
    const { code, report } = await verifyJson(exported.path);
    expect(code).toBe(3);
    expect(report).toMatchObject({ verdict: 'INCOMPLETE', exitCode: 3, problems: [] });
  });

  it('an unreadable session file is not exported: one line, exit 1, no bundle and no partial file', async () => {
    const garbage = join(work, 'garbage.arec');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) % 251)));
    const out = mkdtempSync(join(work, 'out-'));
    const result = await cli('export', config.path, garbage, '-o', join(out, 'x.zip'));
    expectOneLineError(result, /^agent-replay: export: cannot export .*garbage\.arec: UNREADABLE/);
    expect(readdirSync(out)).toEqual([]);
    const missing = await cli('export', join(work, 'missing.arec'), '-o', join(out, 'y.zip'));
    expectOneLineError(missing, /missing\.arec: no such file/);
    expect(readdirSync(out)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('selecting sessions from the catalog', () => {
  async function exportedIds(...args: string[]): Promise<string[]> {
    const exported = await exportBundle('selected.zip', ...args);
    expect(exported.result.code, exported.result.stdout + exported.result.stderr).toBe(0);
    const { code, report } = await verifyJson(exported.path);
    expect(code).toBe(0);
    return report.sessions.map((s) => s.session_id);
  }

  it('--identity picks the sessions that identity ran', async () => {
    expect(await exportedIds('--identity', 'svc-deployer')).toEqual([config.id]);
    expect(await exportedIds('--identity', 'svc-*')).toEqual([config.id, support.id]);
  });

  it('--from/--to pick the sessions in the time range, oldest first, and the manifest records the range asked for', async () => {
    expect(await exportedIds('--from', between)).toEqual([support.id]);
    expect(await exportedIds('--to', between)).toEqual([config.id]);
    const exported = await exportBundle(
      'range.zip',
      '--from',
      before,
      '--to',
      new Date(Date.now() + 60_000).toISOString(),
    );
    expect(exported.result.code, exported.result.stderr).toBe(0);
    const { report } = await verifyJson(exported.path);
    expect(report.sessions.map((s) => s.session_id)).toEqual([config.id, support.id]);
    const manifest = JSON.parse((await run('unzip', ['-p', exported.path, 'manifest.json'])).stdout);
    expect(Date.parse(manifest.predicate.time_range.requested.from)).toBe(Date.parse(before));
  });

  it('no sessions and no selection, or a selection that matches nothing: one line, exit 1', async () => {
    const out = mkdtempSync(join(work, 'out-'));
    expectOneLineError(
      await cli('export', '-o', join(out, 'x.zip')),
      /name sessions, or select them with --from\/--to, --identity or --workflow/,
    );
    expectOneLineError(
      await cli('export', '--identity', 'nobody', '-o', join(out, 'x.zip')),
      /no sessions match/,
    );
    expect(readdirSync(out)).toEqual([]);
  });
});
