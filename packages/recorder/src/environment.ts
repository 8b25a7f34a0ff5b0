import { readFileSync } from 'node:fs';
import type { Durability } from '@agent-replay/format';
import { type Identity, identityFromEnv, identityFromOidcToken } from './identity.js';
import type { RecorderOptions } from './recorder.js';
import type { RedactionProfile } from './redact.js';

/**
 * Recorder configuration for zero-code use (`node --import @agent-replay/recorder/register`,
 * `agent-replay record`). Every variable is optional:
 *
 * | variable | meaning |
 * |---|---|
 * | `AGENT_REPLAY_DIR` | agent-replay directory (sessions in `<dir>/sessions`), default `./.agent-replay` |
 * | `AGENT_REPLAY_IDENTITY` | who runs the agent: a subject, or JSON `{"subject","kind","email",…}` (recorded unverified) |
 * | `AGENT_REPLAY_IDENTITY_KIND` | `human` \| `service` \| `agent` |
 * | `AGENT_REPLAY_OIDC_TOKEN` (or `_FILE`) | an OIDC token to verify with `_ISSUER`, `_AUDIENCE`, `_JWKS` (URL or JWKS file) |
 * | `AGENT_REPLAY_REDACTION` | `secrets` (default) \| `strict` \| `off` |
 * | `AGENT_REPLAY_REDACTION_KEY_FILE` | HMAC key file for redaction tags |
 * | `AGENT_REPLAY_DURABILITY` | `strict` \| `buffered` (default) \| `none` |
 * | `AGENT_REPLAY_SIGNING_KEY` | path of an Ed25519 private key (PEM) that signs checkpoints |
 * | `AGENT_REPLAY_EXCLUSIVE` | `1`: replace the SDK's other trace processors (no export to OpenAI) |
 * | `AGENT_REPLAY_DISABLE` | `1`: do not record |
 * | `AGENT_REPLAY_REPLAY_OF` | JSON `{"session_id","path"}` of the session a replay re-executes (set by `agent-replay replay`) |
 */
export interface EnvironmentConfig {
  options: RecorderOptions;
  exclusive: boolean;
  disabled: boolean;
}

const PROFILES: readonly RedactionProfile[] = ['secrets', 'strict', 'off'];
const DURABILITIES: readonly Durability[] = ['strict', 'buffered', 'none'];

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined || value === '') return undefined;
  if (!allowed.includes(value as T))
    throw new Error(`${name}="${value}": expected one of ${allowed.join(', ')}`);
  return value as T;
}

const truthy = (value: string | undefined): boolean => value === '1' || value === 'true';

function readFileNamedBy(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${name}: cannot read ${path}: ${(error as Error).message}`);
  }
}

function oidcIdentity(env: NodeJS.ProcessEnv): Promise<Identity> | undefined {
  const token =
    env.AGENT_REPLAY_OIDC_TOKEN ??
    (env.AGENT_REPLAY_OIDC_TOKEN_FILE
      ? readFileNamedBy('AGENT_REPLAY_OIDC_TOKEN_FILE', env.AGENT_REPLAY_OIDC_TOKEN_FILE).trim()
      : undefined);
  if (!token) return undefined;
  const {
    AGENT_REPLAY_OIDC_ISSUER: issuer,
    AGENT_REPLAY_OIDC_AUDIENCE: audience,
    AGENT_REPLAY_OIDC_JWKS: jwks,
  } = env;
  if (!issuer || !audience || !jwks) {
    throw new Error('AGENT_REPLAY_OIDC_TOKEN needs AGENT_REPLAY_OIDC_ISSUER, _AUDIENCE and _JWKS');
  }
  const keys = /^https?:\/\//.test(jwks)
    ? new URL(jwks)
    : (JSON.parse(readFileNamedBy('AGENT_REPLAY_OIDC_JWKS', jwks)) as { keys: [] });
  const kind =
    identityFromEnv(env)?.kind ?? (env.AGENT_REPLAY_IDENTITY_KIND === 'service' ? 'service' : 'human');
  // Never a rejected promise: the recorder awaits it later, and an unhandled rejection would end the process.
  return identityFromOidcToken(token, { issuer, audience, jwks: keys, kind }).catch(
    (error: Error): Identity => ({
      subject: '(unreadable token)',
      kind,
      verified: false,
      method: 'oidc',
      verification_error: error.message,
    }),
  );
}

/** Reads the configuration; a bad value is an Error naming the variable. */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): EnvironmentConfig {
  const options: RecorderOptions = {};
  if (env.AGENT_REPLAY_DIR) options.dir = env.AGENT_REPLAY_DIR;
  const identity = oidcIdentity(env) ?? identityFromEnv(env);
  if (identity) options.identity = identity;
  const redaction = oneOf('AGENT_REPLAY_REDACTION', env.AGENT_REPLAY_REDACTION, PROFILES);
  if (redaction) options.redaction = redaction;
  if (env.AGENT_REPLAY_REDACTION_KEY_FILE) options.redactionKeyFile = env.AGENT_REPLAY_REDACTION_KEY_FILE;
  const durability = oneOf('AGENT_REPLAY_DURABILITY', env.AGENT_REPLAY_DURABILITY, DURABILITIES);
  if (durability) options.durability = durability;
  if (env.AGENT_REPLAY_SIGNING_KEY) {
    options.signingKey = readFileNamedBy('AGENT_REPLAY_SIGNING_KEY', env.AGENT_REPLAY_SIGNING_KEY);
  }
  if (env.AGENT_REPLAY_REPLAY_OF) options.replayOf = replayOf(env.AGENT_REPLAY_REPLAY_OF);
  return {
    options,
    exclusive: truthy(env.AGENT_REPLAY_EXCLUSIVE),
    disabled: truthy(env.AGENT_REPLAY_DISABLE),
  };
}

function replayOf(json: string): NonNullable<RecorderOptions['replayOf']> {
  try {
    const value = JSON.parse(json) as { session_id?: unknown; path?: unknown };
    if (typeof value.path === 'string') {
      return { session_id: typeof value.session_id === 'string' ? value.session_id : null, path: value.path };
    }
  } catch {}
  throw new Error('AGENT_REPLAY_REPLAY_OF: expected JSON {"session_id","path"}');
}
