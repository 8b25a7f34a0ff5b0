import { setTraceProcessors, setTracingDisabled, type TracingProcessor } from '@openai/agents';

/**
 * Records real Agents SDK runs: `run` goes with `processor` as the SDK's only trace processor and tracing switched
 * on (vitest sets NODE_ENV=test, which turns SDK tracing off); then the processor is shut down (a recorder seals and
 * closes its sessions) and unregistered, whether `run` succeeded or threw.
 *
 * It takes the processor rather than building a SessionRecorder into a directory itself: @agent-replay/recorder's
 * tests depend on testkit, so testkit depending on the recorder would make the workspace's build order a cycle.
 * Callers build the recorder with the options their test needs (`new SessionRecorder({ dir, … })`).
 */
export async function withTraceProcessor<P extends TracingProcessor>(
  processor: P,
  run: (processor: P) => Promise<unknown>,
): Promise<void> {
  setTracingDisabled(false);
  setTraceProcessors([processor]);
  try {
    await run(processor);
  } finally {
    await processor.shutdown();
    setTraceProcessors([]);
  }
}
