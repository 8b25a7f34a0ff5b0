import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Argument, Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionScript, registerCompletionCommand } from '../src/commands/completion.js';

const bin = new URL('../dist/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'arec-completion-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function available(shell: string): boolean {
  return spawnSync(shell, ['-c', 'exit 0']).status === 0;
}

/** The lines of one section ("Commands:", "Options:") of commander's help output. */
function helpSection(help: string, title: string): string[] {
  const start = help.indexOf(`\n${title}\n`);
  if (start < 0) return [];
  const rest = help.slice(start + title.length + 2);
  const end = rest.search(/\n\S/);
  return (end < 0 ? rest : rest.slice(0, end)).split('\n');
}

/** What the user sees in --help: the command names and, for each, its long options. Read independently of the
 * generator, so a command added to the CLI and missing from the scripts fails here. */
function fromHelp(): Map<string, string[]> {
  const commands = new Map<string, string[]>();
  const top = cli('--help').stdout;
  for (const line of helpSection(top, 'Commands:')) {
    const name = /^ {2}([a-z][\w-]*)/.exec(line)?.[1];
    if (!name || name === 'help') continue;
    const help = cli(name, '--help').stdout;
    const options = helpSection(help, 'Options:').flatMap(
      (l) => /^ {2}(?:-\w, )?(--[\w-]+)/.exec(l)?.[1] ?? [],
    );
    commands.set(name, options);
  }
  commands.set(
    '',
    helpSection(top, 'Options:').flatMap((l) => /^ {2}(?:-\w, )?(--[\w-]+)/.exec(l)?.[1] ?? []),
  );
  return commands;
}

const scripts: Record<'bash' | 'zsh' | 'fish', string> = { bash: '', zsh: '', fish: '' };
let commands = new Map<string, string[]>();

beforeAll(() => {
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    const result = cli('completion', shell);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    scripts[shell] = result.stdout;
  }
  writeFileSync(join(dir, 'agent-replay.bash'), scripts.bash);
  commands = fromHelp();
});

/**
 * Runs the generated bash completion function as bash would on <TAB> for `words` (the last one being completed)
 * and returns COMPREPLY. `script` defaults to the CLI's own.
 */
function complete(words: string[], options: { cwd?: string; script?: string } = {}): string[] {
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const result = spawnSync(
    'bash',
    [
      '-c',
      `source "$1" || exit 9
       COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}
       COMPREPLY=()
       _agent_replay
       printf '%s\\n' "\${COMPREPLY[@]}"`,
      'bash',
      options.script ?? join(dir, 'agent-replay.bash'),
    ],
    { cwd: options.cwd ?? dir, encoding: 'utf8' },
  );
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout.split('\n').filter(Boolean);
}

