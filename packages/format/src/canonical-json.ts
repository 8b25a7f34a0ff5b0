/**
 * RFC 8785 (JSON Canonicalization Scheme) serializer that first sanitizes arbitrary JavaScript values into
 * I-JSON (RFC 7493). Every session-file record is hashed over this text, so the output must be a pure
 * function of the input value and the function must never throw: a recorder that crashes the agent because
 * the agent produced a weird value is worse than a record with a marker in it.
 *
 * Design, chosen by measurement (test/bench/canonical-json.bench.mjs: Node 20, generated OpenAI Responses
 * records of 1–20 KB, CPU time, output flattened as the writer's hashing will): a hand-written recursive
 * serializer that concatenates strings and leaves escaping of anything non-trivial to the native
 * JSON.stringify. It runs at ~0.70× the speed of plain (non-canonical) JSON.stringify overall (0.81× on
 * text-heavy, 0.56× on structure-heavy records) and 1.2× (1.06–1.37×) the `canonicalize` npm package.
 * Alternatives measured and rejected:
 * - key-sorted clean copy + one JSON.stringify: no faster (0.99–1.01× of this), and JS objects cannot hold
 *   integer-like keys in JCS order ("10" sorts before "9", but JS enumerates 9 first), nor express the
 *   bottom-up onLarge replacement or per-property error markers;
 * - JSON.stringify with a sorted property-list replacer (orders keys correctly): ~0.35×;
 * - an array of parts + join() instead of concatenation, and a JS escaper instead of JSON.stringify: slower.
 * The remaining gap to JSON.stringify is walking the graph in JS plus ~150 ns per native JSON.stringify call.
 *
 * Conversions of non-JSON values (each counted in CanonicalStats):
 * - string with lone surrogates → toWellFormed() (U+FFFD)                         `loneSurrogates`
 * - NaN / Infinity / -Infinity → "NaN" / "Infinity" / "-Infinity"                   `nonFinite`
 * - bigint → decimal string; boxed primitives → their primitive                    `converted`
 * - toJSON() (Date, URL, …) → its result, called once with no argument              `converted`
 * - Map with only string keys → object; other Maps → array of [key, value] pairs
 *   in insertion order (keeps 1 and "1" distinct)                                   `converted`
 * - Set → array in insertion order                                                  `converted`
 * - Uint8Array / Uint8ClampedArray / Int8Array / Buffer / DataView / ArrayBuffer /
 *   SharedArrayBuffer → {"$bytes": "<standard base64 with padding>"}                `converted`
 * - other typed arrays (Int16…Float64, BigInt64…) → arrays of numbers (bigints as
 *   strings, non-finite floats as above)                                            `converted`
 * - Error → {name, message, stack?, cause?, errors?, …own enumerable props}         `converted`
 * - RegExp → its source text "/re/flags"                                            `converted`
 * - array with length > 65536 whose present elements are fewer than half its
 *   length → {"length": n, "<index>": value, …}; cost is proportional to the
 *   present elements, not to length (new Array(1e9) stays cheap)                   `converted`
 * - undefined / function / symbol → member omitted, array slot null, root null      `dropped`
 * - array holes → null                                                              `dropped`
 * - object keys that collide after lone-surrogate repair → the originally
 *   well-formed key wins, else the smallest original key                            `dropped`
 * - a reference to an ancestor → "[Circular]" (shared non-cyclic references are
 *   serialized again, like JSON.stringify)                                          `cycles`
 * - a container nested deeper than maxDepth → "[MaxDepth]"                           `truncatedDepth`
 * - containers beyond a budget of 2^21 per call (exponential DAGs of shared
 *   references) → "[Unserializable: value exceeds the serializer work budget]"      `errors`
 * - throwing getter / toJSON / Proxy trap / onLarge hook, or output exceeding the
 *   engine's maximum string length → "[Unserializable: <message>]" for the
 *   smallest enclosing value (a hook failure keeps the inline text instead)         `errors`
 * Everything else (class instances, null-prototype objects, Proxies, WeakMaps, …) is serialized like
 * JSON.stringify does: own enumerable string-keyed properties; symbol keys and non-enumerable ones ignored.
 */

