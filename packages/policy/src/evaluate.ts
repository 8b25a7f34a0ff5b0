/**
 * Deciding one call: the policy is compiled once into matchers (globs by picomatch, regular expressions, argument
 * paths split), then each call walks the rules in order and the first that matches decides; none → the default.
 */
import { parseIfJson } from '@agent-replay/analysis';
import type { LoadedPolicy, PolicyRef } from './load.js';
import { type Condition, type Decision, globMatcher, type PolicyRule } from './schema.js';

/** A call to decide on. */
/** The kinds of span (SDK span data types) whose calls a policy decides: tool, model and handoff calls. */
export const CALL_SPAN_KINDS: ReadonlySet<string> = new Set([
  'function',
  'generation',
  'response',
  'handoff',
]);

export type PolicyCall =
  | { kind: 'tool'; name: string; args?: unknown }
  | { kind: 'model'; name: string }
  | { kind: 'handoff'; from: string; to: string };

/** A decision as the recorder stores it (`policy.decision`), minus who decided and where. */
export interface PolicyDecision {
  decision: Decision;
  /** The rule that fired, or null when the default decided. */
  rule: string | null;
  reason: string;
  policy: PolicyRef;
  subject: { kind: PolicyCall['kind']; name: string; args?: unknown };
  /** Set when a rate limit denied the call (`rule` is then the limit's id). */
  rate_limit?: { id: string; scope: 'agent' | 'identity' };
}

type NameTest = (name: string) => boolean;

/** A glob's test, with a cheap check of its literal prefix first (most names fail there). */
function prefixedGlob(pattern: string): NameTest {
  const glob = globMatcher(pattern);
  const literal = /^[^*?[\]{}()!+@\\]*/.exec(pattern)?.[0] ?? '';
  return literal ? (name) => name.startsWith(literal) && glob(name) : glob;
}

function nameTest(match: PolicyRule['tool']): NameTest {
  if (match === undefined) return () => true;
  const negate = typeof match === 'object' && !Array.isArray(match);
  const list = negate ? (match as { not: string | string[] }).not : (match as string | string[]);
  const tests = (Array.isArray(list) ? list : [list]).map(prefixedGlob);
  const any = (name: string) => tests.some((test) => test(name));
  return negate ? (name) => !any(name) : any;
}

const equal = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

function conditionTest(condition: Condition): (value: unknown, present: boolean) => boolean {
  if ('exists' in condition) return (_value, present) => present === condition.exists;
  if ('equals' in condition) return (value) => equal(value, condition.equals);
  if ('not_equals' in condition) return (value) => !equal(value, condition.not_equals);
  if (condition.in) {
    const list = condition.in;
    return (value) => list.some((item) => equal(value, item));
  }
  if (condition.not_in) {
    const list = condition.not_in;
    return (value) => !list.some((item) => equal(value, item));
  }
  if (condition.glob) {
    const test = globMatcher(condition.glob);
    return (value) => typeof value === 'string' && test(value);
  }
  const regex = new RegExp(condition.regex!, 'u');
  return (value) => typeof value === 'string' && regex.test(value);
}

/** The value at `path` (["environment"]) in the arguments, and whether it is there. */
function lookup(args: unknown, path: readonly string[]): { value: unknown; present: boolean } {
  let value = args;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key))
      return { value: undefined, present: false };
    value = (value as Record<string, unknown>)[key];
  }
  return { value, present: true };
}

interface CompiledRule {
  rule: PolicyRule;
  /** Position in the file: the first match wins. */
  index: number;
  kind: PolicyCall['kind'];
  /** Whether the rule is about this call's name (tool or model name, handoff from and to). */
  names(call: PolicyCall): boolean;
  /** Whether its argument conditions hold (always, for rules without `when`). */
  holds(args: unknown): boolean;
}

const always = () => true;

function compile(rule: PolicyRule, index: number): CompiledRule {
  if (rule.tool !== undefined) {
    const name = nameTest(rule.tool);
    const conditions = Object.entries(rule.when ?? {}).map(([path, condition]) => ({
      path: path.split('.').slice(1),
      test: conditionTest(condition),
    }));
    return {
      rule,
      index,
      kind: 'tool',
      names: (call) => call.kind === 'tool' && name(call.name),
      holds:
        conditions.length === 0
          ? always
          : (args) =>
              conditions.every(({ path, test }) => {
                const { value, present } = lookup(args, path);
                return test(value, present);
              }),
    };
  }
  if (rule.model !== undefined) {
    const name = nameTest(rule.model);
    return {
      rule,
      index,
      kind: 'model',
      names: (call) => call.kind === 'model' && name(call.name),
      holds: always,
    };
  }
  const from = nameTest(rule.handoff?.from);
  const to = nameTest(rule.handoff?.to);
  return {
    rule,
    index,
    kind: 'handoff',
    names: (call) => call.kind === 'handoff' && from(call.from) && to(call.to),
    holds: always,
  };
}

