import { describe, expect, it } from 'vitest';
import { canonicalize, holdsReferences, peekSpanRecord } from '../src/index.js';
import { rng } from './support.js';

/** A span record as the recorder writes it, in canonical form. */
function spanLine(type: 'span.start' | 'span.end', span: Record<string, unknown>): string {
  return canonicalize({ seq: 7, span, ts: '2026-11-22T01:00:00.000000Z', type });
}

/** Text made to look like a span's tail, for data and errors to carry. */
const DECOY =
  '"id":"span_decoy","kind":"function","parent_id":null,"started_at":"x"},"ts":"y","type":"span.end"}';

describe('peekSpanRecord', () => {
  it('reads type, id and kind of starts and ends, with or without a parent', () => {
    const start = spanLine('span.start', {
      id: 'span_1',
      parent_id: null,
      kind: 'generation',
      started_at: '2026-11-22T01:00:00.000Z',
      data: { type: 'generation' },
    });
    expect(peekSpanRecord(start)).toEqual({ type: 'span.start', id: 'span_1', kind: 'generation' });
    const end = spanLine('span.end', {
      id: 'span_2',
      parent_id: 'span_1',
      kind: 'function',
      started_at: null,
      ended_at: '2026-11-22T01:00:01.000Z',
      error: null,
      data: { name: 'push_config', input: '{}' },
    });
    expect(peekSpanRecord(end)).toEqual({ type: 'span.end', id: 'span_2', kind: 'function' });
  });

  it('is not fooled by data or an error that contain a span tail, as text or as keys', () => {
    const end = spanLine('span.end', {
      id: 'span_real',
      parent_id: null,
      kind: 'turn',
      started_at: 's',
      ended_at: 'e',
      error: {
        message: DECOY,
        data: { id: 'span_decoy', kind: 'function', parent_id: null, started_at: 'x' },
      },
      data: { output: DECOY, nested: { id: 'span_decoy', kind: 'function' } },
    });
    expect(peekSpanRecord(end)).toEqual({ type: 'span.end', id: 'span_real', kind: 'turn' });
  });

  it('gives undefined for other records and for lines that do not end like a canonical span record', () => {
    expect(peekSpanRecord(canonicalize({ seq: 1, type: 'session.start', id: 'x' }))).toBeUndefined();
    expect(
      peekSpanRecord(
        canonicalize({
          decision: 'deny',
          span_id: 'span_1',
          subject: { id: 'a', kind: 'tool' },
          type: 'policy.decision',
        }),
      ),
    ).toBeUndefined();
    // Not canonical (keys out of order), an id with an escaped quote, a span with a key after started_at.
    expect(
      peekSpanRecord(
        '{"seq":1,"span":{"kind":"function","id":"a","parent_id":null,"started_at":"s"},"ts":"t","type":"span.end"}',
      ),
    ).toBeUndefined();
    expect(
      peekSpanRecord(spanLine('span.end', { id: 'a"b', parent_id: null, kind: 'function', started_at: 's' })),
    ).toBeUndefined();
    expect(
      peekSpanRecord(
        spanLine('span.end', { id: 'a', parent_id: null, kind: 'function', started_at: 's', trace_id: 't' }),
      ),
    ).toBeUndefined();
  });

  it('on random records: either the truth or undefined, and the truth whenever id and kind are plain', () => {
    const random = rng(42);
    const alphabet = ['a', '"', '\\', '}', ',', ':', 'é', '\u2028', 'id', 'kind', '"id":"', '\n'];
    const text = () =>
      Array.from(
        { length: Math.floor(random() * 8) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join('');
    const value = (depth: number): unknown => {
      const r = random();
      if (depth > 2 || r < 0.3) return text();
      if (r < 0.4) return null;
      if (r < 0.6) return [value(depth + 1), value(depth + 1)];
      return { [text()]: value(depth + 1), id: text(), kind: text(), started_at: value(depth + 1) };
    };
    let peeked = 0;
    for (let n = 0; n < 2000; n++) {
      const plain = random() < 0.5;
      const id = plain ? `span_${n}` : text();
      const kind = plain ? 'function' : text();
      const type = random() < 0.5 ? 'span.start' : 'span.end';
      const span: Record<string, unknown> = {
        id,
        parent_id: random() < 0.5 ? null : `span_p${n}`,
        kind,
        started_at: '2026-11-22T01:00:00.000Z',
        data: value(0),
      };
      if (type === 'span.end')
        Object.assign(span, { ended_at: 'e', error: random() < 0.5 ? null : value(0) });
      const head = peekSpanRecord(spanLine(type, span));
      if (plain) expect(head).toEqual({ type, id, kind });
      else if (head) expect(head).toEqual({ type, id, kind });
      if (head) peeked++;
    }
    expect(peeked).toBeGreaterThan(1000);
  });
});

describe('holdsReferences', () => {
  it('is true for every line resolve would change, false for plain records', () => {
    expect(holdsReferences(canonicalize({ seq: 1, value: { $blob: 'ab'.repeat(32) } }))).toBe(true);
    expect(holdsReferences(canonicalize({ seq: 1, value: { $lit: { $blob: 'user data' } } }))).toBe(true);
    expect(holdsReferences(canonicalize({ seq: 1, text: 'a "$blob" in prose', n: 2 }))).toBe(false);
  });
});
