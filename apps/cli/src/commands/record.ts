import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { join, relative } from 'node:path';
import { verifySession } from '@agent-replay/format';
import { UserError } from '../errors.js';
import { sanitize, styleFor } from '../terminal.js';

export interface RecordCommandOptions {
  identity?: string;
  identityKind?: string;
  redaction?: string;
  sign?: string;
  exclusive?: boolean;
}

const REGISTER_URL = import.meta.resolve('@agent-replay/recorder/register');

/** Size and mtime of every session file in `sessionsDir`, to tell afterwards which ones a run wrote. */
function snapshotSessions(sessionsDir: string): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = readdirSync(sessionsDir).filter((n) => n.endsWith('.arec'));
  } catch {
    return out;
  }
  for (const name of names) {
    try {
      const stat = statSync(join(sessionsDir, name));
      out.set(join(sessionsDir, name), `${stat.size}:${stat.mtimeMs}`);
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

/** Session files that are new or changed since `before`, oldest first. */
function sessionsWrittenSince(sessionsDir: string, before: Map<string, string>): string[] {
  return [...snapshotSessions(sessionsDir)]
    .filter(([path, stamp]) => before.get(path) !== stamp)
    .map(([path, stamp]) => ({ path, mtime: Number(stamp.split(':')[1]) }))
    .sort((a, b) => a.mtime - b.mtime)
    .map((s) => s.path);
}

/**
 * Runs a command with the recorder (and any other `preloads`) imported into every Node process it starts
 * (NODE_OPTIONS --import), with `env` added. Resolves with its exit code and the sessions written meanwhile.
 */
export async function runRecorded(
  dir: string,
  command: string[],
  env: NodeJS.ProcessEnv,
  preloads: readonly string[] = [],
): Promise<{ code: number; sessions: string[] }> {
  const [program, ...args] = command;
  if (!program) throw new UserError('nothing to run (usage: agent-replay record -- node app.js)');
  const imports = [REGISTER_URL, ...preloads].map((url) => `--import=${url}`).join(' ');
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${imports}`.trim(),
    AGENT_REPLAY_DIR: dir,
  };
  const sessionsDir = join(dir, 'sessions');
  const before = snapshotSessions(sessionsDir);
  const child = spawn(program, args, { stdio: 'inherit', env: childEnv });
  // Ctrl-C reaches the child directly (same process group): forwarding it would deliver it twice. We just
  // outlive it. SIGTERM/SIGHUP are usually sent to us alone, so they are passed on.
  const ignore = () => {};
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', ignore).on('SIGTERM', forward).on('SIGHUP', forward);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        new UserError(
          `cannot run ${program}: ${error.code === 'ENOENT' ? 'command not found' : error.message}`,
        ),
      ),
    );
    child.on('exit', (exitCode, signal) =>
      resolve(exitCode ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)),
    );
  }).finally(() => process.off('SIGINT', ignore).off('SIGTERM', forward).off('SIGHUP', forward));
  return { code, sessions: sessionsWrittenSince(sessionsDir, before) };
}

/** One line per session written: its path and verdict (stderr). */
export async function reportSessions(dir: string, sessions: readonly string[]): Promise<void> {
  const style = styleFor(process.stderr);
  if (sessions.length === 0) {
    process.stderr.write(
      `agent-replay: no session recorded in ${join(dir, 'sessions')} (did the program run an agent with tracing enabled?)\n`,
    );
  }
  for (const file of sessions) {
    const report = await verifySession(file);
    const verdict = report.verdict === 'VALID' ? style.green(report.verdict) : style.yellow(report.verdict);
    process.stderr.write(
      `agent-replay: recorded ${sanitize(relative(process.cwd(), file) || file)} ${verdict}\n`,
    );
  }
}

/**
 * Runs a command with the recorder preloaded into every Node process it starts (NODE_OPTIONS --import), so an
 * unmodified agent is recorded. Exits with the command's exit code and lists the sessions it wrote.
 */
export async function recordCommand(
  dir: string,
  command: string[],
  options: RecordCommandOptions,
): Promise<number> {
  const env: NodeJS.ProcessEnv = {};
  if (options.identity) env.AGENT_REPLAY_IDENTITY = options.identity;
  if (options.identityKind) env.AGENT_REPLAY_IDENTITY_KIND = options.identityKind;
  if (options.redaction) env.AGENT_REPLAY_REDACTION = options.redaction;
  if (options.sign) env.AGENT_REPLAY_SIGNING_KEY = options.sign;
  if (options.exclusive) env.AGENT_REPLAY_EXCLUSIVE = '1';
  const { code, sessions } = await runRecorded(dir, command, env);
  await reportSessions(dir, sessions);
  return code;
}
