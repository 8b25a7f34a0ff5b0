import { Argument, type Command, type Option } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** What a word can be: file names (or directories only), fixed words, or both (a session: `latest` or a file). */
interface Values {
  files: 'file' | 'dir' | 'none';
  words: string[];
}

interface OptionSpec {
  short?: string;
  long?: string;
  description: string;
  /** Absent for a flag. */
  value?: { name: string; values: Values };
  variadic: boolean;
}

interface ArgumentSpec {
  name: string;
  required: boolean;
  variadic: boolean;
  values: Values;
}

interface CommandSpec {
  name: string;
  description: string;
  /** Subcommand names from the top: [] for the program itself, ['keys', 'generate'] below it. */
  path: string[];
  options: OptionSpec[];
  args: ArgumentSpec[];
  commands: CommandSpec[];
}

// Names and words end up unquoted inside shell code (case labels, compgen word lists, zsh value lists): anything
// outside these alphabets is left out of the script rather than escaped, so no command name can inject code.
const SAFE_NAME = /^[A-Za-z0-9][\w.-]*$/;
const SAFE_SHORT = /^-[A-Za-z0-9]$/;
const SAFE_LONG = /^--[A-Za-z0-9][\w-]*$/;
const SAFE_WORD = /^[\w.@%+/=-]+$/;

const FILES: Values = { files: 'file', words: [] };
const NOTHING: Values = { files: 'none', words: [] };

/** One line, no control characters: descriptions go into quoted strings and one-line menus. */
function oneLine(text: string): string {
  return text
    .replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function safeWords(words: readonly string[] | undefined): string[] {
  return (words ?? []).filter((w) => SAFE_WORD.test(w));
}

/**
 * An option's value is completed as a path only when its placeholder says so (`<public.pem>`, `<prefix>`,
 * `<dir>`): offering file names for `--from <seq>` or `--identity <subject|json>` would only mislead.
 */
function optionValues(option: Option, placeholder: string): Values {
  const choices = safeWords(option.argChoices);
  if (choices.length > 0) return { files: 'none', words: choices };
  if (/^(dir|directory|folder)$/i.test(placeholder)) return { files: 'dir', words: [] };
  if (/\.|(^|[^a-z])(file|files|path|paths|prefix|out|output)([^a-z]|$)/i.test(placeholder)) return FILES;
  return NOTHING;
}

/** Positional arguments are files, a session also `latest`, and declared choices are just those words. */
function argumentValues(argument: Argument): Values {
  const choices = safeWords(argument.argChoices);
  if (choices.length > 0) return { files: 'none', words: choices };
  if (/^sessions?$/.test(argument.name())) return { files: 'file', words: ['latest'] };
  if (/^(dir|directory)$/.test(argument.name())) return { files: 'dir', words: [] };
  return FILES;
}

function describeOption(option: Option): OptionSpec | undefined {
  const short = option.short && SAFE_SHORT.test(option.short) ? option.short : undefined;
  const long = option.long && SAFE_LONG.test(option.long) ? option.long : undefined;
  if (!short && !long) return undefined;
  const spec: OptionSpec = {
    description: oneLine(option.description),
    variadic: option.variadic,
    ...(short ? { short } : {}),
    ...(long ? { long } : {}),
  };
  if (option.required || option.optional) {
    const placeholder = /[<[]([^>\]]*)[>\]]/.exec(option.flags)?.[1]?.replace(/\.\.\.$/, '') ?? 'value';
    spec.value = { name: placeholder, values: optionValues(option, placeholder) };
  }
  return spec;
}

/**
 * Walks commander's tree as the help output sees it (hidden commands and options left out; the implicit `help`
 * command and `-h, --help` included), so every command registered before this runs is completed.
 */
function describeCommand(command: Command, path: string[]): CommandSpec {
  const help = command.createHelp();
  const children = help.visibleCommands(command).filter((c) => SAFE_NAME.test(c.name()));
  const siblings = children.map((c) => c.name()).filter((n) => n !== 'help');
  const commands = children.map((child) => {
    const spec = describeCommand(child, [...path, child.name()]);
    // The implicit `help [command]` takes the name of a sibling, not a file.
    if (child.name() === 'help' && spec.args[0]?.name === 'command') {
      spec.args[0].values = { files: 'none', words: siblings };
    }
    return spec;
  });
  return {
    name: command.name(),
    description: oneLine(command.summary() || command.description()),
    path,
    options: help.visibleOptions(command).flatMap((o) => describeOption(o) ?? []),
    args: command.registeredArguments.map((a) => ({
      name: a.name(),
      required: a.required,
      variadic: a.variadic,
      values: argumentValues(a),
    })),
    commands,
  };
}

