/** Reads the steps of one session in a worker thread, so the two sessions of a diff are read at the same time. */
import { parentPort, workerData } from 'node:worker_threads';
import { readSteps, type StepOptions } from './steps.js';

const { path, options } = workerData as { path: string; options: StepOptions };
readSteps(path, options).then(
  (steps) => parentPort?.postMessage({ steps }),
  (error: unknown) => {
    const e = error as { reason?: string; message?: string; code?: string; offset?: number };
    parentPort?.postMessage({
      error: e.reason ?? e.message ?? String(error),
      code: e.code,
      offset: e.offset,
    });
  },
);
