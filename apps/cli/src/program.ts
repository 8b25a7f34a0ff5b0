import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { catCommand } from './commands/cat.js';
import { recordCommand } from './commands/record.js';
import { verifyCommand } from './commands/verify.js';
import { VERSION } from './version.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').filter(Boolean)];
}

/**
 * The whole command tree. Each action stores its exit code in `result.exitCode`; main.ts owns process exit so
 * that output is flushed first.
 */
export function createProgram(result: { exitCode: number }): Command {
  const program = new Command('agent-replay')
    .description('Flight recorder and forensics toolkit for agents built on the OpenAI Agents SDK')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions()
    .configureOutput({ outputError: (text, write) => write(text) })
    .option(
      '--dir <dir>',
      'agent-replay directory (sessions in <dir>/sessions); default $AGENT_REPLAY_DIR or ./.agent-replay',
    );
  const dir = (): string => resolve(program.opts().dir ?? (process.env.AGENT_REPLAY_DIR || '.agent-replay'));

  program
    .command('verify')
    .description('verify session files: VALID (exit 0), TAMPERED/UNREADABLE (exit 1), UNSEALED/TORN (exit 3)')
    .argument('<files...>', 'session files (.arec)')
    .option('--json', 'machine-readable report')
    .option('--key <public.pem>', 'trusted Ed25519 public key: every checkpoint must be signed by it')
    .option(
      '--thorough',
      'also parse every record and check its envelope (slower; hashes already cover every byte)',
    )
    .action(async (files: string[], options) => {
      result.exitCode = await verifyCommand(files, options);
    });

  program
    .command('cat')
    .description('print the records of a session (NDJSON with --json)')
    .argument('<file>', 'session file (.arec)')
    .option('--json', 'one canonical JSON record per line, exactly as stored')
    .option('--resolve', 'expand deduplicated blob references')
    .addOption(
      new Option('--type <types>', 'only these record types (comma-separated, repeatable)').argParser(
        collect,
      ),
    )
    .addOption(new Option('--from <seq>', 'first seq').argParser(positiveInt))
    .addOption(new Option('--to <seq>', 'last seq').argParser(positiveInt))
    .action(async (file: string, options) => {
      result.exitCode = await catCommand(file, options);
    });

  program
    .command('record')
    .description(
      'run a Node program with the recorder preloaded (no code change): agent-replay record -- node app.js',
    )
    .argument('<command...>', 'the command to run, after --')
    .option(
      '--identity <subject|json>',
      'who runs the agent (recorded unverified), e.g. svc-ci or {"subject":…}',
    )
    .option('--identity-kind <kind>', 'human, service or agent')
    .option('--redaction <profile>', 'secrets (default), strict (adds PII) or off')
    .option('--sign <private.pem>', 'Ed25519 private key that signs checkpoints')
    .option('--exclusive', 'record only: replace the SDK trace processors (no export to OpenAI)')
    .passThroughOptions()
    .action(async (command: string[], options) => {
      result.exitCode = await recordCommand(dir(), command, options);
    });

  return program;
}