function allCommands(spec: CommandSpec): CommandSpec[] {
  return [spec, ...spec.commands.flatMap(allCommands)];
}

function flags(option: OptionSpec): string[] {
  return [option.short, option.long].filter((f): f is string => f !== undefined);
}

/** Shell function names: `agent-replay keys` → `_agent_replay_keys`. */
function functionName(parts: readonly string[]): string {
  return `_${parts.map((p) => p.replace(/[^A-Za-z0-9]/g, '_')).join('_')}`;
}

/** A single-quoted word for bash and zsh. */
function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------------------------------
// bash

/** `<file|dir|none>:<word,word…>`: one token (no spaces) that the generated script splits again. */
function bashToken(values: Values): string {
  return `${values.files}:${values.words.join(',')}`;
}

function bashScript(root: CommandSpec): string {
  const name = root.name;
  const fn = functionName([name]);
  const nodes = allCommands(root);
  const specCases = nodes.map((node) => {
    const variadic = node.args.at(-1)?.variadic ? node.args.at(-1) : undefined;
    return [
      `    ${shQuote(node.path.join(' '))})`,
      `      _ar_commands=${shQuote(node.commands.map((c) => c.name).join(' '))}`,
      `      _ar_options=${shQuote(node.options.flatMap(flags).join(' '))}`,
      `      _ar_args=${shQuote(node.args.map((a) => bashToken(a.values)).join(' '))}`,
      `      _ar_rest=${shQuote(variadic ? bashToken(variadic.values) : '')}`,
      '      ;;',
    ].join('\n');
  });
  const valueCases = nodes.flatMap((node) =>
    node.options.flatMap((option) => {
      if (!option.value) return [];
      const labels = flags(option).map((f) => shQuote(`${node.path.join(' ')}|${f}`));
      return [`    ${labels.join(' | ')}) _ar_value=${shQuote(bashToken(option.value.values))} ;;`];
    }),
  );
  return `# bash completion for ${name}, generated by \`${name} completion bash\` from the CLI's own command tree.
# Install: ${name} completion bash > /etc/bash_completion.d/${name}
#     (or ~/.local/share/bash-completion/completions/${name}, or: source <(${name} completion bash))

# Sets what the command at path $1 ("" for the top level, "keys generate" below it) accepts.
${fn}_spec() {
  _ar_commands= _ar_options= _ar_args= _ar_rest=
  case $1 in
${specCases.join('\n')}
  esac
}

# Succeeds, setting _ar_value, when option $2 of the command at path $1 takes a value.
${fn}_option_value() {
  case "$1|$2" in
${valueCases.join('\n')}
    *) return 1 ;;
  esac
}

${fn}_add() {
  local line
  while IFS= read -r line; do COMPREPLY+=("$line"); done
}

# Completes $2 as "<file|dir|none>:<word,word...>" says.
${fn}_values() {
  local files=\${1%%:*} words=\${1#*:}
  COMPREPLY=()
  [[ -n $words ]] && ${fn}_add < <(compgen -W "\${words//,/ }" -- "$2")
  case $files in
    file)
      compopt -o filenames 2>/dev/null
      ${fn}_add < <(compgen -f -- "$2")
      ;;
    dir)
      compopt -o filenames 2>/dev/null
      ${fn}_add < <(compgen -d -- "$2")
      ;;
  esac
  return 0
}

${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path= word pending= i npos=0 dashdash=0
  local _ar_commands _ar_options _ar_args _ar_rest _ar_value
  local -a args
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    # COMP_WORDBREAKS splits --opt=value into three words: the value still belongs to the option.
    [[ $word == = ]] && continue
    if [[ -n $pending ]]; then
      pending=
      continue
    fi
    if ((dashdash)); then
      npos=$((npos + 1))
      continue
    fi
    case $word in
      --) dashdash=1 ; continue ;;
      -*=*) continue ;;
      -*)
        ${fn}_option_value "$path" "$word" && pending=$_ar_value
        continue
        ;;
    esac
    ${fn}_spec "$path"
    if ((npos == 0)) && [[ " $_ar_commands " == *" $word "* ]]; then
      path=\${path:+$path }$word
    else
      npos=$((npos + 1))
    fi
  done
  [[ $cur == = ]] && cur=
  if [[ -n $pending ]]; then
    ${fn}_values "$pending" "$cur"
    return 0
  fi
  ${fn}_spec "$path"
  if ((!dashdash)) && [[ $cur == -* ]]; then
    ${fn}_add < <(compgen -W "$_ar_options" -- "$cur")
    return 0
  fi
  if ((!dashdash && npos == 0)) && [[ -n $_ar_commands ]]; then
    ${fn}_add < <(compgen -W "$_ar_commands" -- "$cur")
    return 0
  fi
  read -ra args <<<"$_ar_args"
  if ((npos < \${#args[@]})); then
    ${fn}_values "\${args[npos]}" "$cur"
  elif [[ -n $_ar_rest ]]; then
    ${fn}_values "$_ar_rest" "$cur"
  fi
  return 0
}

complete -F ${fn} ${name}
`;
}

