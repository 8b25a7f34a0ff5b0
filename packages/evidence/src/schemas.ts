/**
 * The shapes a verifier expects of a bundle's JSON members. Everything in a bundle is untrusted until checked: a
 * member that parses as JSON but not as this shape is a problem named after the member, never a crash.
 */
import { z } from 'zod';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const time = z.string().nullable();

const checkpoint = z.object({
  checkpoint: z.number().int().positive(),
  tree_size: z.number().int().nonnegative(),
  root: hex64,
  chain: hex64,
  ts: z.string(),
  prev: hex64.nullable(),
  final: z.boolean(),
  index: z.literal(true).optional(),
  sig: z.object({ key_id: z.string(), alg: z.literal('ed25519'), sig: z.string() }).optional(),
});

const checkpointKey = z.object({ id: z.string(), public_key: z.string() }).nullable();

export const manifestSessionSchema = z.object({
  session_id: z.string(),
  form: z.enum(['original', 'disclosed']),
  member: z.string(),
  proofs: z.string().nullable(),
  records: z.number().int().nonnegative(),
  tree_size: z.number().int().nonnegative(),
  merkle_root: hex64,
  checkpoint: checkpoint.nullable(),
  checkpoint_key: checkpointKey,
  verdict: z.enum(['VALID', 'UNSEALED', 'TORN', 'TAMPERED', 'UNREADABLE']),
  summary: z.string(),
  withheld: z.number().int().nonnegative(),
});

export const manifestSchema = z.object({
  _type: z.string(),
  predicateType: z.string(),
  subject: z.array(z.object({ name: z.string(), digest: z.object({ sha256: z.string() }) })),
  predicate: z.object({
    case_id: z.string().nullable(),
    signer: z.object({ fingerprint: z.string(), ephemeral: z.boolean() }),
    time_range: z.object({
      requested: z.object({ from: time, to: time }),
      covered: z.object({ from: time, to: time }),
    }),
    files: z.array(z.object({ name: z.string(), sha256: hex64, size: z.number().int().nonnegative() })),
    sessions: z.array(manifestSessionSchema),
  }),
});

export const proofsSchema = z.object({
  session_id: z.string(),
  records: z.number().int().nonnegative(),
  tree_size: z.number().int().nonnegative(),
  root: hex64.nullable(),
  checkpoint: checkpoint.nullable(),
  checkpoint_key: checkpointKey,
  withheld: z.array(
    z.object({
      seq: z.number().int().positive(),
      leaf: hex64,
      reason: z.string(),
      proof: z.array(hex64).nullable(),
    }),
  ),
});

export const envelopeSchema = z.object({
  payloadType: z.string(),
  payload: z.string(),
  signatures: z.array(z.object({ keyid: z.string(), sig: z.string() })).min(1),
});

/** A disclosed line that stands for a withheld record: exactly these three keys. */
export const withheldLineSchema = z.strictObject({
  leaf: hex64,
  seq: z.number().int().positive(),
  withheld: z.string(),
});

/** Parses `data` as JSON of `schema`'s shape, or says why not (for a problem naming the member). */
export function parseMember<T>(data: Buffer, schema: z.ZodType<T>): { value: T } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(data.toString('utf8'));
  } catch {
    return { error: 'is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { value: parsed.data };
  const issue = parsed.error.issues[0]!;
  return { error: `has an unexpected shape at ${issue.path.join('.') || '(top)'}: ${issue.message}` };
}
