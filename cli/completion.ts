import type { Command } from 'commander';

/**
 * Shell completion scripts generated from the command tree: for each command path (`""`,
 * `"action"`, `"action create"`) its subcommands and its options, so the scripts follow
 * every command added to the CLI.
 */
interface Node {
  path: string;
  commands: { name: string; description: string }[];
  options: { flag: string; description: string }[];
}

function nodes(root: Command): Node[] {
  const out: Node[] = [];
  const walk = (cmd: Command, path: string) => {
    const help = cmd.createHelp();
    const commands = help.visibleCommands(cmd).map((c) => ({ name: c.name(), description: c.description() }));
    const options = [...help.visibleOptions(cmd), ...help.visibleGlobalOptions(cmd)].flatMap((o) => [o.long, o.short].filter((f): f is string => !!f).map((flag) => ({ flag, description: o.description })));
    out.push({ path, commands, options });
    for (const c of cmd.commands) walk(c, path ? `${path} ${c.name()}` : c.name());
  };
  walk(root, '');
  return out;
}

/** Single-quoted for the shell. */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

const caseArms = (list: Node[], words: (n: Node) => string): string => list.map((n) => `    ${q(n.path)}) ${words(n)} ;;`).join('\n');

export function bashCompletion(root: Command): string {
  const name = root.name();
  const fn = `_${name}_completion`;
  const list = nodes(root);
  return `# ${name} completion for bash. Load it with:  source <(${name} completion bash)
${fn}_commands() {
  case "$1" in
${caseArms(list, (n) => `echo ${q(n.commands.map((c) => c.name).join(' '))}`)}
  esac
}
${fn}_options() {
  case "$1" in
${caseArms(list, (n) => `echo ${q(n.options.map((o) => o.flag).join(' '))}`)}
  esac
}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" word i
  for (( i = 1; i < COMP_CWORD; i++ )); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    case " $(${fn}_commands "$cmdpath") " in
      *" $word "*) cmdpath="\${cmdpath:+$cmdpath }$word" ;;
    esac
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$(${fn}_options "$cmdpath")" -- "$cur") )
  else
    COMPREPLY=( $(compgen -W "$(${fn}_commands "$cmdpath")" -- "$cur") )
  fi
}
complete -o default -F ${fn} ${name}
`;
}

export function zshCompletion(root: Command): string {
  const name = root.name();
  const fn = `_${name}`;
  const list = nodes(root);
  const described = (items: { name: string; description: string }[]) => (items.length ? `print -rl -- ${items.map((i) => q(`${i.name.replace(/:/g, '\\:')}:${i.description}`)).join(' ')}` : 'true');
  return `#compdef ${name}
# ${name} completion for zsh. Load it with:  source <(${name} completion zsh)
# (or save it as _${name} in a directory on $fpath)
${fn}_commands() {
  case "$1" in
${caseArms(list, (n) => described(n.commands))}
  esac
}
${fn}_options() {
  case "$1" in
${caseArms(list, (n) => described(n.options.map((o) => ({ name: o.flag, description: o.description }))))}
  esac
}
${fn}() {
  local cmdpath="" word i
  local -a subs candidates
  for (( i = 2; i < CURRENT; i++ )); do
    word=\${words[i]}
    [[ $word == -* ]] && continue
    subs=(\${(f)"$(${fn}_commands "$cmdpath")"})
    if (( \${subs[(I)\${word}:*]} )); then cmdpath="\${cmdpath:+$cmdpath }$word"; fi
  done
  if [[ \${words[CURRENT]} == -* ]]; then
    candidates=(\${(f)"$(${fn}_options "$cmdpath")"})
    _describe -t options 'option' candidates
  else
    candidates=(\${(f)"$(${fn}_commands "$cmdpath")"})
    if (( \${#candidates} )); then _describe -t commands 'command' candidates; else _files; fi
  fi
}
if [[ $zsh_eval_context[-1] == loadautoload ]]; then ${fn} "$@"; else compdef ${fn} ${name}; fi
`;
}
