/**
 * Deciding one call: the policy is compiled once into matchers (globs by picomatch, regular expressions, argument
 * paths split), then each call walks the rules in order and the first that matches decides; none → the default.
 */
import type { LoadedPolicy, PolicyRef } from './load.js';
import { type Condition, type Decision, globMatcher, type PolicyRule } from './schema.js';

/** A call to decide on. */
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
}

type NameTest = (name: string) => boolean;

function nameTest(match: PolicyRule['tool']): NameTest {
  if (match === undefined) return () => true;
  const negate = typeof match === 'object' && !Array.isArray(match);
  const list = negate ? (match as { not: string | string[] }).not : (match as string | string[]);
  const tests = (Array.isArray(list) ? list : [list]).map(globMatcher);
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

/** Tool arguments are recorded and passed as JSON text. */
function parsedArgs(args: unknown): unknown {
  if (typeof args !== 'string') return args;
  try {
    return JSON.parse(args);
  } catch {
    return args;
  }
}

interface CompiledRule {
  rule: PolicyRule;
  kind: PolicyCall['kind'];
  matches(call: PolicyCall, args: unknown): boolean;
}

function compile(rule: PolicyRule): CompiledRule {
  if (rule.tool !== undefined) {
    const name = nameTest(rule.tool);
    const conditions = Object.entries(rule.when ?? {}).map(([path, condition]) => ({
      path: path.split('.').slice(1),
      test: conditionTest(condition),
    }));
    return {
      rule,
      kind: 'tool',
      matches: (call, args) =>
        call.kind === 'tool' &&
        name(call.name) &&
        conditions.every(({ path, test }) => {
          const { value, present } = lookup(args, path);
          return test(value, present);
        }),
    };
  }
  if (rule.model !== undefined) {
    const name = nameTest(rule.model);
    return { rule, kind: 'model', matches: (call) => call.kind === 'model' && name(call.name) };
  }
  const from = nameTest(rule.handoff?.from);
  const to = nameTest(rule.handoff?.to);
  return {
    rule,
    kind: 'handoff',
    matches: (call) => call.kind === 'handoff' && from(call.from) && to(call.to),
  };
}

export class PolicyEngine {
  readonly policy: LoadedPolicy;
  private readonly byKind: Record<PolicyCall['kind'], CompiledRule[]>;

  constructor(policy: LoadedPolicy) {
    this.policy = policy;
    const compiled = policy.document.rules.map(compile);
    // Rules of other kinds can never match a call: each kind keeps its own list, in file order.
    this.byKind = {
      tool: compiled.filter((r) => r.kind === 'tool'),
      model: compiled.filter((r) => r.kind === 'model'),
      handoff: compiled.filter((r) => r.kind === 'handoff'),
    };
  }

  /** Whether `mask` applies to the tool named `name`. */
  masksTool(mask: LoadedPolicy['document']['masking'][number], name: string): boolean {
    return nameTest(mask.tool)(name);
  }

  decide(call: PolicyCall): PolicyDecision {
    const args = call.kind === 'tool' ? parsedArgs(call.args) : undefined;
    const subject =
      call.kind === 'handoff'
        ? { kind: call.kind, name: `${call.from} → ${call.to}` }
        : {
            kind: call.kind,
            name: call.name,
            ...(call.kind === 'tool' && args !== undefined ? { args } : {}),
          };
    for (const compiled of this.byKind[call.kind]) {
      if (!compiled.matches(call, args)) continue;
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
