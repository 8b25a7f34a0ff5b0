/**
 * Verifies many sessions at once on worker threads. Verification is bound by hashing (three SHA-256 per record)
 * and decompression, so one session per core is the only way to make a case of many sessions go faster; the
 * caller's thread stays free for other work meanwhile (an export reads records while the next sessions verify).
 */
import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { CodecName } from './codec.js';
import { isKeyObject } from './keys.js';
import type { VerifyReport } from './verify.js';
import type { VerifyTask } from './verify-worker.js';

export interface VerifierPoolOptions {
  /** Worker threads (default: one per available core). */
  threads?: number;
  /** Trusted Ed25519 public key: every checkpoint must carry a valid signature by it. */
  publicKey?: KeyObject | string | Buffer;
  codec?: CodecName | 'auto';
  /** Parse every record and check its envelope too (as `VerifyOptions.thorough`). */
  thorough?: boolean;
}

export class SessionVerifierPool {
  readonly #pool: Piscina<VerifyTask, VerifyReport>;
  readonly #options: Omit<VerifyTask, 'source'>;

  constructor(options: VerifierPoolOptions = {}) {
    const threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
    this.#pool = new Piscina({
      filename: new URL('./verify-worker.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: threads,
      // Tasks wait in the pool's queue, not in workers; a case of thousands of sessions queues them all.
      maxQueue: Number.POSITIVE_INFINITY,
    });
    const key = options.publicKey;
    const publicKeyPem =
      key === undefined
        ? undefined
        : isKeyObject(key)
          ? key.export({ type: 'spki', format: 'pem' }).toString()
          : key.toString();
    this.#options = {
      ...(publicKeyPem !== undefined ? { publicKeyPem } : {}),
      ...(options.codec !== undefined ? { codec: options.codec } : {}),
      ...(options.thorough !== undefined ? { thorough: options.thorough } : {}),
    };
  }

  /** Verifies a session file, as `verifySession` does. */
  verify(path: string): Promise<VerifyReport> {
    return this.#pool.run({ ...this.#options, source: { path } });
  }

  /**
   * Verifies a session held in memory, as `verifySessionBytes` does. The bytes are copied into a buffer that moves
   * to the worker (the caller's stays usable).
   */
  verifyBytes(bytes: Uint8Array, name: string): Promise<VerifyReport> {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    return this.#pool.run(
      { ...this.#options, source: { bytes: copy, name } },
      { transferList: [copy.buffer] },
    );
  }

  /** Stops the workers; tasks not yet finished are rejected. */
  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}
