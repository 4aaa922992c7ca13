import type { Command } from 'commander';
import type { EntitySummary, KeyValue } from '../../common/entities.ts';
import type { Cli } from '../context.ts';
import { UsageError } from '../errors.ts';
import { annotation } from '../../common/key-value.ts';
import { byName, entityRows, type ListedKind } from '../format.ts';
import { type Collection, collectionPath, entityPath, qualify } from '../names.ts';
import { type PagingOptions, withPaging } from './options.ts';

/** What action, trigger, rule and package commands share: put, get, delete, list. */

export const KIND_OF: Record<Collection, ListedKind> = { actions: 'action', triggers: 'trigger', rules: 'rule', packages: 'package' };

export interface PutOptions {
  update: boolean;
  /** The word in messages when not the kind (`binding`). */
  label?: string;
  /** Show a spinner while the request runs (uploads). */
  spin?: boolean;
}

/** PUT an entity; prints `ok: created action hello` (or the entity with --json) and returns it. */
export async function putEntity<T = unknown>(cli: Cli, cmd: Command, collection: Collection, ref: string, body: unknown, opts: PutOptions): Promise<T> {
  const label = opts.label ?? KIND_OF[collection];
  const verb = opts.update ? 'update' : 'create';
  const q = qualify(ref, cli.namespace(cmd), collection);
  const client = cli.client(cmd);
  const send = () => client.request<T>('PUT', entityPath(collection, q), { query: { overwrite: opts.update }, body, what: `${verb} ${label} '${ref}'` });
  const res = opts.spin ? await cli.spin(`${verb === 'create' ? 'creating' : 'updating'} ${label} ${ref}`, send) : await send();
  if (cli.json(cmd)) cli.out.json(res.body);
  else cli.out.ok(`${verb}d ${label} ${ref}`);
  return res.body;
}

export async function fetchEntity<T = EntitySummary>(cli: Cli, cmd: Command, collection: Collection, ref: string, query: Record<string, string> = {}): Promise<T> {
  const q = qualify(ref, cli.namespace(cmd), collection);
  return (await cli.client(cmd).request<T>('GET', entityPath(collection, q), { query, what: `get ${KIND_OF[collection]} '${ref}'` })).body;
}

type Summarized = Pick<EntitySummary, 'name' | 'annotations'> & { parameters?: KeyValue[] };

/** The parameters an entity reads: those its `parameters` annotation describes, and the bound ones, starred. */
function summaryParams(entity: Summarized): string {
  const bound = new Set((entity.parameters ?? []).map((p) => p.key));
  const described = annotation(entity.annotations, 'parameters');
  const names = Array.isArray(described) ? described.map((d: { name?: unknown }) => d?.name).filter((n): n is string => typeof n === 'string') : [];
  // described ones in their order, then the other bound ones by name
  const all = [...new Set([...names, ...[...bound].sort()])].map((n) => (bound.has(n) ? `*${n}` : n));
  return all.length ? all.join(', ') : 'none defined';
}

function summaryLines(cli: Cli, kind: string, path: string, entity: Summarized, indent = ''): void {
  const { c } = cli.out;
  const description = annotation(entity.annotations, 'description');
  cli.out.line(`${indent}${c.bold(kind)} /${path}${typeof description === 'string' ? `: ${description}` : ''}`);
  cli.out.line(`${indent}   (${c.bold('parameters')}: ${summaryParams(entity)})`);
}

/**
 * wsk's `--summary`: kind, full name and description, the parameters (bound ones starred); for
 * a package also its actions and feeds; for a rule its status.
 */
export function printSummary(cli: Cli, collection: Collection, entity: EntitySummary & { parameters?: KeyValue[]; actions?: Summarized[]; feeds?: Summarized[] }): void {
  const path = `${entity.namespace}/${entity.name}`;
  if (collection === 'rules') {
    cli.out.line(`${cli.out.c.bold('rule')} /${path}`);
    return cli.out.line(`   (${cli.out.c.bold('status')}: ${entity.status})`);
  }
  summaryLines(cli, KIND_OF[collection], path, entity);
  for (const a of entity.actions ?? []) summaryLines(cli, 'action', `${path}/${a.name}`, a, ' ');
  for (const f of entity.feeds ?? []) summaryLines(cli, 'feed', `${path}/${f.name}`, f, ' ');
}

/** `ok: got action hello` and the entity, or one field of it. */
export function showEntity(cli: Cli, cmd: Command, collection: Collection, ref: string, entity: unknown, field?: string): void {
  if (field !== undefined) {
    if (entity === null || typeof entity !== 'object' || !(field in entity)) throw new UsageError(`Invalid field filter '${field}'.`);
    const value = (entity as Record<string, unknown>)[field];
    if (cli.json(cmd)) return cli.out.json(value);
    cli.out.ok(`got ${KIND_OF[collection]} ${ref}, displaying field ${field}`);
    return cli.out.json(value);
  }
  if (cli.json(cmd)) return cli.out.json(entity);
  cli.out.ok(`got ${KIND_OF[collection]} ${ref}`);
  cli.out.json(entity);
}

