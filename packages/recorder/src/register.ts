/**
 * Zero-code recording: `node --import @agent-replay/recorder/register app.js`, configured by AGENT_REPLAY_*
 * environment variables (see environment.ts).
 *
 * The SDK keeps one trace provider on globalThis, shared by every copy of the package in the process (the ESM and
 * the CommonJS build, the app's copy and ours). Each copy, when loaded, installs its default OpenAI exporter with
 * `setTraceProcessors([…])`, which would drop a recorder added earlier; so the provider's processor list is
 * guarded to keep the recorder in it whatever replaces the list later.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { configFromEnvironment } from './environment.js';
import { SessionRecorder } from './recorder.js';

interface Provider {
  registerProcessor(processor: unknown): void;
  setProcessors(processors: unknown[]): void;
}

type Sdk = { getGlobalTraceProvider(): Provider };

/** Any copy of the SDK reaches the shared provider: ours, else the one the app resolves from where it runs. */
async function loadSdk(): Promise<Sdk> {
  try {
    return (await import('@openai/agents')) as unknown as Sdk;
  } catch {
    return createRequire(join(process.cwd(), 'noop.js'))('@openai/agents') as Sdk;
  }
}

/**
 * Keeps the recorder registered whatever replaces the processor list. Exclusive mode keeps it the only one
 * there (the default exporters each copy installs are dropped); processors added one by one stay possible.
 */
function keepRecorder(provider: Provider, recorder: SessionRecorder, exclusive: boolean): void {
  const setProcessors = provider.setProcessors.bind(provider);
  provider.setProcessors = (processors: unknown[]) => {
    // The provider shuts down every processor it replaces; the recorder stays, so it must not seal its sessions.
    const shutdown = Object.getOwnPropertyDescriptor(recorder, 'shutdown');
    recorder.shutdown = async () => {};
    try {
      if (exclusive) setProcessors([recorder]);
      else setProcessors(processors.includes(recorder) ? processors : [...processors, recorder]);
    } finally {
      if (shutdown) Object.defineProperty(recorder, 'shutdown', shutdown);
      else delete (recorder as { shutdown?: unknown }).shutdown;
    }
  };
}

async function install(): Promise<SessionRecorder | undefined> {
  let config: ReturnType<typeof configFromEnvironment>;
  try {
    config = configFromEnvironment();
  } catch (error) {
    // A misconfiguration must not stop the app, but it must not go unnoticed either.
    process.stderr.write(`agent-replay: not recording: ${(error as Error).message}\n`);
    return undefined;
  }
  if (config.disabled) return undefined;
  let sdk: Sdk;
  try {
    sdk = await loadSdk();
  } catch (error) {
    process.stderr.write(
      `agent-replay: not recording: cannot load @openai/agents (${(error as Error).message})\n`,
    );
    return undefined;
  }
  const recorder = new SessionRecorder(config.options);
  const provider = sdk.getGlobalTraceProvider();
  if (config.exclusive) provider.setProcessors([recorder]);
  else provider.registerProcessor(recorder);
  keepRecorder(provider, recorder, config.exclusive);
  return recorder;
}

/** The recorder installed by this preload (undefined when disabled or misconfigured). */
export const recorder: SessionRecorder | undefined = await install();
