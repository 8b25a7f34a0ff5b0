/**
 * The policy loader (one precise error, file:line:column, for each kind of mistake; a hash that ignores YAML layout)
 * and the evaluator (first match wins, per-kind rules, globs, negated lists, argument conditions, handoffs).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalize } from '@agent-replay/format';
import { describe, expect, it } from 'vitest';
import { loadPolicy, PolicyEngine, PolicyLoadError, parsePolicy } from '../src/index.js';

const lines = (...rows: string[]) => `${rows.join('\n')}\n`;
const HEAD = ['policy: { id: p, version: 1 }', 'default: allow'];

/** The one error parsing `text` as `p.yaml` gives, with its position checked against its message. */
function loadError(text: string): PolicyLoadError {
  try {
    parsePolicy(text, 'p.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyLoadError);
    const e = error as PolicyLoadError;
    expect(e.message).toBe(`${e.file}:${e.line}:${e.column}: ${e.reason}`);
    expect(e.file).toBe('p.yaml');
    return e;
  }
  throw new Error('the policy loaded, an error was expected');
}

describe('loading a policy: one precise error per mistake', () => {
  it('a YAML syntax error (a key written twice) is reported where the second key is', () => {
    const text = lines(...HEAD, 'default: deny');
    expect(loadError(text).message).toBe('p.yaml:3:1: YAML: Map keys must be unique');
  });

  it('a YAML syntax error (an unclosed flow list) names the line of the problem', () => {
    const text = lines(...HEAD, 'rules:', '  - id: a', '    tool: [push_config, x', '    decision: deny');
    const error = loadError(text);
    expect(error.reason).toMatch(/^YAML: Flow sequence .*end with a \]$/);
    expect([error.line, error.column]).toEqual([6, 5]);
  });

  it('a misspelt field is pointed at by its key, before the "missing decision" it causes', () => {
    const text = lines(...HEAD, 'rules:', '  - id: a', '    tool: push_config', '    decison: deny');
    expect(loadError(text).message).toBe('p.yaml:6:5: unknown field "decison" in rules[0]');
  });

  it('an unknown top-level field and an unknown condition test are named too', () => {
    expect(loadError(lines(...HEAD, 'rule: []')).message).toBe('p.yaml:3:1: unknown field "rule"');
    const text = lines(
      ...HEAD,
      'rules:',
      '  - id: a',
      '    tool: push_config',
      '    when:',
      '      args.environment:',
      '        equal: production',
      '    decision: deny',
    );
    expect(loadError(text).message).toBe(
      'p.yaml:8:9: unknown field "equal" in rules[0].when.args.environment',
    );
  });

  it('wrong types: the value is pointed at', () => {
    expect(loadError(lines('policy: { id: p, version: 1 }', 'default: maybe')).message).toBe(
      'p.yaml:2:10: default: Invalid option: expected one of "allow"|"deny"|"require_approval"',
    );
    const error = loadError(lines('policy:', '  id: p', '  version: [1]', 'default: allow'));
    expect(error.message).toMatch(/^p\.yaml:3:12: policy\.version: /);
  });

  it('a regular expression that does not compile', () => {
    const text = lines(
      ...HEAD,
      'rules:',
      '  - id: a',
      '    tool: push_config',
      '    when:',
      '      args.target: { regex: "prod(" }',
      '    decision: deny',
    );
    expect(loadError(text).message).toBe(
      'p.yaml:7:29: rules[0].when.args.target.regex: this regular expression does not compile',
    );
  });

  it('a condition with two tests', () => {
    const text = lines(
      ...HEAD,
      'rules:',
      '  - id: a',
      '    tool: push_config',
      '    when:',
      '      args.environment: { equals: production, in: [staging] }',
      '    decision: deny',
    );
    expect(loadError(text).message).toBe(
      'p.yaml:7:25: rules[0].when.args.environment: a condition has exactly one test: equals, not_equals, in, not_in, glob, regex or exists',
    );
  });

  it('a rule about both a tool and a model', () => {
    const text = lines(
      ...HEAD,
      'rules:',
      '  - id: a',
      '    tool: push_config',
      '    model: gpt-4o',
      '    decision: deny',
    );
    expect(loadError(text).message).toBe(
      'p.yaml:4:5: rules[0]: a rule is about exactly one of: tool, model, handoff',
    );
  });

  it('"when" on a model rule', () => {
    const text = lines(
      ...HEAD,
      'rules:',
      '  - id: ok',
      '    tool: push_config',
      '    decision: deny',
      '  - id: a',
      '    model: gpt-4o',
      '    when:',
      '      args.x: { exists: true }',
      '    decision: deny',
    );
    expect(loadError(text).message).toBe(
      'p.yaml:10:7: rules[1].when: "when" conditions apply to tool arguments: only tool rules have them',
    );
  });

  it('a condition path that does not start with args', () => {
    const text = lines(
      ...HEAD,
      'rules:',
      '  - id: a',
      '    tool: push_config',
      '    when: { environment: { equals: production } }',
      '    decision: deny',
    );
    // The schema's own message for this mistake (not zod's generic "Invalid key in record").
    const error = loadError(text);
    expect(error.reason).toBe(
      'rules[0].when.environment: a condition path starts with "args", e.g. args.environment',
    );
    expect(error.line).toBe(6);
  });

  it('a rule id used twice: the second id is pointed at', () => {
    const text = lines(
      ...HEAD,
      'rules:',
      '  - id: a',
      '    tool: push_config',
      '    decision: deny',
      '  - id: a',
      '    model: gpt-4o',
      '    decision: deny',
    );
    expect(loadError(text).message).toBe('p.yaml:7:9: rule id "a" is used twice (also rules[0])');
  });

  it('contradictory rules (same match written differently, other decision)', () => {
    const text = lines(
      ...HEAD,
      'rules:',
      '  - id: no-prod',
      '    tool: push_config',
      '    when: { args.environment: { equals: production } }',
      '    decision: deny',
      '  - id: other',
      '    tool: read_config',
      '    decision: allow',
      '  - id: prod-ok',
      '    decision: allow',
      '    when:',
      '      args.environment:',
      '        equals: production',
      '    tool: push_config',
    );
    expect(loadError(text).message).toBe(
      'p.yaml:11:5: rule "prod-ok" contradicts rule "no-prod": same match, but "no-prod" decides deny first, so "prod-ok" (allow) can never fire',
    );
  });

  it('a repeated rule (same match, same decision)', () => {
    const text = lines(
      ...HEAD,
      'rules:',
      '  - id: m1',
      '    model: [gpt-4o]',
      '    decision: deny',
      '  - id: m2',
      '    model: [gpt-4o]',
      '    decision: deny',
    );
    expect(loadError(text).message).toBe(
      'p.yaml:7:5: rule "m2" repeats rule "m1" (same match): it can never fire',
    );
  });

  it('rules with the same subject but different conditions are not contradictions', () => {
    const text = lines(
      ...HEAD,
      'rules:',
      '  - id: no-prod',
      '    tool: push_config',
      '    when: { args.environment: { equals: production } }',
      '    decision: deny',
      '  - id: staging',
      '    tool: push_config',
      '    when: { args.environment: { equals: staging } }',
      '    decision: require_approval',
    );
    expect(parsePolicy(text).document.rules.map((r) => r.id)).toEqual(['no-prod', 'staging']);
  });

  it('loadPolicy reads a file; a missing file is one error naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arec-policy-'));
    try {
      const file = join(dir, 'ok.yaml');
      writeFileSync(file, lines(...HEAD));
      expect(loadPolicy(file).ref.id).toBe('p');
      expect(loadPolicy(file).file).toBe(file);
      const missing = join(dir, 'missing.yaml');
      expect(() => loadPolicy(missing)).toThrow(`${missing}:1:1: cannot read: ENOENT`);
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, lines('policy: { id: p, version: 1 }', 'default: maybe'));
      expect(() => loadPolicy(bad)).toThrow(`${bad}:2:10: default: Invalid option`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the policy ref: id, version and a layout-independent sha256', () => {
  const block = lines(
    'policy:',
    '  id: prod-guard',
    '  version: 3',
    'default: allow',
    'rules:',
    '  - id: staging-first',
    '    tool: push_config',
    '    when:',
    '      args.environment:',
    '        equals: production',
    '    decision: deny',
    '    reason: push to staging first',
    '  - id: models',
    '    model:',
    '      not: [scripted-4]',
    '    decision: deny',
  );
  // The same policy: flow style, keys in other orders, comments, explicit empty lists.
  const flow = lines(
    '# prod guard',
    'rules:',
    '  - { decision: deny, reason: push to staging first, when: { args.environment: { equals: production } }, tool: push_config, id: staging-first }',
    '  - { model: { not: [ "scripted-4" ] }, id: models, decision: deny }   # allowlist',
    'default: allow',
    'masking: []',
    'policy: { version: 3, id: prod-guard }',
    'rate_limits: []',
  );

  it('is the SHA-256 of the canonical JSON of the document', () => {
    const { ref } = parsePolicy(block);
    expect(ref.id).toBe('prod-guard');
    expect(ref.version).toBe('3');
    const document = {
      policy: { id: 'prod-guard', version: 3 },
      default: 'allow',
      rules: [
        {
          id: 'staging-first',
          tool: 'push_config',
          when: { 'args.environment': { equals: 'production' } },
          decision: 'deny',
          reason: 'push to staging first',
        },
        { id: 'models', model: { not: ['scripted-4'] }, decision: 'deny' },
      ],
      rate_limits: [],
      masking: [],
    };
    expect(ref.sha256).toBe(createHash('sha256').update(canonicalize(document)).digest('hex'));
  });

  it('is the same whatever the YAML layout and key order', () => {
    expect(parsePolicy(flow).ref).toEqual(parsePolicy(block).ref);
  });

  it('changes when a rule changes', () => {
    const base = parsePolicy(block).ref.sha256;
    expect(parsePolicy(block.replace('equals: production', 'equals: prod')).ref.sha256).not.toBe(base);
    expect(
      parsePolicy(block.replace('decision: deny\n    reason', 'decision: require_approval\n    reason')).ref
        .sha256,
    ).not.toBe(base);
    expect(parsePolicy(block.replace('[scripted-4]', '[scripted-5]')).ref.sha256).not.toBe(base);
  });
});

