import { Command } from 'commander';
import type { Cli } from '../context.ts';
import { type InvokerRow, invokerTable } from '../format.ts';

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
      const [header, ...rows] = invokerTable(invokers, Date.now());
      cli.out.heading(header!);
      cli.out.lines(rows);
    });
  return invoker;
}
