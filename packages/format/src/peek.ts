/**
 * The head of a span record — its type, span id and span kind — read from the end of its line without parsing it.
 *
 * A record line is RFC 8785 canonical JSON, so keys are sorted: a span record ends with the span's scalar fields
 * after `data`, `ended_at` and `error`, then the top-level `ts` and `type`:
 *
 *     …,"id":"…","kind":"…","parent_id":null|"…","started_at":"…"},"ts":"…","type":"span.end"}
 *
 * Strings in JSON cannot contain an unescaped quote, so when a line ends exactly like this (the anchored pattern
 * below), these keys belong to the object just before `ts` — the span — whatever `data` or `error` hold. Readers
 * that skip most span records (what-if, counting) use this to avoid parsing a model call's whole conversation; a
 * line that does not end this way gives undefined and must be parsed.
 */
export interface SpanRecordHead {
  type: 'span.start' | 'span.end';
  id: string;
  kind: string;
}

const SPAN_TAIL =
  /^"id":"([^"\\]*)","kind":"([^"\\]*)","parent_id":(?:null|"[^"\\]*"),"started_at":(?:null|"[^"\\]*")\},"ts":"[^"\\]*","type":"(span\.start|span\.end)"\}$/;

export function peekSpanRecord(line: string): SpanRecordHead | undefined {
  const at = line.lastIndexOf('"id":"');
  if (at < 0) return undefined;
  const match = SPAN_TAIL.exec(line.slice(at));
  if (!match) return undefined;
  return { type: match[3] as SpanRecordHead['type'], id: match[1]!, kind: match[2]! };
}

/**
 * Whether resolving this record line (`SessionReader.resolve`) can change it: only a record holding a blob reference
 * (`{"$blob": …}`) or an escaped object (`{"$lit": …}`) can, and canonical JSON writes those keys exactly so. A
 * string value spelled `"$blob"` gives a harmless false positive; there are no false negatives.
 */
export function holdsReferences(line: string): boolean {
  return line.includes('"$blob"') || line.includes('"$lit"');
}
