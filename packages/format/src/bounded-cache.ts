/**
 * A string-keyed memo bounded by the total length of its keys, evicting the oldest entries first. Used on the
 * recording path, where the same large strings (tool outputs, documents) come back in every model call because
 * each call carries the whole history.
 *
 * Looking a long string up in a Map hashes all of it whenever it is a new string object with old contents
 * (which is what the SDK hands over: it rebuilds its items every turn), and hashing runs at a few hundred MB/s.
 * So entries are found by a short sample of the string (length, head, middle, tail) and confirmed by comparing
 * the whole string, which is a pointer check for the same object and a memcmp otherwise.
 */
export class BoundedStringCache<V> {
  private readonly entries = new Map<string, { key: string; value: V }>();
  private chars = 0;

  constructor(private readonly maxChars: number) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(sampleOf(key));
    return entry !== undefined && entry.key === key ? entry.value : undefined;
  }

  set(key: string, value: V): void {
    if (key.length > this.maxChars) return;
    const sample = sampleOf(key);
    const previous = this.entries.get(sample);
    if (previous !== undefined) {
      this.entries.delete(sample);
      this.chars -= previous.key.length;
    }
    this.entries.set(sample, { key, value });
    this.chars += key.length;
    for (const [oldest, entry] of this.entries) {
      if (this.chars <= this.maxChars) break;
      this.entries.delete(oldest);
      this.chars -= entry.key.length;
    }
  }
}

const SAMPLE = 48;

function sampleOf(s: string): string {
  const n = s.length;
  if (n <= SAMPLE * 4) return s;
  const mid = n >> 1;
  return `${n}:${s.slice(0, SAMPLE)}${s.slice(mid - SAMPLE / 2, mid + SAMPLE / 2)}${s.slice(n - SAMPLE)}`;
}
