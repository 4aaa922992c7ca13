import { Command, Option } from 'commander';
import type { ActivationRecord } from '../../common/activation.ts';
import type { Cli } from '../context.ts';
import { CliError, UsageError } from '../errors.ts';
import { activationTable } from '../format.ts';
import { qualify } from '../names.ts';
import { integer } from './options.ts';

interface ListQuery {
  name?: string;
  limit?: number;
  skip?: number;
  since?: number;
  upto?: number;
  docs?: boolean;
}

const path = (cli: Cli, cmd: Command, rest = ''): string => `/namespaces/${encodeURIComponent(cli.namespace(cmd))}/activations${rest}`;

async function list(cli: Cli, cmd: Command, query: ListQuery): Promise<ActivationRecord[]> {
  return (await cli.client(cmd).request<ActivationRecord[]>('GET', path(cli, cmd), { query: { ...query }, what: 'get the list of activations' })).body;
}

/** The id given, or with --last the newest activation's. */
async function activationId(cli: Cli, cmd: Command, id: string | undefined, last: boolean | undefined): Promise<string> {
  if (!last) {
    if (!id) throw new UsageError('An activation ID is required (or --last).');
    return id;
  }
  const [newest] = await list(cli, cmd, { limit: 1, skip: 0 });
  if (!newest) throw new CliError('Activation list does not contain any activations.');
  return newest.activationId;
}

async function fetch<T>(cli: Cli, cmd: Command, id: string, rest: string, what: string): Promise<T> {
  return (await cli.client(cmd).request<T>('GET', path(cli, cmd, `/${encodeURIComponent(id)}${rest}`), { what: `${what} '${id}'` })).body;
}

/** The `name` filter of an activation listing: `name` or `pkg/name`, without the namespace. */
function nameFilter(ref: string): string {
  const q = qualify(ref, '_');
  return q.pkg ? `${q.pkg}/${q.name}` : q.name;
}

/** `2024-05-01T12:00:00.000Z stdout: hello` → `hello` (--strip). */
const strip = (line: string): string => line.replace(/^\S+\s+(stdout|stderr):\s?/, '');

