import { Command } from 'commander';
import { activationCommand } from './commands/activation.ts';
import { actionCommand } from './commands/action.ts';
import { adminCommand } from './commands/admin.ts';
import { apiCommand } from './commands/api.ts';
import { convertCommand } from './commands/convert.ts';
import { completionCommand } from './commands/completion.ts';
import { hubCommand } from './commands/hub.ts';
import { invokerCommand } from './commands/invoker.ts';
import { listAllCommand, namespaceCommand } from './commands/namespace.ts';
import { packageCommand } from './commands/package.ts';
import { propertyCommand } from './commands/property.ts';
import { ruleCommand } from './commands/rule.ts';
import { triggerCommand } from './commands/trigger.ts';
import type { Cli } from './context.ts';
import { makeGlobalOptions } from './globals.ts';
import { VERSION } from './version.ts';

const fullName = (cmd: Command): string => (cmd.parent ? `${fullName(cmd.parent)} ${cmd.name()}` : cmd.name());

/**
 * Settings every command needs, applied once the tree is built: errors are thrown (not
 * exits), output goes to the run's streams, usage errors point at the command's help, and
 * each command without subcommands takes the global options too, so they work after the
 * command as well as before it (unless the command has an option of the same name).
 */
function finish(cmd: Command, cli: Cli): void {
  cmd
    .exitOverride()
    .configureOutput({ writeOut: (s) => void cli.io.stdout.write(s), writeErr: (s) => void cli.io.stderr.write(s), outputError: (s, write) => write(s.replace(/^error:/, cli.out.ce.red('error:'))) })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError(`Run '${fullName(cmd)} --help' for usage.`);
  if (cmd.commands.length === 0 && cmd.parent) {
    const taken = new Set(cmd.options.flatMap((o) => [o.long, o.short]).filter(Boolean));
    for (const o of makeGlobalOptions()) if (![o.long, o.short].some((f) => f && taken.has(f))) cmd.addOption(o.hideHelp());
  }
  for (const sub of cmd.commands) finish(sub, cli);
}

/** The `swirl` command tree. */
export function buildProgram(cli: Cli): Command {
  const program = new Command('swirl')
    .description('swirl: the command line of the swirl serverless platform, compatible with OpenWhisk\'s wsk')
    .version(VERSION, '--version', 'print the version of the CLI')
    .enablePositionalOptions()
    .addHelpText(
      'after',
      `
Settings come from flags, then the environment (__OW_API_HOST, __OW_API_KEY, __OW_NAMESPACE),
then ~/.wskprops (or the file WSK_CONFIG_FILE names); set them with 'swirl property set'.`,
    );
  for (const o of makeGlobalOptions()) program.addOption(o);
  for (const c of [actionCommand, activationCommand, packageCommand, ruleCommand, triggerCommand, namespaceCommand, listAllCommand, propertyCommand, invokerCommand, adminCommand, hubCommand]) program.addCommand(c(cli));
  program.addCommand(apiCommand(cli));
  program.addCommand(convertCommand(cli));
  program.addCommand(completionCommand(cli, () => program));
  finish(program, cli);
  return program;
}