// ---------------------------------------------------------------------------------------------------------------
// zsh

/** Text inside `[…]` of an _arguments spec: brackets and backslashes are escaped for _arguments itself. */
function zshDescription(text: string): string {
  return text.replace(/[\\[\]]/g, (c) => `\\${c}`);
}

/** A message or a _describe name: a colon would end the field. */
function zshField(text: string): string {
  return text.replace(/[\\:]/g, (c) => `\\${c}`);
}

function zshAction(values: Values): string {
  const files = values.files === 'file' ? '_files' : values.files === 'dir' ? '_files -/' : '';
  const words = values.words.length > 0 ? `(${values.words.join(' ')})` : '';
  if (files && words) {
    return `{_alternative "words:word:${words}" "files:file:${files}"}`;
  }
  return files || words || ' '; // a lone space: show the message, complete nothing
}

function zshOptionSpecs(option: OptionSpec): string[] {
  const value = option.value ? `:${zshField(option.value.name)}:${zshAction(option.value.values)}` : '';
  const description = `[${zshDescription(option.description)}]`;
  const forms = flags(option).map((f) => (option.value ? (f.startsWith('--') ? `${f}=` : `${f}+`) : f));
  // A repeatable (variadic) option is offered again ('*'); any other is not once given in either spelling.
  const prefix = option.variadic ? '*' : forms.length === 2 ? `(${flags(option).join(' ')})` : '';
  if (forms.length === 2) {
    return [`${shQuote(prefix)}{${forms.join(',')}}${shQuote(`${description}${value}`)}`];
  }
  return [shQuote(`${prefix}${forms[0]}${description}${value}`)];
}

function zshArgumentSpecs(args: readonly ArgumentSpec[]): string[] {
  return args.map((arg, index) => {
    const action = zshAction(arg.values);
    if (arg.variadic) return shQuote(`*:${zshField(arg.name)}:${action}`);
    return shQuote(`${index + 1}:${arg.required ? '' : ':'}${zshField(arg.name)}:${action}`);
  });
}

function zshFunction(node: CommandSpec, program: string): string {
  const fn = functionName([program, ...node.path]);
  const specs = node.options.flatMap(zshOptionSpecs);
  const continuation = ' \\\n    ';
  if (node.commands.length === 0) {
    const all = [...specs, ...zshArgumentSpecs(node.args)];
    return `${fn}() {\n  _arguments -s -S${continuation}${all.join(continuation)}\n}\n`;
  }
  const entries = node.commands.map((c) => shQuote(`${zshField(c.name)}:${c.description}`));
  const cases = node.commands.map(
    (c) => `        ${c.name}) ${functionName([program, ...c.path])} && ret=0 ;;`,
  );
  const title = [program, ...node.path].join(' ');
  return `${fn}() {
  local curcontext=$curcontext state state_descr line ret=1
  local -a commands
  typeset -A opt_args
  _arguments -C -s -S${continuation}${[...specs, "': :->command'", "'*:: :->argument'"].join(continuation)} && ret=0
  case $state in
    command)
      commands=(
        ${entries.join('\n        ')}
      )
      _describe -t commands ${shQuote(`${title} command`)} commands && ret=0
      ;;
    argument)
      curcontext=\${curcontext%:*:*}:${[program, ...node.path].join('-')}-$words[1]:
      case $words[1] in
${cases.join('\n')}
      esac
      ;;
  esac
  return ret
}
`;
}

function zshScript(root: CommandSpec): string {
  const name = root.name;
  const fn = functionName([name]);
  return `#compdef ${name}
# zsh completion for ${name}, generated by \`${name} completion zsh\` from the CLI's own command tree.
# Install: ${name} completion zsh > ~/.zfunc/_${name}, then in ~/.zshrc: fpath=(~/.zfunc $fpath); autoload -U compinit; compinit

${allCommands(root)
  .map((node) => zshFunction(node, name))
  .join('\n')}
# Autoloaded from $fpath the file is the completion function; sourced (source <(${name} completion zsh)) it registers it.
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${name}
fi
`;
}

// ---------------------------------------------------------------------------------------------------------------
// fish