describe('agent-replay completion', () => {
  it('the help lists what the scripts are checked against: verify, cat, keys, completion and their options', () => {
    // guards the parsing in fromHelp(): an empty map would make the next test pass vacuously
    expect([...commands.keys()]).toEqual(
      expect.arrayContaining(['', 'verify', 'cat', 'record', 'keys', 'completion']),
    );
    expect(commands.get('cat')).toEqual(expect.arrayContaining(['--json', '--resolve', '--type']));
    expect(commands.get('')).toEqual(expect.arrayContaining(['--dir', '--version', '--help']));
  });

  it.each(['bash', 'zsh', 'fish'] as const)(
    'the %s script names every command and every option of each',
    (shell) => {
      const script = scripts[shell];
      for (const [command, options] of commands) {
        if (command) expect(script, `${shell}: command ${command}`).toMatch(new RegExp(`\\b${command}\\b`));
        for (const option of options) {
          // fish writes `-l json` rather than `--json`
          const pattern = shell === 'fish' ? `-l ${option.slice(2)}(?![\\w-])` : `${option}(?![\\w-])`;
          expect(script, `${shell}: ${command || 'global'} ${option}`).toMatch(new RegExp(pattern));
        }
      }
      // nested subcommands and their options come from the tree too
      expect(script).toContain('generate');
      expect(script).toMatch(shell === 'fish' ? /keys generate' -l out/ : /--out/);
    },
  );

  it('bash -n accepts the bash script', () => {
    const result = spawnSync('bash', ['-n', join(dir, 'agent-replay.bash')], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.skipIf(!available('zsh'))('zsh -n accepts the zsh script', () => {
    const path = join(dir, '_agent-replay');
    writeFileSync(path, scripts.zsh);
    const result = spawnSync('zsh', ['-n', path], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.skipIf(!available('fish'))('fish --no-execute accepts the fish script', () => {
    const path = join(dir, 'agent-replay.fish');
    writeFileSync(path, scripts.fish);
    const result = spawnSync('fish', ['--no-execute', path], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('bash completes command names, options, subcommands and declared choices', () => {
    expect(complete(['agent-replay', 've'])).toEqual(['verify']);
    expect(complete(['agent-replay', ''])).toEqual(
      expect.arrayContaining(['verify', 'cat', 'record', 'keys', 'completion']),
    );
    const catOptions = complete(['agent-replay', 'cat', '--']);
    expect(catOptions).toEqual(expect.arrayContaining(['--json', '--resolve', '--type', '--from', '--to']));
    expect(catOptions).not.toContain('--thorough'); // verify's, not cat's
    expect(complete(['agent-replay', '--'])).toEqual(
      expect.arrayContaining(['--dir', '--version', '--help']),
    );
    expect(complete(['agent-replay', 'keys', 'g'])).toEqual(['generate']);
    expect(complete(['agent-replay', 'keys', 'generate', '--'])).toEqual(
      expect.arrayContaining(['--out', '--force', '--json']),
    );
    expect(complete(['agent-replay', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(complete(['agent-replay', 'completion', 'f'])).toEqual(['fish']);
    expect(complete(['agent-replay', 'help', 'ke'])).toEqual(['keys']);
  });

  it('bash completes file names for arguments and path options, and skips option values when finding the command', () => {
    const cwd = join(dir, 'files');
    mkdirSync(join(cwd, 'sessions'), { recursive: true });
    writeFileSync(join(cwd, 'run-1.arec'), '');
    writeFileSync(join(cwd, 'run-2.arec'), '');
    writeFileSync(join(cwd, 'prod.pub.pem'), '');
    expect(complete(['agent-replay', 'verify', 'run-'], { cwd }).sort()).toEqual([
      'run-1.arec',
      'run-2.arec',
    ]);
    expect(complete(['agent-replay', 'verify', 'run-1.arec', 'run-'], { cwd }).sort()).toEqual([
      'run-1.arec',
      'run-2.arec',
    ]);
    expect(complete(['agent-replay', 'verify', '--key', 'pro'], { cwd })).toEqual(['prod.pub.pem']);
    // --key=value arrives split at '=' (COMP_WORDBREAKS)
    expect(complete(['agent-replay', 'verify', '--key', '=', 'pro'], { cwd })).toEqual(['prod.pub.pem']);
    // --dir takes directories only
    expect(complete(['agent-replay', '--dir', ''], { cwd })).toEqual(['sessions']);
    // the value of --dir is not taken for a command name
    expect(complete(['agent-replay', '--dir', 'verify', 'ca'], { cwd })).toEqual(['cat']);
    // numbers and free text get no file names
    expect(complete(['agent-replay', 'cat', 'run-1.arec', '--from', ''], { cwd })).toEqual([]);
    // cat takes one file: nothing more after it
    expect(complete(['agent-replay', 'cat', 'run-1.arec', ''], { cwd })).toEqual([]);
  });

  it('offers `latest` besides file names for a <session> argument', () => {
    // The CLI may not have such a command yet: build one, as a future command would be declared.
    const program = new Command('agent-replay').option('--dir <dir>', 'directory');
    program.command('show').argument('<session>', 'session').option('--json', 'json');
    program.command('diff').addArgument(new Argument('<sessions...>', 'sessions'));
    program.command('tail').argument('<file>', 'file');
    registerCompletionCommand(program);
    const bash = completionScript(program, 'bash');
    const path = join(dir, 'synthetic.bash');
    writeFileSync(path, bash);
    const cwd = join(dir, 'sessions-cwd');
    mkdirSync(cwd, { recursive: true });
    writeFileSync(join(cwd, 'last.arec'), '');
    expect(complete(['agent-replay', 'show', 'la'], { cwd, script: path }).sort()).toEqual([
      'last.arec',
      'latest',
    ]);
    expect(complete(['agent-replay', 'diff', 'x.arec', 'la'], { cwd, script: path }).sort()).toEqual([
      'last.arec',
      'latest',
    ]);
    expect(complete(['agent-replay', 'tail', 'la'], { cwd, script: path })).toEqual(['last.arec']);
    // and the completion command registered last sees the commands added before it
    expect(complete(['agent-replay', 'sh'], { script: path })).toEqual(['show']);
    expect(completionScript(program, 'zsh')).toMatch(
      /_alternative "words:word:\(latest\)" "files:file:_files"/,
    );
    expect(completionScript(program, 'fish')).toMatch(/__agent_replay_at show' -F -a 'latest'/);
  });

  it('leaves hidden commands out and never puts an unsafe name into the script', () => {
    const program = new Command('agent-replay');
    program.command('visible').description("it's [fine]: \u001b[31mred\u001b[0m");
    program.command('secret', { hidden: true });
    program.command('bad;rm -rf ~');
    registerCompletionCommand(program);
    for (const shell of ['bash', 'zsh', 'fish'] as const) {
      const script = completionScript(program, shell);
      expect(script).toContain('visible');
      expect(script).not.toContain('secret');
      expect(script).not.toContain('rm -rf');
      expect(script).not.toContain('\u001b');
    }
    const path = join(dir, 'hostile.bash');
    writeFileSync(path, completionScript(program, 'bash'));
    expect(spawnSync('bash', ['-n', path]).status).toBe(0);
    expect(complete(['agent-replay', ''], { script: path })).toEqual(['visible', 'completion', 'help']);
  });

  it('--help shows how to install the script for each shell', () => {
    const result = cli('completion', '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('agent-replay completion bash > /etc/bash_completion.d/agent-replay');
    expect(result.stdout).toMatch(/fpath=\(.*\$fpath\)/);
    expect(result.stdout).toContain('compinit');
    expect(result.stdout).toContain('~/.config/fish/completions/agent-replay.fish');
  });

  it('rejects an unknown shell with one line and a non-zero exit', () => {
    const result = cli('completion', 'tcsh');
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/tcsh.*bash, zsh, fish/);
  });
});
