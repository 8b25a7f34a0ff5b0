import { createHash } from 'node:crypto';
import pkgCanonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import {
  type CanonicalOptions,
  type CanonicalStats,
  canonicalize,
  isCanonical,
  MAX_CANONICAL_DEPTH,
  newCanonicalStats,
} from '../src/canonical-json.js';
import { rng as prng } from './support.js';

// ---------------------------------------------------------------------------------------------------------
// helpers

/** Own enumerable data property, even for "__proto__" (plain assignment would set the prototype). */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function withStats(value: unknown, options: CanonicalOptions = {}): { out: string; stats: CanonicalStats } {
  const stats = newCanonicalStats();
  const out = canonicalize(value, { ...options, stats });
  return { out, stats };
}

/** Output must be JSON, canonical, and a fixed point of parse + canonicalize. */
function expectWellFormedOutput(out: string): void {
  expect(typeof out).toBe('string');
  expect(() => JSON.parse(out)).not.toThrow();
  expect(canonicalize(JSON.parse(out))).toBe(out);
  expect(isCanonical(out)).toBe(true);
  expect((out as unknown as { isWellFormed(): boolean }).isWellFormed()).toBe(true);
}

function doubleFromHex(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt('0x' + hex));
  return view.getFloat64(0);
}

// ---------------------------------------------------------------------------------------------------------

describe('API basics', () => {
  it('newCanonicalStats starts at zero', () => {
    expect(newCanonicalStats()).toEqual({
      loneSurrogates: 0,
      nonFinite: 0,
      converted: 0,
      dropped: 0,
      cycles: 0,
      truncatedDepth: 0,
      errors: 0,
    });
  });

  it('serializes primitives', () => {
    expect(canonicalize(null)).toBe('null');
    expect(canonicalize(true)).toBe('true');
    expect(canonicalize(false)).toBe('false');
    expect(canonicalize('x')).toBe('"x"');
    expect(canonicalize(1.5)).toBe('1.5');
    expect(canonicalize([])).toBe('[]');
    expect(canonicalize({})).toBe('{}');
  });

  it('accumulates stats across calls', () => {
    const stats = newCanonicalStats();
    canonicalize(Number.NaN, { stats });
    canonicalize([Number.POSITIVE_INFINITY, undefined], { stats });
    expect(stats.nonFinite).toBe(2);
    expect(stats.dropped).toBe(1);
  });
});

