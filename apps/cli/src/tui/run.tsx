/** Mounts the TUI full-screen (alternate screen, wheel scrolling as arrow keys) and restores the terminal after. */
import { Worker } from 'node:worker_threads';
import type { SessionDiff, SessionTimeline } from '@agent-replay/analysis';
import { render } from 'ink';
import type { ReactNode } from 'react';
import { App } from './app.js';
import { DiffApp } from './diff-app.js';

// Our own control sequences (never text from a session): alternate screen; in it, a mouse wheel sends arrow keys
// (xterm "alternate scroll"), which moves the cursor without any mouse parsing.
const ENTER = '\u001b[?1049h\u001b[?1007h\u001b[H';
const LEAVE = '\u001b[?1007l\u001b[?1049l';

/** The verdict of the file, computed in a worker thread. */
function verifyInWorker(path: string): Promise<string> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./verify-worker.js', import.meta.url), {
      workerData: { path },
      // A small young generation: ~30 MB less peak memory on a million-record file for ~7% more verifying time.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    worker.once('message', (message: { verdict: string }) => {
      resolve(message.verdict);
      void worker.terminate();
    });
    worker.once('error', () => resolve('UNREADABLE'));
    worker.unref();
  });
}

/** Renders `node` full screen until it exits, then gives the terminal back as it was. */
async function fullScreen(node: ReactNode): Promise<void> {
  const out = process.stdout;
  out.write(ENTER);
  const restore = () => out.write(LEAVE);
  process.once('exit', restore);
  try {
    const instance = render(node, {
      exitOnCtrlC: true,
      incrementalRendering: true,
      patchConsole: true,
      maxFps: 30,
    });
    await instance.waitUntilExit();
  } finally {
    process.off('exit', restore);
    restore();
  }
}

export async function runTui(timeline: SessionTimeline, options: { follow: boolean }): Promise<void> {
  try {
    await fullScreen(
      <App timeline={timeline} follow={options.follow} verify={() => verifyInWorker(timeline.path)} />,
    );
  } finally {
    timeline.close();
  }
}

export async function runDiffTui(report: SessionDiff): Promise<void> {
  await fullScreen(<DiffApp report={report} />);
}
