import { Command } from 'commander';
import type { Cli } from '../context.ts';
import { UsageError } from '../errors.ts';
import { DEFAULT_NAMESPACE, PROP_NAMES, PROPS, type PropName, updatePropsFile } from '../props.ts';
import { VERSION } from '../version.ts';

type Chosen = Partial<Record<PropName, boolean>> & { apiversion?: boolean; cliversion?: boolean; all?: boolean };

/** Messages wsk prints for `property set` and `property unset`. */
const SET: Record<PropName, (v: string) => string> = {
  apihost: (v) => `whisk API host set to ${v}`,
  auth: () => "whisk auth set. Run 'swirl property get --auth' to see the new value.",
  namespace: (v) => `whisk namespace set to ${v}`,
};
const UNSET: Record<PropName, string> = {
  apihost: 'whisk API host unset.',
  auth: 'whisk auth unset.',
  namespace: `whisk namespace unset; the default value of ${DEFAULT_NAMESPACE} will be used.`,
};

const flags = (cmd: Command, what: string): Command => {
  for (const name of PROP_NAMES) cmd.option(`--${name}`, `${what} the ${PROPS[name].label.replace('whisk ', '')}`);
  return cmd;
};

export function propertyCommand(cli: Cli): Command {
  const property = new Command('property').description('work with the CLI\'s settings (~/.wskprops, or the file named by WSK_CONFIG_FILE)');

  property
    .command('set')
    .description('set one or more settings')
    .option('--apihost <host>', 'the API host (host:port or a URL)')
    .option('-u, --auth <key>', 'the authorization key (uuid:key) or a token')
    .option('--namespace <namespace>', 'the namespace to work in (default _: the key\'s own)')
    .action((f: Partial<Record<PropName, string>>) => {
      const changes = PROP_NAMES.filter((n) => f[n] !== undefined);
      if (changes.length === 0) throw new UsageError('Set at least one of --apihost, --auth, --namespace.');
      updatePropsFile(cli.propsFile, Object.fromEntries(changes.map((n) => [n, f[n]])));
      for (const n of changes) cli.out.ok(SET[n](f[n]!));
    });

  flags(property.command('unset').description('unset one or more settings'), 'unset').action((f: Chosen) => {
    const changes = PROP_NAMES.filter((n) => f[n]);
    if (changes.length === 0) throw new UsageError('Unset at least one of --apihost, --auth, --namespace.');
    updatePropsFile(cli.propsFile, Object.fromEntries(changes.map((n) => [n, undefined])));
    for (const n of changes) cli.out.ok(UNSET[n]);
  });

  flags(property.command('get').description('print settings (all of them when none is named)'), 'print')
    .option('--apiversion', 'print the API version')
    .option('--cliversion', 'print the CLI version')
    .option('--all', 'print every setting')
    .action((f: Chosen, cmd: Command) => {
      const s = cli.settings(cmd);
      const rows: [string, string, string][] = [
        ['apihost', PROPS.apihost.label, s.apihost.value ?? ''],
        ['auth', PROPS.auth.label, s.auth.value ?? ''],
        ['namespace', PROPS.namespace.label, s.namespace],
        ['apiversion', 'whisk API version', 'v1'],
        ['cliversion', 'whisk CLI version', VERSION],
      ];
      const any = rows.some(([key]) => f[key as keyof Chosen]);
      const shown = rows.filter(([key]) => f.all || !any || f[key as keyof Chosen]);
      if (cli.json(cmd)) return cli.out.json(Object.fromEntries(shown.map(([key, , value]) => [key, value])));
      for (const [, label, value] of shown) cli.out.line(`${label.padEnd(20)}${cli.out.c.bold(value)}`);
    });

  return property;
}
