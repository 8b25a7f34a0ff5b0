/**
 * Loading a policy file: YAML (the `yaml` library, with positions), the schema, then what a schema cannot say
 * (duplicate ids, a rule that can never fire because an earlier one with the same match decides otherwise). Every
 * problem is one error naming the file, line and column; a policy that fails to load is never half used.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonicalize } from '@agent-replay/format';
import { isMap, isNode, isScalar, LineCounter, parseDocument } from 'yaml';
import { type PolicyDocument, policySchema } from './schema.js';

export class PolicyLoadError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}:${column}: ${reason}`);
    this.name = 'PolicyLoadError';
  }
}

/** What decisions record about the policy that made them. */
export interface PolicyRef {
  id: string;
  version: string;
  /** SHA-256 of the policy's canonical JSON (RFC 8785): the same rules give the same hash, whatever the YAML layout. */
  sha256: string;
}

export interface LoadedPolicy {
  document: PolicyDocument;
  ref: PolicyRef;
  file: string;
}

type Path = readonly (string | number)[];

/**
 * The line and column where the value at `path` starts (or its nearest existing parent); with `key`, where that key
 * of the map at `path` is written (an unknown field is pointed at by its name).
 */
function positionOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, path: Path, key?: string) {
  if (key !== undefined) {
    const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
    const pair = isMap(map)
      ? map.items.find((item) => isScalar(item.key) && item.key.value === key)
      : undefined;
    if (pair && isNode(pair.key) && pair.key.range) return counter.linePos(pair.key.range[0]);
  }
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]);
  }
  return { line: 1, col: 1 };
}

/** Where in the file `path` is, as a readable name (`rules[2].when.args.environment`). */
const pathText = (path: Path) =>
  path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${key}` : key),
    '',
  );

/** Two rules match the same calls when their subject and conditions are the same. */
const matchKey = (rule: PolicyDocument['rules'][number]) =>
  canonicalize({
    tool: rule.tool ?? null,
    model: rule.model ?? null,
    handoff: rule.handoff ?? null,
    when: rule.when ?? null,
  });

export function parsePolicy(text: string, file = '<policy>'): LoadedPolicy {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  const fail = (path: Path, message: string, key?: string): never => {
    const { line, col } = positionOf(doc, counter, path, key);
    throw new PolicyLoadError(file, line, col, message);
  };
  const syntax = doc.errors[0];
  if (syntax) {
    const { line, col } = counter.linePos(syntax.pos[0]);
    throw new PolicyLoadError(file, line, col, `YAML: ${syntax.message.split('\n')[0]}`);
  }
  const parsed = policySchema.safeParse(doc.toJS());
  if (!parsed.success) {
    // A misspelt field name explains the "missing field" error it causes: report it first.
    const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0]!;
    const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
    const where = pathText(path);
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => `"${k}"`).join(', ');
      fail(
        path,
        `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}${where ? ` in ${where}` : ''}`,
        issue.keys[0],
      );
    }
    if (issue.code === 'invalid_key') {
      // A bad map key (a condition path): zod keeps the schema's message inside, and the key is what to point at.
      const key = String(path.at(-1));
      fail(path.slice(0, -1), `${where}: ${issue.issues[0]?.message ?? issue.message}`, key);
    }
    fail(path, `${where ? `${where}: ` : ''}${issue.message}`);
  }
  const document = parsed.data!;
  const ids = new Map<string, number>();
  const matches = new Map<string, number>();
  document.rules.forEach((rule, i) => {
    const seen = ids.get(rule.id);
    if (seen !== undefined)
      fail(['rules', i, 'id'], `rule id "${rule.id}" is used twice (also rules[${seen}])`);
    ids.set(rule.id, i);
    const key = matchKey(rule);
    const earlier = matches.get(key);
    if (earlier !== undefined) {
      const first = document.rules[earlier]!;
      fail(
        ['rules', i],
        first.decision === rule.decision
          ? `rule "${rule.id}" repeats rule "${first.id}" (same match): it can never fire`
          : `rule "${rule.id}" contradicts rule "${first.id}": same match, but "${first.id}" decides ${first.decision} first, so "${rule.id}" (${rule.decision}) can never fire`,
      );
    }
    matches.set(key, i);
  });
  const sha256 = createHash('sha256').update(canonicalize(document)).digest('hex');
  return {
    document,
    ref: { id: document.policy.id, version: String(document.policy.version), sha256 },
    file,
  };
}

/** Reads and checks a policy file; throws `PolicyLoadError` (file:line:column: what is wrong). */
export function loadPolicy(file: string): LoadedPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PolicyLoadError(
      file,
      1,
      1,
      `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return parsePolicy(text, file);
}
