import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  configFromEnvironment,
  identityFromEnv,
  identityFromMetadata,
  identityFromOidcToken,
  processIdentity,
} from '../src/index.js';
import { tempDir } from './helpers.js';

const ISSUER = 'https://idp.example';
const AUDIENCE = 'agent-replay';
let privateKey: CryptoKey;
let jwks: { keys: JWK[] };

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  privateKey = pair.privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' }] };
});

function token(claims: Record<string, unknown> = {}, expires: string | number = '10m', key = privateKey) {
  return new SignJWT({ email: 'svc-ci@example.com', groups: ['ci'], ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('svc-ci')
    .setIssuedAt()
    .setExpirationTime(expires)
    .sign(key);
}

describe('identityFromOidcToken', () => {
  it('a valid token is a verified identity with its useful claims and never the token', async () => {
    const jwt = await token();
    const identity = await identityFromOidcToken(jwt, {
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks,
      kind: 'service',
    });
    expect(identity).toMatchObject({
      subject: 'svc-ci',
      issuer: ISSUER,
      email: 'svc-ci@example.com',
      groups: ['ci'],
      kind: 'service',
      verified: true,
      method: 'oidc',
    });
    expect(identity.verification_error).toBeUndefined();
    expect(JSON.stringify(identity)).not.toContain(jwt.split('.')[2]);
  });

  it('an expired token keeps its claims but is unverified, with the reason', async () => {
    const expired = await token({}, Math.floor(Date.now() / 1000) - 3600);
    const identity = await identityFromOidcToken(expired, { issuer: ISSUER, audience: AUDIENCE, jwks });
    expect(identity).toMatchObject({ subject: 'svc-ci', verified: false, method: 'oidc' });
    expect(identity.verification_error).toMatch(/expired/);
  });

  it('rejects wrong audience or issuer, a foreign signing key, and unsigned tokens', async () => {
    const options = { issuer: ISSUER, audience: AUDIENCE, jwks };
    const wrongAudience = await identityFromOidcToken(await token(), {
      ...options,
      audience: 'someone-else',
    });
    expect(wrongAudience.verified).toBe(false);
    expect(wrongAudience.verification_error).toMatch(/aud/);
    const wrongIssuer = await identityFromOidcToken(await token(), {
      ...options,
      issuer: 'https://evil.example',
    });
    expect(wrongIssuer.verified).toBe(false);
    const foreign = await generateKeyPair('ES256');
    const forged = await identityFromOidcToken(await token({}, '10m', foreign.privateKey), options);
    expect(forged).toMatchObject({ verified: false, verification_error: 'signature verification failed' });
    const unsigned = new UnsecuredJWT({ sub: 'root' }).setIssuer(ISSUER).setAudience(AUDIENCE).encode();
    const none = await identityFromOidcToken(unsigned, options);
    expect(none).toMatchObject({ subject: 'root', verified: false });
  });

  it('a token without an expiry, or keys fetched over plain http, do not verify', async () => {
    const forever = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('svc-ci')
      .sign(privateKey);
    const noExp = await identityFromOidcToken(forever, { issuer: ISSUER, audience: AUDIENCE, jwks });
    expect(noExp).toMatchObject({ verified: false });
    expect(noExp.verification_error).toMatch(/exp/);
    const http = await identityFromOidcToken(await token(), {
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: 'http://idp.example/jwks.json',
    });
    expect(http).toMatchObject({ verified: false, verification_error: expect.stringMatching(/https/) });
  });

  it('a string that is not a JWT is an error', async () => {
    await expect(
      identityFromOidcToken('hello', { issuer: ISSUER, audience: AUDIENCE, jwks }),
    ).rejects.toThrow(/not a JWT/);
  });
});

describe('declared identities', () => {
  it('trace metadata: an identity object or JSON, else user_id / oidc_sub', () => {
    expect(identityFromMetadata({ identity: { subject: 'bob', kind: 'agent', email: 'b@x' } })).toEqual({
      subject: 'bob',
      kind: 'agent',
      email: 'b@x',
      verified: false,
      method: 'static',
    });
    expect(identityFromMetadata({ identity: '{"sub":"carol","verified":true}' })).toMatchObject({
      subject: 'carol',
      verified: false, // a claim of verification by the app is not a verification
    });
    expect(identityFromMetadata({ oidc_sub: 'auth0|abc', oidc_iss: ISSUER })).toMatchObject({
      subject: 'auth0|abc',
      issuer: ISSUER,
    });
    expect(identityFromMetadata({ tenant: 't1' })).toBeUndefined();
  });

  it('environment and process', () => {
    expect(
      identityFromEnv({ AGENT_REPLAY_IDENTITY: 'ci-bot', AGENT_REPLAY_IDENTITY_KIND: 'service' }),
    ).toEqual({
      subject: 'ci-bot',
      kind: 'service',
      verified: false,
      method: 'env',
    });
    expect(identityFromEnv({})).toBeUndefined();
    expect(processIdentity()).toMatchObject({ method: 'process', verified: false });
  });
});

describe('configFromEnvironment', () => {
  it('reads every variable, and names the variable of a bad value', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks));
    const config = configFromEnvironment({
      AGENT_REPLAY_DIR: dir,
      AGENT_REPLAY_REDACTION: 'strict',
      AGENT_REPLAY_DURABILITY: 'strict',
      AGENT_REPLAY_EXCLUSIVE: '1',
      AGENT_REPLAY_OIDC_TOKEN: await token(),
      AGENT_REPLAY_OIDC_ISSUER: ISSUER,
      AGENT_REPLAY_OIDC_AUDIENCE: AUDIENCE,
      AGENT_REPLAY_OIDC_JWKS: join(dir, 'jwks.json'),
      AGENT_REPLAY_IDENTITY_KIND: 'service',
    });
    expect(config).toMatchObject({ exclusive: true, disabled: false });
    expect(config.options).toMatchObject({ dir, redaction: 'strict', durability: 'strict' });
    expect(await config.options.identity).toMatchObject({
      subject: 'svc-ci',
      verified: true,
      kind: 'service',
    });

    expect(() => configFromEnvironment({ AGENT_REPLAY_REDACTION: 'some' })).toThrow(
      /AGENT_REPLAY_REDACTION="some"/,
    );
    expect(() => configFromEnvironment({ AGENT_REPLAY_SIGNING_KEY: join(dir, 'missing.pem') })).toThrow(
      /AGENT_REPLAY_SIGNING_KEY: cannot read/,
    );
    expect(() => configFromEnvironment({ AGENT_REPLAY_OIDC_TOKEN: 'x' })).toThrow(
      /needs AGENT_REPLAY_OIDC_ISSUER/,
    );
    // A token that is not a JWT does not reject later (that would be an unhandled rejection): unverified instead.
    const bad = configFromEnvironment({
      AGENT_REPLAY_OIDC_TOKEN: 'not-a-jwt',
      AGENT_REPLAY_OIDC_ISSUER: ISSUER,
      AGENT_REPLAY_OIDC_AUDIENCE: AUDIENCE,
      AGENT_REPLAY_OIDC_JWKS: join(dir, 'jwks.json'),
    });
    expect(await bad.options.identity).toMatchObject({ verified: false, method: 'oidc' });
  });
});