describe('RFC 8785 numbers', () => {
  // RFC 8785 Appendix B (IEEE-754 bit pattern → canonical text).
  const appendixB: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  it.each(appendixB)('Appendix B %s → %s', (hex, expected) => {
    expect(canonicalize(doubleFromHex(hex))).toBe(expected);
    expect(canonicalize([doubleFromHex(hex)])).toBe('[' + expected + ']');
  });

  it('Appendix B non-finite patterns become strings (I-JSON has no NaN/Infinity)', () => {
    const { out, stats } = withStats([doubleFromHex('7fffffffffffffff'), doubleFromHex('7ff0000000000000')]);
    expect(out).toBe('["NaN","Infinity"]');
    expect(stats.nonFinite).toBe(2);
  });

  it.each([
    [1e21, '1e+21'],
    [1e-7, '1e-7'],
    // Parsed from text: the literal deliberately has more digits than a double holds.
    [Number('333333333.33333329'), '333333333.3333333'],
    [-0, '0'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [9007199254740992, '9007199254740992'],
    [295147905179352830000, '295147905179352830000'],
    [1e30, '1e+30'],
    [4.5, '4.5'],
    [0.002, '0.002'],
    [1e-27, '1e-27'],
    [100, '100'],
    [-1.5e-9, '-1.5e-9'],
    [123456789012345680000, '123456789012345680000'],
  ])('%d → %s', (n, expected) => {
    expect(canonicalize(n)).toBe(expected);
  });

  it('non-finite numbers map to strings and are counted', () => {
    const { out, stats } = withStats({
      a: Number.NaN,
      b: Number.POSITIVE_INFINITY,
      c: Number.NEGATIVE_INFINITY,
    });
    expect(out).toBe('{"a":"NaN","b":"Infinity","c":"-Infinity"}');
    expect(stats.nonFinite).toBe(3);
  });

  it('random finite doubles serialize as ECMAScript Number::toString', () => {
    const rnd = prng(7);
    const view = new DataView(new ArrayBuffer(8));
    for (let i = 0; i < 5000; i++) {
      view.setUint32(0, Math.floor(rnd() * 2 ** 32));
      view.setUint32(4, Math.floor(rnd() * 2 ** 32));
      const n = view.getFloat64(0);
      if (!Number.isFinite(n)) continue;
      expect(canonicalize(n)).toBe(Object.is(n, -0) ? '0' : String(n));
    }
  });
});

describe('RFC 8785 strings', () => {
  /** RFC 8785 §3.2.2.2, written out independently of JSON.stringify. */
  function rfcEscape(unit: number): string {
    const short: Record<number, string> = {
      8: '\\b',
      9: '\\t',
      10: '\\n',
      12: '\\f',
      13: '\\r',
      34: '\\"',
      92: '\\\\',
    };
    const s = short[unit];
    if (s !== undefined) return s;
    if (unit < 0x20) return '\\u' + unit.toString(16).padStart(4, '0');
    return String.fromCharCode(unit);
  }

  it('escapes every non-surrogate BMP code unit exactly as §3.2.2.2', () => {
    const mismatches: number[] = [];
    for (let u = 0; u <= 0xffff; u++) {
      if (u >= 0xd800 && u <= 0xdfff) continue;
      const c = String.fromCharCode(u);
      // Each unit alone, and inside a longer string (exercises both the quick path and JSON.stringify).
      if (canonicalize(c) !== '"' + rfcEscape(u) + '"') mismatches.push(u);
      if (canonicalize('a' + c + 'b'.repeat(300)) !== '"a' + rfcEscape(u) + 'b'.repeat(300) + '"')
        mismatches.push(u);
    }
    expect(mismatches).toEqual([]);
  });

  it('keeps surrogate pairs, /, DEL, U+2028/2029 literal and hex lowercase', () => {
    expect(canonicalize('\ud83d\ude00/\u007f\u2028\u2029\u001f')).toBe(
      '"\ud83d\ude00/\u007f\u2028\u2029\\u001f"',
    );
  });

  it('replaces lone surrogates with U+FFFD and counts strings', () => {
    const { out, stats } = withStats([
      '\ud800',
      'a\udc00b',
      '\ude00\ud83d',
      'ok\ud83d\ude00',
      'x'.repeat(500) + '\udbff',
    ]);
    expect(out).toBe('["\ufffd","a\ufffdb","\ufffd\ufffd","ok\ud83d\ude00","' + 'x'.repeat(500) + '\ufffd"]');
    expect(stats.loneSurrogates).toBe(4);
  });

  it('cyberphone values.json', () => {
    const input =
      '{\n  "numbers": [1E30, 4.50, 333333333.33333329, 2e-3, 0.000000000000000000000000001],\n' +
      '  "escaping": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n' +
      '  "literals": [null, true, false]\n}';
    expect(canonicalize(JSON.parse(input))).toBe(
      '{"escaping":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/","literals":[null,true,false],' +
        '"numbers":[1e+30,4.5,333333333.3333333,0.002,1e-27]}',
    );
  });

  it('cyberphone unicode.json (no normalization)', () => {
    expect(canonicalize(JSON.parse('{"Unnormalized Unicode":"\\u1e0d\\u0307"}'))).toBe(
      '{"Unnormalized Unicode":"\u1e0d\u0307"}',
    );
  });
});

describe('RFC 8785 key sorting', () => {
  it('§3.2.3 sorting example', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(canonicalize(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('cyberphone weird.json', () => {
    const input =
      '{"\\u20ac":"Euro Sign","1":"One","\\u0080":"Control\\u007f","\\ud83d\\ude02":"Smiley",' +
      '"\\u00f6":"Latin Small Letter O With Diaeresis","\\ufb33":"Hebrew Letter Dalet With Dagesh",' +
      '"</script>":"Browser Challenge"}';
    expect(canonicalize(JSON.parse(input))).toBe(
      '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f",' +
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude02":"Smiley",' +
        '"\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('cyberphone structures.json, arrays.json and french.json', () => {
    expect(
      canonicalize(
        JSON.parse('{"1":{"f":{"f":"hi","F":5},"\\n":56.0},"10":{},"":"empty","a":{},"111":[{}],"A":{}}'),
      ),
    ).toBe('{"":"empty","1":{"\\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}}');
    expect(canonicalize(JSON.parse('[56,{"d":true,"10":null,"1":[]}]'))).toBe(
      '[56,{"1":[],"10":null,"d":true}]',
    );
    const french = {
      peach: 'This sorting order',
      péché: 'is wrong according to French',
      pêche: 'but canonicalization MUST',
      sin: 'ingnore locale',
    };
    expect(canonicalize(french)).toBe(
      '{"peach":"This sorting order","péché":"is wrong according to French",' +
        '"pêche":"but canonicalization MUST","sin":"ingnore locale"}',
    );
  });

  it('sorts integer-like keys by code units, not numerically as JS enumerates them', () => {
    const o = JSON.parse(
      '{"9":0,"10":1,"1":2,"a":3,"-1":4,"01":5,"":6,"1.5":7,"4294967295":8,"4294967294":9,"2":10,"100":11}',
    );
    expect(Object.keys(o).slice(0, 3)).toEqual(['1', '2', '9']); // JS order: array indices first, numerically
    expect(canonicalize(o)).toBe(
      '{"":6,"-1":4,"01":5,"1":2,"1.5":7,"10":1,"100":11,"2":10,"4294967294":9,"4294967295":8,"9":0,"a":3}',
    );
  });

  it('sorts non-BMP keys by their UTF-16 surrogate code units, not by code point', () => {
    // U+1F600 is D83D DE00 in UTF-16, which sorts before U+E000 and U+FFFD although its code point is larger.
    expect(canonicalize({ '\ufffd': 1, '\ue000': 2, '\ud83d\ude00': 3, '\ud7ff': 4 })).toBe(
      '{"\ud7ff":4,"\ud83d\ude00":3,"\ue000":2,"\ufffd":1}',
    );
  });

  it('sorts large objects (beyond the insertion-sort cutoff) correctly', () => {
    const rnd = prng(3);
    const o: Record<string, number> = {};
    for (let i = 0; i < 300; i++)
      o[Math.floor(rnd() * 1e6).toString(36) + (i % 7 === 0 ? String(i) : '')] = i;
    const keys = Object.keys(o).sort();
    expect(canonicalize(o)).toBe('{' + keys.map((k) => JSON.stringify(k) + ':' + o[k]).join(',') + '}');
  });
});

describe('hostile inputs never throw', () => {
  class Plain {
    a = 1;
    #secret = 2;
    get viaPrototype(): number {
      return this.#secret;
    }
  }
  const cyclic: Record<string, unknown> = { name: 'root' };
  cyclic['self'] = cyclic;
  cyclic['child'] = { back: cyclic, list: [cyclic] };
  const cyclicArray: unknown[] = [1];
  cyclicArray.push(cyclicArray);
  const shared = { x: 1 };
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  let deep: unknown = 'leaf';
  for (let i = 0; i < 100_000; i++) deep = [deep];
  let deepObj: unknown = {};
  for (let i = 0; i < 100_000; i++) deepObj = { d: deepObj };
  const sparse: unknown[] = [];
  sparse[999_999_999] = 'last';
  sparse[5] = 'five';
  const throwsObject = {
    toString() {
      throw new Error('no toString either');
    },
  };

  const cases: [string, () => unknown][] = [
    ['undefined', () => undefined],
    ['function', () => () => 1],
    ['symbol', () => Symbol('s')],
    ['NaN', () => Number.NaN],
    ['bigint', () => 2n ** 64n],
    ['negative bigint', () => -(10n ** 30n)],
    ['cyclic object', () => cyclic],
    ['cyclic array', () => cyclicArray],
    ['shared references', () => ({ a: shared, b: shared, c: [shared, shared] })],
    ['valid and invalid Date', () => [new Date(0), new Date(Number.NaN)]],
    [
      'Map',
      () =>
        new Map<unknown, unknown>([
          ['b', 1],
          ['a', new Map([['__proto__', 2]])],
        ]),
    ],
    [
      'Map with non-string keys',
      () =>
        new Map<unknown, unknown>([
          [1, 'n'],
          ['1', 's'],
          [{ k: 1 }, 'o'],
          [null, 0],
        ]),
    ],
    ['Set', () => new Set([1, 'a', { b: 2 }])],
    ['Buffer', () => Buffer.from('hello')],
    ['Uint8Array view with offset', () => new Uint8Array([1, 2, 3, 4, 5]).subarray(1, 3)],
    [
      'ArrayBuffer, DataView, SharedArrayBuffer',
      () => [new ArrayBuffer(3), new DataView(new ArrayBuffer(2)), new SharedArrayBuffer(1)],
    ],
    [
      'numeric typed arrays',
      () => [new Float64Array([1.5, Number.NaN, -0]), new Int16Array([-1, 2]), new BigInt64Array([-5n])],
    ],
    ['class instance', () => new Plain()],
    [
      'Error',
      () => Object.assign(new TypeError('bad', { cause: new Error('root cause') }), { code: 'E_BAD' }),
    ],
    ['AggregateError', () => new AggregateError([new Error('one')], 'many')],
    [
      'throwing getter',
      () => ({
        ok: 1,
        get bad() {
          throw new Error('getter exploded');
        },
      }),
    ],
    [
      'throwing toJSON',
      () => ({
        toJSON() {
          throw new Error('toJSON exploded');
        },
      }),
    ],
    [
      'toJSON returning undefined',
      () => ({ a: { toJSON: () => undefined }, b: [{ toJSON: () => undefined }] }),
    ],
    [
      'toJSON returning this',
      () => ({
        v: 1,
        toJSON() {
          return this;
        },
      }),
    ],
    [
      'toJSON returning a wrapper around this',
      () => ({
        v: 1,
        toJSON() {
          return { inner: this };
        },
      }),
    ],
    [
      'throw a non-Error',
      () => ({
        get x() {
          throw Symbol('thrown symbol');
        },
      }),
    ],
    [
      'throw an object with a throwing toString',
      () => ({
        get x() {
          throw throwsObject;
        },
      }),
    ],
    [
      'proxy with throwing ownKeys',
      () =>
        new Proxy(
          {},
          {
            ownKeys() {
              throw new Error('ownKeys');
            },
          },
        ),
    ],
    [
      'proxy with throwing get',
      () =>
        new Proxy(
          { a: 1 },
          {
            get() {
              throw new Error('get trap');
            },
          },
        ),
    ],
    [
      'proxy with throwing getPrototypeOf',
      () =>
        new Proxy(
          { a: 1 },
          {
            getPrototypeOf() {
              throw new Error('proto trap');
            },
          },
        ),
    ],
    ['revoked proxy', () => ({ p: revoked.proxy, list: [revoked.proxy] })],
    ['proxy of array', () => new Proxy([1, 2, 3], {})],
    ['__proto__ own key', () => JSON.parse('{"__proto__":{"polluted":true},"a":1}')],
    ['null prototype', () => Object.assign(Object.create(null), { b: 1, a: 2 })],
    [
      'holes',
      () => {
        const a: unknown[] = [1];
        a[2] = 3;
        return a;
      },
    ],
    ['sparse huge array', () => sparse],
    [
      'symbol keys and non-enumerable props',
      () => Object.defineProperty({ [Symbol('k')]: 1, a: 1 }, 'hidden', { value: 2 }),
    ],
    ['very deep array', () => deep],
    ['very deep object', () => deepObj],
    [
      'boxed primitives',
      () => [new Number(1), new String('s'), new Boolean(false), Object(5n), Object(Symbol('x'))],
    ],
    ['RegExp', () => /a+b/giu],
    ['WeakMap, Promise, WeakRef', () => [new WeakMap(), Promise.resolve(1), new WeakRef({})]],
    ['lone surrogate keys that collide after repair', () => ({ '\ud800': 1, '\ufffd': 2, '\udc00': 3 })],
    ['huge string', () => 'x\n'.repeat(10_000_000)],
    ['globalThis-like object', () => ({ process: process.versions, g: globalThis.constructor })],
  ];

  it.each(cases)('%s', (_name, make) => {
    const value = make();
    let out = '';
    expect(() => {
      out = canonicalize(value);
    }).not.toThrow();
    expectWellFormedOutput(out);
    // Deterministic: the same input gives the same text.
    expect(canonicalize(value)).toBe(out);
  });

  it('root undefined/function/symbol become null and are counted as dropped', () => {
    for (const v of [undefined, () => 1, Symbol('s')]) {
      const { out, stats } = withStats(v);
      expect(out).toBe('null');
      expect(stats.dropped).toBe(1);
    }
  });

  it('drops undefined/function/symbol members and nulls them in arrays, like JSON.stringify', () => {
    const value = { a: undefined, b: () => 1, c: Symbol('c'), d: 1, e: [undefined, () => 1, Symbol('e'), 2] };
    const { out, stats } = withStats(value);
    expect(out).toBe('{"d":1,"e":[null,null,null,2]}');
    expect(out).toBe(JSON.stringify(value));
    expect(stats.dropped).toBe(6);
  });

  it('holes become null', () => {
    // biome-ignore lint/suspicious/noSparseArray: a hole is the point
    const { out, stats } = withStats([1, , 3, ,]);
    expect(out).toBe('[1,null,3,null]');
    expect(stats.dropped).toBe(2);
  });

  it('converts bigint to a decimal string', () => {
    const { out, stats } = withStats({ n: 2n ** 64n, m: -7n });
    expect(out).toBe('{"m":"-7","n":"18446744073709551616"}');
    expect(stats.converted).toBe(2);
  });

  it('replaces cycles with "[Circular]" but serializes shared references twice', () => {
    const { out, stats } = withStats(cyclic);
    expect(out).toBe(
      '{"child":{"back":"[Circular]","list":["[Circular]"]},"name":"root","self":"[Circular]"}',
    );
    expect(stats.cycles).toBe(3);
    expect(canonicalize(cyclicArray)).toBe('[1,"[Circular]"]');
    expect(canonicalize({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });

  it('toJSON: called once, result serialized, cycles through toJSON detected', () => {
    expect(canonicalize({ d: new Date(Date.UTC(2024, 0, 2)) })).toBe('{"d":"2024-01-02T00:00:00.000Z"}');
    expect(canonicalize(new Date(Number.NaN))).toBe('null');
    expect(
      canonicalize({
        v: 1,
        toJSON() {
          return this;
        },
      }),
    ).toBe('{"v":1}');
    const wrap = {
      v: 1,
      toJSON() {
        return { inner: this };
      },
    };
    expect(canonicalize(wrap)).toBe('{"inner":"[Circular]"}');
    // JSON.stringify calls toJSON once per value; a toJSON result's own toJSON is not called again.
    const twice = { toJSON: () => ({ toJSON: () => 'second', x: 1 }) };
    expect(canonicalize(twice)).toBe('{"x":1}');
    expect(canonicalize({ a: { toJSON: () => undefined }, b: 1 })).toBe('{"b":1}');
  });

  it('Map, Set, bytes and typed arrays', () => {
    const { out, stats } = withStats({
      map: new Map<unknown, unknown>([
        ['b', 1],
        ['a', 2],
        ['__proto__', 3],
      ]),
      mixed: new Map<unknown, unknown>([
        [1, 'n'],
        ['1', 's'],
      ]),
      set: new Set(['x', 'y']),
      buf: Buffer.from([0, 255, 16]),
      view: new Uint8Array([9, 1, 2, 3]).subarray(1, 3),
      ab: new Uint8Array([1, 2]).buffer,
      f64: new Float64Array([0.5, Number.NaN]),
      big: new BigUint64Array([2n ** 64n - 1n]),
    });
    expect(out).toBe(
      '{"ab":{"$bytes":"AQI="},"big":["18446744073709551615"],"buf":{"$bytes":"AP8Q"},"f64":[0.5,"NaN"],' +
        '"map":{"__proto__":3,"a":2,"b":1},"mixed":[[1,"n"],["1","s"]],"set":["x","y"],"view":{"$bytes":"AQI="}}',
    );
    expect(stats.converted).toBe(9); // 8 containers + 1 bigint element
    expect(stats.nonFinite).toBe(1);
  });

  it('Error becomes {name, message, stack?, cause?, own enumerable props}', () => {
    const err = Object.assign(new TypeError('bad thing', { cause: 'why' }), { code: 'E_BAD' });
    const parsed = JSON.parse(canonicalize(err));
    expect(parsed).toMatchObject({ name: 'TypeError', message: 'bad thing', cause: 'why', code: 'E_BAD' });
    expect(typeof parsed.stack).toBe('string');
    const noStack = new Error('x');
    noStack.stack = undefined;
    expect(canonicalize(noStack)).toBe('{"message":"x","name":"Error"}');
  });

  it('throwing getters, toJSON and proxy traps become markers for the smallest enclosing value', () => {
    const { out, stats } = withStats({
      a: {
        ok: 1,
        get bad() {
          throw new Error('getter exploded');
        },
      },
      b: {
        toJSON() {
          throw new RangeError('toJSON exploded');
        },
      },
      c: new Proxy(
        {},
        {
          ownKeys: () => {
            throw new Error('ownKeys');
          },
        },
      ),
      d: [revoked.proxy],
    });
    expect(out).toBe(
      '{"a":{"bad":"[Unserializable: getter exploded]","ok":1},"b":"[Unserializable: toJSON exploded]",' +
        '"c":"[Unserializable: ownKeys]","d":["[Unserializable: Cannot perform \'get\' on a proxy that has been revoked]"]}',
    );
    expect(stats.errors).toBe(4);
  });

  it('markers survive hostile thrown values', () => {
    expect(
      canonicalize({
        get x() {
          throw Symbol('s');
        },
      }),
    ).toBe('{"x":"[Unserializable: Symbol(s)]"}');
    expect(
      canonicalize({
        get x() {
          throw throwsObject;
        },
      }),
    ).toBe('{"x":"[Unserializable: unknown error]"}');
    expect(
      canonicalize({
        get x() {
          throw new Error('\ud800');
        },
      }),
    ).toBe('{"x":"[Unserializable: \ufffd]"}');
    const long = canonicalize({
      get x() {
        throw new Error('y'.repeat(5000));
      },
    });
    expect(long.length).toBeLessThan(1100);
  });

  it('objects with a null prototype, __proto__ keys, symbol keys and non-enumerable props', () => {
    expect(canonicalize(Object.assign(Object.create(null), { b: 1, a: 2 }))).toBe('{"a":2,"b":1}');
    expect(canonicalize(JSON.parse('{"__proto__":{"x":1},"a":1}'))).toBe('{"__proto__":{"x":1},"a":1}');
    const o = Object.defineProperty({ [Symbol('k')]: 1, a: 1 }, 'hidden', { value: 2, enumerable: false });
    expect(canonicalize(o)).toBe('{"a":1}');
    expect(canonicalize(new Plain())).toBe('{"a":1}');
  });

  it('boxed primitives and RegExp', () => {
    expect(canonicalize([new Number(1.5), new String('s'), new Boolean(false), Object(5n), /a+/g])).toBe(
      '[1.5,"s",false,"5","/a+/g"]',
    );
  });

  it('lone-surrogate keys are repaired; on collision the originally well-formed key wins', () => {
    const { out, stats } = withStats({ '\ud800': 1, '\ufffd': 2, '\udc00': 3, b: 4 });
    expect(out).toBe('{"b":4,"\ufffd":2}');
    expect(stats.loneSurrogates).toBe(2);
    expect(stats.dropped).toBe(2);
    expect(canonicalize({ '\udc00': 3, '\ud800': 1 })).toBe('{"\ufffd":1}');
  });

  it('sparse huge arrays become {"length": n, "<index>": value} quickly', () => {
    const start = Date.now();
    const { out, stats } = withStats({ s: sparse });
    expect(Date.now() - start).toBeLessThan(1000);
    expect(out).toBe('{"s":{"5":"five","999999999":"last","length":1000000000}}');
    expect(stats.converted).toBe(1);
    // Dense-enough or short arrays keep the array form (holes → null).
    const half: unknown[] = new Array(70_000);
    for (let i = 0; i < 35_000; i++) half[i * 2] = i;
    expect(canonicalize(half).startsWith('[0,null,1,null')).toBe(true);
    expect(canonicalize(new Array(10))).toBe('[' + Array(10).fill('null').join(',') + ']');
  });

  it('caps depth with "[MaxDepth]" (default 256) without touching the call stack', () => {
    const { out, stats } = withStats(deep);
    expect(out).toBe('['.repeat(256) + '"[MaxDepth]"' + ']'.repeat(256));
    expect(stats.truncatedDepth).toBe(1);
    const obj = withStats(deepObj, { maxDepth: 2 });
    expect(obj.out).toBe('{"d":{"d":"[MaxDepth]"}}');
    expect(canonicalize({ a: 1 }, { maxDepth: 0 })).toBe('"[MaxDepth]"');
    expect(canonicalize('primitive', { maxDepth: 0 })).toBe('"primitive"');
    expect(canonicalize([[1]], { maxDepth: 2 })).toBe('[[1]]');
    // Out-of-range options are clamped / defaulted rather than trusted.
    expect(canonicalize(deep, { maxDepth: Number.POSITIVE_INFINITY })).toBe(
      '['.repeat(MAX_CANONICAL_DEPTH) + '"[MaxDepth]"' + ']'.repeat(MAX_CANONICAL_DEPTH),
    );
    expect(canonicalize(deep, { maxDepth: Number.NaN })).toBe(out);
    expect(canonicalize([1], { maxDepth: -5 })).toBe('"[MaxDepth]"');
  });

  it('never throws even when called with little stack left', () => {
    let value: unknown = 'x';
    for (let i = 0; i < 300; i++) value = { k: value, t: { toJSON: () => 1 }, a: [i] };
    let threw = 0;
    let calls = 0;
    const recurse = (n: number): void => {
      if (n > 0) {
        recurse(n - 1);
        return;
      }
      calls++;
      try {
        JSON.parse(canonicalize(value, { maxDepth: MAX_CANONICAL_DEPTH }));
      } catch {
        threw++;
      }
    };
    for (let n = 0; n < 20_000; n += 97) {
      try {
        recurse(n);
      } catch {
        // RangeError from our own recursion above, not from canonicalize
      }
    }
    expect(calls).toBeGreaterThan(10);
    expect(threw).toBe(0);
  });

  it('bounds the work on exponential DAGs of shared references', { timeout: 60_000 }, () => {
    let dag: unknown = {};
    for (let i = 0; i < 64; i++) dag = { a: dag, b: [dag] };
    const { out, stats } = withStats(dag);
    expect(stats.errors).toBeGreaterThan(0);
    expect(out).toContain('[Unserializable: value exceeds the serializer work budget]');
    expect(() => JSON.parse(out)).not.toThrow();
  });

  it('survives hostile options', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('options trap');
        },
      },
    ) as CanonicalOptions;
    expect(canonicalize({ a: 1 }, hostile)).toBe('"[Unserializable: options trap]"');
    expect(canonicalize({ a: 1 }, null as unknown as CanonicalOptions)).toBe('{"a":1}');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Random JSON values

const KEY_POOL = [
  '',
  'a',
  'b',
  'A',
  'type',
  'id',
  'role',
  'content',
  '0',
  '1',
  '2',
  '9',
  '10',
  '11',
  '100',
  '007',
  '-1',
  '1.5',
  '4294967294',
  '4294967295',
  '__proto__',
  'constructor',
  'toString',
  '$blob',
  '$lit',
  'é',
  '\u20ac',
  '\ufb33',
  '\ud83d\ude00',
  '\u0080',
  '\r',
  '\n',
  '"',
  '\\',
  ' ',
  '\u2028',
];

function randomString(rnd: () => number, maxLen: number): string {
  const len = Math.floor(rnd() * rnd() * maxLen);
  let s = '';
  for (let i = 0; i < len; i++) {
    const r = rnd();
    if (r < 0.6) s += String.fromCharCode(0x20 + Math.floor(rnd() * 95));
    else if (r < 0.7) s += String.fromCharCode(Math.floor(rnd() * 0x20));
    else if (r < 0.75) s += rnd() < 0.5 ? '"' : '\\';
    else if (r < 0.85) s += String.fromCharCode(0x80 + Math.floor(rnd() * 0x780));
    else if (r < 0.95) {
      const u = 0x800 + Math.floor(rnd() * (0xfffe - 0x800));
      s += String.fromCharCode(u >= 0xd800 && u <= 0xdfff ? u + 0x800 : u);
    } else s += String.fromCodePoint(0x10000 + Math.floor(rnd() * 0xfffff));
  }
  return s;
}

function randomNumber(rnd: () => number): number {
  const r = rnd();
  if (r < 0.3) return Math.floor(rnd() * 2000) - 1000;
  if (r < 0.5) return (rnd() - 0.5) * 10 ** Math.floor(rnd() * 40 - 20);
  if (r < 0.55) return -0;
  if (r < 0.6) return Number.MAX_SAFE_INTEGER - Math.floor(rnd() * 10);
  const view = new DataView(new ArrayBuffer(8));
  view.setUint32(0, Math.floor(rnd() * 2 ** 32));
  view.setUint32(4, Math.floor(rnd() * 2 ** 32));
  const n = view.getFloat64(0);
  return Number.isFinite(n) ? n : 0;
}

function randomJson(rnd: () => number, depth: number, maxString = 40): unknown {
  const r = rnd();
  if (depth <= 0 || r < 0.45) {
    const p = rnd();
    if (p < 0.35) return randomString(rnd, maxString);
    if (p < 0.75) return randomNumber(rnd);
    if (p < 0.9) return rnd() < 0.5;
    return null;
  }
  if (r < 0.7) {
    const n = Math.floor(rnd() * 6);
    return Array.from({ length: n }, () => randomJson(rnd, depth - 1, maxString));
  }
  const o: Record<string, unknown> = {};
  const n = Math.floor(rnd() * 8);
  for (let i = 0; i < n; i++) {
    const k = rnd() < 0.6 ? KEY_POOL[Math.floor(rnd() * KEY_POOL.length)]! : randomString(rnd, 12);
    put(o, k, randomJson(rnd, depth - 1, maxString));
  }
  return o;
}

/** Adds non-JSON values to a random JSON tree. */
function randomHostile(rnd: () => number, depth: number): unknown {
  const r = rnd();
  if (r < 0.08) {
    const pick = Math.floor(rnd() * 12);
    switch (pick) {
      case 0:
        return undefined;
      case 1:
        return Number.NaN;
      case 2:
        return BigInt(Math.floor(rnd() * 1e9)) * 10n ** 20n;
      case 3:
        return '\ud800' + randomString(rnd, 10);
      case 4:
        return () => 0;
      case 5:
        return new Map([[randomString(rnd, 5), randomHostile(rnd, depth - 1)]]);
      case 6:
        return new Set([randomHostile(rnd, depth - 1)]);
      case 7:
        return new Date(Math.floor(rnd() * 2e12));
      case 8:
        return Buffer.from(randomString(rnd, 20));
      case 9:
        return new Error(randomString(rnd, 10));
      case 10:
        return {
          get boom(): never {
            throw new Error('boom');
          },
        };
      default:
        return Number.NEGATIVE_INFINITY;
    }
  }
  if (depth <= 0 || r < 0.45) return randomJson(rnd, 0);
  if (r < 0.7) return Array.from({ length: Math.floor(rnd() * 5) }, () => randomHostile(rnd, depth - 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rnd() * 6); i > 0; i--) {
    put(
      o,
      rnd() < 0.6 ? KEY_POOL[Math.floor(rnd() * KEY_POOL.length)]! : randomString(rnd, 8),
      randomHostile(rnd, depth - 1),
    );
  }
  return o;
}

describe('property tests', () => {
  it('matches the canonicalize npm package on 4000 random JSON values', () => {
    const rnd = prng(20240601);
    let compared = 0;
    for (let i = 0; i < 4000; i++) {
      const v = randomJson(rnd, 6);
      const ours = canonicalize(v);
      expect(ours).toBe(pkgCanonicalize(v));
      // JSON round trip and canonical form are stable.
      expect(canonicalize(JSON.parse(ours))).toBe(ours);
      expect(isCanonical(ours)).toBe(true);
      compared++;
    }
    expect(compared).toBe(4000);
  });

  it('matches the npm package on long strings (native escaping path)', () => {
    const rnd = prng(99);
    for (let i = 0; i < 300; i++) {
      const v = { text: randomString(rnd, 5000), list: [randomString(rnd, 2000)] };
      expect(canonicalize(v)).toBe(pkgCanonicalize(v));
    }
  });

  it('never throws on 2000 random hostile values and the output is stable, canonical JSON', () => {
    const rnd = prng(4242);
    for (let i = 0; i < 2000; i++) {
      const v = randomHostile(rnd, 6);
      const out = canonicalize(v);
      expectWellFormedOutput(out);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// onLarge

/** Straightforward bottom-up reference for plain JSON values: canonical text + hook, exact UTF-8 sizes. */
function reference(v: unknown, t: number, hook: (json: string) => string | undefined): string {
  const offer = (json: string): string => (Buffer.byteLength(json) >= t ? (hook(json) ?? json) : json);
  if (typeof v === 'string') return offer(JSON.stringify(v));
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) {
    return (
      '[' +
      v.map((e) => (typeof e === 'string' ? reference(e, t, hook) : offer(reference(e, t, hook)))).join(',') +
      ']'
    );
  }
  const o = v as Record<string, unknown>;
  return (
    '{' +
    Object.keys(o)
      .sort()
      .map((k) => JSON.stringify(k) + ':' + reference(o[k], t, hook))
      .join(',') +
    '}'
  );
}

describe('onLarge', () => {
  const blob = (json: string): string =>
    '{"$blob":"' + createHash('sha256').update(json).digest('hex') + '"}';

  it('is called bottom-up with exact canonical text and its replacement is used', () => {
    const value = {
      s: 'D'.repeat(1100),
      list: ['A'.repeat(1100), { text: 'B'.repeat(1100), n: 1 }, ['C'.repeat(1100)], 42, 'short'],
      obj: { nested: 'E'.repeat(1100) },
    };
    const calls: string[] = [];
    const out = canonicalize(value, {
      onLarge: (json) => {
        calls.push(json);
        return json.startsWith('"') ? '{"$blob":"' + json[1] + '"}' : undefined;
      },
    });
    expect(calls).toEqual([
      '"' + 'A'.repeat(1100) + '"',
      '"' + 'B'.repeat(1100) + '"',
      '"' + 'C'.repeat(1100) + '"',
      '"' + 'E'.repeat(1100) + '"',
      '"' + 'D'.repeat(1100) + '"',
    ]);
    expect(out).toBe(
      '{"list":[{"$blob":"A"},{"n":1,"text":{"$blob":"B"}},[{"$blob":"C"}],42,"short"],' +
        '"obj":{"nested":{"$blob":"E"}},"s":{"$blob":"D"}}',
    );
  });

  it('offers array elements after their children, and each string only once', () => {
    const value = ['A'.repeat(1100), { text: 'B'.repeat(1100), n: 1 }, ['C'.repeat(1100)]];
    const calls: string[] = [];
    const out = canonicalize(value, { onLarge: (json) => void calls.push(json) });
    const b = '"' + 'B'.repeat(1100) + '"';
    const c = '"' + 'C'.repeat(1100) + '"';
    expect(calls).toEqual(['"' + 'A'.repeat(1100) + '"', b, '{"n":1,"text":' + b + '}', c, '[' + c + ']']);
    expect(out).toBe(canonicalize(value));
  });

  it('uses UTF-8 byte length, exactly at the threshold', () => {
    const sizes: number[] = [];
    const opts: CanonicalOptions = {
      largeThreshold: 1024,
      onLarge: (j) => void sizes.push(Buffer.byteLength(j)),
    };
    canonicalize('a'.repeat(1021), opts); // 1023 bytes: kept
    canonicalize('a'.repeat(1022), opts); // 1024 bytes
    canonicalize('\u20ac'.repeat(340) + 'a', opts); // 2 + 1020 + 1 = 1023: kept
    canonicalize('\u20ac'.repeat(340) + 'aa', opts); // 1024, although only 342 UTF-16 units
    canonicalize('\ud83d\ude00'.repeat(255) + 'ab', opts); // 2 + 1020 + 2 = 1024
    // Array elements: {"k":"…"} is 8 bytes of syntax + 600 for 300 × 'é' + n × 'x'.
    canonicalize([{ k: 'é'.repeat(300) + 'x'.repeat(415) }], opts); // 1023: kept
    canonicalize([{ k: 'é'.repeat(300) + 'x'.repeat(416) }], opts); // 1024
    expect(sizes).toEqual([1024, 1024, 1024, 1024]);
  });

  it('element sizes count multibyte keys and strings, and replacements', () => {
    const t = 64;
    // 'é' keys and values: UTF-16 length is well below t, UTF-8 length crosses it.
    const element = { éé: 'é'.repeat(20), ab: 'ü'.repeat(5) };
    const json = canonicalize(element);
    expect(json.length).toBeLessThan(t);
    expect(Buffer.byteLength(json)).toBeGreaterThanOrEqual(t);
    const calls: string[] = [];
    canonicalize([element], { largeThreshold: t, onLarge: (j) => void calls.push(j) });
    expect(calls).toEqual([json]);
    // A nested replacement shrinks the element below the threshold.
    const calls2: string[] = [];
    const out = canonicalize([{ big: 'ö'.repeat(40), x: 1 }], {
      largeThreshold: t,
      onLarge: (j) => {
        calls2.push(j);
        return j.startsWith('"') ? '{"$blob":"1"}' : undefined;
      },
    });
    expect(calls2).toEqual(['"' + 'ö'.repeat(40) + '"']);
    expect(out).toBe('[{"big":{"$blob":"1"},"x":1}]');
  });

  it('matches a naive bottom-up reference on 3000 random values and thresholds', () => {
    const rnd = prng(777);
    for (let i = 0; i < 3000; i++) {
      const v = randomJson(rnd, 5, 60);
      const t = [0, 1, 5, 16, 40, 100, 300, 1024][Math.floor(rnd() * 8)]!;
      // Replace about half of the offered texts, deterministically by content.
      const hook = (j: string): string | undefined => (j.length % 2 === 0 ? blob(j) : undefined);
      const ourCalls: string[] = [];
      const refCalls: string[] = [];
      const ours = canonicalize(v, {
        largeThreshold: t,
        onLarge: (j) => {
          ourCalls.push(j);
          return hook(j);
        },
      });
      const ref = reference(v, t, (j) => {
        refCalls.push(j);
        return hook(j);
      });
      expect(ours).toBe(ref);
      expect(ourCalls).toEqual(refCalls);
    }
  });

  it('root strings are offered; root containers and object keys are not', () => {
    const calls: string[] = [];
    const onLarge = (j: string): undefined => void calls.push(j);
    canonicalize('x'.repeat(2000), { onLarge });
    canonicalize({ ['k'.repeat(2000)]: 1 }, { onLarge });
    canonicalize({ a: Array(400).fill(1) }, { onLarge });
    expect(calls).toEqual(['"' + 'x'.repeat(2000) + '"']);
  });

  it('a throwing or ill-typed hook keeps the inline text', () => {
    const { out, stats } = withStats(['y'.repeat(2000)], {
      onLarge: () => {
        throw new Error('hook failed');
      },
    });
    expect(out).toBe('["' + 'y'.repeat(2000) + '"]');
    expect(stats.errors).toBe(1); // a string element is offered once
  });

  it('ignores non-string hook results', () => {
    const out = canonicalize(['y'.repeat(2000)], { onLarge: () => 42 as unknown as string });
    expect(out).toBe('["' + 'y'.repeat(2000) + '"]');
  });
});

describe('escapeReservedKeys', () => {
  it('wraps objects with "$blob" or "$lit" keys as {"$lit": …}', () => {
    const value = {
      a: { $blob: 'not a blob' },
      b: [{ $lit: 1, x: 2 }],
      c: { $blobby: 1 },
      d: { $blob: undefined },
    };
    expect(canonicalize(value, { escapeReservedKeys: true })).toBe(
      '{"a":{"$lit":{"$blob":"not a blob"}},"b":[{"$lit":{"$lit":1,"x":2}}],"c":{"$blobby":1},"d":{}}',
    );
    expect(canonicalize(value)).toBe(
      '{"a":{"$blob":"not a blob"},"b":[{"$lit":1,"x":2}],"c":{"$blobby":1},"d":{}}',
    );
    expect(canonicalize({ $blob: 1 }, { escapeReservedKeys: true })).toBe('{"$lit":{"$blob":1}}');
    expect(canonicalize(new Map([['$lit', 1]]), { escapeReservedKeys: true })).toBe('{"$lit":{"$lit":1}}');
  });

  it('does not wrap hook replacements, and the hook sees the wrapped text', () => {
    const calls: string[] = [];
    const out = canonicalize([{ $blob: 'z'.repeat(2000) }], {
      escapeReservedKeys: true,
      largeThreshold: 1024,
      onLarge: (j) => {
        calls.push(j);
        return j.startsWith('"') ? undefined : '{"$blob":"h"}';
      },
    });
    expect(calls[1]).toBe('{"$lit":{"$blob":"' + 'z'.repeat(2000) + '"}}');
    expect(out).toBe('[{"$blob":"h"}]');
  });
});

describe('isCanonical', () => {
  it('accepts canonical text', () => {
    for (const s of ['null', '1', '"x"', '[]', '{}', '{"a":[1,{"b":"c"}]}', '{"10":1,"9":2}', '1e+21']) {
      expect(isCanonical(s)).toBe(true);
    }
  });

  it('rejects anything JSON.parse would normalize', () => {
    for (const s of [
      '{"b":1,"a":2}', // order
      '{"9":2,"10":1}', // numeric order
      '{ "a":1}', // whitespace
      '[1.0]', // number form
      '1E21',
      '9007199254740993', // beyond 2^53
      '{"a":1,"a":2}', // duplicate key
      '"\\ud800"', // lone surrogate
      '"\\u0041"', // needless escape
      '"\\u001F"', // uppercase hex
      '"\\/"',
      '{"a":NaN}', // not JSON
      '',
      'undefined',
      '[1,]',
    ]) {
      expect(isCanonical(s), s).toBe(false);
    }
    expect(isCanonical(42 as unknown as string)).toBe(false);
  });

  it('accepts nesting up to MAX_CANONICAL_DEPTH and rejects deeper text', () => {
    expect(isCanonical('['.repeat(MAX_CANONICAL_DEPTH) + ']'.repeat(MAX_CANONICAL_DEPTH))).toBe(true);
    expect(isCanonical('['.repeat(MAX_CANONICAL_DEPTH + 1) + ']'.repeat(MAX_CANONICAL_DEPTH + 1))).toBe(
      false,
    );
    expect(isCanonical('['.repeat(100_000) + ']'.repeat(100_000))).toBe(false);
  });

  it('agrees with canonicalize on random values', () => {
    const rnd = prng(5);
    for (let i = 0; i < 500; i++) {
      const out = canonicalize(randomHostile(rnd, 5));
      expect(isCanonical(out)).toBe(true);
      const pretty = JSON.stringify(JSON.parse(out), null, 1);
      if (pretty !== out) expect(isCanonical(pretty)).toBe(false);
    }
  });
});
