import { Command } from 'commander';
import type { Cli } from '../context.ts';
import { collectionPath, qualify } from '../names.ts';
import { keyValues } from '../params.ts';
import { createAndUpdate, deleteCommand, getCommand, listCommand, namespaceArg, putEntity } from './entity.ts';
import { type AnnotationOptions, type ParamOptions, type SharedOption, withAnnotations, withParams, withShared } from './options.ts';

type PutFlags = ParamOptions & AnnotationOptions & SharedOption;

function body(cli: Cli, f: PutFlags): Record<string, unknown> {
  const parameters = keyValues(f.param, f.paramFile, cli.io.cwd);
  const annotations = keyValues(f.annotation, f.annotationFile, cli.io.cwd);
  return { ...(parameters ? { parameters } : {}), ...(annotations ? { annotations } : {}), ...(f.shared !== undefined ? { publish: f.shared } : {}) };
}

interface BindingUpdates {
  added?: string[];
  updated?: string[];
  deleted?: string[];
}

const NAME = 'package name: NAME or /NAMESPACE/NAME';

export function packageCommand(cli: Cli): Command {
  const pkg = new Command('package').description('work with packages');
  createAndUpdate(pkg, 'package', (c, update) =>
    withShared(withAnnotations(withParams(c.argument('<name>', NAME)))).action((name: string, f: PutFlags, cmd: Command) => putEntity(cli, cmd, 'packages', name, body(cli, f), { update })),
  );

  withAnnotations(withParams(pkg.command('bind').description('bind parameters to a package: a new package binding').argument('<package>', 'the package to bind: NAME or /NAMESPACE/NAME').argument('<name>', 'name of the binding'))).action(
    (target: string, name: string, f: PutFlags, cmd: Command) => {
      const q = qualify(target, cli.namespace(cmd), 'packages');
      return putEntity(cli, cmd, 'packages', name, { ...body(cli, f), binding: { namespace: q.namespace, name: q.name } }, { update: false, label: 'binding' });
    },
  );

  getCommand(cli, pkg, 'packages', NAME);

  listCommand(cli, pkg, 'packages');

  deleteCommand(cli, pkg, 'packages', NAME, async (_name, f) => (f.force ? { force: 'true' } : undefined)).option('-f, --force', 'delete the actions in the package too');

  // wsk's `package refresh` POSTs to `packages/refresh`, which OpenWhisk's API (and so swirl's)
  // no longer serves: it answers 405, and the command reports that as wsk does
  pkg
    .command('refresh')
    .description("refresh the namespace's package bindings (wsk's command; OpenWhisk's API no longer serves it and answers 405)")
    .argument('[namespace]', '/NAMESPACE')
    .action(async (target: string | undefined, _f: unknown, cmd: Command) => {
      const ns = namespaceArg(target, cli.namespace(cmd));
      const res = await cli.client(cmd).request<BindingUpdates>('POST', `${collectionPath('packages', ns)}/refresh`, { what: `refresh package bindings of namespace '${ns}'`, failure: `Package refresh for namespace '${ns}' failed` });
      if (cli.json(cmd)) return cli.out.json(res.body);
      cli.out.line(`'${ns}' refreshed successfully`);
      for (const [label, list] of [['created bindings:', res.body.added], ['updated bindings:', res.body.updated], ['deleted bindings:', res.body.deleted]] as const) {
        cli.out.line(label);
        cli.out.lines(list ?? []);
      }
    });

  return pkg;
}
