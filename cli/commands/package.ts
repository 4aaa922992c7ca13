import { Command } from 'commander';
import type { Package } from '../../common/entities.ts';
import type { Cli } from '../context.ts';
import { collectionPath, qualify } from '../names.ts';
import { keyValues } from '../params.ts';
import { createAndUpdate, deleteCommand, fetchEntity, getCommand, listCommand, namespaceArg, printSummary, putEntity, showEntity } from './entity.ts';
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

  getCommand(cli, pkg, 'packages', NAME)
    .option('-s, --summary', 'summarize the package')
    .action(async (name: string, field: string | undefined, f: { summary?: boolean }, cmd: Command) => {
      const p = await fetchEntity<Package>(cli, cmd, 'packages', name);
      if (f.summary) return printSummary(cli, 'packages', p);
      showEntity(cli, cmd, 'packages', name, p, field);
    });

  listCommand(cli, pkg, 'packages');

  deleteCommand(cli, pkg, 'packages', NAME, async (_name, f) => (f.force ? { force: 'true' } : undefined)).option('-f, --force', 'delete the actions in the package too');

  pkg
    .command('refresh')
    .description("refresh the namespace's package bindings")
    .argument('[namespace]', '/NAMESPACE')
    .action(async (target: string | undefined, _f: unknown, cmd: Command) => {
      const ns = namespaceArg(target, cli.namespace(cmd));
      const res = await cli.client(cmd).request<BindingUpdates>('POST', `${collectionPath('packages', ns)}/refresh`, { what: `refresh package bindings of namespace '${ns}'` });
      if (cli.json(cmd)) return cli.out.json(res.body);
      cli.out.line(`'${ns}' refreshed successfully`);
      for (const [label, list] of [['created bindings:', res.body.added], ['updated bindings:', res.body.updated], ['deleted bindings:', res.body.deleted]] as const) {
        cli.out.line(label);
        cli.out.lines(list ?? []);
      }
    });

  return pkg;
}
