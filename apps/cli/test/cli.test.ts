import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey, SessionWriter } from '@agent-replay/format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = new URL('../dist/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'arec-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    maxBuffer: 1 << 26,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const key = generateSigningKey();
const sealed = join(dir, 'sealed.arec');
const unsealed = join(dir, 'unsealed.arec');
const escapes = join(dir, 'escapes.arec');

beforeAll(async () => {
  const writer = await SessionWriter.create(sealed, { signingKey: key.privateKeyPem, segmentBytes: 2048 });
  const history: unknown[] = [];
  for (let i = 0; i < 30; i++) {
    history.push({ role: 'user', content: `question ${i} `.repeat(120) });
    writer.append('span.end', { span: { kind: 'response', data: { _input: [...history] } } });
  }
  writer.append('tool.call', { name: 'push_config', args: { environment: 'production' } });
  await writer.close();

  const open = await SessionWriter.create(unsealed);
  open.append('span.start', { span: { kind: 'agent' } });
  await open.flush();
  await open.abandon();

  const hostile = await SessionWriter.create(escapes);
  hostile.append('tool.call', { output: '\u001b]0;pwned\u0007\u001b[2J\u001b[31mred\u009b31m \u202eevil' });
  hostile.append('\u001b]0;type\u0007\u001b[2J', { ok: true }); // even the envelope can carry escapes
  await hostile.close();
  writeFileSync(join(dir, 'key.pub'), key.publicKeyPem);
});

describe('agent-replay verify', () => {
  it('verifies many files with a summary line and exit code by worst verdict', () => {
    const ok = cli('verify', sealed, escapes, '--key', join(dir, 'key.pub'));
    expect(ok.stdout).toMatch(/VALID\s+.*sealed\.arec/);
    // escapes.arec is unsigned, so a trusted key makes it fail
    expect(ok.code).toBe(1);
    expect(cli('verify', sealed, '--key', join(dir, 'key.pub')).stdout).toContain('1/1 session valid');

    const mixed = cli('verify', sealed, unsealed);
    expect(mixed.code).toBe(3);
    expect(mixed.stdout).toContain('1/2 sessions valid');
    expect(mixed.stdout).toContain('UNSEALED: record 1 verified, not sealed');
  });

  it('verifies a dozen files on worker threads and reports them in the order given', () => {
    const bytes = readFileSync(sealed);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    const flipped = writeTemp('dozen-flipped.arec', bytes);
    const missing = join(dir, 'dozen-missing.arec');
    const files = [
      sealed,
      sealed,
      flipped,
      sealed,
      unsealed,
      sealed,
      missing,
      sealed,
      sealed,
      sealed,
      sealed,
      sealed,
    ];
    const json = cli('verify', '--json', ...files);
    const report = JSON.parse(json.stdout);
    expect(report.files.map((f: { file: string }) => f.file)).toEqual(files);
    expect(report.files.map((f: { verdict: string }) => f.verdict)).toEqual([
      'VALID',
      'VALID',
      'TAMPERED',
      'VALID',
      'UNSEALED',
      'VALID',
      'UNREADABLE',
      'VALID',
      'VALID',
      'VALID',
      'VALID',
      'VALID',
    ]);
    expect(json.code).toBe(1);
    const text = cli('verify', ...files);
    expect(text.stdout).toContain('9/12 sessions valid');
    const listed = text.stdout.split('\n').filter((line) => /^(TAMPERED|UNSEALED|UNREADABLE)/.test(line));
    expect(listed.map((line) => line.split(/\s+/)[0])).toEqual(['TAMPERED', 'UNSEALED', 'UNREADABLE']);
  });

  it('prints a stable JSON report', () => {
    const result = cli('verify', '--json', sealed, unsealed);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ total: 2, valid: 1, exit_code: 3 });
    expect(report.files[0]).toMatchObject({
      verdict: 'VALID',
      exitCode: 0,
      sealed: true,
      records: expect.any(Number),
    });
    expect(report.files[1]).toMatchObject({ verdict: 'UNSEALED', exitCode: 3 });
  });

  it.each([
    ['nonexistent path', () => join(dir, 'nope.arec'), /no such file/],
    ['JSON file', () => writeTemp('x.json', '{"a":1}'), /JSON text file/],
    ['empty file', () => writeTemp('empty.arec', ''), /empty file/],
    [
      'gzip file',
      () => writeTemp('x.gz', Buffer.from('1f8b0800000000000003030000000000000000', 'hex')),
      /gzip/,
    ],
    [
      'random bytes',
      () => writeTemp('random.bin', Buffer.from(Array.from({ length: 999 }, (_, i) => (i * 31) % 251))),
      /not an agent-replay session/,
    ],
  ])('reports a %s as UNREADABLE, exit 1, one line, no stack trace', (_name, make, reason) => {
    const result = cli('verify', make());
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/UNREADABLE/);
    expect(result.stdout).toMatch(reason);
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports a flipped byte as TAMPERED with segment, offset and seq', () => {
    const bytes = readFileSync(sealed);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    const path = writeTemp('flipped.arec', bytes);
    const result = cli('verify', path);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/TAMPERED at .*offset \d+/);
  });
});

