// `pnpm demo`: the product in five minutes. Records the three sample agents fresh (the real Agents SDK with
// scripted models, the real recorder), shows and verifies the config-agent incident, shows tampering caught, then
// opens the incident in the TUI (on a terminal) and lists the next commands to try. Everything runs as a user
// would run it: the CLI, the sample programs, the stock zstd.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cliPath = join(root, 'apps', 'cli', 'dist', 'main.js');
const dir = join(process.cwd(), '.agent-replay', 'demo');
const shown = (path) => relative(process.cwd(), path) || '.';
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

const run = (label, args, options = {}) => {
  console.log(`\n$ ${label}`);
  const result = spawnSync(process.execPath, args, { stdio: 'inherit', ...options });
  return result.status;
};
const cli = (...args) => run(`agent-replay ${args.join(' ')}`, [cliPath, ...args]);
const step = (text) => console.log(`\n\u2500\u2500 ${text}`);

step('Record the sample agents: a config agent, a leftover CI assistant, a governed research assistant');
const recorded = run(`node samples/record.mjs --out ${shown(dir)}`, [
  join(root, 'samples', 'record.mjs'),
  '--out',
  dir,
]);
if (recorded !== 0) {
  console.error('recording the samples failed');
  process.exit(1);
}
const session = (name) => shown(join(dir, `${name}.arec`));
const key = shown(join(dir, 'signing.pub.pem'));

step('The incident that did not happen: the config agent tried to push a fix to production');
cli('show', session('config-agent'));

step('Someone edits one byte of the evidence: verification says where');
const tampered = join(dir, 'config-agent.tampered.arec');
const bytes = readFileSync(join(dir, 'config-agent.arec'));
bytes[Math.floor(bytes.length * 0.6)] ^= 0x20;
writeFileSync(tampered, bytes, { mode: 0o600 });
cli('verify', shown(tampered), '--key', key);
rmSync(tampered);

if (process.stdout.isTTY && process.stdin.isTTY) {
  step('Step through it yourself (arrows, Enter, d = next denial, / = search, p = play, ? = help, q = quit)');
  cli('open', session('config-agent'));
}

const next = [
  `agent-replay open ${session('ci-exfil')}                  # the leftover CI agent: expired identity, redacted secrets`,
  `agent-replay diff ${session('research-assistant-v1')} ${session('research-assistant-v2')}`,
  `agent-replay policy test samples/policies/prod-guard-v2.yaml ${session('config-agent')}`,
  `agent-replay export ${session('config-agent')} ${session('ci-exfil')} -o case-123.zip --case-id CASE-123`,
  'agent-replay verify case-123.zip                # then unzip it and follow VERIFY.md with standard tools',
];
console.log(
  `\nNext, with \`pnpm agent-replay\` (or the built CLI):\n${next.map((line) => `  ${line}`).join('\n')}`,
);
