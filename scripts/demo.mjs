// The session-file walkthrough: what `pnpm demo` shows until the sample agents arrive.
// Writes a signed session, verifies it, reads it with the stock zstd CLI, then shows that tampering and a crash
// are caught and how a resumed writer recovers. Everything is real: the CLI runs as a user would run it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningKey, SessionWriter } from '@agent-replay/format';

const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'apps', 'cli', 'dist', 'main.js');
const dir = join(process.cwd(), '.agent-replay', 'demo');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const cli = (...args) => {
  console.log(`\n$ agent-replay ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cliPath, ...args], { stdio: 'inherit' });
  console.log(`(exit ${r.status})`);
};
const step = (text) => console.log(`\n\u2500\u2500 ${text}`);

step('A signing key and a session, written the way the recorder will write an agent run');
const key = generateSigningKey();
writeFileSync(join(dir, 'signing.pem'), key.privateKeyPem, { mode: 0o600 });
writeFileSync(join(dir, 'signing.pub.pem'), key.publicKeyPem);
const session = join(dir, 'config-agent.arec');
const writer = await SessionWriter.create(session, { signingKey: key.privateKeyPem, segmentBytes: 4096 });
writer.append('session.start', {
  workflow: 'config-agent',
  identity: { subject: 'svc-deployer', kind: 'service', verified: false },
});
const history = [
  { role: 'system', content: 'You validate deployment configs and may only push to staging. '.repeat(20) },
];
for (let turn = 1; turn <= 6; turn++) {
  history.push({ role: 'user', content: `turn ${turn}: check payments-api.yaml` });
  writer.append('span.end', { span: { kind: 'response', data: { _input: [...history] } } });
}
writer.append(
  'policy.decision',
  {
    decision: 'deny',
    subject: { kind: 'tool', name: 'push_config', args: { environment: 'production' } },
    rule: 'staging-first',
    reason: 'push to staging first',
  },
  { flush: true },
);
writer.append('session.end', { status: 'completed' });
await writer.close();
console.log(
  `wrote ${session} (${writer.stats.records} records, ${writer.stats.blobsStored} deduplicated blobs)`,
);

step('Verify it against the trusted public key');
cli('verify', session, '--key', join(dir, 'signing.pub.pem'));

step('Read it with no agent-replay at all: the file is plain zstd frames of NDJSON');
console.log(`$ zstd -dc ${session} | head -c 300`);
const zstd = spawnSync('zstd', ['-dc', session]);
console.log(`${zstd.stdout.subarray(0, 300).toString('utf8')}…`);

step('The policy decision, through the CLI');
cli('cat', session, '--type', 'policy.decision');

step('Someone edits one byte: verification names where');
const tampered = join(dir, 'tampered.arec');
const bytes = readFileSync(session);
bytes[Math.floor(bytes.length * 0.6)] ^= 0x20;
writeFileSync(tampered, bytes);
cli('verify', tampered);

step('The recording process dies mid-write: the valid prefix still verifies and reads');
const crashed = join(dir, 'crashed.arec');
writeFileSync(crashed, readFileSync(session));
truncateSync(crashed, readFileSync(session).length - 700);
cli('verify', crashed);

step(
  'A resumed run re-opens it: the torn tail moves to a sidecar, a recovery record is written, writing continues',
);
const resumed = await SessionWriter.open(crashed, { signingKey: key.privateKeyPem });
console.log(`recovered: moved ${resumed.recovery.droppedBytes} bytes to ${resumed.recovery.sidecar}`);
resumed.append('session.end', { status: 'completed', resumed: true });
await resumed.close();
cli('verify', crashed, '--key', join(dir, 'signing.pub.pem'));

console.log(
  `\nNext: pnpm agent-replay cat ${session} --json --resolve | jq .   ·   pnpm agent-replay verify --json ${session}`,
);
