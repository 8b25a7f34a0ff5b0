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

/** Sessions in `sessionsDir` written to since `since` (ms), oldest first. */
function sessionsTouchedSince(sessionsDir: string, since: number): string[] {
  let names: string[];
  try {
    names = readdirSync(sessionsDir).filter((n) => n.endsWith('.arec'));
  } catch {
    return [];
  }
  return names
    .flatMap((name) => {
      try {
        return [{ path: join(sessionsDir, name), mtime: statSync(join(sessionsDir, name)).mtimeMs }];
      } catch {
        return []; // removed meanwhile
      }
    })
    .filter((s) => s.mtime >= since)
    .sort((a, b) => a.mtime - b.mtime)
    .map((s) => s.path);
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
  const [program, ...args] = command;
  if (!program) throw new UserError('record: nothing to run (usage: agent-replay record -- node app.js)');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${REGISTER_URL}`.trim(),
    AGENT_REPLAY_DIR: dir,
  };
  if (options.identity) env.AGENT_REPLAY_IDENTITY = options.identity;
  if (options.identityKind) env.AGENT_REPLAY_IDENTITY_KIND = options.identityKind;
  if (options.redaction) env.AGENT_REPLAY_REDACTION = options.redaction;
  if (options.sign) env.AGENT_REPLAY_SIGNING_KEY = options.sign;
  if (options.exclusive) env.AGENT_REPLAY_EXCLUSIVE = '1';

  const started = Date.now() - 1000; // mtime granularity
  const child = spawn(program, args, { stdio: 'inherit', env });
  // Ctrl-C reaches the child directly (same process group): forwarding it would deliver it twice. We just
  // outlive it. SIGTERM/SIGHUP are usually sent to us alone, so they are passed on.
  const ignore = () => {};
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', ignore).on('SIGTERM', forward).on('SIGHUP', forward);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        new UserError(
          `record: cannot run ${program}: ${error.code === 'ENOENT' ? 'command not found' : error.message}`,
        ),
      ),
    );
    child.on('exit', (exitCode, signal) =>
      resolve(exitCode ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)),
    );
  }).finally(() => process.off('SIGINT', ignore).off('SIGTERM', forward).off('SIGHUP', forward));

  const sessions = sessionsTouchedSince(join(dir, 'sessions'), started);
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
  return code;
}
