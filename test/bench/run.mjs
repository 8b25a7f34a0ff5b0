// Runs the benchmarks under this Node and under Node 24 (native node:zlib zstd) and prints the ratios; the catalog
// and TUI benchmarks run under this Node only.
//   pnpm bench            full run (several minutes)
//   pnpm bench --quick    smaller workloads
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { node24Binary } from '../run-node24.mjs';

const here = new URL('.', import.meta.url).pathname;
const out = join(here, 'out');
mkdirSync(out, { recursive: true });
const extra = process.argv.slice(2);
const runtimes = [[process.execPath, `node${process.versions.node.split('.')[0]}`]];
const node24 = node24Binary();
if (node24 && !process.versions.node.startsWith('24.')) runtimes.push([node24, 'node24']);

let failed = false;
for (const [bin, label] of runtimes) {
  for (const bench of ['format', 'recorder', 'catalog', 'tui', 'diff', 'policy', 'evidence']) {
    // better-sqlite3 (the catalog) is compiled for the Node that installed it: that Node only.
    if (bench === 'catalog' && bin !== process.execPath) continue;
    // The TUI and diff are measured as users run them, with the Node that runs the CLI (the TUI needs tmux).
    if ((bench === 'tui' || bench === 'diff') && bin !== process.execPath) continue;
    const result = spawnSync(
      bin,
      [join(here, `${bench}.bench.mjs`), ...extra, '--json', join(out, `${bench}-${label}.json`)],
      { stdio: 'inherit' },
    );
    if (result.status !== 0) failed = true;
  }
}
process.exit(failed ? 1 : 0);
