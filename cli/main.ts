import { CommanderError } from 'commander';
import { SwirlError } from '../common/errors.ts';
import { Cli } from './context.ts';
import { CliError, EXIT, exitForStatus } from './errors.ts';
import { type Io, processIo } from './io.ts';
import { joinPairs } from './params.ts';
import { buildProgram } from './program.ts';

/** Run the CLI on `argv` (without `node swirl`); resolves with the exit code. */
export async function runCli(argv: string[], io: Io = processIo()): Promise<number> {
  const cli = new Cli(io);
  try {
    await buildProgram(cli).parseAsync(joinPairs(argv), { from: 'user' });
    return cli.exitCode;
  } catch (e) {
    return report(cli, e, argv);
  }
}

function report(cli: Cli, e: unknown, argv: string[]): number {
  if (e instanceof CommanderError) {
    // help (--help, `swirl help rule`) and --version end the run normally, and so does `swirl`
    // alone, as wsk's; a group without its command (`swirl rule`) shows its help as a usage error
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.ok;
    if (e.code === 'commander.help' && (e.exitCode === 0 || argv.length === 0)) return EXIT.ok;
    // commander has printed the message
    return EXIT.usage;
  }
  if (e instanceof CliError) {
    cli.out.error(e);
    return e.exitCode;
  }
  if (e instanceof SwirlError) {
    // a check of common/ (a bad name, a bad key) or of the admin command's store
    cli.out.error(new CliError(e.message));
    return e.status === 400 ? EXIT.usage : exitForStatus(e.status);
  }
  cli.out.error(new CliError(e instanceof Error ? e.message : String(e)));
  return EXIT.general;
}
