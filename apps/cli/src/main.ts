#!/usr/bin/env node
import { CommanderError } from 'commander';
import { UserError } from './errors.js';
import { createProgram } from './program.js';
import { sanitize } from './terminal.js';

// `pnpm agent-replay …` runs from the repository root; paths the user typed are relative to where they typed them.
if (process.env.npm_lifecycle_event === 'agent-replay' && process.env.INIT_CWD)
  process.chdir(process.env.INIT_CWD);

const result = { exitCode: 0 };
const program = createProgram(result).exitOverride();

// A closed pipe (`agent-replay cat x | head`, or `2>&1 | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(result.exitCode);
    throw error;
  });
}

try {
  await program.parseAsync(process.argv);
  process.exitCode = result.exitCode;
} catch (error) {
  if (error instanceof CommanderError) {
    // commander already printed its message (or help/version output, which exit 0)
    process.exitCode = error.exitCode;
  } else if (error instanceof UserError) {
    // Some user errors list choices (an ambiguous session prefix) one per line.
    process.stderr.write(`agent-replay: ${sanitize(error.message, { keepNewlines: true })}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(
      `agent-replay: internal error: ${sanitize(String((error as Error)?.stack ?? error))}\n`,
    );
    process.exitCode = 70;
  }
}
