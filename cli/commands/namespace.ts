import { Command } from 'commander';
import type { EntitySummary } from '../../common/entities.ts';
import type { Cli } from '../context.ts';
import { ApiError } from '../errors.ts';
import type { Collection } from '../names.ts';
import { fetchList, namespaceArg, printList } from './entity.ts';
import { type PagingOptions, withPaging } from './options.ts';

const ORDER: Collection[] = ['packages', 'actions', 'triggers', 'rules'];

/**
 * `swirl list` and `swirl namespace get`: every kind of entity in a namespace. In another
 * namespace only some collections are the caller's to see (its shared packages); those that
 * answer 403 are left out rather than failing the whole listing.
 */
async function listAll(cli: Cli, cmd: Command, target: string | undefined, f: PagingOptions): Promise<void> {
  const ns = namespaceArg(target, cli.namespace(cmd));
  const paging = { limit: f.limit ?? 0, skip: f.skip, nameSort: f.nameSort };
  const visible = (c: Collection) => fetchList(cli, cmd, c, ns, paging).catch((e: unknown) => (e instanceof ApiError && e.status === 403 ? undefined : Promise.reject(e)));
  const lists = (await Promise.all(ORDER.map(async (c) => [c, await visible(c)] as const))).filter((l): l is readonly [Collection, EntitySummary[]] => l[1] !== undefined);
  if (cli.json(cmd)) return cli.out.json(Object.fromEntries(lists));
  cli.out.line(`Entities in namespace: ${cli.out.c.bold(ns === '_' ? 'default' : ns)}`);
  for (const [c, list] of lists) printList(cli, c, list);
}

const listOptions = (cmd: Command): Command => withPaging(cmd.argument('[namespace]', '/NAMESPACE (default: yours)'));

export function listAllCommand(cli: Cli): Command {
  return listOptions(new Command('list').description('list the entities in a namespace')).action((target: string | undefined, f: PagingOptions, cmd: Command) => listAll(cli, cmd, target, f));
}

export function namespaceCommand(cli: Cli): Command {
  const namespace = new Command('namespace').description('work with namespaces');
  namespace
    .command('list')
    .description('list the namespaces your key can use')
    .action(async (_f: unknown, cmd: Command) => {
      const names = (await cli.client(cmd).request<string[]>('GET', '/namespaces', { what: 'get the list of namespaces' })).body;
      if (cli.json(cmd)) return cli.out.json(names);
      cli.out.heading('namespaces');
      cli.out.lines(names);
    });
  listOptions(namespace.command('get').description('list the entities in a namespace')).action((target: string | undefined, f: PagingOptions, cmd: Command) => listAll(cli, cmd, target, f));
  return namespace;
}
