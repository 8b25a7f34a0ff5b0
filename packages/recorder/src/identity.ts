import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { osUserName } from './host.js';

export type IdentityKind = 'human' | 'service' | 'agent';
export type IdentityMethod = 'oidc' | 'static' | 'env' | 'process';

/** Who is behind a run (or an approval). `verified` is true only when a signature was checked. */
export interface Identity {
  subject: string;
  issuer?: string;
  email?: string;
  name?: string;
  groups?: string[];
  kind: IdentityKind;
  verified: boolean;
  method: IdentityMethod;
  /** Selected claims of a token (never the token itself). */
  claims?: Record<string, unknown>;
  /** Why verification failed, for an unverified OIDC identity (expired, wrong audience, bad signature, …). */
  verification_error?: string;
}

export interface OidcVerifyOptions {
  issuer: string | string[];
  audience: string | string[];
  /** A JWKS URL (fetched and cached by jose), a JWKS document, or a jose key resolver. */
  jwks: URL | string | JSONWebKeySet | JWTVerifyGetKey;
  kind?: IdentityKind;
  /** Seconds of clock skew tolerated on exp/nbf, default 30. */
  clockTolerance?: number;
  /** Override "now" (tests, re-verifying old evidence). */
  currentDate?: Date;
}

/** Claims worth keeping for an investigator; everything else in a token stays out of the session. */
const KEPT_CLAIMS = [
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'azp',
  'email',
  'email_verified',
  'name',
  'groups',
];

const remoteKeySets = new Map<string, JWTVerifyGetKey>();

function keyResolver(jwks: OidcVerifyOptions['jwks']): JWTVerifyGetKey {
  if (typeof jwks === 'function') return jwks;
  if (typeof jwks === 'string' || jwks instanceof URL) {
    const url = String(jwks);
    const { protocol, hostname } = new URL(url);
    // Keys fetched over plain HTTP could be anyone's; only a loopback test server is exempt.
    if (
      protocol !== 'https:' &&
      !(protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(hostname))
    ) {
      throw new TypeError(`JWKS must be fetched over https: ${url}`);
    }
    let resolver = remoteKeySets.get(url);
    if (!resolver) {
      resolver = createRemoteJWKSet(new URL(url));
      remoteKeySets.set(url, resolver);
    }
    return resolver;
  }
  return createLocalJWKSet(jwks);
}

function describeVerificationError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return `token expired (${error.message})`;
  if (error instanceof joseErrors.JWTClaimValidationFailed)
    return `claim "${error.claim}" rejected: ${error.message}`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no key in the JWKS matches the token';
  return error instanceof Error ? error.message : String(error);
}

function identityFromClaims(
  payload: JWTPayload,
  kind: IdentityKind,
  verified: boolean,
  verificationError?: string,
): Identity {
  const claims: Record<string, unknown> = {};
  for (const name of KEPT_CLAIMS) if (payload[name] !== undefined) claims[name] = payload[name];
  const identity: Identity = {
    subject: typeof payload.sub === 'string' ? payload.sub : '(no subject)',
    kind,
    verified,
    method: 'oidc',
    claims,
  };
  if (typeof payload.iss === 'string') identity.issuer = payload.iss;
  if (typeof payload.email === 'string') identity.email = payload.email;
  if (typeof payload.name === 'string') identity.name = payload.name;
  const groups = payload.groups;
  if (Array.isArray(groups)) identity.groups = groups.filter((g): g is string => typeof g === 'string');
  if (verificationError) identity.verification_error = verificationError;
  return identity;
}

/**
 * Verifies an OIDC ID/access token (signature against the JWKS, issuer, audience, expiry) and returns the identity
 * it proves. A token that fails verification still yields its (unverified) claims with the reason, because "a
 * service account whose token had expired" is exactly what an investigator needs to see; it is never presented as
 * verified. Only a string that is not a JWT at all is an error.
 */
export async function identityFromOidcToken(jwt: string, options: OidcVerifyOptions): Promise<Identity> {
  const kind = options.kind ?? 'human';
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(jwt);
  } catch (error) {
    throw new TypeError(`identityFromOidcToken: not a JWT (${describeVerificationError(error)})`);
  }
  try {
    const { payload } = await jwtVerify(jwt, keyResolver(options.jwks), {
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: options.clockTolerance ?? 30,
      // A token without an expiry would prove an identity forever.
      requiredClaims: ['exp', 'sub'],
      ...(options.currentDate ? { currentDate: options.currentDate } : {}),
    });
    return identityFromClaims(payload, kind, true);
  } catch (error) {
    return identityFromClaims(unverified, kind, false, describeVerificationError(error));
  }
}

const KINDS: readonly IdentityKind[] = ['human', 'service', 'agent'];

function asKind(value: unknown, fallback: IdentityKind): IdentityKind {
  return KINDS.includes(value as IdentityKind) ? (value as IdentityKind) : fallback;
}

/**
 * An identity declared by the application (options, trace metadata, environment): recorded as given, never as
 * verified. Accepts a subject string or an object with the Identity fields.
 */
export function declaredIdentity(value: unknown, method: IdentityMethod): Identity | undefined {
  if (typeof value === 'string') {
    const text = value.trim();
    if (!text) return undefined;
    if (text.startsWith('{')) {
      try {
        return declaredIdentity(JSON.parse(text), method);
      } catch {
        // Not JSON after all: use the text as the subject.
      }
    }
    return { subject: text, kind: 'human', verified: false, method };
  }
  if (!value || typeof value !== 'object') return undefined;
  const fields = value as Record<string, unknown>;
  const subject = fields.subject ?? fields.sub ?? fields.user_id ?? fields.id;
  if (typeof subject !== 'string' || !subject) return undefined;
  const identity: Identity = { subject, kind: asKind(fields.kind, 'human'), verified: false, method };
  for (const key of ['issuer', 'email', 'name'] as const) {
    const v = fields[key] ?? (key === 'issuer' ? fields.iss : undefined);
    if (typeof v === 'string') identity[key] = v;
  }
  if (Array.isArray(fields.groups)) identity.groups = fields.groups.filter((g) => typeof g === 'string');
  return identity;
}

/** The identity a trace's metadata declares: `identity` (object or JSON), or `user_id` / `oidc_sub` (+ `oidc_iss`). */
export function identityFromMetadata(metadata: Record<string, unknown> | undefined): Identity | undefined {
  if (!metadata) return undefined;
  const explicit = declaredIdentity(metadata.identity, 'static');
  if (explicit) return explicit;
  const subject = metadata.oidc_sub ?? metadata.user_id;
  if (typeof subject !== 'string' || !subject) return undefined;
  const identity: Identity = { subject, kind: 'human', verified: false, method: 'static' };
  if (typeof metadata.oidc_iss === 'string') identity.issuer = metadata.oidc_iss;
  return identity;
}

/** `AGENT_REPLAY_IDENTITY` (subject or JSON) with `AGENT_REPLAY_IDENTITY_KIND`. */
export function identityFromEnv(env: NodeJS.ProcessEnv = process.env): Identity | undefined {
  const identity = declaredIdentity(env.AGENT_REPLAY_IDENTITY, 'env');
  if (identity && env.AGENT_REPLAY_IDENTITY_KIND)
    identity.kind = asKind(env.AGENT_REPLAY_IDENTITY_KIND, identity.kind);
  return identity;
}

/** Last resort: the operating-system user running the process. */
export function processIdentity(): Identity {
  return { subject: osUserName(), kind: 'human', verified: false, method: 'process' };
}