export async function deleteEntity(cli: Cli, cmd: Command, collection: Collection, ref: string, query: Record<string, string> = {}): Promise<void> {
  const q = qualify(ref, cli.namespace(cmd), collection);
  const res = await cli.client(cmd).request('DELETE', entityPath(collection, q), { query, what: `delete ${KIND_OF[collection]} '${ref}'` });
  if (cli.json(cmd)) cli.out.json(res.body);
  else cli.out.ok(`deleted ${KIND_OF[collection]} ${ref}`);
}

export async function fetchList(cli: Cli, cmd: Command, collection: Collection, namespace: string, paging: PagingOptions, pkg?: string): Promise<EntitySummary[]> {
  const query = { limit: paging.limit, skip: paging.skip };
  const what = `get the list of ${collection}${pkg ? ` in package '${pkg}'` : ''}`;
  const list = (await cli.client(cmd).request<EntitySummary[]>('GET', collectionPath(collection, namespace, pkg), { query, what })).body;
  return paging.nameSort ? byName(list) : list;
}

/** wsk's listing: a heading (`actions`) and a row per entity. */
export function printList(cli: Cli, collection: Collection, list: EntitySummary[]): void {
  cli.out.heading(collection);
  cli.out.lines(entityRows(KIND_OF[collection], list));
}

export async function listEntities(cli: Cli, cmd: Command, collection: Collection, namespace: string, paging: PagingOptions, pkg?: string): Promise<void> {
  const list = await fetchList(cli, cmd, collection, namespace, paging, pkg);
  if (cli.json(cmd)) cli.out.json(list);
  else printList(cli, collection, list);
}

/** A listing's optional argument: `/namespace` lists that namespace; anything else is a package (actions only). */
export function listTarget(arg: string | undefined, fallback: string): { namespace: string; pkg?: string } {
  if (!arg) return { namespace: fallback };
  const parts = arg.replace(/^\//, '').split('/');
  if (arg.startsWith('/') && parts.length === 1) return { namespace: parts[0]! };
  if (arg.startsWith('/') && parts.length === 2) return { namespace: parts[0]!, pkg: parts[1]! };
  if (!arg.startsWith('/') && parts.length === 1) return { namespace: fallback, pkg: parts[0]! };
  throw new UsageError(`'${arg}' is neither a namespace (/namespace) nor a package.`);
}

/** The optional namespace argument of a listing: `guest` or `/guest`. */
export function namespaceArg(arg: string | undefined, fallback: string): string {
  if (!arg) return fallback;
  const ns = arg.replace(/^\//, '');
  if (!ns || ns.includes('/')) throw new UsageError(`'${arg}' is not a namespace.`);
  return ns;
}

/** `create` and `update` of a command group, built alike: `build` adds the arguments, options and action. */
export function createAndUpdate(group: Command, kind: string, build: (cmd: Command, update: boolean) => void, createDescription = `create a new ${kind}`): void {
  for (const update of [false, true]) {
    build(group.command(update ? 'update' : 'create').description(update ? `update an existing ${kind}, or create it if it does not exist` : createDescription), update);
  }
}

/** `<group> get NAME [FIELD]` and `--summary`. */
export function getCommand(cli: Cli, group: Command, collection: Exclude<Collection, 'actions'>, nameHelp: string): Command {
  const kind = KIND_OF[collection];
  return group
    .command('get')
    .description(`get a ${kind}`)
    .argument('<name>', nameHelp)
    .argument('[field]', `print only this field of the ${kind}`)
    .option('-s, --summary', collection === 'rules' ? 'summarize the rule: its name and status' : `summarize the ${kind}; parameters with prefix "*" are bound`)
    .action(async (name: string, field: string | undefined, f: { summary?: boolean }, cmd: Command) => {
      const entity = await fetchEntity(cli, cmd, collection, name);
      if (f.summary) return printSummary(cli, collection, entity);
      showEntity(cli, cmd, collection, name, entity, field);
    });
}

/** `<group> list [/NAMESPACE]` with paging. */
export function listCommand(cli: Cli, group: Command, collection: Exclude<Collection, 'actions'>): Command {
  return withPaging(group.command('list').description(`list ${collection}`).argument('[namespace]', '/NAMESPACE')).action((target: string | undefined, f: PagingOptions, cmd: Command) =>
    listEntities(cli, cmd, collection, namespaceArg(target, cli.namespace(cmd)), f),
  );
}

/**
 * `<group> delete NAME`; `prepare` runs first (disable a rule, tell a feed) and may return
 * query parameters for the DELETE. Returns the command for more options.
 */
export function deleteCommand(cli: Cli, group: Command, collection: Collection, nameHelp: string, prepare?: (name: string, opts: Record<string, unknown>, cmd: Command) => Promise<Record<string, string> | void>): Command {
  return group
    .command('delete')
    .description(`delete a ${KIND_OF[collection]}`)
    .argument('<name>', nameHelp)
    .action(async (name: string, opts: Record<string, unknown>, cmd: Command) => deleteEntity(cli, cmd, collection, name, (await prepare?.(name, opts, cmd)) ?? {}));
}
