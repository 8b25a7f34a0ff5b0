import { Command, InvalidArgumentError, Option } from 'commander';
import { catCommand } from './commands/cat.js';
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
    .configureOutput({ outputError: (text, write) => write(text) });

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

  return program;
}
