import { spawn } from 'node:child_process';
import { createHash, createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defaultRedactionKeyFile,
  loadOrCreateRedactionKey,
  type RedactionCounts,
  Redactor,
} from '../src/redact.js';

const KEY = Buffer.alloc(32, 1);
const dir = mkdtempSync(join(tmpdir(), 'arec-redact-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const posix = process.platform !== 'win32';

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const PEM = generateKeyPairSync('rsa', { modulusLength: 1024 })
  .privateKey.export({ type: 'pkcs1', format: 'pem' })
  .toString();
const PEM_LINE = PEM.split('\n')[3]!;

/** Fake credentials in the shapes real ones have; `secret` is the part that must disappear. */
const CASES: Array<{ kind: string; secret: string; text?: (s: string) => string }> = [
  { kind: 'openai_key', secret: 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6h' },
  { kind: 'openai_key', secret: 'sk-svcacct-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe' },
  { kind: 'openai_key', secret: 'sk-admin-Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz' },
  { kind: 'openai_key', secret: 'sk-T3BlbkFJa1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8' },
  { kind: 'anthropic_key', secret: 'sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z-AA' },
  { kind: 'aws_access_key', secret: 'AKIAIOSFODNN7EXAMPLE' },
  { kind: 'aws_access_key', secret: 'ASIAY34FZKBOKMUTVV7A' },
  {
    kind: 'aws_secret_key',
    secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    text: (s) => `[default]\naws_secret_access_key = ${s}\n`,
  },
  { kind: 'github_token', secret: 'ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R' },
  { kind: 'github_token', secret: 'github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789ABCDEFGHIJ' },
  { kind: 'slack_token', secret: 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx' },
  {
    kind: 'slack_webhook',
    secret: 'services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX',
    text: (s) => `POST https://hooks.slack.com/${s} failed`,
  },
  { kind: 'stripe_key', secret: 'sk_live_51H8abcDEFghiJKLmnoPQRstu' },
  { kind: 'stripe_key', secret: 'rk_test_51H8abcDEFghiJKLmnoPQRstu' },
  { kind: 'stripe_key', secret: 'whsec_AbCdEfGhIjKlMnOpQrStUvWxYz012345' },
  { kind: 'google_api_key', secret: 'AIzaSyD-1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTU' },
  {
    kind: 'jwt',
    secret: `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: '1234567890', name: 'A' })}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`,
  },
  { kind: 'jwt', secret: `${b64url({ alg: 'none' })}.${b64url({ sub: 'x', admin: true })}.` },
  { kind: 'private_key', secret: PEM, text: (s) => `key file:\n${s}\nend of file` },
  {
    kind: 'bearer_token',
    secret: 'abc123.DEF456-ghi789_jkl',
    text: (s) => `curl -H "Authorization: Bearer ${s}" https://api.example.com`,
  },
  {
    kind: 'basic_auth',
    secret: Buffer.from('alice:s3cr3t-pass').toString('base64'),
    text: (s) => `Authorization: Basic ${s}`,
  },
  {
    kind: 'url_password',
    secret: 'Sup3r$ecret',
    text: (s) => `DATABASE_URL=postgres://app:${s}@db.internal:5432/app`,
  },
  { kind: 'secret_field', secret: 'hunter2', text: (s) => `{"user":"bob","password":"${s}"}` },
  { kind: 'secret_field', secret: 'c0rrect horse', text: (s) => `{"clientSecret": "${s}", "id": 7}` },
  { kind: 'secret_field', secret: 'hunter2', text: (s) => `POST /login?user=bob&password=${s}&next=/` },
  { kind: 'secret_field', secret: 'hunter2', text: (s) => `export DB_PASSWORD=${s}\nexport HOME=/root` },
  { kind: 'secret_field', secret: 'opaque-refresh-value', text: (s) => `refresh_token='${s}'` },
];

describe('detection', () => {
  const r = new Redactor({ key: KEY });
  for (const { kind, secret, text = (s: string) => `note: ${s} (from the logs)` } of CASES) {
    const plain = text(secret);
    it(`${kind} ${secret.slice(0, 14)}… in plain text, JSON text and JSON nested in JSON`, () => {
      const expectRedacted = (out: string) => {
        expect(out).not.toContain(secret);
        if (kind === 'private_key') expect(out).not.toContain(PEM_LINE);
        expect(out).toContain(`[REDACTED:${kind}:`);
      };
      expectRedacted(r.redactString(plain));
      // Tool arguments are raw JSON strings, and they end up inside recorded JSON again: redaction must keep
      // every level parseable and catch the secret under any amount of escaping.
      const level1 = r.redactString(JSON.stringify({ content: plain }));
      expectRedacted(JSON.parse(level1).content);
      const nested = JSON.stringify({ arguments: JSON.stringify({ content: plain }) });
      const level2 = r.redactString(nested);
      expectRedacted(JSON.parse(JSON.parse(level2).arguments).content);
      const level3 = r.redactString(JSON.stringify(nested));
      expectRedacted(JSON.parse(JSON.parse(JSON.parse(level3)).arguments).content);
    });
  }

  it('keeps the surrounding text readable', () => {
    expect(r.redactString('Authorization: Bearer abc123.DEF456-ghi789')).toMatch(
      /^Authorization: Bearer \[REDACTED:bearer_token:[0-9a-f]{8}\]$/,
    );
    expect(r.redactString('postgres://app:pw123@db:5432/x')).toMatch(
      /^postgres:\/\/app:\[REDACTED:url_password:[0-9a-f]{8}\]@db:5432\/x$/,
    );
    expect(r.redactString('line one\nsk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z\nline three')).toMatch(
      /^line one\n\[REDACTED:openai_key:[0-9a-f]{8}\]\nline three$/,
    );
  });

  it('finds keys directly after an escaped newline in JSON text', () => {
    const out = r.redactString(
      JSON.stringify({ log: 'key:\nAKIAIOSFODNN7EXAMPLE\nsk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8' }),
    );
    expect(out).toMatch(/\\n\[REDACTED:aws_access_key:[0-9a-f]{8}\]\\n\[REDACTED:anthropic_key:/);
  });

  it('redacts a PEM private key cut off before its END line', () => {
    const truncated = PEM.slice(0, 400);
    const out = r.redactString(`here it is: ${truncated}`);
    expect(out).toMatch(/^here it is: \[REDACTED:private_key:[0-9a-f]{8}\]$/);
    const escaped = r.redactString(JSON.stringify({ k: truncated }));
    expect(JSON.parse(escaped).k).toMatch(/^\[REDACTED:private_key:[0-9a-f]{8}\]$/);
  });

  it('leaves look-alikes in prose alone', () => {
    const prose = [
      'sk-test and sk-1 are placeholders; scikit uses sk-learn-compatible-estimators',
      'the bearer of bad news; Bearer authentication; Basic setup instructions',
      'Keyboard shortcuts, secret santa, password reset link sent to your inbox',
      'see https://example.com:8443/path?x=1#frag and ssh://git@github.com:22/repo',
      'AKIA is a prefix, ghp_ too, and eyJhbGciOi alone is no JWT',
    ];
    for (const text of prose) expect(r.redactString(text)).toBe(text);
  });

  it('never touches SDK usage fields or the word "tokens"', () => {
    const usage = {
      usage: {
        input_tokens: 123,
        output_tokens: 45,
        total_tokens: 168,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens_details: { reasoning_tokens: 12 },
      },
      inputTokens: 1,
      outputTokens: 2,
      totalTokens: 3,
      max_tokens: 100,
      maxTokens: '100',
      token_count: '7',
      tokens: ['a', 'b'],
      tokenizer: 'o200k_base',
      token_type: 'Bearer',
      text: 'count the tokens, then the token budget',
      logprobs: [{ token: 'Hello', logprob: -0.01, bytes: [72] }],
    };
    const copy = structuredClone(usage);
    expect(r.redactValue(copy)).toEqual(usage);
    const json = JSON.stringify(usage);
    expect(r.redactString(json)).toBe(json);
    expect(r.redactString('max_tokens=100&input_tokens=5 token_count=3')).toBe(
      'max_tokens=100&input_tokens=5 token_count=3',
    );
  });
});

describe('tags', () => {
  it('are [REDACTED:<kind>:<first 8 hex of HMAC-SHA256(key, secret)>]', () => {
    const r = new Redactor({ key: KEY });
    const secret = 'AKIAIOSFODNN7EXAMPLE';
    const hmac = createHmac('sha256', KEY).update(secret).digest('hex').slice(0, 8);
    expect(r.redactString(`id ${secret}`)).toBe(`id [REDACTED:aws_access_key:${hmac}]`);
    expect(r.tag('x', secret)).toBe(`[REDACTED:x:${hmac}]`);
  });

  it('correlate the same secret across texts and sessions, and only under the same key', () => {
    const a = 'ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R';
    const b = 'ghp_9z8Y7x6W5v4U3t2S1r0Q9p8O7n6M5l4K3j2I';
    const tagOf = (r: Redactor, text: string) => /\[REDACTED:[^\]]+\]/.exec(r.redactString(text))![0];
    const r1 = new Redactor({ key: KEY });
    const r2 = new Redactor({ key: Buffer.from(KEY) });
    const other = new Redactor({ key: Buffer.alloc(32, 2) });
    expect(tagOf(r1, `first ${a}`)).toBe(tagOf(r2, `{"token_in_prose": "${a}"}`));
    expect(tagOf(r1, a)).not.toBe(tagOf(r1, b));
    expect(tagOf(r1, a)).not.toBe(tagOf(other, a));
  });

  it('make redaction idempotent', () => {
    const r = new Redactor({ key: KEY, profile: 'strict' });
    const text = [
      ...CASES.map(({ secret, text = (s) => s }) => text(secret)),
      'mail bob@example.com, call +1 415-555-0123, card 4111 1111 1111 1111',
    ].join('\n');
    const once = r.redactString(text);
    expect(r.redactString(once)).toBe(once);
    const tree = { a: text, password: 'hunter2', nested: [{ apiKey: 'k-123' }] };
    const onceTree = r.redactValue(structuredClone(tree));
    expect(r.redactValue(structuredClone(onceTree))).toEqual(onceTree);
  });
});

describe('profiles', () => {
  const pii =
    'mail bob.smith@example.com, call +1 (415) 555-0123, card 4111 1111 1111 1111, ssn 123-45-6789, ' +
    'iban DE89 3704 0044 0532 0130 00';

  it('redact PII only in the strict profile', () => {
    expect(new Redactor({ key: KEY }).redactString(pii)).toBe(pii);
    const counts: RedactionCounts = {};
    const out = new Redactor({ key: KEY, profile: 'strict' }).redactString(pii, counts);
    expect(counts).toEqual({ email: 1, phone: 1, card_number: 1, us_ssn: 1, iban: 1 });
    expect(out).not.toMatch(/bob|415|4111|6789|DE89/);
  });

  it('check Luhn and IBAN mod-97 so ids and look-alikes stay', () => {
    const r = new Redactor({ key: KEY, profile: 'strict' });
    const keep = [
      'order 4111111111111112 shipped',
      'ms timestamp 1712345678901',
      'wrong check digits DE00 3704 0044 0532 0130 00',
      'on 2024-01-15 10:30 from 192.168.100.200, version 1.2.3',
      'values 10 20 30 40 50 60',
    ];
    for (const text of keep) expect(r.redactString(text)).toBe(text);
    expect(r.redactString('pay 4012-8888-8888-1881 now')).toMatch(
      /^pay \[REDACTED:card_number:[0-9a-f]{8}\] now$/,
    );
    expect(r.redactString('GB82WEST12345698765432')).toMatch(/^\[REDACTED:iban:/);
  });

  it('never split a JSON escape, so redacted JSON text still parses', () => {
    const r = new Redactor({ key: KEY, profile: 'strict' });
    const out = r.redactString(JSON.stringify({ a: 'line\njohn@example.com\t555-123-4567' }));
    expect(JSON.parse(out).a).toMatch(
      /^line\n\[REDACTED:email:[0-9a-f]{8}\]\t\[REDACTED:phone:[0-9a-f]{8}\]$/,
    );
    const unicodeEscape = r.redactString('{"a":"\\u00e9bob@example.com"}');
    expect(JSON.parse(unicodeEscape).a).toMatch(/^é\[REDACTED:email:[0-9a-f]{8}\]$/);
  });

  it("'off' applies only custom rules", () => {
    const r = new Redactor({ key: KEY, profile: 'off', rules: [{ kind: 'ticket', pattern: 'TCK-\\d+' }] });
    expect(r.redactString('sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z TCK-42')).toMatch(
      /^sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z \[REDACTED:ticket:[0-9a-f]{8}\]$/,
    );
    expect(r.redactValue({ password: 'hunter2' })).toEqual({ password: 'hunter2' });
  });

  it('describe the configuration without revealing the key', () => {
    const r = new Redactor({
      key: KEY,
      rules: [
        { kind: 'ticket', pattern: /T-\d+/ },
        { kind: 'cust', path: '$.c' },
      ],
    });
    const d = r.describe();
    expect(d).toMatchObject({ profile: 'secrets', custom_rules: 2 });
    expect(d.key_id).toBe(createHash('sha256').update(KEY).digest('hex').slice(0, 16));
    expect(d.kinds).toEqual(
      expect.arrayContaining(['openai_key', 'private_key', 'secret_field', 'ticket', 'cust']),
    );
    expect(d.kinds).not.toContain('email');
    expect(JSON.stringify(d)).not.toContain(KEY.toString('hex'));
    expect(new Redactor({ key: KEY, profile: 'strict' }).describe().kinds).toContain('card_number');
  });
});

describe('plain-data trees', () => {
  it('redact values under secret-looking keys entirely, in any spelling', () => {
    const r = new Redactor({ key: KEY });
    const counts: RedactionCounts = {};
    const out = r.redactValue(
      {
        password: 'hunter2',
        headers: { Authorization: 'Bearer x', 'X-Api-Key': 'k1', Cookie: 'sid=abc' },
        client_secret: 'cs',
        apiKey: 'k2',
        refresh_token: 'rt',
        AWS_SECRET_ACCESS_KEY: 'sak',
        credentials: { user: 'bob', pass: 'pw' },
        empty_password: '',
        already: { token: '[REDACTED:secret_field:0badf00d]' },
        user: 'bob',
      },
      counts,
    );
    const tag = (s: string) => r.tag('secret_field', s);
    expect(out).toEqual({
      password: tag('hunter2'),
      headers: { Authorization: tag('Bearer x'), 'X-Api-Key': tag('k1'), Cookie: tag('sid=abc') },
      client_secret: tag('cs'),
      apiKey: tag('k2'),
      refresh_token: tag('rt'),
      AWS_SECRET_ACCESS_KEY: tag('sak'),
      credentials: { user: tag('bob'), pass: tag('pw') },
      empty_password: '',
      already: { token: '[REDACTED:secret_field:0badf00d]' },
      user: 'bob',
    });
    expect(counts).toEqual({ secret_field: 10 });
  });

  it('redact every string in place, including secrets inside nested JSON strings', () => {
    const r = new Redactor({ key: KEY });
    const args = JSON.stringify({ headers: { authorization: 'Bearer abc123def456' }, q: 'weather' });
    const record = {
      type: 'function_call',
      arguments: args,
      input: [{ role: 'user', content: ['x', args] }],
    };
    const out = r.redactValue(record);
    expect(out).toBe(record);
    expect(JSON.stringify(out)).not.toContain('abc123def456');
    expect(JSON.parse(out.arguments).q).toBe('weather');
  });

  it('survive cycles, deep nesting and frozen objects', () => {
    const r = new Redactor({ key: KEY });
    const cyclic: Record<string, unknown> = { s: 'AKIAIOSFODNN7EXAMPLE' };
    cyclic['self'] = cyclic;
    cyclic['list'] = [cyclic, { back: cyclic }];
    expect(r.redactValue(cyclic)['s']).toMatch(/^\[REDACTED:aws_access_key:/);
    let deep: Record<string, unknown> = { s: 'AKIAIOSFODNN7EXAMPLE' };
    const bottom = deep;
    for (let i = 0; i < 200_000; i++) deep = { d: deep };
    r.redactValue(deep);
    expect(bottom['s']).toMatch(/^\[REDACTED:/);
    expect(() => r.redactValue(Object.freeze({ s: 'AKIAIOSFODNN7EXAMPLE' }))).not.toThrow();
  });

  it('apply custom JSON paths, tagging non-strings by their JSON text', () => {
    const r = new Redactor({
      key: KEY,
      rules: [
        { kind: 'customer', path: '$.customer.name' },
        { kind: 'sku', path: '$.items[*].sku' },
        { kind: 'first', path: '$.items[0].qty' },
        { kind: 'dob', path: '$..dob' },
        { kind: 'addr', path: "$['ship to']" },
      ],
    });
    const counts: RedactionCounts = {};
    const out = r.redactValue(
      {
        customer: { name: 'Ada', id: 7 },
        items: [
          { sku: 'A-1', qty: 2 },
          { sku: 'B-2', qty: 1 },
        ],
        deep: [{ x: { dob: '1815-12-10' } }],
        dob: { y: 1815 },
        'ship to': ['12 Main St'],
      },
      counts,
    );
    expect(out).toEqual({
      customer: { name: r.tag('customer', 'Ada'), id: 7 },
      items: [
        { sku: r.tag('sku', 'A-1'), qty: r.tag('first', '2') },
        { sku: r.tag('sku', 'B-2'), qty: 1 },
      ],
      deep: [{ x: { dob: r.tag('dob', '1815-12-10') } }],
      dob: r.tag('dob', '{"y":1815}'),
      'ship to': r.tag('addr', '["12 Main St"]'),
    });
    expect(counts).toEqual({ customer: 1, sku: 2, first: 1, dob: 2, addr: 1 });
    expect(() => new Redactor({ key: KEY, rules: [{ kind: 'x', path: 'a.b' }] })).toThrow(/must start with/);
  });
});

describe('custom rules and counts', () => {
  it('redact a regex match or just the chosen group', () => {
    const r = new Redactor({
      key: KEY,
      rules: [
        { kind: 'employee_id', pattern: /\bEMP-(\d{6})\b/i, group: 1 },
        { kind: 'project', pattern: 'PRJ_[A-Z]{4}' },
      ],
    });
    const out = r.redactString('emp-123456 on PRJ_ABCD');
    expect(out).toBe(`emp-${r.tag('employee_id', '123456')} on ${r.tag('project', 'PRJ_ABCD')}`);
    const empty = new Redactor({ key: KEY, rules: [{ kind: 'e', pattern: /x*/ }] });
    expect(empty.redactString('abc')).toBe('abc');
  });

  it('count by kind, also when a big string comes from the cache', () => {
    const r = new Redactor({ key: KEY });
    const big = `${'history '.repeat(500)} AKIAIOSFODNN7EXAMPLE and ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R`;
    const counts: RedactionCounts = {};
    const first = r.redactString(big, counts);
    expect(r.redactString(big, counts)).toBe(first);
    r.redactValue({ a: big, b: [big], c: 'small AKIAIOSFODNN7EXAMPLE' }, counts);
    expect(counts).toEqual({ aws_access_key: 5, github_token: 4 });
  });
});

describe('robustness', () => {
  it('does not throw on lone surrogates and odd unicode', () => {
    const r = new Redactor({ key: KEY, profile: 'strict', rules: [{ kind: 'odd', pattern: '\\uD800.' }] });
    const weird = `\uD800\uDFFF\uDC00sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z\uD83D 🚀 數據 \u202Ebob@exämple.com\u0000 \uD800x`;
    const out = r.redactString(weird);
    expect(out).not.toContain('Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z');
    expect(r.redactValue({ [weird]: weird, password: '\uDC00' })).toBeTruthy();
  });

  it('redacts a secret near the end of a 5 MB string', () => {
    const r = new Redactor({ key: KEY, profile: 'strict' });
    const secret = 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z';
    const filler = 'The agent read 1,024 lines of logs at 10:30 and found nothing unusual. '.repeat(70_000);
    const out = r.redactString(`${filler}${secret}\nend`);
    expect(out.endsWith(`${r.tag('openai_key', secret)}\nend`)).toBe(true);
    expect(out.length).toBe(filler.length + r.tag('openai_key', secret).length + 4);
  });

  it('stays linear on long runs of token characters', () => {
    const r = new Redactor({ key: KEY, profile: 'strict' });
    const t0 = performance.now();
    r.redactString('a'.repeat(2_000_000));
    r.redactString(`${'A1+'.repeat(700_000)}@x`);
    r.redactString('1'.repeat(2_000_000));
    // Guards catastrophic backtracking only (a quadratic scan would take hours), not speed.
    expect(performance.now() - t0).toBeLessThan(60_000);
  });

  it('prints rough throughput (informational, no assertion)', () => {
    const r = new Redactor({ key: KEY });
    const doc = JSON.stringify(
      Array.from({ length: 40 }, (_, i) => ({
        role: 'user',
        content: `summarize the quarterly report ${i}, see https://example.com/docs/${i}`,
        usage: { input_tokens: 1000 + i, output_tokens: 50 },
      })),
    );
    const texts = Array.from({ length: 300 }, (_, i) => doc + i);
    const t0 = performance.now();
    for (const t of texts) r.redactString(t);
    const ms = performance.now() - t0;
    console.log(
      `redact: ${((doc.length * texts.length) / 1e3 / ms).toFixed(0)} MB/s on ${doc.length}-char JSON`,
    );
  });
});

describe('key file', () => {
  it('is created once with mode 0600 in a 0700 directory and re-used', () => {
    const file = join(dir, 'cfg', 'agent-replay', 'redaction.key');
    const key = loadOrCreateRedactionKey(file);
    expect(key.length).toBe(32);
    expect(readFileSync(file, 'utf8')).toBe(`${key.toString('hex')}\n`);
    if (posix) {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
    }
    expect(loadOrCreateRedactionKey(file)).toEqual(key);
  });

  it('rejects a garbled file, naming it', () => {
    const file = join(dir, 'garbled.key');
    writeFileSync(file, 'not a key!\n');
    expect(() => loadOrCreateRedactionKey(file)).toThrow(file);
    writeFileSync(file, 'abcd\n');
    expect(() => loadOrCreateRedactionKey(file)).toThrow(/malformed/);
  });

  it('waits for a creator that has not finished writing', async () => {
    const file = join(dir, 'half.key');
    const hex = 'ab'.repeat(32);
    writeFileSync(file, '');
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const fs = require('node:fs');
       parentPort.postMessage('up');
       setTimeout(() => fs.writeFileSync(workerData.file, workerData.hex + '\\n'), 150);`,
      { eval: true, workerData: { file, hex } },
    );
    await new Promise((resolve) => worker.once('message', resolve));
    expect(loadOrCreateRedactionKey(file).toString('hex')).toBe(hex);
    await worker.terminate();
  });

  it('gives every one of several racing processes the same key', async () => {
    // The children load the built package (`pnpm test` builds first).
    const script = join(dir, 'child.mjs');
    writeFileSync(
      script,
      `import { loadOrCreateRedactionKey } from ${JSON.stringify(new URL('../dist/redact.js', import.meta.url).href)};
       const [file, at] = process.argv.slice(2);
       while (Date.now() < Number(at)) {}
       process.stdout.write(loadOrCreateRedactionKey(file).toString('hex'));`,
    );
    for (let round = 0; round < 3; round++) {
      const file = join(dir, `race-${round}`, 'redaction.key');
      const at = String(Date.now() + 500);
      const results = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            new Promise<string>((resolve, reject) => {
              const child = spawn(process.execPath, [script, file, at]);
              let text = '';
              let err = '';
              child.stdout.on('data', (d) => (text += d));
              child.stderr.on('data', (d) => (err += d));
              child.on('error', reject);
              child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(err))));
            }),
        ),
      );
      const onDisk = readFileSync(file, 'utf8').trim();
      expect(onDisk).toMatch(/^[0-9a-f]{64}$/);
      expect(new Set(results)).toEqual(new Set([onDisk]));
    }
  });

  it('has a default location following the environment', () => {
    expect(defaultRedactionKeyFile({ AGENT_REPLAY_REDACTION_KEY_FILE: '/k/file', HOME: '/h' })).toBe(
      '/k/file',
    );
    expect(defaultRedactionKeyFile({ XDG_CONFIG_HOME: '/x', HOME: '/h' })).toBe(
      join('/x', 'agent-replay', 'redaction.key'),
    );
    expect(defaultRedactionKeyFile({ HOME: '/h' })).toBe(
      join('/h', '.config', 'agent-replay', 'redaction.key'),
    );
  });
});
