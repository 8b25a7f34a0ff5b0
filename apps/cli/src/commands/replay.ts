import { resolve } from 'node:path';
import { diffSessions } from '@agent-replay/analysis';
import { SessionReader } from '@agent-replay/format';
import { resolveSessionPath } from '../catalog-access.js';
import { UserError } from '../errors.js';
import { sanitize, styleFor } from '../terminal.js';
import { humanReport } from './diff.js';
import { reportSessions, runRecorded } from './record.js';

export interface ReplayCommandOptions {
  /** What to do when the run departs from the recording: stop (default), continue with recorded output, live. */
  onDivergence?: 'stop' | 'continue' | 'live';
  /** Run the real tools instead of serving their recorded outputs. */
  liveTools?: boolean;
}

const REPLAY_REGISTER_URL = import.meta.resolve('@agent-replay/replay/register');

/** The session a replay wrote: its `session.start` names the original in `replay_of`. */
async function isReplayOf(file: string, original: string): Promise<boolean> {
  try {
    const reader = await SessionReader.open(file);
    try {
      const start = (await reader.get(1)) as { replay_of?: { path?: string } } | undefined;
      return start?.replay_of?.path === original;
    } finally {
      reader.close();
    }
  } catch {
    return false;
  }
}

/**
 * `agent-replay replay <session> -- <cmd…>`: re-runs the unmodified agent with recorded model answers (and tool
 * outputs), records it as a new session linked to the original, and prints how the two differ. Exit: the
 * command's code if it failed, else 0 when the replay is equivalent to the original and 1 when it is not.
 */
export async function replayCommand(
  dir: string,
  ref: string,
  command: string[],
  options: ReplayCommandOptions,
): Promise<number> {
  let original: string;
  let sessionId: string | null = null;
  try {
    original = resolve(await resolveSessionPath(ref, dir));
    const reader = await SessionReader.open(original);
    sessionId = ((await reader.get(1)) as { session_id?: string } | undefined)?.session_id ?? null;
    reader.close();
  } catch (error) {
    // 1 means "replayed, and different": not finding or reading the session is trouble (2), as for diff.
    throw new UserError(`replay: ${(error as Error).message}`, 2);
  }
  const env: NodeJS.ProcessEnv = {
    AGENT_REPLAY_REPLAY_FROM: original,
    AGENT_REPLAY_REPLAY_OF: JSON.stringify({ session_id: sessionId, path: original }),
    AGENT_REPLAY_ON_DIVERGENCE: options.onDivergence ?? 'stop',
    ...(options.liveTools ? { AGENT_REPLAY_LIVE_TOOLS: '1' } : {}),
  };
  const { code, sessions } = await runRecorded(dir, command, env, [REPLAY_REGISTER_URL]);
  await reportSessions(dir, sessions);
  const replays: string[] = [];
  for (const file of sessions) if (await isReplayOf(file, original)) replays.push(file);
  const replay = replays.at(-1);
  if (!replay) {
    process.stderr.write('agent-replay: the command recorded no replayed session: nothing to compare\n');
    return code !== 0 ? code : 2;
  }
  const report = await diffSessions(original, replay);
  process.stdout.write(humanReport(report, styleFor(process.stdout), 20));
  process.stderr.write(
    `agent-replay: replay ${sanitize(replay)} is ${report.equivalent ? 'equivalent to' : 'different from'} the original\n`,
  );
  if (code !== 0) return code;
  return report.equivalent ? 0 : 1;
}
