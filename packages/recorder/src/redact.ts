import { createHash, createHmac, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { BoundedStringCache } from '@agent-replay/format';

export type RedactionProfile = 'secrets' | 'strict' | 'off';
/** `pattern` as a string is a regex source; `group` selects the capture group to redact (default: whole match). */
export interface PatternRule {
  kind: string;
  pattern: RegExp | string;
  group?: number;
}
/** JSONPath subset: `$.a.b`, `$.a[*].b`, `$..name`, `$.a[0]`, `$['a b']`. The whole value at the path is tagged. */
export interface PathRule {
  kind: string;
  path: string;
}
export type RedactionRule = PatternRule | PathRule;
export interface RedactorOptions {
  key: Buffer;
  profile?: RedactionProfile;
  rules?: RedactionRule[];
}
/** kind -> number of values redacted. */
export type RedactionCounts = Record<string, number>;

interface Rule {
  kind: string;
  re: RegExp;
  group: number;
  /** For secrets that are not a capture group: JSON string values, e-mail local parts. */
  locate?: (m: RegExpExecArray, text: string) => [number, number] | undefined;
  accept?: (secret: string) => boolean;
  /** For a combined regex: the kind (and check) of each top-level alternative, in group order. */
  alts?: Array<{ kind: string; accept?: (secret: string) => boolean }>;
}
interface Span {
  s: number;
  e: number;
  kind: string;
  prio: number;
}
type Seg = { deep: boolean; any: boolean; key: string | number };
interface CacheEntry {
  out: string;
  found: RedactionCounts | undefined;
}

const KIND_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const TAG_RE = /^\[REDACTED:[A-Za-z0-9_.-]{1,64}:[0-9a-f]{8}\]$/;
const TAG_G = /\[REDACTED:[A-Za-z0-9_.-]{1,64}:[0-9a-f]{8}\]/g;
/** Strings this long are memoized: model inputs re-send the whole history, so the same big strings recur. */
const CACHE_MIN_CHARS = 1024;
const CACHE_MAX_CHARS = 32 * 1024 * 1024;
/** Short strings are memoized by value, in a map cleared when it reaches SHORT_MEMO_ENTRIES. */
const SHORT_MEMO_MAX_CHARS = 128;
const SHORT_MEMO_ENTRIES = 50_000;

// Secrets often sit right after an escaped newline in JSON text ("\nsk-..."), where a plain "not preceded by a
// letter" boundary would miss them because of the "n". One nested negative lookbehind, not an alternation of
// lookbehinds: V8 only keeps its fast literal scan for the former (measured 30x).
const B = String.raw`(?<!(?<!\\)[A-Za-z0-9])`;
// Key names are matched on their last word (cheap to find), then the whole name is checked by isSecretKey.
const KEY_WORD = 'passwd|password|passphrase|secrets?|token|key|credentials?|authorization|cookie';
const SECRET_KEY_END =
  /(?:passwd|password|passphrase|secrets?|apikey|privatekey|secretkey|secretaccesskey|signingkey|encryptionkey|masterkey|token|credentials?|authorization|cookie)$/;
// Tokenizer vocabulary and pagination cursors end in "token" but are not credentials.
const NOT_SECRET_KEYS = new Set(
  'bostoken eostoken padtoken unktoken septoken clstoken masktoken stoptoken nextpagetoken pagetoken nexttoken continuationtoken'.split(
    ' ',
  ),
);
const secretKeyMemo = new Map<string, boolean>();

/** Whether an object key names a credential. `max_tokens`, `input_tokens`, `token_count` must stay readable. */
function isSecretKey(name: string): boolean {
  let hit = secretKeyMemo.get(name);
  if (hit === undefined) {
    const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
    hit = !NOT_SECRET_KEYS.has(n) && SECRET_KEY_END.test(n);
    if (secretKeyMemo.size > 10_000) secretKeyMemo.clear();
    secretKeyMemo.set(name, hit);
  }
  return hit;
}

const isNameChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 || c === 46;

/**
 * End of a quoted value that opened with `p` backslashes before the quote: JSON nested k levels deep escapes its
 * quotes with 2^k-1 backslashes, so a quote closes the value iff its backslash run is p modulo 2p+2.
 * An unterminated value runs to the end of the text: better too much redacted than a secret on disk.
 */
function closingQuote(text: string, from: number, quote: string, p: number): number {
  for (let i = from; ; ) {
    const j = text.indexOf(quote, i);
    if (j < 0) return text.length;
    let b = 0;
    while (j - b - 1 >= from && text.charCodeAt(j - b - 1) === 92) b++;
    if (b >= p && (b - p) % (2 * p + 2) === 0) return j - p;
    i = j + 1;
  }
}

/** `"password": "…"` (at any JSON escaping level), `password="…"`, `password=…` in query strings and env files. */
function locateSecretField(m: RegExpExecArray, text: string): [number, number] | undefined {
  const nameEnd = m.index + m[1]!.length;
  let ns = m.index;
  while (ns > 0 && isNameChar(text.charCodeAt(ns - 1))) ns--;
  const name = text.slice(ns, nameEnd);
  if (!isSecretKey(name)) return undefined;
  const start = m.index + m[0].length;
  const quote = m[3] ?? m[5];
  if (quote === undefined) {
    let e = start;
    while (e < text.length && !' \t\r\n&"\'\\;,<>'.includes(text[e]!)) e++;
    return [start, e];
  }
  const end = closingQuote(text, start, quote, (m[2] ?? m[4] ?? '').length);
  // OpenAI logprobs are {"token": "Hello", "logprob": …}: vocabulary, not credentials.
  if (name === 'token' && /^\\*["']\s*,\s*\\*["'](?:logprob|bytes)/.test(text.slice(end, end + 40))) return;
  return [start, end];
}

function locateEmail(m: RegExpExecArray, text: string): [number, number] | undefined {
  let s = m.index;
  while (s > 0 && m.index - s < 64 && /[A-Za-z0-9._%+-]/.test(text[s - 1]!)) s--;
  if (s === m.index || text[s] === '.') return undefined;
  // "scheme://user:pass@host" is url_password's business; the host is not part of an address.
  if (/:\/\/[^\s:/?#@"'\\]*:$/.test(text.slice(Math.max(0, s - 300), s))) return undefined;
  return [s, m.index + m[0].length];
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

function ibanValid(raw: string): boolean {
  const s = raw.replace(/ /g, '');
  if (s.length < 15 || s.length > 34) return false;
  let rem = 0;
  for (const ch of s.slice(4) + s.slice(0, 4)) {
    const v = Number.parseInt(ch, 36);
    rem = v > 9 ? (rem * 100 + v) % 97 : (rem * 10 + v) % 97;
  }
  return rem === 1;
}

/** `Basic <b64>` is only a credential when it decodes to printable `user:password`; "Basic setup" is prose. */
function basicCredential(b64: string): boolean {
  const d = Buffer.from(b64, 'base64').toString('utf8');
  return d.includes(':') && !/[\u0000-\u001f\u007f\ufffd]/.test(d);
}

function phone(s: string): boolean {
  const digits = s.replace(/\D/g, '').length;
  if (/^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}/.test(s)) return false; // dates
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(s)) return false; // IPv4
  // Runs of two-digit numbers are data ("10 20 30 40 50"); national numbers written that way start with a trunk 0.
  if (/^\d{1,2}(?:[ .-]\d\d)+$/.test(s) && s[0] !== '0') return false;
  return s.startsWith('+') ? digits >= 8 && digits <= 15 : digits >= 10 && digits <= 15;
}

type Spec = [
  kind: string,
  source: string,
  opts?: Partial<Pick<Rule, 'group' | 'locate' | 'accept'>> & { i?: true },
];

// A nested list is one combined regex (no capture groups inside): token-shaped credentials share a single pass,
// 3x faster than one pass each. Their character classes nest, so one match cannot hide another secret's tail.
const SECRET_SPECS: Array<Spec | Spec[]> = [
  [
    'private_key',
    String.raw`-----BEGIN ([A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----(?:[A-Za-z0-9+/=\s\\:,.-]{0,65536}?-----END \1-----|(?:[A-Za-z0-9+/=\r\n]|\\+[nr])*)`,
  ],
  [
    ['jwt', String.raw`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`],
    ['anthropic_key', B + 'sk-ant-[A-Za-z0-9_-]{20,}'],
    [
      'openai_key',
      B + 'sk-(?!ant-)(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,}',
      // Hyphenated lowercase prose ("sk-learn-compatible-estimators") is not a key; real keys mix case and digits.
      { accept: (s) => /[A-Z0-9_]/.test(s.slice(3)) },
    ],
    ['aws_access_key', '(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])'],
    ['github_token', B + '(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})'],
    ['slack_token', B + String.raw`(?:xox[abposr]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})`],
    ['stripe_key', B + '(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9+/=]{20,})'],
    ['google_api_key', 'AIza[0-9A-Za-z_-]{35}'],
  ],
  [
    'aws_secret_key',
    String.raw`secret[-_.]?access[-_.]?key\\*["']?\s*[:=]\s*\\*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])`,
    { group: 1, i: true },
  ],
  [
    'slack_webhook',
    String.raw`hooks\.slack\.com/((?:services|workflows|triggers)/[A-Za-z0-9/_-]{10,})`,
    { group: 1 },
  ],
  [
    'bearer_token',
    B + String.raw`(?:[Bb]earer|BEARER)\s+([A-Za-z0-9._~+/-]{8,}=*)`,
    { group: 1, accept: (s) => /[0-9._~+/-]/.test(s) },
  ],
  [
    'basic_auth',
    B + String.raw`(?:[Bb]asic|BASIC)\s+([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])`,
    { group: 1, accept: basicCredential },
  ],
  // Anchored on "://" rather than the scheme so a long run of letters cannot make the scan quadratic; the
  // password may contain "@" (the last one before the host wins).
  ['url_password', String.raw`://([^\s:/?#@"'\\]{0,256}):([^\s/?#"'\\]{1,256})@`, { group: 2 }],
  [
    'secret_field',
    String.raw`(${KEY_WORD})(?:(\\*)(["'])\s*:\s*\2\3|\s*=\s*(\\*)(["'])|=(?=[^\s&"'\\;,<>=]))`,
    { i: true, locate: locateSecretField },
  ],
];
// Case-insensitive literals each rule needs, grouped by first letter (1.6x faster than a flat alternation).
const SECRET_ANCHORS = String.raw`s(?:k[-_]|ecret)|rk_|whsec_|a(?:kia|sia|bia|cca|iza|uthoriz)|gh[pousr]_|github_pat_|x(?:ox|app-)|hooks\.slack|eyj|b(?:earer|asic)|://|pass|token|key|c(?:redential|ookie)`;

const STRICT_SPECS: Spec[] = [
  // Anchored on "@" and extended backwards in code: a leading [\w.+-]+ would be quadratic on base64 blobs.
  [
    'email',
    String.raw`@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])`,
    { locate: locateEmail },
  ],
  [
    'card_number',
    String.raw`(?<![.-]|(?<!\\)\w)(?:\d[ -]?){12,18}\d(?!\d|[.-]\d)`,
    // Issuer prefixes start with 2-6, which also keeps 13-digit millisecond timestamps out.
    {
      accept: (s) => {
        const d = s.replace(/\D/g, '');
        return d.length >= 13 && d.length <= 19 && d[0]! >= '2' && d[0]! <= '6' && luhn(d);
      },
    },
  ],
  ['us_ssn', String.raw`(?<!-|(?<!\\)\w)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\w|-\d)`],
  [
    'iban',
    B + String.raw`[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])`,
    { accept: ibanValid },
  ],
  [
    'phone',
    String.raw`(?<![+./-]|(?<!\\)\w)(?:\+[1-9]\d{7,14}|(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?\d{2,4}|\d{1,4})(?:[ .-]\d{2,5}){1,4})(?!\w|[./-]\d)`,
    { accept: phone },
  ],
];
const STRICT_ANCHORS = String.raw`@|\d`;

function compile(spec: Spec | Spec[]): Rule {
  if (typeof spec[0] !== 'string') {
    const specs = spec as Spec[];
    const re = new RegExp(specs.map(([, src]) => `(${src})`).join('|'), 'g');
    return { kind: '', re, group: 0, alts: specs.map(([kind, , opts]) => ({ kind, accept: opts?.accept })) };
  }
  const [kind, source, opts = {}] = spec as Spec;
  const group = opts.group ?? 0;
  const re = new RegExp(source, `g${opts.i ? 'i' : ''}${group ? 'd' : ''}`);
  return { kind, re, group, locate: opts.locate, accept: opts.accept };
}

function parsePath(path: string): Seg[] {
  const segs: Seg[] = [];
  const re = /(\.\.?)(\*|[^.[\]]+)|\[(?:(\*)|(\d+)|'([^']*)'|"([^"]*)")\]/y;
  let i = 1;
  if (path[0] !== '$') throw new Error(`redaction path ${JSON.stringify(path)} must start with "$"`);
  while (i < path.length) {
    re.lastIndex = i;
    const m = re.exec(path);
    if (!m) throw new Error(`redaction path ${JSON.stringify(path)}: cannot parse at offset ${i}`);
    i = re.lastIndex;
    const deep = m[1] === '..';
    if (m[2] !== undefined) segs.push({ deep, any: m[2] === '*', key: m[2] });
    else if (m[3] !== undefined) segs.push({ deep: false, any: true, key: '*' });
    else if (m[4] !== undefined) segs.push({ deep: false, any: false, key: Number(m[4]) });
    else segs.push({ deep: false, any: false, key: m[5] ?? m[6] ?? '' });
  }
  return segs;
}

const isContainer = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !ArrayBuffer.isView(v);

function setQuietly(obj: Record<string, unknown> | unknown[], key: string | number, value: unknown): void {
  try {
    (obj as Record<string | number, unknown>)[key] = value;
  } catch {
    // Frozen input: the caller's snapshot is supposed to be fresh, so this is not worth failing a record over.
  }
}

export class Redactor {
  readonly profile: RedactionProfile;
  readonly #key: Buffer;
  readonly #rules: Rule[];
  readonly #custom: Rule[];
  readonly #prefilter: RegExp | undefined;
  readonly #paths: Array<{ kind: string; segs: Seg[] }> = [];
  readonly #hexMemo = new Map<string, string>();
  // Keyed by a sample of the text: the SDK hands over equal strings as new objects every turn (see BoundedStringCache).
  readonly #cache = new BoundedStringCache<CacheEntry>(CACHE_MAX_CHARS);
  readonly #shortMemo = new Map<string, CacheEntry>();

  constructor(options: RedactorOptions) {
    if (!Buffer.isBuffer(options.key) || options.key.length < 16) {
      throw new Error('redaction key must be a Buffer of at least 16 bytes');
    }
    this.#key = Buffer.from(options.key);
    this.profile = options.profile ?? 'secrets';
    const specs =
      this.profile === 'off' ? [] : SECRET_SPECS.concat(this.profile === 'strict' ? STRICT_SPECS : []);
    this.#custom = [];
    for (const rule of options.rules ?? []) {
      if (!KIND_RE.test(rule.kind))
        throw new Error(`redaction rule kind ${JSON.stringify(rule.kind)} is invalid`);
      if ('path' in rule) {
        this.#paths.push({ kind: rule.kind, segs: parsePath(rule.path) });
        continue;
      }
      const group = rule.group ?? 0;
      const src = typeof rule.pattern === 'string' ? rule.pattern : rule.pattern.source;
      const flags = typeof rule.pattern === 'string' ? '' : rule.pattern.flags.replace(/[gyd]/g, '');
      this.#custom.push({ kind: rule.kind, re: new RegExp(src, `${flags}g${group ? 'd' : ''}`), group });
    }
    this.#rules = specs.map(compile).concat(this.#custom);
    this.#prefilter =
      this.profile === 'off'
        ? undefined
        : new RegExp(SECRET_ANCHORS + (this.profile === 'strict' ? `|${STRICT_ANCHORS}` : ''), 'i');
  }

  describe(): { profile: RedactionProfile; kinds: string[]; custom_rules: number; key_id: string } {
    const kinds = new Set(this.#rules.flatMap((r) => r.alts?.map((a) => a.kind) ?? r.kind));
    for (const p of this.#paths) kinds.add(p.kind);
    return {
      profile: this.profile,
      kinds: [...kinds],
      custom_rules: this.#custom.length + this.#paths.length,
      key_id: createHash('sha256').update(this.#key).digest('hex').slice(0, 16),
    };
  }

  tag(kind: string, secret: string): string {
    let hex = this.#hexMemo.get(secret);
    if (hex === undefined) {
      hex = createHmac('sha256', this.#key).update(secret).digest('hex').slice(0, 8);
      if (secret.length <= 4096) {
        if (this.#hexMemo.size >= 10_000) this.#hexMemo.clear();
        this.#hexMemo.set(secret, hex);
      }
    }
    return `[REDACTED:${kind}:${hex}]`;
  }

  redactString(text: string, counts?: RedactionCounts): string {
    let entry: CacheEntry | undefined;
    if (text.length <= SHORT_MEMO_MAX_CHARS) {
      // Roles, statuses, item types, key names and ids recur in every record: a Map lookup beats the prefilter.
      entry = this.#shortMemo.get(text);
      if (entry === undefined) {
        entry = this.#scan(text, undefined);
        if (this.#shortMemo.size >= SHORT_MEMO_ENTRIES) this.#shortMemo.clear();
        this.#shortMemo.set(text, entry);
      }
    } else if (text.length < CACHE_MIN_CHARS) {
      return this.#scan(text, counts).out;
    } else {
      entry = this.#cache.get(text);
      if (entry === undefined) {
        entry = this.#scan(text, undefined);
        this.#cache.set(text, entry);
      }
    }
    if (counts && entry.found)
      for (const [k, n] of Object.entries(entry.found)) counts[k] = (counts[k] ?? 0) + n;
    return entry.out;
  }

  /**
   * Command lines: the value after a secret-named flag (`--password hunter2`, `--api-key …`) is a secret even
   * though nothing in it looks like one; `--flag=value` forms are caught by the text rules.
   */
  redactArgv(argv: readonly string[], counts?: RedactionCounts): string[] {
    const out = argv.map((arg) => this.redactString(arg, counts));
    if (this.profile === 'off') return out;
    for (let i = 0; i + 1 < out.length; i++) {
      const flag = /^--?([A-Za-z][\w.-]*)$/.exec(out[i]!);
      const value = out[i + 1]!;
      if (!flag || !isSecretKey(flag[1]!) || value.startsWith('-') || TAG_RE.test(value)) continue;
      out[i + 1] = this.tag('secret_field', value);
      if (counts) counts['secret_field'] = (counts['secret_field'] ?? 0) + 1;
    }
    return out;
  }

  redactValue<T>(value: T, counts?: RedactionCounts): T {
    let root: unknown = value;
    if (this.#paths.length > 0) root = this.#applyPaths(root, counts);
    if (typeof root === 'string') return this.redactString(root, counts) as T;
    if (!isContainer(root) || (this.profile === 'off' && this.#custom.length === 0)) return root as T;
    const keyRule = this.profile !== 'off';
    const seen = new Set<object>();
    // An explicit stack: snapshots of recursive agent state can nest deeper than the call stack allows.
    const stack: Array<Record<string, unknown> | unknown[]> = [root];
    const secretCtx: boolean[] = [false];
    while (stack.length > 0) {
      const obj = stack.pop()!;
      const inSecret = secretCtx.pop()!;
      if (seen.has(obj)) continue;
      seen.add(obj);
      const isArray = Array.isArray(obj);
      const keys: Array<string | number> = isArray ? Array.from(obj.keys()) : Object.keys(obj);
      for (const k of keys) {
        const v = (obj as Record<string | number, unknown>)[k];
        const secret =
          inSecret ||
          (keyRule &&
            !isArray &&
            isSecretKey(k as string) &&
            !(k === 'token' && 'logprob' in (obj as Record<string, unknown>)));
        if (typeof v === 'string') {
          if (secret) {
            if (v === '' || TAG_RE.test(v)) continue;
            setQuietly(obj, k, this.tag('secret_field', v));
            if (counts) counts['secret_field'] = (counts['secret_field'] ?? 0) + 1;
          } else {
            const r = this.redactString(v, counts);
            if (r !== v) setQuietly(obj, k, r);
          }
        } else if (isContainer(v)) {
          stack.push(v);
          secretCtx.push(secret);
        }
        // Agents build objects keyed by whatever they read, credentials included.
        if (!isArray) {
          const rk = this.redactString(k as string, counts);
          if (rk !== k) {
            const current = (obj as Record<string, unknown>)[k as string];
            delete (obj as Record<string, unknown>)[k as string];
            setQuietly(obj, rk, current);
          }
        }
      }
    }
    return root as T;
  }

  #scan(text: string, counts: RedactionCounts | undefined): CacheEntry {
    const rules = this.#prefilter?.test(text) ? this.#rules : this.#custom;
    let spans: Span[] | undefined;
    for (let prio = 0; prio < rules.length; prio++) {
      const rule = rules[prio]!;
      const re = rule.re;
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        if (m[0].length === 0) re.lastIndex++;
        let s: number;
        let e: number;
        let { kind, accept } = rule;
        if (rule.alts) {
          let i = 0;
          while (m[i + 1] === undefined) i++;
          ({ kind, accept } = rule.alts[i]!);
        }
        if (rule.locate) {
          const r = rule.locate(m, text);
          if (!r) continue;
          [s, e] = r;
          if (e > re.lastIndex) re.lastIndex = e;
        } else if (rule.group) {
          const ix = m.indices?.[rule.group];
          if (!ix) continue;
          [s, e] = ix;
        } else {
          s = m.index;
          e = s + m[0].length;
        }
        if (e > s && (!accept || accept(text.slice(s, e)))) {
          spans ??= [];
          spans.push({ s, e, kind, prio });
        }
      }
    }
    if (!spans) return { out: text, found: undefined };
    return this.#apply(text, spans, counts);
  }

  #apply(text: string, raw: Span[], counts: RedactionCounts | undefined): CacheEntry {
    let spans = raw;
    if (text.includes('[REDACTED:')) {
      // Existing tags are never re-redacted, so a second pass is a no-op; spans are cut around them.
      const tags = [...text.matchAll(TAG_G)].map((m) => [m.index, m.index + m[0].length] as const);
      spans = [];
      for (const sp of raw) {
        let pieces = [sp];
        for (const [ts, te] of tags) {
          pieces = pieces.flatMap((p) =>
            p.e <= ts || p.s >= te
              ? [p]
              : [
                  { ...p, e: ts },
                  { ...p, s: te },
                ].filter((q) => q.e > q.s),
          );
        }
        spans.push(...pieces);
      }
    }
    for (const sp of spans) {
      // Never cut a JSON escape in half: "\n" + tag would become an invalid "\[" escape.
      let b = 0;
      while (sp.s - b - 1 >= 0 && text.charCodeAt(sp.s - b - 1) === 92) b++;
      if (b % 2 === 1) sp.s += /^u[0-9a-fA-F]{4}/.test(text.slice(sp.s, sp.s + 5)) ? 5 : 1;
      b = 0;
      while (sp.e - b - 1 >= sp.s && text.charCodeAt(sp.e - b - 1) === 92) b++;
      if (b % 2 === 1) sp.e--;
    }
    spans = spans.filter((sp) => sp.e > sp.s).sort((a, b) => a.s - b.s || a.prio - b.prio);
    if (spans.length === 0) return { out: text, found: undefined };
    const found: RedactionCounts = {};
    let out = '';
    let last = 0;
    for (let i = 0; i < spans.length; ) {
      const first = spans[i]!;
      let e = first.e;
      // Overlapping findings merge into one tag so no part of either secret survives.
      for (i++; i < spans.length && spans[i]!.s < e; i++) e = Math.max(e, spans[i]!.e);
      out += text.slice(last, first.s) + this.tag(first.kind, text.slice(first.s, e));
      last = e;
      found[first.kind] = (found[first.kind] ?? 0) + 1;
    }
    out += text.slice(last);
    if (counts) for (const [k, n] of Object.entries(found)) counts[k] = (counts[k] ?? 0) + n;
    return { out, found };
  }

  #applyPaths(root: unknown, counts: RedactionCounts | undefined): unknown {
    const holder: Record<string, unknown> = { $: root };
    for (const { kind, segs } of this.#paths) {
      let nodes: Array<[Record<string, unknown> | unknown[], string | number]> = [[holder, '$']];
      for (const seg of segs) {
        const next: typeof nodes = [];
        for (const [parent, key] of nodes) {
          const start = (parent as Record<string | number, unknown>)[key];
          const scope: unknown[] = [start];
          if (seg.deep) {
            const seen = new Set<unknown>();
            for (let j = 0; j < scope.length; j++) {
              const c = scope[j];
              if (!isContainer(c) || seen.has(c)) continue;
              seen.add(c);
              for (const v of Object.values(c)) if (isContainer(v)) scope.push(v);
            }
          }
          for (const c of scope) {
            if (!isContainer(c)) continue;
            if (seg.any) for (const k of Array.isArray(c) ? c.keys() : Object.keys(c)) next.push([c, k]);
            else if (Object.hasOwn(c, seg.key))
              next.push([c, Array.isArray(c) ? Number(seg.key) : String(seg.key)]);
          }
        }
        nodes = next;
      }
      for (const [parent, key] of nodes) {
        const v = (parent as Record<string | number, unknown>)[key];
        if (v === undefined || (typeof v === 'string' && TAG_RE.test(v))) continue;
        let text: string;
        try {
          text = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
        } catch {
          text = String(v);
        }
        setQuietly(parent, key, this.tag(kind, text));
        if (counts) counts[kind] = (counts[kind] ?? 0) + 1;
      }
    }
    return holder['$'];
  }
}

/**
 * Key file format: 64 lowercase hex digits (32 random bytes) and a newline, mode 0600. The key only has to stay
 * stable so tags correlate across sessions; losing it merely breaks correlation with older sessions.
 */
export function loadOrCreateRedactionKey(file: string): Buffer {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 2000;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (fd !== undefined) {
      const key = randomBytes(32);
      try {
        writeSync(fd, key.toString('hex') + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return key;
    }
    const text = readFileSync(file, 'utf8');
    const hex = text.trim();
    if (/^[0-9a-f]{64}$/i.test(hex)) return Buffer.from(hex, 'hex');
    // A racing creator may not have written yet; anything else is damage the user must look at.
    if (!/^[0-9a-f]{0,63}$/i.test(text) || Date.now() > deadline) {
      throw new Error(
        `redaction key file ${file} is malformed: expected 64 hex digits, found ${text.length} bytes; ` +
          'delete it to create a new key (old sessions will no longer correlate)',
      );
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}

export function defaultRedactionKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env['AGENT_REPLAY_REDACTION_KEY_FILE']) return env['AGENT_REPLAY_REDACTION_KEY_FILE'];
  const xdg = env['XDG_CONFIG_HOME'];
  const base = xdg && isAbsolute(xdg) ? xdg : join(env['HOME'] || homedir(), '.config');
  return join(base, 'agent-replay', 'redaction.key');
}
