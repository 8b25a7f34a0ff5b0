/** Verifies a session file off the main thread, so the TUI draws and reads keys while a big file is checked. */
import { parentPort, workerData } from 'node:worker_threads';
import { verifySession } from '@agent-replay/format';

const { path } = workerData as { path: string };
verifySession(path).then(
  (report) => parentPort?.postMessage({ verdict: report.verdict }),
  () => parentPort?.postMessage({ verdict: 'UNREADABLE' }),
);
