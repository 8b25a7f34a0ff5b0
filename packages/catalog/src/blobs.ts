import type { RawRecord, SessionReader, SessionRecord } from '@agent-replay/format';

type Obj = Record<string, unknown>;

/** Blob values kept while indexing one file; a miss (an old blob, or the budget spilled) asks the reader. */
const BLOB_BUDGET_CHARS = 64 * 1024 * 1024;

const MISSING = Symbol('missing blob');

/**
 * Expands `{"$blob": hash}` references (and unwraps `{"$lit": …}`) while a file is read in order. A blob record
 * always precedes its first reference, so sequential indexing finds nearly every value in memory; the reader's own
 * (slower, random-access) resolution covers the rest.
 */
export class BlobResolver {
  private readonly values = new Map<string, { value: unknown; chars: number }>();
  private chars = 0;

  constructor(private readonly reader: SessionReader) {}

  /** Remembers a blob record's value (`line` is its stored JSON, for the size). */
  remember(hash: string, value: unknown, chars: number): void {
    if (chars > BLOB_BUDGET_CHARS / 4 || this.values.has(hash)) return;
    this.values.set(hash, { value, chars });
    this.chars += chars;
    // Oldest first: conversations reference recent blobs far more than old ones.
    for (const [key, entry] of this.values) {
      if (this.chars <= BLOB_BUDGET_CHARS) break;
      this.values.delete(key);
      this.chars -= entry.chars;
    }
  }

  async resolve(value: unknown): Promise<unknown> {
    const missing = new Set<string>();
    const resolved = this.expand(value, missing, 0);
    if (missing.size === 0) return resolved;
    return this.reader.resolve(value);
  }

  private expand(value: unknown, missing: Set<string>, depth: number): unknown {
    if (value === null || typeof value !== 'object' || depth > 512) return value;
    if (Array.isArray(value)) return value.map((item) => this.expand(item, missing, depth + 1));
    const obj = value as Obj;
    const keys = Object.keys(obj);
    if (keys.length === 1 && typeof obj.$blob === 'string') {
      const entry = this.values.get(obj.$blob);
      if (!entry) {
        missing.add(obj.$blob);
        return MISSING;
      }
      return this.expand(entry.value, missing, depth + 1);
    }
    const target =
      keys.length === 1 && obj.$lit !== null && typeof obj.$lit === 'object' && !Array.isArray(obj.$lit)
        ? (obj.$lit as Obj)
        : obj;
    const out: Obj = {};
    for (const [key, item] of Object.entries(target)) out[key] = this.expand(item, missing, depth + 1);
    return out;
  }
}

/**
 * A session's records in order from `fromSeq`, parsed, with blob references expanded. The envelope is the reader's,
 * not the record's own say: `seq` is the record's position (a forged `seq` must not make a record pose as one of
 * another session), and `ts`/`type` are strings. A record that is not a JSON object is skipped: that is a
 * verification matter, and the file's verdict reports it.
 */
export async function* resolvedRecords(
  reader: SessionReader,
  fromSeq = 1,
): AsyncGenerator<{ record: SessionRecord; raw: RawRecord }> {
  const blobs = new BlobResolver(reader);
  for await (const raw of reader.lines({ fromSeq })) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.line);
    } catch {
      continue;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) continue;
    let record = parsed as SessionRecord;
    if (record.type === 'blob' && typeof record.sha256 === 'string') {
      blobs.remember(record.sha256, record.value, raw.line.length);
    } else if (raw.line.includes('"$blob"') || raw.line.includes('"$lit"')) {
      record = (await blobs.resolve(record)) as SessionRecord;
    }
    record.seq = raw.seq;
    if (typeof record.ts !== 'string') record.ts = '';
    if (typeof record.type !== 'string') record.type = String(record.type);
    yield { record, raw };
  }
}
