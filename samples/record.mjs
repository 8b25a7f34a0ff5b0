// Re-records every sample session: node samples/record.mjs [--out dir]   (pnpm samples:record; needs pnpm build)
//
// Writes <out>/config-agent.arec, <out>/ci-exfil.arec, <out>/research-assistant-*.arec and the public key that
// verifies their signed checkpoints, <out>/signing.pub.pem (default out: samples/sessions). The signing key pair and
// the redaction key are made fresh for each recording in a temporary directory that is removed afterwards: no
// private key is ever written into the repository. Session ids and times differ from one recording to the next;
// what the agents do does not.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = resolve(here, '..');
const cli = join(root, 'apps/cli/dist/main.js');
const { values } = parseArgs({ options: { out: { type: 'string', default: join(here, 'sessions') } } });
const out = resolve(values.out);

/** Every recording: the file it becomes, the command (run from the repository root), the exit code it ends with. */
const RESEARCH = ['node', 'samples/research-assistant/agent.mjs'];
const RESEARCHER = ['--identity', 'dana@research.acme.example', '--identity-kind', 'human'];
const recordings = [
  { name: 'config-agent', command: ['node', 'samples/config-agent/agent.mjs'], exit: 0 },
  { name: 'ci-exfil', command: ['node', 'samples/ci-exfil/agent.mjs'], exit: 0 },
  ...[
    { name: 'research-assistant-v1', args: ['--prompt', 'v1'], exit: 0 },
    { name: 'research-assistant-v2', args: ['--prompt', 'v2'], exit: 0 },
    { name: 'research-assistant-blocked-model', args: ['--model', 'gpt-3.5-turbo'], exit: 3 },
    { name: 'research-assistant-blocked-tool', args: ['--question', 'cleanup'], exit: 0 },
    { name: 'research-assistant-rate-limit', args: ['--question', 'survey'], exit: 3 },
  ].map(({ name, args, exit }) => ({
    name,
    // The research assistant is an unmodified program: `agent-replay record` preloads the recorder (--sign).
    command: [
      'node',
      cli,
      '--dir',
      '{dir}',
      'record',
      '--sign',
      '{key}',
      ...RESEARCHER,
      '--',
      ...RESEARCH,
      ...args,
    ],
    exit,
  })),
];

function run(command, env) {
  return new Promise((done, fail) => {
    const child = spawn(command[0], command.slice(1), {
      cwd: root,
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', fail);
    child.on('exit', (code, signal) => done(code ?? `signal ${signal}`));
  });
}

const work = mkdtempSync(join(tmpdir(), 'agent-replay-samples-'));
try {
  const keyFile = join(work, 'signing.key.pem');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'signing.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));

  const env = {
    ...process.env,
    NODE_ENV: 'production', // the SDK turns tracing off under NODE_ENV=test
    AGENT_REPLAY_SIGNING_KEY: keyFile,
    AGENT_REPLAY_REDACTION_KEY_FILE: join(work, 'redaction.key'),
  };
  // The research assistant starts its stand-in OpenAI server only when no real endpoint is configured.
  for (const name of ['OPENAI_BASE_URL', 'AGENT_REPLAY_DIR', 'AGENT_REPLAY_IDENTITY', 'AGENT_REPLAY_DISABLE'])
    delete env[name];

  const written = [];
  for (const { name, command, exit } of recordings) {
    const dir = join(work, name);
    process.stdout.write(`\n── ${name}\n`);
    const code = await run(
      command.map((arg) => arg.replace('{dir}', dir).replace('{key}', keyFile)),
      { ...env, AGENT_REPLAY_DIR: dir },
    );
    if (code !== exit) throw new Error(`${name}: exited with ${code}, expected ${exit}`);
    const sessions = readdirSync(join(dir, 'sessions')).filter((file) => file.endsWith('.arec'));
    if (sessions.length !== 1) throw new Error(`${name}: expected one session, found ${sessions.length}`);
    const target = join(out, `${name}.arec`);
    copyFileSync(join(dir, 'sessions', sessions[0]), target);
    chmodSync(target, 0o644); // the recorder creates sessions 0600; these are for everyone to read
    written.push(target);
  }

  process.stdout.write('\n── verify\n');
  const verified = await run(['node', cli, 'verify', '--key', join(out, 'signing.pub.pem'), ...written], env);
  if (verified !== 0) throw new Error(`agent-replay verify exited with ${verified}`);
  process.stdout.write(
    `\n${written.length} sessions and signing.pub.pem in ${relative(process.cwd(), out) || '.'}\n`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