describe('deciding calls', () => {
  const engineOf = (...body: string[]) => new PolicyEngine(parsePolicy(lines(...body), 'p.yaml'));

  it('the first matching rule wins; nothing matching gives the explicit default', () => {
    const engine = engineOf(
      'policy: { id: p, version: 1 }',
      'default: require_approval',
      'rules:',
      '  - id: allow-read',
      '    tool: read_config',
      '    decision: allow',
      '  - id: no-prod',
      '    tool: push_config',
      '    when: { args.environment: { equals: production } }',
      '    decision: deny',
      '    reason: push to staging first',
      '  - id: all-pushes',
      '    tool: push_*',
      '    decision: allow',
    );
    const prod = engine.decide({ kind: 'tool', name: 'push_config', args: { environment: 'production' } });
    expect(prod).toEqual({
      decision: 'deny',
      rule: 'no-prod',
      reason: 'push to staging first',
      policy: engine.policy.ref,
      subject: { kind: 'tool', name: 'push_config', args: { environment: 'production' } },
    });
    expect(
      engine.decide({ kind: 'tool', name: 'push_config', args: { environment: 'staging' } }),
    ).toMatchObject({
      decision: 'allow',
      rule: 'all-pushes',
      reason: 'rule all-pushes',
    });
    expect(engine.decide({ kind: 'tool', name: 'read_config' })).toMatchObject({
      decision: 'allow',
      rule: 'allow-read',
    });
    expect(engine.decide({ kind: 'tool', name: 'drop_table', args: '{}' })).toEqual({
      decision: 'require_approval',
      rule: null,
      reason: 'default: require_approval',
      policy: engine.policy.ref,
      subject: { kind: 'tool', name: 'drop_table', args: {} },
    });
    // Calls of other kinds never match tool rules, even with a name a tool glob would match.
    expect(engine.decide({ kind: 'model', name: 'push_config' })).toMatchObject({
      decision: 'require_approval',
      rule: null,
    });
  });

  it('an earlier broad rule shadows a later narrow one', () => {
    const engine = engineOf(
      ...HEAD,
      'rules:',
      '  - id: broad',
      '    tool: "*"',
      '    decision: require_approval',
      '  - id: narrow',
      '    tool: delete_path',
      '    decision: deny',
    );
    expect(engine.decide({ kind: 'tool', name: 'delete_path' })).toMatchObject({
      decision: 'require_approval',
      rule: 'broad',
    });
  });

  it('globs and lists of names; {not: [...]} is every name but those', () => {
    const engine = engineOf(
      ...HEAD,
      'rules:',
      '  - id: deletes',
      '    tool: delete_*',
      '    decision: deny',
      '  - id: listed',
      '    tool: [drop_table, "truncate_*"]',
      '    decision: require_approval',
      '  - id: only-known',
      '    tool: { not: [read_*, get_weather, push_config] }',
      '    decision: deny',
      '    reason: unknown tool',
    );
    const d = (name: string) => engine.decide({ kind: 'tool', name });
    expect(d('delete_path')).toMatchObject({ decision: 'deny', rule: 'deletes' });
    expect(d('delete_')).toMatchObject({ decision: 'deny', rule: 'deletes' });
    expect(d('undelete_path').rule).toBe('only-known');
    expect(d('drop_table')).toMatchObject({ decision: 'require_approval', rule: 'listed' });
    expect(d('truncate_logs')).toMatchObject({ decision: 'require_approval', rule: 'listed' });
    expect(d('drop_tables')).toMatchObject({ decision: 'deny', rule: 'only-known', reason: 'unknown tool' });
    expect(d('read_config')).toMatchObject({ decision: 'allow', rule: null });
    expect(d('get_weather')).toMatchObject({ decision: 'allow', rule: null });
    expect(d('push_config')).toMatchObject({ decision: 'allow', rule: null });
    expect(d('get_weathers')).toMatchObject({ decision: 'deny', rule: 'only-known' });
  });

  it('equals on args.environment, with the arguments as JSON text or as an object', () => {
    const engine = engineOf(
      ...HEAD,
      'rules:',
      '  - id: no-prod',
      '    tool: push_config',
      '    when: { args.environment: { equals: production } }',
      '    decision: deny',
    );
    const d = (args: unknown) => engine.decide({ kind: 'tool', name: 'push_config', args });
    expect(d('{"environment":"production","dry_run":false}')).toMatchObject({
      decision: 'deny',
      rule: 'no-prod',
      subject: { args: { environment: 'production', dry_run: false } },
    });
    expect(d({ environment: 'production' }).decision).toBe('deny');
    expect(d('{"environment":"staging"}').decision).toBe('allow');
    expect(d({ environment: 'staging' }).decision).toBe('allow');
    expect(d({ environment: 'Production' }).decision).toBe('allow');
    expect(d({}).decision).toBe('allow');
    expect(d(undefined).decision).toBe('allow');
    expect(d('not json').decision).toBe('allow');
    // Another tool with the same argument is not this rule's business.
    expect(
      engine.decide({ kind: 'tool', name: 'push_secret', args: { environment: 'production' } }).decision,
    ).toBe('allow');
  });

  it('all conditions of a rule must hold', () => {
    const engine = engineOf(
      ...HEAD,
      'rules:',
      '  - id: big-prod',
      '    tool: scale',
      '    when:',
      '      args.environment: { equals: production }',
      '      args.replicas: { in: [50, 100] }',
      '    decision: require_approval',
    );
    const d = (args: unknown) => engine.decide({ kind: 'tool', name: 'scale', args }).decision;
    expect(d({ environment: 'production', replicas: 100 })).toBe('require_approval');
    expect(d('{"environment":"production","replicas":50}')).toBe('require_approval');
    expect(d({ environment: 'production', replicas: 3 })).toBe('allow');
    expect(d({ environment: 'staging', replicas: 100 })).toBe('allow');
    expect(d({ environment: 'production', replicas: '100' })).toBe('allow');
  });

  it('in, not_in, not_equals, glob, regex and exists', () => {
    const engine = engineOf(
      ...HEAD,
      'rules:',
      '  - id: in',
      '    tool: t_in',
      '    when: { args.env: { in: [production, prod] } }',
      '    decision: deny',
      '  - id: not-in',
      '    tool: t_not_in',
      '    when: { args.env: { not_in: [dev, test] } }',
      '    decision: deny',
      '  - id: not-equals',
      '    tool: t_ne',
      '    when: { args.env: { not_equals: dev } }',
      '    decision: deny',
      '  - id: glob',
      '    tool: t_glob',
      '    when: { args.path: { glob: "/etc/**" } }',
      '    decision: deny',
      '  - id: regex',
      '    tool: t_regex',
      '    when: { args.host: { regex: "^db-\\\\d+\\\\.prod$" } }',
      '    decision: deny',
      '  - id: has-force',
      '    tool: t_exists',
      '    when: { args.force: { exists: true } }',
      '    decision: deny',
      '  - id: no-ticket',
      '    tool: t_missing',
      '    when: { args.ticket: { exists: false } }',
      '    decision: deny',
    );
    const d = (name: string, args: unknown) => engine.decide({ kind: 'tool', name, args }).decision;
    expect(d('t_in', { env: 'prod' })).toBe('deny');
    expect(d('t_in', { env: 'production' })).toBe('deny');
    expect(d('t_in', { env: 'staging' })).toBe('allow');
    expect(d('t_not_in', { env: 'staging' })).toBe('deny');
    expect(d('t_not_in', { env: 'test' })).toBe('allow');
    expect(d('t_ne', { env: 'prod' })).toBe('deny');
    expect(d('t_ne', { env: 'dev' })).toBe('allow');
    expect(d('t_glob', { path: '/etc/ssh/sshd_config' })).toBe('deny');
    expect(d('t_glob', { path: '/etc/passwd' })).toBe('deny');
    expect(d('t_glob', { path: '/home/etc/passwd' })).toBe('allow');
    expect(d('t_glob', { path: 42 })).toBe('allow');
    expect(d('t_regex', { host: 'db-12.prod' })).toBe('deny');
    expect(d('t_regex', { host: 'db-x.prod' })).toBe('allow');
    expect(d('t_regex', { host: 'db-12.prod.example' })).toBe('allow');
    expect(d('t_exists', { force: false })).toBe('deny');
    expect(d('t_exists', { force: null })).toBe('deny');
    expect(d('t_exists', {})).toBe('allow');
    expect(d('t_missing', {})).toBe('deny');
    expect(d('t_missing', { ticket: 'OPS-1' })).toBe('allow');
  });

  it('nested paths: args.target.env', () => {
    const engine = engineOf(
      ...HEAD,
      'rules:',
      '  - id: nested',
      '    tool: deploy',
      '    when: { args.target.env: { equals: production } }',
      '    decision: deny',
    );
    const d = (args: unknown) => engine.decide({ kind: 'tool', name: 'deploy', args }).decision;
    expect(d({ target: { env: 'production', region: 'eu' } })).toBe('deny');
    expect(d('{"target":{"env":"production"}}')).toBe('deny');
    expect(d({ target: { env: 'staging' } })).toBe('allow');
    expect(d({ env: 'production' })).toBe('allow');
    expect(d({ target: 'production' })).toBe('allow');
    expect(d({ target: null })).toBe('allow');
    expect(d({ 'target.env': 'production' })).toBe('allow');
  });

  it('handoffs by from and to', () => {
    const engine = engineOf(
      ...HEAD,
      'rules:',
      '  - id: triage-to-billing',
      '    handoff: { from: Triage, to: Billing }',
      '    decision: require_approval',
      '  - id: nobody-to-admin',
      '    handoff: { to: "Admin*" }',
      '    decision: deny',
      '  - id: tool-named-billing',
      '    tool: Billing',
      '    decision: deny',
    );
    const d = (from: string, to: string) => engine.decide({ kind: 'handoff', from, to });
    expect(d('Triage', 'Billing')).toMatchObject({
      decision: 'require_approval',
      rule: 'triage-to-billing',
      subject: { kind: 'handoff', name: 'Triage → Billing' },
    });
    expect(d('Sales', 'Billing')).toMatchObject({ decision: 'allow', rule: null });
    expect(d('Billing', 'Triage')).toMatchObject({ decision: 'allow', rule: null });
    expect(d('Sales', 'AdminConsole')).toMatchObject({ decision: 'deny', rule: 'nobody-to-admin' });
    expect(d('Triage', 'Admin')).toMatchObject({ decision: 'deny', rule: 'nobody-to-admin' });
  });

  it('models: a blocklist and an allowlist', () => {
    const blocklist = engineOf(
      ...HEAD,
      'rules:',
      '  - id: no-4o',
      '    model: [gpt-4o, "o1-*"]',
      '    decision: deny',
      '    reason: use an approved model',
    );
    expect(blocklist.decide({ kind: 'model', name: 'gpt-4o' })).toEqual({
      decision: 'deny',
      rule: 'no-4o',
      reason: 'use an approved model',
      policy: blocklist.policy.ref,
      subject: { kind: 'model', name: 'gpt-4o' },
    });
    expect(blocklist.decide({ kind: 'model', name: 'o1-preview' }).decision).toBe('deny');
    expect(blocklist.decide({ kind: 'model', name: 'gpt-4o-mini' }).decision).toBe('allow');
    expect(blocklist.decide({ kind: 'tool', name: 'gpt-4o' }).decision).toBe('allow');

    const allowlist = engineOf(
      'policy: { id: p, version: 1 }',
      'default: allow',
      'rules:',
      '  - id: approved-only',
      '    model: { not: [gpt-4.1, "scripted-*"] }',
      '    decision: deny',
    );
    expect(allowlist.decide({ kind: 'model', name: 'gpt-4.1' }).decision).toBe('allow');
    expect(allowlist.decide({ kind: 'model', name: 'scripted-4' }).decision).toBe('allow');
    expect(allowlist.decide({ kind: 'model', name: 'gpt-4o' })).toMatchObject({
      decision: 'deny',
      rule: 'approved-only',
    });
    expect(allowlist.decide({ kind: 'model', name: 'gpt-4.1-mini' }).decision).toBe('deny');
  });
});
