// Bundles the TUI (our code, Ink, React and their dependencies) into one ES module. Loading Ink from its ~200
// separate files costs ~350 ms of module resolution on these machines; one file loads in ~100 ms, and that is most
// of the time before `agent-replay open` shows its first screen.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'tui');
await build({
  entryPoints: [join(dist, 'run.js')],
  outfile: join(dist, 'bundle.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Our own packages stay separate modules (the CLI imports them already); everything else is inlined.
  external: ['@agent-replay/*'],
  // React's production build (the development build checks and warns on every render).
  define: { 'process.env.NODE_ENV': '"production"' },
  // Ink loads React DevTools only when DEV=true; the bundle leaves it out instead of failing to resolve it.
  alias: { 'react-devtools-core': join(dirname(fileURLToPath(import.meta.url)), 'no-devtools.mjs') },
  // CommonJS dependencies (React) call require(); give the bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  legalComments: 'none',
  logLevel: 'warning',
});
