import { resolve } from 'node:path';
import { STEP_KINDS } from '@agent-replay/analysis/step-kinds';
import { toTimestamp } from '@agent-replay/format';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { registerCompletionCommand } from './commands/completion.js';
import { VERSION } from './version.js';

// Commands are loaded when they run: a CLI started for one query should not pay for loading SQLite, the recorder
// and every other command first.

export const STATS_DIMENSIONS = ['workflow', 'identity', 'model', 'tool'] as const;
export type StatsDimension = (typeof STATS_DIMENSIONS)[number];

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').filter(Boolean)];
}

const STATUSES = ['completed', 'error', 'interrupted', 'aborted', 'recording', 'incomplete'];
const VERDICTS = ['VALID', 'UNSEALED', 'TORN', 'TAMPERED', 'UNREADABLE'];

/** A comma-separated, repeatable option whose values must be among `allowed`: a typo is an error, not no results. */
function oneOf(allowed: readonly string[], normalize: (value: string) => string = (v) => v) {
  return (value: string, previous: string[] | undefined): string[] => {
    const values = collect(value, undefined).map(normalize);
    const wrong = values.find((v) => !allowed.includes(v));
    if (wrong !== undefined) throw new InvalidArgumentError(`"${wrong}" is not one of ${allowed.join(', ')}`);
    return [...(previous ?? []), ...values];
  };
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A point in time: an ISO date/time, or a span back from now ("30m", "24h", "7d", "2w"). */
export function timeArgument(value: string): string {
  const now = Date.now();
  const relative = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(value.trim());
  const ts = relative
    ? toTimestamp(now - Number(relative[1]) * (UNIT_MS[relative[2] as string] as number))
    : toTimestamp(value.trim());
  if (!ts)
    throw new InvalidArgumentError(
      'expected an ISO time (2026-11-21, 2026-11-21T09:00Z) or a span like 24h, 7d',
    );
  return ts;
}

const sinceOption = () =>
  new Option(
    '--since <time>',
    'from this time: ISO (2026-11-21T09:00Z) or back from now (30m, 24h, 7d)',
  ).argParser(timeArgument);
const untilOption = () =>
  new Option('--until <time>', 'up to this time (same forms as --since)').argParser(timeArgument);

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
  const sessionArgument = '<session>';
  const sessionHelp = 'a session file, session id, unique id prefix, or latest';

  program
    .command('ls')
    .description(
      'list sessions, newest first: time, workflow, identity, status, calls, tokens, denials, verdict',
    )
    .addOption(sinceOption())
    .addOption(untilOption())
    .option('--identity <subject>', 'run by (or approved by) this identity; * is a wildcard')
    .option('--workflow <name>', 'this workflow; * is a wildcard')
    .option('--tool <name>', 'that called this tool; * is a wildcard')
    .option('--model <name>', 'that called this model; * is a wildcard')
    .addOption(
      new Option('--status <status>', `${STATUSES.join(', ')} (comma-separated)`).argParser(oneOf(STATUSES)),
    )
    .option('--denied', 'only sessions with a denied call')
    .addOption(
      new Option('--verdict <verdict>', `${VERDICTS.join(', ')} (comma-separated)`).argParser(
        oneOf(VERDICTS, (v) => v.toUpperCase()),
      ),
    )
    .addOption(new Option('--limit <n>', 'at most n sessions').argParser(positiveInt))
    .option('--json', 'a JSON array of session summaries')
    .action(async (options) => {
      const { lsCommand } = await import('./commands/ls.js');
      result.exitCode = await lsCommand(dir(), options);
    });

  program
    .command('show')
    .description(
      'one-screen summary of a session: who, when, status, verdict, calls, tokens, denials and errors',
    )
    .argument(sessionArgument, sessionHelp)
    .addOption(
      new Option('--events <n>', 'list at most n notable events (default 20)').argParser(positiveInt),
    )
    .option('--json', 'the summary and events as JSON')
    .action(async (ref: string, options) => {
      const { showCommand } = await import('./commands/show.js');
      result.exitCode = await showCommand(dir(), ref, options);
    });

  program
    .command('open')
    .description(
      'step through a session in the terminal: timeline tree, details, search, filters, playback (--follow: live)',
    )
    .argument(sessionArgument, sessionHelp)
    .option('--follow', 'keep reading a session that is still being recorded; new events appear as they land')
    .action(async (ref: string, options) => {
      const { openCommand } = await import('./commands/open.js');
      result.exitCode = await openCommand(dir(), ref, options);
    });

  program
    .command('diff')
    .description(
      'compare two sessions step by step: the first point of divergence and why, every changed step, deltas (exit 0 equivalent, 1 different, 2 trouble)',
    )
    .argument('<a>', `the first session (${sessionHelp})`)
    .argument('<b>', 'the second session')
    .option('--json', `the report as JSON (schema agent-replay.diff/v1, see the CLI README)`)
    .option('--markdown', 'the report as Markdown, to paste into an incident ticket')
    .option('--tui', 'side by side in the terminal, jumping between differences')
    .addOption(
      new Option(
        '--kinds <kinds>',
        `compare only these steps: ${STEP_KINDS.join(', ')} (comma-separated)`,
      ).argParser(oneOf(STEP_KINDS)),
    )
    .option('--include-volatile', 'also compare ids and timestamps (ignored by default)')
    .addOption(
      new Option('--limit <n>', 'changed steps listed (default 50; --json lists all)').argParser(positiveInt),
    )
    // Exit 1 means "different": a usage mistake must be 2 (trouble), as diff(1) does it.
    .exitOverride((error) => {
      throw error.exitCode === 0 ? error : new CommanderError(2, error.code, error.message);
    })
    .action(async (a: string, b: string, options) => {
      const { diffCommand } = await import('./commands/diff.js');
      result.exitCode = await diffCommand(dir(), a, b, options);
    });

  program
    .command('replay')
    .description(
      're-run an agent offline on recorded model answers and tool outputs, record it as a new session, report the divergence',
    )
    .argument(sessionArgument, `the recorded session (${sessionHelp})`)
    .argument('<command...>', 'the command that runs the agent, after -- (e.g. -- node agent.js)')
    .addOption(
      new Option('--on-divergence <policy>', 'when the run departs from the recording')
        .choices(['stop', 'continue', 'live'])
        .default('stop'),
    )
    .option('--live-tools', 'run the real tools (default: serve their recorded outputs, no side effects)')
    .action(async (ref: string, command: string[], options) => {
      const { replayCommand } = await import('./commands/replay.js');
      result.exitCode = await replayCommand(dir(), ref, command, options);
    });

  const policy = program
    .command('policy')
    .description('policy-as-code: check a policy file, test it against recorded sessions');
  policy
    .command('lint')
    .description(
      'load a policy file as an agent would: one precise error (file:line:column), or its id, version and hash',
    )
    .argument('<file>', 'the policy (YAML)')
    .option('--json', '{id, version, sha256, file, rules, default}')
    .action(async (file: string, options) => {
      const { policyLintCommand } = await import('./commands/policy.js');
      result.exitCode = policyLintCommand(file, options);
    });
  policy
    .command('test')
    .description(
      'what-if: decide every recorded tool call, model call and handoff again under <policy> and list the decisions that would change (exit 1 if any)',
    )
    .argument('<policy>', 'the policy (YAML)')
    .argument('<sessions...>', sessionHelp)
    .option(
      '--json',
      '{policy, sessions[{path, session_id, calls, changes[{seq, call, before, after}]}], changed}',
    )
    .action(async (file: string, sessions: string[], options) => {
      const { policyTestCommand } = await import('./commands/policy.js');
      result.exitCode = await policyTestCommand(dir(), file, sessions, options);
    });

  program
    .command('cat')
    .description('print the records of a session (NDJSON with --json)')
    .argument(sessionArgument, sessionHelp)
    .option('--json', 'one canonical JSON record per line, exactly as stored')
    .option('--resolve', 'expand deduplicated blob references')
    .addOption(
      new Option('--type <types>', 'only these record types (comma-separated, repeatable)').argParser(
        collect,
      ),
    )
    .addOption(new Option('--from <seq>', 'first seq').argParser(positiveInt))
    .addOption(new Option('--to <seq>', 'last seq').argParser(positiveInt))
    .action(async (ref: string, options) => {
      const { catCommand } = await import('./commands/cat.js');
      result.exitCode = await catCommand(dir(), ref, options);
    });

  program
    .command('search')
    .description(
      'full-text search across sessions: tool names, arguments and outputs, messages, policy reasons',
    )
    .argument('<query>', 'words that must all occur (word* matches a prefix); --fts for SQLite FTS5 syntax')
    .option('--session <session>', `only in this session (${sessionHelp})`)
    .addOption(
      new Option(
        '--kind <kinds>',
        'tool, message, policy, session, identity, handoff, guardrail, custom, error',
      ).argParser(collect),
    )
    .addOption(sinceOption())
    .addOption(untilOption())
    .addOption(new Option('--limit <n>', 'at most n hits (default 20)').argParser(positiveInt))
    .addOption(
      new Option('--order <order>', 'rank (best match first) or time (newest first)').choices([
        'rank',
        'time',
      ]),
    )
    .option('--fts', 'the query is an FTS5 expression (AND, OR, NOT, NEAR, "phrases", column:term)')
    .option('--json', 'a JSON array of hits')
    .action(async (query: string, options) => {
      const { searchCommand } = await import('./commands/search.js');
      result.exitCode = await searchCommand(dir(), query, options);
    });

  program
    .command('verify')
    .description(
      'verify session files or audit bundles: VALID (exit 0), TAMPERED/UNREADABLE/INVALID (exit 1), UNSEALED/TORN/INCOMPLETE (exit 3)',
    )
    .argument(
      '[sessions...]',
      'session files, ids, prefixes, latest, or directories; or audit bundles (.zip); default: every session',
    )
    .option('--json', 'machine-readable report')
    .option(
      '--key <public.pem>',
      "trusted Ed25519 public key: every checkpoint (or a bundle's manifest) must be signed by it",
    )
    .option(
      '--thorough',
      'also parse every record and check its envelope (slower; hashes already cover every byte)',
    )
    .action(async (refs: string[], options) => {
      const { verifyCommand } = await import('./commands/verify.js');
      result.exitCode = await verifyCommand(dir(), refs, options);
    });

  program
    .command('export')
    .description(
      'write an audit bundle (.zip): the sessions byte for byte, a signed in-toto manifest, SHA256SUMS, report.html/.md, transcript.jsonl, VERIFY.md',
    )
    .argument(
      '[sessions...]',
      'session files, ids, prefixes or latest; none: the sessions --from/--to/--identity/--workflow select',
    )
    .requiredOption('-o, --output <bundle.zip>', 'the bundle to write')
    .option('--case-id <id>', 'the case or ticket this evidence is for')
    .option('--sign <key.pem>', 'Ed25519 private key that signs the manifest (default: a one-off key)')
    .addOption(
      new Option('--redact <profile>', 'withhold records holding personal data (profile: pii)').argParser(
        collect,
      ),
    )
    .addOption(
      new Option(
        '--withhold-types <types>',
        'withhold records of these types or span kinds (comma-separated)',
      ).argParser(collect),
    )
    .addOption(
      new Option('--from <time>', 'sessions from this time (ISO or 24h, 7d)').argParser(timeArgument),
    )
    .addOption(new Option('--to <time>', 'sessions up to this time').argParser(timeArgument))
    .option('--identity <subject>', 'sessions run by (or approved by) this identity; * is a wildcard')
    .option('--workflow <name>', 'sessions of this workflow; * is a wildcard')
    .option('--force', 'replace the output file if it exists')
    .action(async (refs: string[], options) => {
      const { exportCommand } = await import('./commands/export.js');
      result.exitCode = await exportCommand(dir(), refs, options);
    });

  program
    .command('stats')
    .description('tokens, calls, denials and errors by workflow, identity, model and tool, over a time range')
    .addOption(sinceOption())
    .addOption(untilOption())
    .addOption(
      new Option(
        '--by <dimensions>',
        `only these tables: ${STATS_DIMENSIONS.join(', ')} (comma-separated)`,
      ).argParser(collect),
    )
    .addOption(new Option('--top <n>', 'rows per table (default 10)').argParser(positiveInt))
    .option('--json', 'every figure as JSON')
    .action(async (options) => {
      for (const by of options.by ?? [])
        if (!(STATS_DIMENSIONS as readonly string[]).includes(by))
          program.error(`error: --by ${by}: expected ${STATS_DIMENSIONS.join(', ')}`);
      const { statsCommand } = await import('./commands/stats.js');
      result.exitCode = await statsCommand(dir(), options);
    });

  program
    .command('index')
    .description('bring the session catalog (<dir>/catalog.sqlite) up to date; other commands do this too')
    .option('--rebuild', 'forget the catalog and index every session from its first record')
    .option('--json', 'what was indexed, as JSON')
    .action(async (options) => {
      const { indexCommand } = await import('./commands/index.js');
      result.exitCode = await indexCommand(dir(), options);
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
    .addOption(new Option('--identity-kind <kind>', 'who that is').choices(['human', 'service', 'agent']))
    .addOption(
      new Option('--redaction <profile>', 'secrets (default), strict (adds PII) or off').choices([
        'secrets',
        'strict',
        'off',
      ]),
    )
    .option('--sign <private.pem>', 'Ed25519 private key that signs checkpoints')
    .option('--exclusive', 'record only: replace the SDK trace processors (no export to OpenAI)')
    .passThroughOptions()
    .action(async (command: string[], options) => {
      const { recordCommand } = await import('./commands/record.js');
      result.exitCode = await recordCommand(dir(), command, options);
    });

  program
    .command('keys')
    .description('manage the Ed25519 keys that sign checkpoints and bundles')
    .command('generate')
    .description('write a new Ed25519 key pair: <prefix>.key.pem (private, 0600) and <prefix>.pub.pem')
    .option('--out <prefix>', 'path prefix of the two files (default ./agent-replay-signing)')
    .option('--force', 'replace existing key files')
    .option('--json', 'print {"private_key","public_key","key_id","fingerprint"} (absolute paths)')
    .action(async (options) => {
      const { keysGenerateCommand } = await import('./commands/keys.js');
      keysGenerateCommand(options);
    });

  // Last: the completion scripts are generated from every command registered before it.
  registerCompletionCommand(program);
  return program;
}
