import { spawnSync } from 'node:child_process';
import { sign, verify } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  keyIdOf,
  loadPublicKey,
  loadSigningKey,
  publicKeyFingerprint,
  SessionWriter,
} from '@agent-replay/format';
import { afterAll, describe, expect, it } from 'vitest';

const bin = new URL('../dist/main.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'arec-keys-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshDir(): string {
  const dir = join(root, `case-${++counter}`);
  mkdirSync(dir);
  return dir;
}

function cli(cwd: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** The pair works together: a signature made with the private key verifies with the public one. */
function expectWorkingPair(privatePath: string, publicPath: string): string {
  const signing = loadSigningKey(readFileSync(privatePath));
  const publicKey = loadPublicKey(readFileSync(publicPath));
  const message = Buffer.from('checkpoint 7');
  const signature = sign(null, message, signing.privateKey);
  expect(verify(null, message, publicKey, signature)).toBe(true);
  expect(verify(null, Buffer.from('checkpoint 8'), publicKey, signature)).toBe(false);
  expect(keyIdOf(publicKey)).toBe(signing.keyId);
  return signing.keyId;
}

describe.skipIf(process.platform === 'win32')('agent-replay keys generate', () => {
  it('writes a working pair with the default prefix: private 0600, public 0644, and says how to use it', () => {
    const dir = freshDir();
    // Even a permissive umask must not make the private key readable by others.
    const result = spawnSync(
      'sh',
      ['-c', `umask 000 && exec "$0" "$@"`, process.execPath, bin, 'keys', 'generate'],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const privatePath = join(dir, 'agent-replay-signing.key.pem');
    const publicPath = join(dir, 'agent-replay-signing.pub.pem');
    expect(mode(privatePath)).toBe(0o600);
    expect(mode(publicPath)).toBe(0o644);
    expect(readFileSync(privatePath, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(readFileSync(publicPath, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const keyId = expectWorkingPair(privatePath, publicPath);

    const fingerprint = publicKeyFingerprint(loadPublicKey(readFileSync(publicPath)));
    expect(result.stdout).toContain('agent-replay-signing.key.pem');
    expect(result.stdout).toContain('agent-replay-signing.pub.pem');
    expect(result.stdout).toContain(keyId);
    expect(result.stdout).toContain(fingerprint);
    expect(result.stdout).toContain('agent-replay record --sign agent-replay-signing.key.pem -- ');
    expect(result.stdout).toContain('agent-replay verify --key agent-replay-signing.pub.pem ');
    expect(result.stdout).not.toContain('\u001b');
  });

  it('keeps the private key 0600 under a restrictive umask too, and the public key readable', () => {
    const dir = freshDir();
    const result = spawnSync(
      'sh',
      ['-c', `umask 077 && exec "$0" "$@"`, process.execPath, bin, 'keys', 'generate', '--out', 'ci'],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(result.status).toBe(0);
    expect(mode(join(dir, 'ci.key.pem'))).toBe(0o600);
    expect(mode(join(dir, 'ci.pub.pem'))).toBe(0o644);
  });

  it('--json prints absolute paths, the key id and the fingerprint of the key it wrote', () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'keys'));
    const result = cli(dir, 'keys', 'generate', '--out', 'keys/prod', '--json');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, string>;
    expect(Object.keys(report).sort()).toEqual(['fingerprint', 'key_id', 'private_key', 'public_key']);
    expect(report.private_key).toBe(join(dir, 'keys', 'prod.key.pem'));
    expect(report.public_key).toBe(join(dir, 'keys', 'prod.pub.pem'));
    const keyId = expectWorkingPair(report.private_key!, report.public_key!);
    expect(report.key_id).toBe(keyId);
    const publicKey = loadPublicKey(readFileSync(report.public_key!));
    expect(report.fingerprint).toBe(publicKeyFingerprint(publicKey));
    expect(report.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses to overwrite an existing private or public key, naming the file, and leaves both untouched', () => {
    const dir = freshDir();
    expect(cli(dir, 'keys', 'generate', '--out', 'team').code).toBe(0);
    const before = readFileSync(join(dir, 'team.key.pem'), 'utf8');

    const again = cli(dir, 'keys', 'generate', '--out', 'team');
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/^agent-replay: .*team\.key\.pem already exists.*--force/);
    expect(readFileSync(join(dir, 'team.key.pem'), 'utf8')).toBe(before);

    // Only the public half in the way: the private key must not be created either (no half pair).
    const other = freshDir();
    writeFileSync(join(other, 'solo.pub.pem'), 'someone else’s key\n');
    const blocked = cli(other, 'keys', 'generate', '--out', 'solo');
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/solo\.pub\.pem already exists/);
    expect(existsSync(join(other, 'solo.key.pem'))).toBe(false);
    expect(readFileSync(join(other, 'solo.pub.pem'), 'utf8')).toBe('someone else’s key\n');
  });

  it('--force replaces a world-readable key with a new 0600 one, and replaces a symlink instead of writing through it', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'old.key.pem'), 'old secret\n', { mode: 0o644 });
    chmodSync(join(dir, 'old.key.pem'), 0o644);
    const target = join(dir, 'elsewhere.txt');
    writeFileSync(target, 'not a key\n');
    symlinkSync(target, join(dir, 'old.pub.pem'));

    const result = cli(dir, 'keys', 'generate', '--out', 'old', '--force', '--json');
    expect(result.code).toBe(0);
    expect(mode(join(dir, 'old.key.pem'))).toBe(0o600);
    expect(mode(join(dir, 'old.pub.pem'))).toBe(0o644);
    expectWorkingPair(join(dir, 'old.key.pem'), join(dir, 'old.pub.pem'));
    expect(readFileSync(target, 'utf8')).toBe('not a key\n');
    // no temporary files left beside the keys
    expect(readdirSync(dir).sort()).toEqual(['elsewhere.txt', 'old.key.pem', 'old.pub.pem']);
  });

  it('a missing parent directory is one line naming it, and nothing is written', () => {
    const dir = freshDir();
    const result = cli(dir, 'keys', 'generate', '--out', 'no/such/dir/k');
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^agent-replay: keys generate: directory no\/such\/dir does not exist/);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes a directory as --out (default file names inside it) and strips a .key.pem suffix', () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'secrets'));
    expect(cli(dir, 'keys', 'generate', '--out', 'secrets').code).toBe(0);
    expect(readdirSync(join(dir, 'secrets')).sort()).toEqual([
      'agent-replay-signing.key.pem',
      'agent-replay-signing.pub.pem',
    ]);
    expect(cli(dir, 'keys', 'generate', '--out', 'ci.key.pem').code).toBe(0);
    expect(existsSync(join(dir, 'ci.key.pem'))).toBe(true);
    expect(existsSync(join(dir, 'ci.pub.pem'))).toBe(true);
  });

  it('a generated key signs sessions that verify --key accepts (end to end)', async () => {
    const dir = freshDir();
    const generated = JSON.parse(cli(dir, 'keys', 'generate', '--json').stdout) as Record<string, string>;
    const wrong = JSON.parse(cli(dir, 'keys', 'generate', '--out', 'wrong', '--json').stdout) as Record<
      string,
      string
    >;
    const session = join(dir, 'signed.arec');
    const writer = await SessionWriter.create(session, {
      signingKey: readFileSync(generated.private_key!, 'utf8'),
    });
    writer.append('tool.call', { name: 'push_config' });
    await writer.close();
    expect(cli(dir, 'verify', session, '--key', generated.public_key!).code).toBe(0);
    expect(cli(dir, 'verify', session, '--key', wrong.public_key!).code).toBe(1);
  });
});
