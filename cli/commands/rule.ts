import { Command } from 'commander';
import type { Rule } from '../../common/entities.ts';
import type { Cli } from '../context.ts';
import { entityPath, fqn, qualify } from '../names.ts';
import { keyValues } from '../params.ts';
import { createAndUpdate, deleteCommand, fetchEntity, getCommand, listCommand, putEntity } from './entity.ts';
import { type AnnotationOptions, withAnnotations } from './options.ts';

/** POST `{status}` to a rule: enable (active) or disable (inactive). */
async function setState(cli: Cli, cmd: Command, name: string, enable: boolean): Promise<void> {
  const q = qualify(name, cli.namespace(cmd), 'rules');
  const verb = enable ? 'enable' : 'disable';
  const res = await cli.client(cmd).request('POST', entityPath('rules', q), { body: { status: enable ? 'active' : 'inactive' }, what: `${verb} rule '${name}'` });
  if (cli.json(cmd)) return cli.out.json(res.body || {});
  cli.out.ok(`${verb}d rule ${name}`);
}

const NAME = 'rule name: NAME or /NAMESPACE/NAME';

export function ruleCommand(cli: Cli): Command {
  const rule = new Command('rule').description('work with rules');
  createAndUpdate(
    rule,
    'rule',
    (c, update) =>
      withAnnotations(c.argument('<name>', NAME).argument('<trigger>', 'the trigger that fires the rule').argument('<action>', 'the action the rule runs')).action(
        (name: string, trigger: string, action: string, f: AnnotationOptions, cmd: Command) => {
          const ns = cli.namespace(cmd);
          const annotations = keyValues(f.annotation, f.annotationFile, cli.io.cwd);
          return putEntity(cli, cmd, 'rules', name, { trigger: fqn(qualify(trigger, ns, 'triggers')), action: fqn(qualify(action, ns)), ...(annotations ? { annotations } : {}) }, { update });
        },
      ),
    'create a new rule: TRIGGER fires ACTION',
  );

  for (const enable of [true, false]) {
    rule
      .command(enable ? 'enable' : 'disable')
      .description(enable ? 'enable a rule: its trigger runs its action' : 'disable a rule: its trigger no longer runs its action')
      .argument('<name>', NAME)
      .action((name: string, _f: unknown, cmd: Command) => setState(cli, cmd, name, enable));
  }

  rule
    .command('status')
    .description('tell whether a rule is active')
    .argument('<name>', NAME)
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const r = await fetchEntity<Rule>(cli, cmd, 'rules', name);
      if (cli.json(cmd)) return cli.out.json({ status: r.status });
      cli.out.ok(`rule ${name} is ${r.status}`);
    });

  getCommand(cli, rule, 'rules', NAME);
  listCommand(cli, rule, 'rules');

  deleteCommand(cli, rule, 'rules', NAME, async (name, f, cmd) => {
    if (f.disable) await setState(cli, cmd, name, false);
  }).option('--disable', 'disable the rule before deleting it');

  return rule;
}