describe('agent-replay cat', () => {
  it('prints NDJSON exactly as stored, and resolves blobs with --resolve', () => {
    const raw = cli('cat', sealed, '--json');
    expect(raw.code).toBe(0);
    const lines = raw.stdout.trimEnd().split('\n');
    const zstd = spawnSync('zstd', ['-dc', sealed], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(raw.stdout).toBe(zstd.stdout);
    expect(lines.some((l) => l.includes('"$blob"'))).toBe(true);

    const resolved = cli('cat', sealed, '--json', '--resolve', '--type', 'span.end');
    const records = resolved.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records).toHaveLength(30);
    expect(resolved.stdout).not.toContain('"$blob"');
    expect(records[29].span.data._input).toHaveLength(30);
    expect(records[29].span.data._input[3].content).toBe('question 3 '.repeat(120));
  });

  it('prints a human line per record and filters by type and seq range', () => {
    const result = cli('cat', sealed, '--type', 'tool.call');
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toMatch(
      /tool\.call\s+\{"args":\{"environment":"production"\},"name":"push_config"\}/,
    );
    const range = cli('cat', sealed, '--json', '--from', '2', '--to', '4');
    expect(
      range.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).seq),
    ).toEqual([2, 3, 4]);
  });

  it('neutralizes ANSI/OSC escapes from agents: no raw ESC, BEL, C1 or bidi override reaches the terminal', () => {
    const result = cli('cat', escapes);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(/[\u001b\u0007\u009b\u202e]/);
    expect(result.stdout).toContain('\\u001b]0;pwned\\u0007');
    expect(result.stdout).toContain('\\x9b31m \\u202eevil');
  });

  it('reports damage met while reading a sealed file as one located line, exit 1', () => {
    const bytes = readFileSync(sealed);
    const text = bytes.toString('latin1');
    // flip a byte inside the second segment's compressed data (after its header JSON)
    const second = text.indexOf('"segment":2');
    const frameStart = text.indexOf('}', second) + 1;
    bytes[frameStart + 20] ^= 0xff;
    const path = writeTemp('damaged.arec', bytes);
    const result = cli('cat', path);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/damaged\.arec @\d+: segment 2.*\(run verify\)/);
    expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
  });

  it('fails with one line for a missing file and for bad options', () => {
    const missing = cli('cat', join(dir, 'missing.arec'));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/agent-replay: .*missing\.arec: no such file/);
    const bad = cli('cat', sealed, '--from', 'zero');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/must be a positive integer/);
  });

  it('reads the valid prefix of a torn file and says where it stopped (exit 3)', () => {
    const bytes = readFileSync(unsealed);
    const path = writeTemp(
      'torn.arec',
      Buffer.concat([bytes, Buffer.from([0x51, 0x2a, 0x4d, 0x18, 0xff, 0, 0])]),
    );
    const result = cli('cat', path, '--json');
    expect(result.code).toBe(3);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/stopped at offset \d+/);
  });
});

function writeTemp(name: string, content: string | Buffer): string {
  const sub = join(dir, 'inputs');
  mkdirSync(sub, { recursive: true });
  const path = join(sub, name);
  writeFileSync(path, content);
  return path;
}