function fishQuote(text: string): string {
  return `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** `complete` flags for a value: -F offers files even though the script turns them off by default. */
function fishValues(values: Values): string {
  const parts: string[] = [];
  if (values.files === 'file') parts.push('-F');
  if (values.files === 'dir') parts.push(`-a ${fishQuote('(__fish_complete_directories)')}`);
  if (values.words.length > 0) parts.push(`-a ${fishQuote(values.words.join(' '))}`);
  return parts.join(' ');
}

function fishScript(root: CommandSpec): string {
  const name = root.name;
  const fn = functionName([name]).replace(/^_/, '__');
  const nodes = allCommands(root);
  const pathCase = (node: CommandSpec, words: string[]) =>
    words.length > 0
      ? `        case ${fishQuote(node.path.join(' '))}\n            printf '%s\\n' ${words.join(' ')}`
      : '';
  const subcommandCases = nodes
    .map((n) =>
      pathCase(
        n,
        n.commands.map((c) => c.name),
      ),
    )
    .filter(Boolean);
  const valuedCases = nodes
    .map((n) => pathCase(n, n.options.filter((o) => o.value).flatMap(flags)))
    .filter(Boolean);
  const lines: string[] = [];
  for (const node of nodes) {
    const condition = `-n ${fishQuote(`${fn}_at ${node.path.join(' ')}`.trimEnd())}`;
    for (const command of node.commands) {
      lines.push(`complete -c ${name} ${condition} -a ${command.name} -d ${fishQuote(command.description)}`);
    }
    for (const option of node.options) {
      const names = [
        option.short ? `-s ${option.short.slice(1)}` : '',
        option.long ? `-l ${option.long.slice(2)}` : '',
      ].filter(Boolean);
      const value = option.value
        ? option.value.values.files === 'file'
          ? `-r ${fishValues(option.value.values)}`
          : `-x ${fishValues(option.value.values)}`.trimEnd()
        : '';
      lines.push(
        [`complete -c ${name}`, condition, ...names, value, `-d ${fishQuote(option.description)}`]
          .filter(Boolean)
          .join(' '),
      );
    }
    if (node.commands.length === 0) {
      for (const arg of node.args) {
        const values = fishValues(arg.values);
        if (values) lines.push(`complete -c ${name} ${condition} ${values} -d ${fishQuote(arg.name)}`);
      }
    }
  }
  return `# fish completion for ${name}, generated by \`${name} completion fish\` from the CLI's own command tree.
# Install: ${name} completion fish > ~/.config/fish/completions/${name}.fish

# Subcommands of the command at path $argv.
function ${fn}_subcommands
    switch "$argv"
${subcommandCases.join('\n')}
    end
end

# Options of the command at path $argv that take a value (the next word is not a subcommand).
function ${fn}_valued
    switch "$argv"
${valuedCases.join('\n')}
    end
end

# The subcommand path of the command line so far: "" at the top level, "keys generate" below it.
function ${fn}_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path
    set -l skip 0
    for token in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        if test "x$token" = x--
            break
        end
        if string match -q -- '-*=*' $token
            continue
        end
        if string match -q -- '-*' $token
            if contains -- $token (${fn}_valued $path)
                set skip 1
            end
            continue
        end
        if contains -- $token (${fn}_subcommands $path)
            set -a path $token
        else
            break
        end
    end
    echo $path
end

function ${fn}_at
    set -l path (${fn}_path)
    test "$path" = "$argv"
end

# No file names unless an argument or option takes them.
complete -c ${name} -f
${lines.join('\n')}
`;
}

// ---------------------------------------------------------------------------------------------------------------

/** The completion script for `shell`, built from the command tree of `program` as it is now. */
export function completionScript(program: Command, shell: Shell): string {
  const root = describeCommand(program, []);
  if (shell === 'bash') return bashScript(root);
  if (shell === 'zsh') return zshScript(root);
  return fishScript(root);
}

const INSTALL = `
Install (then open a new shell):
  bash  agent-replay completion bash > /etc/bash_completion.d/agent-replay
        or, for yourself only:
        agent-replay completion bash > ~/.local/share/bash-completion/completions/agent-replay
  zsh   agent-replay completion zsh > ~/.zfunc/_agent-replay
        and in ~/.zshrc, before any compinit line:  fpath=(~/.zfunc $fpath); autoload -U compinit; compinit
  fish  agent-replay completion fish > ~/.config/fish/completions/agent-replay.fish

To try it in the current shell only:  source <(agent-replay completion bash)   (or zsh)
`;

/** Register last: the script is built from every command registered on `program` when it runs. */
export function registerCompletionCommand(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'the shell to print a script for').choices(SHELLS))
    .addHelpText('after', INSTALL)
    .action((shell: Shell) => {
      process.stdout.write(completionScript(program, shell));
    });
}