interface PollFlags {
  exit?: number;
  sinceSeconds?: number;
  sinceMinutes?: number;
  sinceHours?: number;
  sinceDays?: number;
  interval: number;
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

/**
 * Follow new activations (optionally of one action) and print their logs, until Ctrl-C or
 * `--exit` seconds. Starts after the newest activation there is, or `--since-*` ago.
 */
async function poll(cli: Cli, cmd: Command, name: string | undefined, f: PollFlags): Promise<void> {
  const started = Date.now();
  const back = (((f.sinceDays ?? 0) * 24 + (f.sinceHours ?? 0)) * 60 + (f.sinceMinutes ?? 0)) * 60 + (f.sinceSeconds ?? 0);
  let since = started - back * 1000;
  if (back === 0) {
    const [newest] = await list(cli, cmd, { limit: 1, skip: 0, docs: true }).catch(() => []);
    if (newest) since = newest.start + 1;
  }
  cli.out.line('Enter Ctrl-c to exit.');
  cli.out.line('Polling for activation logs');
  const reported = new Set<string>();
  const filter = name ? nameFilter(name) : undefined;
  for (;;) {
    if (f.exit !== undefined && Date.now() - started >= f.exit * 1000) return;
    let found: ActivationRecord[] = [];
    try {
      found = await list(cli, cmd, { ...(filter ? { name: filter } : {}), since, docs: true, limit: 0, skip: 0 });
    } catch (e) {
      if (cli.globals(cmd).verbose) cli.out.note(`poll: ${(e as Error).message}`);
    }
    // oldest first, so logs appear in the order the activations ran
    for (const a of [...found].sort((x, y) => x.start - y.start)) {
      if (!reported.has(a.activationId)) {
        reported.add(a.activationId);
        cli.out.line(`\nActivation: '${a.name}' (${a.activationId})`);
        cli.out.json(a.logs ?? []);
      }
      if (a.start > since) since = a.start;
    }
    const left = f.exit === undefined ? f.interval : Math.min(f.interval, f.exit * 1000 - (Date.now() - started));
    if (left > 0) await sleep(left);
  }
}

export function activationCommand(cli: Cli): Command {
  const activation = new Command('activation').description('work with activations');

  activation
    .command('list')
    .description('list activations, newest first')
    .argument('[name]', 'only the activations of this action')
    .option('-l, --limit <n>', 'list at most N activations (default 30, at most 200)', integer)
    .option('-s, --skip <n>', 'skip the newest N activations', integer)
    .option('--since <epoch-ms>', 'only activations started after this time (milliseconds since 1970)', integer)
    .option('--upto <epoch-ms>', 'only activations started before this time (milliseconds since 1970)', integer)
    .option('-f, --full', 'print whole activation records')
    .action(async (name: string | undefined, f: { limit?: number; skip?: number; since?: number; upto?: number; full?: boolean }, cmd: Command) => {
      const query: ListQuery = { limit: f.limit, skip: f.skip, since: f.since, upto: f.upto, ...(f.full ? { docs: true } : {}), ...(name ? { name: nameFilter(name) } : {}) };
      const records = await list(cli, cmd, query);
      if (cli.json(cmd)) return cli.out.json(records);
      if (f.full) {
        cli.out.heading('activations');
        return records.forEach((r) => cli.out.json(r));
      }
      if (records.length === 0) return cli.out.heading('activations');
      const [header, ...rows] = activationTable(records);
      cli.out.heading(header!);
      cli.out.lines(rows);
    });

  activation
    .command('get')
    .description('get an activation')
    .argument('[id]', 'activation id (leave out with --last)')
    .argument('[field]', 'print only this field of the activation')
    .option('-l, --last', 'the newest activation')
    .option('-s, --summary', 'print only the result, with the action and status')
    .action(async (idArg: string | undefined, fieldArg: string | undefined, f: { last?: boolean; summary?: boolean }, cmd: Command) => {
      // with --last the first argument is the field
      const [given, field] = f.last ? [undefined, idArg] : [idArg, fieldArg];
      const id = await activationId(cli, cmd, given, f.last);
      const record = await fetch<ActivationRecord>(cli, cmd, id, '', 'get activation');
      if (f.summary && !cli.json(cmd)) {
        cli.out.line(`activation result for '/${record.namespace}/${record.name}' (${record.response.status} at ${new Date(record.end).toISOString()})`);
        return cli.out.json(record.response.result ?? {});
      }
      if (field !== undefined) {
        if (!(field in record)) throw new UsageError(`Invalid field filter '${field}'.`);
        if (!cli.json(cmd)) cli.out.ok(`got activation ${id}, displaying field ${field}`);
        return cli.out.json(record[field as keyof ActivationRecord]);
      }
      if (!cli.json(cmd)) cli.out.ok(`got activation ${id}`);
      cli.out.json(record);
    });

  activation
    .command('logs')
    .description('get the logs of an activation')
    .argument('[id]', 'activation id (leave out with --last)')
    .option('-l, --last', 'the newest activation')
    .option('-r, --strip', 'only the log messages, without time and stream')
    .action(async (given: string | undefined, f: { last?: boolean; strip?: boolean }, cmd: Command) => {
      const id = await activationId(cli, cmd, given, f.last);
      const { logs = [] } = await fetch<{ logs?: string[] }>(cli, cmd, id, '/logs', 'get logs for activation');
      if (cli.json(cmd)) return cli.out.json(logs);
      cli.out.lines(f.strip ? logs.map(strip) : logs);
    });

  activation
    .command('result')
    .description('get the result of an activation')
    .argument('[id]', 'activation id (leave out with --last)')
    .option('-l, --last', 'the newest activation')
    .action(async (given: string | undefined, f: { last?: boolean }, cmd: Command) => {
      const id = await activationId(cli, cmd, given, f.last);
      const response = await fetch<{ result?: unknown }>(cli, cmd, id, '/result', 'get result for activation');
      cli.out.json(cli.json(cmd) ? response : (response.result ?? {}));
    });

  activation
    .command('poll')
    .description('follow the logs of new activations live (Ctrl-C stops)')
    .argument('[name]', 'only the activations of this action')
    .option('-e, --exit <seconds>', 'stop after this many seconds', integer)
    .option('--since-seconds <n>', 'start from N seconds ago', integer)
    .option('--since-minutes <n>', 'start from N minutes ago', integer)
    .option('--since-hours <n>', 'start from N hours ago', integer)
    .option('--since-days <n>', 'start from N days ago', integer)
    .addOption(new Option('--interval <ms>', 'time between polls').argParser(integer).default(2000).hideHelp())
    .action((name: string | undefined, f: PollFlags, cmd: Command) => poll(cli, cmd, name, f));

  return activation;
}
