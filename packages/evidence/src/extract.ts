/**
 * Unpacking a bundle for a reviewer who has agent-replay: only into a new or empty directory, only regular files
 * with checked names (walkBundle refuses the whole bundle otherwise), each created exclusively (never through an
 * existing file or link) and resolved inside the target. A bundle that fails part way (a member longer than it
 * declares, a read error) leaves the target as empty as it found it.
 */
import { createWriteStream, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type BundleLimits, DEFAULT_LIMITS } from './layout.js';
import { BundleError, type BundleMember, walkBundle } from './zip-reader.js';

export async function extractBundle(
  bundle: string,
  target: string,
  limits: BundleLimits = DEFAULT_LIMITS,
): Promise<BundleMember[]> {
  const root = resolve(target);
  if (existsSync(root) && readdirSync(root).length > 0)
    throw new BundleError(bundle, `will not extract into ${target}: it is not empty`);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  try {
    return await walkBundle(
      bundle,
      async (member, content) => {
        const path = resolve(root, member.name);
        if (!path.startsWith(root + sep))
          throw new BundleError(bundle, 'would be written outside the target', member.name);
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        try {
          await pipeline(content, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
        } catch (error) {
          throw new BundleError(bundle, `cannot be extracted: ${(error as Error).message}`, member.name);
        }
      },
      limits,
    );
  } catch (error) {
    for (const name of readdirSync(root)) rmSync(join(root, name), { recursive: true, force: true });
    throw error;
  }
}