import { types } from 'node:util';
import { BoundedStringCache } from './bounded-cache.js';

export interface CanonicalStats {
  /** Strings (values or keys) that contained lone surrogates; each was replaced with U+FFFD via toWellFormed. */
  loneSurrogates: number;
  /** NaN/±Infinity converted to the strings "NaN", "Infinity", "-Infinity". */
  nonFinite: number;
  /** Non-JSON values converted to JSON (bigint, Map, Set, bytes, Error, toJSON results, boxed, RegExp, sparse arrays). */
  converted: number;
  /** undefined/function/symbol members removed (array slots and the root become null), holes, colliding keys. */
  dropped: number;
  /** Circular references replaced by the string "[Circular]". */
  cycles: number;
  /** Containers deeper than maxDepth replaced by the string "[MaxDepth]". */
  truncatedDepth: number;
  /** Throwing getters/toJSON/Proxy traps replaced by "[Unserializable: <message>]", and throwing onLarge hooks. */
  errors: number;
}

export function newCanonicalStats(): CanonicalStats {
  return {
    loneSurrogates: 0,
    nonFinite: 0,
    converted: 0,
    dropped: 0,
    cycles: 0,
    truncatedDepth: 0,
    errors: 0,
  };
}

export interface CanonicalOptions {
  /** Counters are incremented here. */
  stats?: CanonicalStats;
  /**
   * Maximum number of nested containers (the root container is level 1); a container that would be
   * level maxDepth + 1 is replaced by "[MaxDepth]". Default 256; clamped to [0, MAX_CANONICAL_DEPTH] so the
   * recursion can never approach the call-stack limit.
   */
  maxDepth?: number;
  /**
   * Content-addressed dedup hook. Called BOTTOM-UP (children already replaced) for every string value
   * (including the root) and every array element of any type, whose canonical JSON is >= largeThreshold
   * UTF-8 bytes. Receives that canonical JSON text; returns replacement JSON text (e.g. '{"$blob":"<hex>"}')
   * or undefined to keep it inline. Object keys are never passed. A string element of an array is offered
   * once (as a string value), not a second time as an element. The replacement is trusted to be canonical
   * JSON; if the hook throws, the inline text is kept and `errors` is incremented.
   */
  onLarge?: (json: string) => string | undefined;
  /** Default 1024. */
  largeThreshold?: number;
  /**
   * When true (the writer uses this): any object that has a "$blob" or "$lit" key is emitted wrapped as
   * {"$lit": <object>} so readers never confuse user data with a blob reference. Note the wrapping is an
   * encoding, so canonicalize(JSON.parse(out)) === out only holds without this option.
   */
  escapeReservedKeys?: boolean;
  /**
   * Memo of the JSON text of long strings (at least LONG_STRING_CACHE_MIN code units, well-formed), shared by
   * calls: a writer sees the same tool outputs again in every later model call.
   */
  stringCache?: BoundedStringCache<string>;
}

/**
 * Hard ceiling for maxDepth. Each level costs a few small stack frames; 1000 levels still succeed when the
 * caller has already used ~8000 frames of Node's default stack. (If the stack does run out anyway, the
 * overflow is caught like any other error and the affected subtree becomes a marker.)
 */
