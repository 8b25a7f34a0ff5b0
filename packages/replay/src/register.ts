/**
 * Zero-code replay: `node --import @agent-replay/replay/register app.js` (what `agent-replay replay` sets up).
 * Environment: `AGENT_REPLAY_REPLAY_FROM` (the session to replay), `AGENT_REPLAY_ON_DIVERGENCE`
 * (`stop` (default) | `continue` | `live`), `AGENT_REPLAY_LIVE_TOOLS=1` (run the real tools).
 * The model provider and tool interception are installed into the SDK copy the app resolves as well as ours.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ModelProvider } from '@openai/agents';
import { type DivergencePolicy, ReplayModelProvider } from './provider.js';
import { Recording } from './recording.js';
import { serveRecordedTools } from './tools.js';

type Sdk = {
  setDefaultModelProvider(provider: ModelProvider): void;
  Agent: { prototype: { name: string; getAllTools(c: unknown, p?: unknown): Promise<unknown[]> } };
};

const POLICIES: readonly DivergencePolicy[] = ['stop', 'continue', 'live'];

/** Every copy of the SDK that can be loaded: ours, the app's ESM and CommonJS builds. */
async function sdkCopies(): Promise<Sdk[]> {
  const copies = new Set<Sdk>();
  try {
    copies.add((await import('@openai/agents')) as unknown as Sdk);
  } catch {}
  const fromApp = createRequire(join(process.cwd(), 'noop.js'));
  try {
    copies.add(fromApp('@openai/agents') as Sdk);
  } catch {}
  try {
    copies.add((await import(fromApp.resolve('@openai/agents'))) as unknown as Sdk);
  } catch {}
  return [...copies];
}

async function install(): Promise<void> {
  const from = process.env.AGENT_REPLAY_REPLAY_FROM;
  if (!from) return;
  const policy = (process.env.AGENT_REPLAY_ON_DIVERGENCE || 'stop') as DivergencePolicy;
  if (!POLICIES.includes(policy)) {
    throw new Error(`AGENT_REPLAY_ON_DIVERGENCE="${policy}": expected one of ${POLICIES.join(', ')}`);
  }
  const recording = await Recording.load(from);
  const options = {
    onDivergence: policy,
    onDiverged: (d: { reason: string }) => process.stderr.write(`agent-replay: divergence: ${d.reason}\n`),
  };
  const provider = new ReplayModelProvider(recording, options);
  // Two copies can share one Agent class: patched twice, each tool call would take two recorded calls.
  const patched = new Set<unknown>();
  for (const sdk of await sdkCopies()) {
    sdk.setDefaultModelProvider(provider);
    if (process.env.AGENT_REPLAY_LIVE_TOOLS === '1' || patched.has(sdk.Agent)) continue;
    patched.add(sdk.Agent);
    serveRecordedTools(sdk.Agent, recording, options);
  }
}

try {
  await install();
} catch (error) {
  // Replaying the wrong thing silently would be worse than not starting: the run must not go live by accident.
  process.stderr.write(`agent-replay: cannot replay: ${(error as Error).message}\n`);
  process.exit(2);
}
