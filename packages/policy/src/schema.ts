/**
 * The policy language, as a schema (zod): what a policy file may say, checked field by field so that a mistake is
 * reported where it is. A policy has an identity (id, version), an explicit default decision, and rules over tool
 * calls, model calls and handoffs; the first rule that matches decides.
 *
 * ```yaml
 * policy: { id: prod-guard, version: 3 }
 * default: allow
 * rules:
 *   - id: staging-first
 *     tool: push_config                      # a name or glob, or a list of them
 *     when: { args.environment: { equals: production } }
 *     decision: deny
 *     reason: push to staging first
 *   - id: approved-models
 *     model: { not: [gpt-4.1, gpt-4.1-mini] } # every model but these
 *     decision: deny
 * ```
 */
import picomatch from 'picomatch';
import { z } from 'zod';

/** A name pattern: an exact name or a glob (`delete_*`), or a list of them. */
const names = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** Which names a rule is about: these (`push_config`, `["a", "b*"]`) or every name but these (`{not: [...]}`). */
const nameMatch = z.union([names, z.strictObject({ not: names })]);

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
}

/** A condition on one value (an argument, found by a dotted path). */
export const condition = z
  .strictObject({
    equals: z.unknown().optional(),
    not_equals: z.unknown().optional(),
    in: z.array(z.unknown()).min(1).optional(),
    not_in: z.array(z.unknown()).min(1).optional(),
    glob: z.string().min(1).optional(),
    regex: z
      .string()
      .min(1)
      .refine(compiles, { message: 'this regular expression does not compile' })
      .optional(),
    exists: z.boolean().optional(),
  })
  .refine((c) => Object.keys(c).length === 1, {
    message: 'a condition has exactly one test: equals, not_equals, in, not_in, glob, regex or exists',
  });

const decision = z.enum(['allow', 'deny', 'require_approval']);

const rule = z
  .strictObject({
    id: z.string().min(1),
    description: z.string().optional(),
    tool: nameMatch.optional(),
    model: nameMatch.optional(),
    handoff: z.strictObject({ from: names.optional(), to: names.optional() }).optional(),
    /** Conditions on the call's arguments (tool rules), keyed by path: `args.environment`. All must hold. */
    when: z
      .record(
        z.string().regex(/^args(\.[^.]+)*$/, 'a condition path starts with "args", e.g. args.environment'),
        condition,
      )
      .optional(),
    decision,
    /** Told to the model when it is denied: say what to do instead ("push to staging first"). */
    reason: z.string().optional(),
  })
  .refine((r) => [r.tool, r.model, r.handoff].filter((s) => s !== undefined).length === 1, {
    message: 'a rule is about exactly one of: tool, model, handoff',
  })
  .refine((r) => r.when === undefined || r.tool !== undefined, {
    message: '"when" conditions apply to tool arguments: only tool rules have them',
    path: ['when'],
  });

const rateLimit = z
  .strictObject({
    id: z.string().min(1),
    scope: z.enum(['agent', 'identity']),
    requests_per_minute: z.number().int().positive().optional(),
    requests_per_day: z.number().int().positive().optional(),
    tokens_per_minute: z.number().int().positive().optional(),
    tokens_per_day: z.number().int().positive().optional(),
    reason: z.string().optional(),
  })
  .refine(
    (l) =>
      l.requests_per_minute !== undefined ||
      l.requests_per_day !== undefined ||
      l.tokens_per_minute !== undefined ||
      l.tokens_per_day !== undefined,
    {
      message:
        'a rate limit sets at least one of requests_per_minute, requests_per_day, tokens_per_minute, tokens_per_day',
    },
  );

const mask = z.strictObject({
  id: z.string().min(1),
  tool: names,
  /** Dotted paths in the tool's (JSON) output whose values are replaced. */
  fields: z.array(z.string().min(1)).optional(),
  /** Regular expressions whose matches in the output text are replaced. */
  patterns: z
    .array(z.string().min(1).refine(compiles, { message: 'this regular expression does not compile' }))
    .optional(),
});

export const policySchema = z.strictObject({
  policy: z.strictObject({
    id: z.string().min(1),
    version: z.union([z.string().min(1), z.number()]),
    description: z.string().optional(),
  }),
  default: decision,
  rules: z.array(rule).default([]),
  rate_limits: z.array(rateLimit).default([]),
  masking: z.array(mask).default([]),
});

export type PolicyDocument = z.infer<typeof policySchema>;
export type PolicyRule = PolicyDocument['rules'][number];
export type Condition = z.infer<typeof condition>;
export type Decision = z.infer<typeof decision>;

/** Compiles a glob once (picomatch): `*` does not cross `/`, as in file names; names rarely have one. */
export const globMatcher = (pattern: string): ((name: string) => boolean) =>
  picomatch(pattern, { dot: true });
