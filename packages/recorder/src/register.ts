/**
 * Zero-code recording: `node --import @agent-replay/recorder/register app.js`, configured by AGENT_REPLAY_*
 * environment variables (see environment.ts). Registers a SessionRecorder with the SDK's global trace provider,
 * which is shared by every copy of the SDK in the process, so the app's own import sees it.
 */
import { addTraceProcessor, setTraceProcessors } from '@openai/agents';
import { configFromEnvironment } from './environment.js';
import { SessionRecorder } from './recorder.js';

function install(): SessionRecorder | undefined {
  let config: ReturnType<typeof configFromEnvironment>;
  try {
    config = configFromEnvironment();
  } catch (error) {
    // A misconfiguration must not stop the app, but it must not go unnoticed either.
    process.stderr.write(`agent-replay: not recording: ${(error as Error).message}\n`);
    return undefined;
  }
  if (config.disabled) return undefined;
  const recorder = new SessionRecorder(config.options);
  if (config.exclusive) setTraceProcessors([recorder]);
  else addTraceProcessor(recorder);
  return recorder;
}

/** The recorder installed by this preload (undefined when disabled or misconfigured). */
export const recorder: SessionRecorder | undefined = install();
