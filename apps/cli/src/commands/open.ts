import { SessionTimeline } from '@agent-replay/analysis';
import { SessionFileError } from '@agent-replay/format';
import { resolveSessionPath } from '../catalog-access.js';
import { UserError } from '../errors.js';

export interface OpenCommandOptions {
  follow?: boolean;
}

/** `agent-replay open <session>`: the interactive timeline. */
export async function openCommand(dir: string, ref: string, options: OpenCommandOptions): Promise<number> {
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    throw new UserError(
      '`open` needs an interactive terminal; in a pipe or a script use `agent-replay show <session>` (summary) or `agent-replay cat <session>` (records)',
    );
  }
  const path = await resolveSessionPath(ref, dir);
  // The TUI as one bundled module (scripts/bundle-tui.mjs): Ink loads ~4× faster that way. Same API as tui/run.ts.
  // It loads while the file is opened.
  const bundle = new URL('../tui/bundle.js', import.meta.url).href;
  const tui = import(bundle) as Promise<typeof import('../tui/run.js')>;
  let timeline: SessionTimeline;
  try {
    timeline = await SessionTimeline.open(path);
    // The first segment before the first frame, so the screen is never drawn empty.
    await timeline.loadMore(1);
  } catch (error) {
    tui.catch(() => {});
    if (error instanceof SessionFileError) throw new UserError(error.message);
    throw error;
  }
  const { runTui } = await tui;
  await runTui(timeline, { follow: options.follow ?? false });
  return 0;
}
