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

/** Print an activation's logs under its name, once. */
function reporter(cli: Cli): (a: ActivationRecord) => void {
  const reported = new Set<string>();
  return (a) => {
    if (reported.has(a.activationId)) return;
    reported.add(a.activationId);
    cli.out.line(`\nActivation: '${a.name}' (${a.activationId})`);
    cli.out.json(a.logs ?? []);
  };
}

/**
 * Follow the namespace's activation stream (server-sent events) until `deadline` or the
 * stream ends; first what started since `since` (--since-*). False when the server offers no
 * stream (an older swirl, OpenWhisk): then the caller polls.
 */
async function followStream(cli: Cli, cmd: Command, filter: string | undefined, since: number | undefined, deadline: number | undefined, report: (a: ActivationRecord) => void): Promise<boolean> {
  const abort = new AbortController();
  const timer = deadline === undefined ? undefined : setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now()));
  let backlog: Promise<void> = Promise.resolve();
  try {
    const status = await cli.client(cmd).stream(path(cli, cmd, '/stream'), {
      what: 'follow the activations',
      query: filter ? { name: filter } : {},
      signal: abort.signal,
      // once it is open, what came before it (oldest first); the stream's own follow it
      onOpen: () => {
        if (since !== undefined) backlog = list(cli, cmd, { ...(filter ? { name: filter } : {}), since, docs: true, limit: 0, skip: 0 }).then((found) => [...found].reverse().forEach(report));
      },
      onEvent: (e) => {
        if (e.event === 'activation') void backlog.then(() => report(JSON.parse(e.data) as ActivationRecord));
      },
    });
    await backlog;
    if (status !== 200 && cli.globals(cmd).verbose) cli.out.note(`poll: no activation stream (${status}): polling`);
    return status === 200;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Follow new activations (optionally of one action) and print their logs, until Ctrl-C or
 * `--exit` seconds: through the activation stream when the server offers it, else by polling.
 * Starts after the newest activation there is, or `--since-*` ago.
 */
async function poll(cli: Cli, cmd: Command, name: string | undefined, f: PollFlags): Promise<void> {
  const started = Date.now();
  const back = (((f.sinceDays ?? 0) * 24 + (f.sinceHours ?? 0)) * 60 + (f.sinceMinutes ?? 0)) * 60 + (f.sinceSeconds ?? 0);
  const filter = name ? nameFilter(name) : undefined;
  const report = reporter(cli);
  const deadline = f.exit === undefined ? undefined : started + f.exit * 1000;
  cli.out.line('Enter Ctrl-c to exit.');
  cli.out.line('Polling for activation logs');
  const streamed = await followStream(cli, cmd, filter, back > 0 ? started - back * 1000 : undefined, deadline, report).catch(() => false);
  if (deadline !== undefined && Date.now() >= deadline) return;
  let since = streamed ? Date.now() - 5000 : started - back * 1000;
  if (!streamed && back === 0) {
    const [newest] = await list(cli, cmd, { limit: 1, skip: 0, docs: true }).catch(() => []);
    if (newest) since = newest.start + 1;
  }
  for (;;) {
    if (deadline !== undefined && Date.now() >= deadline) return;
    let found: ActivationRecord[] = [];
    try {
      found = await list(cli, cmd, { ...(filter ? { name: filter } : {}), since, docs: true, limit: 0, skip: 0 });
    } catch (e) {
      if (cli.globals(cmd).verbose) cli.out.note(`poll: ${(e as Error).message}`);
    }
    // oldest first, so logs appear in the order the activations ran
    for (const a of [...found].sort((x, y) => x.start - y.start)) {
      report(a);
      if (a.start > since) since = a.start;
    }
    const left = deadline === undefined ? f.interval : Math.min(f.interval, deadline - Date.now());
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
      cli.out.table(activationTable(records));
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
