import { Command } from 'commander';
import { bashCompletion, zshCompletion } from '../completion.ts';
import type { Cli } from '../context.ts';
import { UsageError } from '../errors.ts';

/** `swirl completion bash|zsh`: print a completion script generated from `root`'s command tree. */
export function completionCommand(cli: Cli, root: () => Command): Command {
  return new Command('completion')
    .description('print a shell completion script: source <(swirl completion bash)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell === 'bash') return void cli.io.stdout.write(bashCompletion(root()));
      if (shell === 'zsh') return void cli.io.stdout.write(zshCompletion(root()));
      throw new UsageError(`No completion for '${shell}': use bash or zsh.`);
    });
}