export const MAX_CANONICAL_DEPTH = 1000;
const DEFAULT_MAX_DEPTH = 256;
const DEFAULT_LARGE_THRESHOLD = 1024;
/** Arrays longer than this are checked for sparseness before being walked index by index. */
const SPARSE_CHECK_LENGTH = 65536;
/** Characters JSON must escape, plus every surrogate code unit (paired ones just take the slow path). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
/** Strings up to this length try the quick "nothing to escape" test before JSON.stringify. */
const SHORT_STRING = 256;
/** Strings at least this long go through the stringCache, when one is given. */
export const LONG_STRING_CACHE_MIN = 1024;
/** Ancestors checked by linear scan; deeper ones also go in a Set. */
const LINEAR_ANCESTORS = 32;
/**
 * Work budget per call. Shared (non-cyclic) references are serialized again, so a DAG such as
 * `for (…) x = {a: x, b: x}` has exponentially many paths; past this many containers (far above any real
 * record, and still only ~1 s of work) every further container becomes TOO_LARGE, counted in `errors`.
 */
const MAX_CONTAINERS = 1 << 21;
const TOO_LARGE = '[Unserializable: value exceeds the serializer work budget]';
const INDEX_KEY = /^(?:0|[1-9][0-9]*)$/;
/** Error messages embedded in markers are cut to this many UTF-16 code units. */
const MAX_MESSAGE_LENGTH = 1000;

// lib is ES2023 but Node >= 20 ships the ES2024 well-formed-string methods.
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

// Keys repeat heavily across agent records ("type", "role", "content", …), so their escaped form plus the
// colon is memoized, together with its UTF-8 surplus (see Serializer.extra). Bounded so attacker-controlled
// keys (UUID-keyed maps) cannot grow memory without limit.
interface KeyInfo {
  /** `{"key":` — opens an object whose first member is this key. */
  readonly open: string;
  /** `,"key":` — every later member; pre-joined to save a string concatenation per member. */
  readonly comma: string;
  /** UTF-8 surplus of the escaped key (see Serializer.extra). */
  readonly extra: number;
}
const keyCache = new Map<string, KeyInfo>();
const KEY_CACHE_LIMIT = 4096;
const KEY_CACHE_MAX_KEY_LENGTH = 128;

/** Escaped forms of a well-formed key. */
function keyInfo(key: string): KeyInfo {
  let info = keyCache.get(key);
  if (info === undefined) {
    const quoted = JSON.stringify(key) + ':';
    info = { open: '{' + quoted, comma: ',' + quoted, extra: utf8Extra(quoted) };
    if (key.length <= KEY_CACHE_MAX_KEY_LENGTH) {
      if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
      keyCache.set(key, info);
    }
  }
  return info;
}

/** UTF-8 byte length minus UTF-16 length (≥ 0: every code unit is at least one byte). */
function utf8Extra(s: string): number {
  return Buffer.byteLength(s, 'utf8') - s.length;
}

/**
 * UTF-16 code-unit order (what RFC 8785 §3.2.3 requires; JS `<` on strings compares code units). Insertion
 * sort measured 2–5× faster than Array#sort for the 3–12 keys of a typical object, and still faster at 24.
 */
