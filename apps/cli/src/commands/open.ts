import { SessionTimeline } from '@agent-replay/analysis';
import { SessionFileError } from '@agent-replay/format';
import { resolveSessionPath } from '../catalog-access.js';
import { UserError } from '../errors.js';
import { loadTui } from '../tui-loader.js';

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
  // The TUI loads while the file is opened.
  const tui = loadTui();
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