/** How many distinct names a RuleIndex remembers the rules of (a session names a few dozen; this bounds memory). */
const NAMES_REMEMBERED = 4096;

/**
 * Rules of one kind, indexed: those naming exact names by name, the others (globs, `not` lists) in a list. Which
 * rules are about a name does not depend on the arguments, so it is worked out once per name and remembered; a
 * decision then only tests the argument conditions of those few rules.
 */
class RuleIndex {
  private readonly exact = new Map<string, CompiledRule[]>();
  private readonly patterned: CompiledRule[] = [];
  private readonly byName = new Map<string, readonly CompiledRule[]>();

  constructor(rules: readonly CompiledRule[]) {
    for (const rule of rules) {
      const names = literalNames(rule.rule);
      if (!names) {
        this.patterned.push(rule);
        continue;
      }
      for (const name of names) {
        const list = this.exact.get(name) ?? [];
        list.push(rule);
        this.exact.set(name, list);
      }
    }
  }

  /** The first rule (in file order) that matches the call. `key` identifies its name(s). */
  first(call: PolicyCall, key: string, args: unknown): CompiledRule | undefined {
    let rules = this.byName.get(key);
    if (!rules) {
      rules = this.about(call, key);
      if (this.byName.size >= NAMES_REMEMBERED) this.byName.clear();
      this.byName.set(key, rules);
    }
    for (const rule of rules) if (rule.holds(args)) return rule;
    return undefined;
  }

  /** The rules about this call's name, in file order: those for the exact name and the patterned ones, merged. */
  private about(call: PolicyCall, key: string): readonly CompiledRule[] {
    const exact = this.exact.get(key) ?? NONE;
    const patterned = this.patterned;
    const rules: CompiledRule[] = [];
    for (let i = 0, j = 0; i < exact.length || j < patterned.length; ) {
      const next =
        j >= patterned.length || (i < exact.length && exact[i]!.index < patterned[j]!.index)
          ? exact[i++]!
          : patterned[j++]!;
      if (next.names(call)) rules.push(next);
    }
    return rules;
  }
}

const NONE: readonly CompiledRule[] = [];
const GLOB_CHARS = /[*?[\]{}()!+@]/;

/** The names a tool or model rule names literally, or undefined when it uses a glob or a `not` list. */
function literalNames(rule: PolicyRule): string[] | undefined {
  const match = rule.tool ?? rule.model;
  if (match === undefined || (typeof match === 'object' && !Array.isArray(match))) return undefined;
  const names = Array.isArray(match) ? match : [match];
  return names.some((name) => GLOB_CHARS.test(name)) ? undefined : names;
}

export class PolicyEngine {
  readonly policy: LoadedPolicy;
  private readonly byKind: Record<PolicyCall['kind'], RuleIndex>;

  constructor(policy: LoadedPolicy) {
    this.policy = policy;
    const compiled = policy.document.rules.map(compile);
    // Rules of other kinds can never match a call: each kind has its own index, in file order.
    this.byKind = {
      tool: new RuleIndex(compiled.filter((r) => r.kind === 'tool')),
      model: new RuleIndex(compiled.filter((r) => r.kind === 'model')),
      handoff: new RuleIndex(compiled.filter((r) => r.kind === 'handoff')),
    };
  }

  /** Whether `mask` applies to the tool named `name`. */
  masksTool(mask: LoadedPolicy['document']['masking'][number], name: string): boolean {
    return nameTest(mask.tool)(name);
  }

  decide(call: PolicyCall): PolicyDecision {
    // Tool arguments are recorded and passed as JSON text.
    const args = call.kind === 'tool' ? parseIfJson(call.args) : undefined;
    const subject =
      call.kind === 'handoff'
        ? { kind: call.kind, name: `${call.from} → ${call.to}` }
        : {
            kind: call.kind,
            name: call.name,
            ...(call.kind === 'tool' && args !== undefined ? { args } : {}),
          };
    const key = call.kind === 'handoff' ? `${call.from}\u0000${call.to}` : call.name;
    const compiled = this.byKind[call.kind].first(call, key, args);
    if (compiled) {
      const { rule } = compiled;
      return {
        decision: rule.decision,
        rule: rule.id,
        reason: rule.reason ?? `rule ${rule.id}`,
        policy: this.policy.ref,
        subject,
      };
    }
    const fallback = this.policy.document.default;
    return {
      decision: fallback,
      rule: null,
      reason: `default: ${fallback}`,
      policy: this.policy.ref,
      subject,
    };
  }
}
