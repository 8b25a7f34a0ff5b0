import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';

/** A key as written in the session header: id, algorithm, SPKI DER public key in base64. */
export interface HeaderKey {
  id: string;
  alg: 'ed25519';
  public_key: string;
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

/** A fingerprint everyone can recompute with openssl: SHA-256 over the SPKI DER encoding of the public key. */
export function publicKeyFingerprint(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

/** Key ids are the first 16 hex digits of the fingerprint: a hint for humans, never a trust decision. */
export function keyIdOf(publicKey: KeyObject): string {
  return publicKeyFingerprint(publicKey).slice(0, 16);
}

function assertEd25519(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `${what} is a ${key.asymmetricKeyType ?? key.type} key; agent-replay signs with Ed25519 only`,
    );
  }
}

/** Loads an Ed25519 private key (PEM, PKCS#8) and derives its public half. */
export function loadSigningKey(pem: string | Buffer): SigningKey {
  const privateKey = createPrivateKey(pem);
  assertEd25519(privateKey, 'the signing key');
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** Loads an Ed25519 public key from PEM (SPKI) or from a private key PEM. */
/** A KeyObject, as opposed to PEM text or bytes (options accept either). */
export function isKeyObject(value: unknown): value is KeyObject {
  return typeof value === 'object' && value !== null && 'asymmetricKeyType' in value;
}

export function loadPublicKey(pem: string | Buffer): KeyObject {
  const key = createPublicKey(pem);
  assertEd25519(key, 'the public key');
  return key;
}

export function generateSigningKey(): { privateKeyPem: string; publicKeyPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

export function headerKeyOf(key: SigningKey): HeaderKey {
  return {
    id: key.keyId,
    alg: 'ed25519',
    public_key: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

export function publicKeyFromHeader(key: HeaderKey): KeyObject {
  const publicKey = createPublicKey({
    key: Buffer.from(key.public_key, 'base64'),
    format: 'der',
    type: 'spki',
  });
  assertEd25519(publicKey, 'the header key');
  return publicKey;
}

/** DSSE pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body (lengths in bytes). */
export function dssePae(payloadType: string, body: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  const head = Buffer.from(`DSSEv1 ${type.length} ${payloadType} ${body.length} `, 'utf8');
  return Buffer.concat([head, body]);
}

export function signDsse(privateKey: KeyObject, payloadType: string, body: Uint8Array): string {
  return sign(null, dssePae(payloadType, body), privateKey).toString('base64');
}

export function verifyDsse(
  publicKey: KeyObject,
  payloadType: string,
  body: Uint8Array,
  signature: string,
): boolean {
  try {
    return verify(null, dssePae(payloadType, body), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
