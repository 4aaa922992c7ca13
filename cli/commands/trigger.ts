import { Command } from 'commander';
import type { KeyValue, Trigger } from '../../common/entities.ts';
import type { Cli } from '../context.ts';
import { CliError } from '../errors.ts';
import { annotation } from '../../common/key-value.ts';
import { entityPath, fqn, qualify } from '../names.ts';
import { keyValues, payload } from '../params.ts';
import { createAndUpdate, deleteCommand, fetchEntity, getCommand, listCommand, putEntity } from './entity.ts';
import { type AnnotationOptions, type ParamOptions, withAnnotations, withParams } from './options.ts';

type PutFlags = ParamOptions & AnnotationOptions & { feed?: string };

/**
 * Tell a feed action about its trigger, as wsk does: invoke it (blocking) with
 * `lifecycleEvent`, `triggerName` and `authKey`, plus the trigger's parameters. Prints
 * `ok: invoked <feed> with id <id>`; a failure is `Unable to configure feed '<feed>': <why>`.
 */
async function callFeed(cli: Cli, cmd: Command, feed: string, event: 'CREATE' | 'DELETE', trigger: string, params: Record<string, unknown> = {}): Promise<void> {
  const q = qualify(feed, cli.namespace(cmd));
  const body = { ...params, lifecycleEvent: event, triggerName: fqn(qualify(trigger, cli.namespace(cmd), 'triggers')), authKey: cli.settings(cmd).auth.value };
  const res = await cli.spin(`calling feed ${fqn(q)}`, () =>
    cli.client(cmd).request<{ activationId?: string }>('POST', entityPath('actions', q), { query: { blocking: true, result: false }, body, what: `invoke feed action '${feed}'`, failure: `Unable to configure feed '${fqn(q)}'` }),
  );
  if (!cli.json(cmd)) cli.out.ok(`invoked ${fqn(q)} with id ${res.body.activationId}`);
}

/**
 * wsk's order for a trigger with a feed: create the trigger, run the feed's CREATE, then say
 * `ok: created trigger`. When the feed fails the trigger is deleted again and only the
 * error is printed: nothing claims a trigger that no longer exists.
 */
async function createWithFeed(cli: Cli, cmd: Command, name: string, f: PutFlags, annotations: KeyValue[] | undefined): Promise<void> {
  const feed = fqn(qualify(f.feed!, cli.namespace(cmd)));
  const body = { annotations: [...(annotations ?? []).filter((a) => a.key !== 'feed'), { key: 'feed', value: feed }] };
  const q = qualify(name, cli.namespace(cmd), 'triggers');
  const client = cli.client(cmd);
  const created = await client.request('PUT', entityPath('triggers', q), { query: { overwrite: false }, body, what: `create trigger '${name}'` });
  try {
    await callFeed(cli, cmd, f.feed!, 'CREATE', name, payload(f.param, f.paramFile, cli.io.cwd));
  } catch (e) {
    // undo, so that a trigger without its feed is not left behind
    await client.request('DELETE', entityPath('triggers', q), { what: `delete trigger '${name}'` }).catch(() => undefined);
    throw e instanceof CliError ? new CliError(`Unable to create trigger '${name}': ${e.message}`, e.exitCode, e.txid) : e;
  }
  if (cli.json(cmd)) cli.out.json(created.body);
  else cli.out.ok(`created trigger ${name}`);
}

async function create(cli: Cli, cmd: Command, name: string, f: PutFlags, update: boolean): Promise<void> {
  const annotations = keyValues(f.annotation, f.annotationFile, cli.io.cwd);
  if (f.feed && !update) return createWithFeed(cli, cmd, name, f, annotations);
  const parameters = keyValues(f.param, f.paramFile, cli.io.cwd);
  await putEntity(cli, cmd, 'triggers', name, { ...(parameters ? { parameters } : {}), ...(annotations ? { annotations } : {}) }, { update });
}

async function fire(cli: Cli, cmd: Command, name: string, f: ParamOptions): Promise<void> {
  const q = qualify(name, cli.namespace(cmd), 'triggers');
  const res = await cli.client(cmd).request<{ activationId?: string }>('POST', entityPath('triggers', q), { body: payload(f.param, f.paramFile, cli.io.cwd), what: `fire trigger '${name}'` });
  if (cli.json(cmd)) return cli.out.json(res.status === 204 ? {} : res.body);
  // 204: no active rule is attached, so nothing ran (wsk's words, without its `ok:`)
  if (res.status === 204 || !res.body?.activationId) return cli.out.line(`trigger ${fqn(q)} did not fire as it is not associated with an active rule`);
  cli.out.ok(`triggered ${fqn(q)} with id ${res.body.activationId}`);
}

const NAME = 'trigger name: NAME or /NAMESPACE/NAME';

export function triggerCommand(cli: Cli): Command {
  const trigger = new Command('trigger').description('work with triggers');
  createAndUpdate(trigger, 'trigger', (c, update) => {
    c.argument('<name>', NAME);
    if (!update) c.option('-f, --feed <action>', 'the feed action that fires this trigger (its parameters go to the feed)');
    withAnnotations(withParams(c)).action((name: string, f: PutFlags, cmd: Command) => create(cli, cmd, name, f, update));
  });

  withParams(trigger.command('fire').description('fire a trigger: run the actions of its active rules').argument('<name>', NAME), 'payload parameter').action(
    (name: string, f: ParamOptions, cmd: Command) => fire(cli, cmd, name, f),
  );

  getCommand(cli, trigger, 'triggers', NAME);
  listCommand(cli, trigger, 'triggers');

  deleteCommand(cli, trigger, 'triggers', NAME, async (name, _f, cmd) => {
    const feed = annotation((await fetchEntity<Trigger>(cli, cmd, 'triggers', name)).annotations, 'feed');
    if (typeof feed !== 'string') return;
    try {
      await callFeed(cli, cmd, feed, 'DELETE', name);
    } catch (e) {
      // the trigger goes anyway: a feed that is gone must not keep it
      if (e instanceof CliError) cli.out.note(`warning: ${e.message}`);
      else throw e;
    }
  }).description('delete a trigger (telling its feed, if it has one)');

  return trigger;
}