function sortKeys(keys: string[]): void {
  const n = keys.length;
  if (n > 24) {
    // Default sort compares by UTF-16 code units, exactly the JCS order.
    keys.sort();
    return;
  }
  for (let i = 1; i < n; i++) {
    const k = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
}

function describeError(e: unknown): string {
  let msg: string;
  try {
    if (typeof e === 'object' && e !== null) {
      const m = (e as { message?: unknown }).message;
      msg = typeof m === 'string' ? m : String(e);
    } else {
      msg = String(e);
    }
  } catch {
    msg = 'unknown error';
  }
  if (msg.length > MAX_MESSAGE_LENGTH) {
    let end = MAX_MESSAGE_LENGTH;
    // Do not manufacture a lone surrogate by cutting a pair in half.
    const c = msg.charCodeAt(end - 1);
    if (c >= 0xd800 && c <= 0xdbff) end--;
    msg = msg.slice(0, end) + '…';
  }
  return '[Unserializable: ' + msg + ']';
}

/** The byte-oriented binary types, as a Uint8Array over the same memory; undefined for numeric typed arrays. */
function bytesOf(v: object): Uint8Array | undefined {
  if (types.isUint8Array(v) || types.isInt8Array(v) || types.isUint8ClampedArray(v) || types.isDataView(v)) {
    const view = v as ArrayBufferView;
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  }
  if (types.isAnyArrayBuffer(v)) return new Uint8Array(v as ArrayBuffer);
  return undefined;
}

const objectProto = Object.prototype;
// Builtin methods captured once so subclasses / monkey-patched instances cannot redirect them.
const mapEntries = Map.prototype.entries;
const setValues = Set.prototype.values;
const numberValueOf = Number.prototype.valueOf;
const stringValueOf = String.prototype.valueOf;
const booleanValueOf = Boolean.prototype.valueOf;
const bigintValueOf = BigInt.prototype.valueOf;
const regexpToString = RegExp.prototype.toString;

class Serializer {
  /** Set by every emission path; lets the array loop avoid offering a string to onLarge twice. */
  wasString = false;
  /**
   * Only maintained when onLarge is set: running sum of (UTF-8 bytes − UTF-16 code units) of the text emitted
   * so far. An array element's UTF-8 size is then its length plus the growth of `extra` while it was
   * serialized, which spares flattening and re-scanning the element's rope (a measured ~13% of the hook
   * path). Strings of threshold code units or more are not scanned: any element containing one is large
   * regardless, so their contribution never decides anything.
   */
  extra = 0;
  readonly large: boolean;
  /** Containers entered so far (the work budget, see MAX_CONTAINERS). */
  containers = 0;
  /** Containers currently being serialized, outermost first (cycle detection). */
  readonly ancestors: object[] = [];
  /** ancestors[LINEAR_ANCESTORS..], for O(1) cycle checks in deep trees. */
  readonly deepAncestors = new Set<object>();

  constructor(
    readonly stats: CanonicalStats,
    readonly maxDepth: number,
    readonly onLarge: ((json: string) => string | undefined) | undefined,
    readonly threshold: number,
    readonly escapeReserved: boolean,
    readonly cache: BoundedStringCache<string> | undefined,
  ) {
    this.large = onLarge !== undefined;
  }

  /**
   * Offers `json` (UTF-8 size `bytes`, or -1 when only json.length >= threshold is known) to the hook and
   * returns the text to emit. `extraBefore` is the value of `extra` before `json` was emitted; `extra` is
   * left describing whatever is returned.
   */
  offer(json: string, bytes: number, extraBefore: number): string {
    let r: string | undefined;
    try {
      r = this.onLarge!(json);
    } catch {
      this.stats.errors++;
    }
    if (typeof r === 'string') {
      this.extra = extraBefore + utf8Extra(r);
      return r;
    }
    if (bytes >= 0) this.extra = extraBefore + (bytes - json.length);
    return json;
  }

  str(s: string): string {
    let j: string;
    // JSON.stringify costs ~150 ns per call before it looks at a character, which dominates for the ids,
    // enum values and names that make up most strings. A string with nothing to escape and no surrogate
    // code units at all (hence well-formed) is simply quoted; the regex scan pays off up to a few hundred
    // characters, longer strings go straight to the native escaper.
    if (s.length <= SHORT_STRING && !NEEDS_ESCAPE.test(s)) {
      j = '"' + s + '"';
    } else if (this.cache !== undefined && s.length >= LONG_STRING_CACHE_MIN) {
      const cached = this.cache.get(s);
      if (cached !== undefined) {
        j = cached;
      } else if ((s as unknown as WellFormedString).isWellFormed()) {
        j = JSON.stringify(s);
        this.cache.set(s, j);
      } else {
        this.stats.loneSurrogates++;
        j = JSON.stringify((s as unknown as WellFormedString).toWellFormed());
      }
    } else {
      if (!(s as unknown as WellFormedString).isWellFormed()) {
        this.stats.loneSurrogates++;
        s = (s as unknown as WellFormedString).toWellFormed();
      }
      j = JSON.stringify(s);
    }
    this.wasString = true;
    if (this.large) {
      const t = this.threshold;
      // UTF-8 length is between 1× and 3× the UTF-16 length, so long strings skip the byte count.
      if (j.length >= t) {
        j = this.offer(j, -1, this.extra);
      } else {
        const bytes = Buffer.byteLength(j, 'utf8');
        if (bytes >= t) j = this.offer(j, bytes, this.extra);
        else this.extra += bytes - j.length;
      }
    }
    return j;
  }

  num(n: number): string {
    if (Number.isFinite(n)) {
      this.wasString = false;
      return '' + n; // ECMAScript Number::toString is the JCS number form; -0 → "0".
    }
    this.stats.nonFinite++;
    return this.str(n > 0 ? 'Infinity' : n < 0 ? '-Infinity' : 'NaN');
  }

  /** Canonical JSON of `v`, or undefined when it has no JSON representation (undefined/function/symbol). */
  value(v: unknown, depth: number): string | undefined {
    switch (typeof v) {
      case 'string':
        return this.str(v);
      case 'object':
        if (v === null) {
          this.wasString = false;
          return 'null';
        }
        return this.object(v, depth, true);
      case 'number':
        return this.num(v);
      case 'boolean':
        this.wasString = false;
        return v ? 'true' : 'false';
      case 'bigint':
        this.stats.converted++;
        return this.str(v.toString());
      default:
        return undefined;
    }
  }

  object(o: object, depth: number, allowToJSON: boolean): string | undefined {
    if (depth >= this.maxDepth) {
      this.stats.truncatedDepth++;
      return this.str('[MaxDepth]');
    }
    if (++this.containers > MAX_CONTAINERS) {
      this.stats.errors++;
      return this.str(TOO_LARGE);
    }
    const anc = this.ancestors;
    const height = anc.length;
    // Typical records are a handful of levels deep, where a linear scan beats any hashing; the levels
    // beyond LINEAR_ANCESTORS also live in a Set so deep-and-wide inputs stay O(objects), not O(objects·depth).
    const linear = Math.min(height, LINEAR_ANCESTORS);
    for (let i = 0; i < linear; i++) {
      if (anc[i] === o) {
        this.stats.cycles++;
        return this.str('[Circular]');
      }
    }
    if (height >= LINEAR_ANCESTORS) {
      if (this.deepAncestors.has(o)) {
        this.stats.cycles++;
        return this.str('[Circular]');
      }
      this.deepAncestors.add(o);
    }
    anc.push(o);
    const extraBefore = this.extra;
    let out: string | undefined;
    try {
      out = this.body(o, depth, allowToJSON);
    } catch (e) {
      // Unwind to our own height: the throw may have skipped inner cleanup.
      for (let i = Math.max(height, LINEAR_ANCESTORS); i < anc.length; i++)
        this.deepAncestors.delete(anc[i]!);
      anc.length = height;
      // Whatever was emitted for `o` so far is discarded, and so is its UTF-8 surplus.
      this.extra = extraBefore;
      this.stats.errors++;
      return this.str(describeError(e));
    }
    anc.pop();
    if (height >= LINEAR_ANCESTORS) this.deepAncestors.delete(o);
    return out;
  }

  body(o: object, depth: number, allowToJSON: boolean): string | undefined {
    if (allowToJSON) {
      // Bytes first: Buffer#toJSON would otherwise produce {"type":"Buffer","data":[…one number per byte…]}.
      if (ArrayBuffer.isView(o)) return this.view(o, depth);
      const toJSON = (o as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        this.stats.converted++;
        const r: unknown = toJSON.call(o);
        if (r === o) return this.body(o, depth, false);
        // `o` stays on the ancestor stack, so a toJSON result that refers back to `o` is a cycle.
        if (typeof r === 'object' && r !== null) return this.object(r, depth, false);
        return this.value(r, depth);
      }
    }
    if (Array.isArray(o)) return this.array(o, depth, true);
    const proto = Object.getPrototypeOf(o);
    if (proto !== objectProto && proto !== null) {
      const special = this.special(o, depth);
      if (special !== undefined) return special;
    }
    return this.plain(o as Record<string, unknown>, depth);
  }

  /** Non-plain objects with a dedicated conversion; undefined means "serialize own enumerable props". */
  special(o: object, depth: number): string | undefined {
    // util.types checks internal slots: cross-realm safe, never fooled by Symbol.toStringTag, and they do
    // not run Proxy traps (a Proxy of a Map is therefore serialized like any other object).
    if (types.isMap(o)) return this.map(o as Map<unknown, unknown>, depth);
    if (types.isSet(o)) {
      this.stats.converted++;
      return this.array(Array.from(setValues.call(o as Set<unknown>)), depth, false);
    }
    if (types.isNativeError(o) || o instanceof Error) return this.error(o as Error, depth);
    if (ArrayBuffer.isView(o) || types.isAnyArrayBuffer(o)) return this.view(o, depth);
    // A boxed Symbol has no JSON form; it falls through to {} like in JSON.stringify.
    if (types.isBoxedPrimitive(o) && !types.isSymbolObject(o)) {
      this.stats.converted++;
      if (types.isNumberObject(o)) return this.num(numberValueOf.call(o));
      if (types.isStringObject(o)) return this.str(stringValueOf.call(o));
      if (types.isBooleanObject(o)) return this.value(booleanValueOf.call(o), depth);
      return this.str(bigintValueOf.call(o as unknown as bigint).toString());
    }
    if (types.isRegExp(o)) {
      this.stats.converted++;
      return this.str(regexpToString.call(o));
    }
    return undefined;
  }

  view(o: object, depth: number): string {
    this.stats.converted++;
    const bytes = bytesOf(o);
    if (bytes !== undefined) {
      this.wasString = false;
      return (
        '{"$bytes":"' +
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') +
        '"}'
      );
    }
    // Numeric typed array: its elements are numbers or bigints, serialized like a plain array of them.
    return this.array(o as unknown as ArrayLike<unknown>, depth, false);
  }

  map(m: Map<unknown, unknown>, depth: number): string | undefined {
    this.stats.converted++;
    const entries = Array.from(mapEntries.call(m));
    let allStrings = true;
    for (const e of entries) {
      if (typeof e[0] !== 'string') {
        allStrings = false;
        break;
      }
    }
    if (!allStrings) return this.array(entries, depth, false);
    // A null-prototype record: "__proto__" becomes an ordinary own key instead of setting the prototype.
    const rec: Record<string, unknown> = Object.create(null);
    for (const e of entries) rec[e[0] as string] = e[1];
    return this.plain(rec, depth);
  }

  error(e: Error, depth: number): string | undefined {
    this.stats.converted++;
    const rec: Record<string, unknown> = Object.create(null);
    // Own enumerable props first (status, code, … on SDK errors); the standard fields win on collision.
    for (const k of Object.keys(e)) rec[k] = this.read(e, k);
    rec['name'] = this.read(e, 'name');
    rec['message'] = this.read(e, 'message');
    const stack = this.read(e, 'stack');
    if (typeof stack === 'string') rec['stack'] = stack;
    if ('cause' in e) rec['cause'] = this.read(e, 'cause');
    if ('errors' in e) rec['errors'] = this.read(e, 'errors');
    return this.plain(rec, depth);
  }

  /** Property read that turns a throwing getter / Proxy trap into a marker value. */
  read(o: object, k: string | number): unknown {
    try {
      return (o as Record<string | number, unknown>)[k];
    } catch (e) {
      this.stats.errors++;
      return describeError(e);
    }
  }

  array(a: ArrayLike<unknown>, depth: number, mayBeSparse: boolean): string {
    const n = a.length;
    if (n === 0) {
      this.wasString = false;
      return '[]';
    }
    if (mayBeSparse && n > SPARSE_CHECK_LENGTH) {
      const sparse = this.sparse(a, n, depth);
      if (sparse !== undefined) return sparse;
    }
    const d = depth + 1;
    const large = this.large;
    const t = this.threshold;
    let out = '[';
    for (let i = 0; i < n; i++) {
      let v: unknown;
      try {
        v = a[i];
      } catch (e) {
        this.stats.errors++;
        v = describeError(e);
      }
      const extraBefore = this.extra;
      let s = this.value(v, d);
      if (s === undefined) {
        this.stats.dropped++;
        s = 'null';
        this.wasString = false;
      }
      // Strings were already offered (once) by str(); everything else is offered here, after its children.
      if (large && !this.wasString) {
        if (s.length >= t) {
          s = this.offer(s, -1, extraBefore);
        } else {
          const bytes = s.length + (this.extra - extraBefore);
          if (bytes >= t) s = this.offer(s, bytes, extraBefore);
        }
      }
      out += i === 0 ? s : ',' + s;
    }
    this.wasString = false;
    return out + ']';
  }

  /** Returns the object form for sparse huge arrays, or undefined to walk the array normally. */
  sparse(a: ArrayLike<unknown>, n: number, depth: number): string | undefined {
    // Object.keys costs O(present elements) on dictionary-mode (sparse) arrays.
    const keys = Object.keys(a);
    if (keys.length * 2 >= n) return undefined;
    this.stats.converted++;
    const rec: Record<string, unknown> = Object.create(null);
    // Only index keys: like JSON.stringify, extra named properties of an array are not part of its JSON.
    for (const k of keys) if (INDEX_KEY.test(k) && Number(k) < n) rec[k] = this.read(a, k);
    rec['length'] = n;
    return this.plain(rec, depth);
  }

  plain(o: Record<string, unknown>, depth: number): string {
    let keys = Object.keys(o);
    const n = keys.length;
    if (n === 0) {
      this.wasString = false;
      return '{}';
    }
    if (n > 1) sortKeys(keys);
    // Resolve every key before emitting anything: a lone surrogate in any key changes the key set (repair
    // can create collisions), and restarting after values were emitted would repeat onLarge calls.
    let infos: KeyInfo[] | undefined = new Array<KeyInfo>(n);
    let values: unknown[] | undefined;
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const cached = keyCache.get(k);
      if (cached !== undefined) {
        infos[i] = cached;
      } else if ((k as unknown as WellFormedString).isWellFormed()) {
        infos[i] = keyInfo(k);
      } else {
        infos = undefined;
        break;
      }
    }
    if (infos === undefined) {
      const repaired = this.repairKeys(o, keys);
      keys = repaired.keys;
      values = repaired.values;
      infos = keys.map(keyInfo);
    }
    const d = depth + 1;
    const large = this.large;
    let out = '';
    let reserved = false;
    for (let i = 0; i < keys.length; i++) {
      let v: unknown;
      if (values !== undefined) {
        v = values[i];
      } else {
        try {
          v = o[keys[i]!];
        } catch (e) {
          this.stats.errors++;
          v = describeError(e);
        }
      }
      const s = this.value(v, d);
      if (s === undefined) {
        this.stats.dropped++;
        continue;
      }
      if (this.escapeReserved) {
        const k = keys[i]!;
        if (k === '$blob' || k === '$lit') reserved = true;
      }
      const key = infos[i]!;
      if (large) this.extra += key.extra;
      out += (out === '' ? key.open : key.comma) + s;
    }
    this.wasString = false;
    if (out === '') return '{}';
    out += '}';
    return reserved ? '{"$lit":' + out + '}' : out;
  }

  /**
   * Slow path for objects with lone surrogates in keys: repair every key, sort by (repaired, original) and
   * keep the first of any keys that collide, so the output has unique keys and does not depend on
   * insertion order.
   */
  repairKeys(o: Record<string, unknown>, keys: string[]): { keys: string[]; values: unknown[] } {
    const pairs: [string, string][] = [];
    for (const k of keys) {
      const wf = k as unknown as WellFormedString;
      if (wf.isWellFormed()) {
        pairs.push([k, k]);
      } else {
        this.stats.loneSurrogates++;
        pairs.push([wf.toWellFormed(), k]);
      }
    }
    // On a collision the key that was already well-formed wins (it is real data, the other a repair).
    pairs.sort((a, b) => {
      if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
      if (a[0] === a[1]) return -1;
      if (b[0] === b[1]) return 1;
      return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
    });
    const outKeys: string[] = [];
    const values: unknown[] = [];
    for (let i = 0; i < pairs.length; i++) {
      const [rk, ok] = pairs[i]!;
      if (i > 0 && pairs[i - 1]![0] === rk) {
        this.stats.dropped++;
        continue;
      }
      outKeys.push(rk);
      values.push(this.read(o, ok));
    }
    return { keys: outKeys, values };
  }
}

