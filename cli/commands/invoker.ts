import { Command } from 'commander';
import type { Cli } from '../context.ts';
import { type ContainerRow, containerTable, type InvokerRow, invokerTable } from '../format.ts';

/**
 * `swirl invoker list`: the operators' view of the invokers (GET /api/v1/invokers, admin keys
 * only): state, activations running and queued, this controller's load on each, containers,
 * their pool state, memory. wsk has no such command; the table follows `activation list`'s layout.
 */
export function invokerCommand(cli: Cli): Command {
  const invoker = new Command('invoker').description('see the invokers (operators: an admin key)');
  invoker
    .command('list')
    .description('list the invokers with their health, load, containers and memory')
    .action(async (_f: unknown, cmd: Command) => {
      const invokers = (await cli.client(cmd).request<InvokerRow[]>('GET', '/invokers', { what: 'get the list of invokers' })).body;
      if (cli.json(cmd)) return cli.out.json(invokers);
      cli.out.table(invokerTable(invokers, Date.now()));
    });
  invoker
    .command('containers')
    .description("list an invoker's containers with the action each serves (stem cells too, once taken)")
    .argument('<invoker>', 'the invoker: 0, or invoker0')
    .action(async (id: string, _f: unknown, cmd: Command) => {
      const containers = (await cli.client(cmd).request<ContainerRow[]>('GET', `/invokers/${encodeURIComponent(id)}/containers`, { what: `get the containers of invoker ${id}` })).body;
      if (cli.json(cmd)) return cli.out.json(containers);
      cli.out.table(containerTable(containers, Date.now()));
    });
  return invoker;
}
