/**
 * What a redacted export leaves out. A record is withheld whole (never edited: an edited record would no longer
 * hash to its leaf); the bundle keeps its leaf hash, so a reviewer can still prove everything shown belongs to the
 * signed session and count what was withheld.
 */

export interface WithholdRule {
  /** Record types (`identity`, `policy.decision`, …) and span kinds (`generation`, `function`, …) to withhold. */
  types: readonly string[];
  /** Redaction profiles (only `pii` so far): withhold every record whose resolved content matches one. */
  profiles: readonly string[];
}

/** Personal data a `pii` export must not show: e-mail addresses, phone numbers, US SSNs, payment card numbers. */
const PII_PATTERNS: ReadonlyArray<{ kind: string; pattern: RegExp; check?: (match: string) => boolean }> = [
  { kind: 'email', pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g },
  { kind: 'ssn', pattern: /\b\d{3}-\d{2}-\d{4}\b/g },
  { kind: 'card', pattern: /\b(?:\d[ -]?){12,18}\d\b/g, check: (m) => luhn(m.replace(/\D/g, '')) },
  { kind: 'phone', pattern: /\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){2,4}\b/g },
];

export const PROFILES: Readonly<Record<string, string>> = {
  pii: 'e-mail addresses, phone numbers, US social security numbers and payment card numbers',
};

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits.length >= 13 && sum % 10 === 0;
}

/** The kinds of personal data in `text` (empty when none). */
export function piiKinds(text: string): string[] {
  const kinds: string[] = [];
  for (const { kind, pattern, check } of PII_PATTERNS) {
    for (const match of text.matchAll(pattern)) {
      if (!check || check(match[0])) {
        kinds.push(kind);
        break;
      }
    }
  }
  return kinds;
}

export function describeRule(rule: WithholdRule): string | null {
  const parts = [
    ...rule.profiles.map((p) => `profile ${p}`),
    ...(rule.types.length > 0 ? [`types ${rule.types.join(', ')}`] : []),
  ];
  return parts.length > 0 ? parts.join('; ') : null;
}

export function validateRule(rule: WithholdRule): void {
  for (const profile of rule.profiles) {
    if (!(profile in PROFILES))
      throw new TypeError(
        `unknown redaction profile "${profile}" (known: ${Object.keys(PROFILES).join(', ')})`,
      );
  }
}

/**
 * Why `record` is withheld, or undefined when it is shown. `text` is the resolved record as JSON (blobs inlined),
 * so personal data inside a blob withholds the record that refers to it as well as the blob record.
 */
export function withholdReason(
  record: Record<string, unknown>,
  text: string,
  rule: WithholdRule,
): string | undefined {
  const type = typeof record.type === 'string' ? record.type : '';
  const span = record.span as { kind?: unknown } | undefined;
  const kind = typeof span?.kind === 'string' ? span.kind : undefined;
  if (rule.types.includes(type)) return `type ${type}`;
  if (kind !== undefined && rule.types.includes(kind)) return `span kind ${kind}`;
  if (rule.profiles.includes('pii')) {
    const kinds = piiKinds(text);
    if (kinds.length > 0) return `pii: ${kinds.join(', ')}`;
  }
  return undefined;
}