function normalizeCount(x: unknown, fallback: number, max: number): number {
  if (typeof x !== 'number' || Number.isNaN(x)) return fallback;
  return Math.min(Math.max(Math.floor(x), 0), max);
}

/** RFC 8785 canonical JSON text of `value` after I-JSON sanitization. Never throws. */
export function canonicalize(value: unknown, options?: CanonicalOptions): string {
  let stats: CanonicalStats = newCanonicalStats();
  try {
    let maxDepth = DEFAULT_MAX_DEPTH;
    let threshold = DEFAULT_LARGE_THRESHOLD;
    let onLarge: ((json: string) => string | undefined) | undefined;
    let escapeReserved = false;
    let cache: BoundedStringCache<string> | undefined;
    if (options !== undefined && options !== null) {
      if (typeof options.stats === 'object' && options.stats !== null) stats = options.stats;
      maxDepth = normalizeCount(options.maxDepth, DEFAULT_MAX_DEPTH, MAX_CANONICAL_DEPTH);
      threshold = normalizeCount(options.largeThreshold, DEFAULT_LARGE_THRESHOLD, Number.POSITIVE_INFINITY);
      if (typeof options.onLarge === 'function') onLarge = options.onLarge;
      escapeReserved = options.escapeReservedKeys === true;
      if (options.stringCache instanceof BoundedStringCache) cache = options.stringCache;
    }
    const s = new Serializer(stats, maxDepth, onLarge, threshold, escapeReserved, cache);
    const out = s.value(value, 0);
    if (out === undefined) {
      stats.dropped++;
      return 'null';
    }
    return out;
  } catch (e) {
    // Last resort (e.g. the caller was already near the stack limit, or a hostile options object).
    try {
      stats.errors++;
      return JSON.stringify((describeError(e) as unknown as WellFormedString).toWellFormed());
    } catch {
      // Out of stack even for that: a literal needs no call.
      return '"[Unserializable]"';
    }
  }
}

/**
 * true when `json` is already in canonical form (parse + re-canonicalize + compare) — used by verifiers.
 * Rejects anything JSON.parse would silently normalize: duplicate keys, lone-surrogate escapes, non-shortest
 * numbers, integers beyond 2^53, insignificant whitespace, and nesting deeper than MAX_CANONICAL_DEPTH.
 */
export function isCanonical(json: string): boolean {
  if (typeof json !== 'string') return false;
  try {
    const stats = newCanonicalStats();
    const again = canonicalize(JSON.parse(json), { stats, maxDepth: MAX_CANONICAL_DEPTH });
    return again === json && stats.truncatedDepth === 0 && stats.errors === 0;
  } catch {
    return false;
  }
}
