import { publicView, type ReducedRule, type Rule, type Stored, type Trigger } from '../common/entities.ts';
import { ConflictError, NotFoundError } from '../common/errors.ts';
import type { EntityStore } from '../common/store/entity-store.ts';

/**
 * A rule's status lives on its trigger, as in OpenWhisk: the trigger document's `rules`
 * map holds each rule's action and status under the rule's fully qualified name, so a fire
 * reads one document. These functions keep that map; rule writes call them.
 */

/** The key of a rule in its trigger's `rules` map: `ns/rule`. */
export const ruleKey = (rule: Pick<Rule, 'namespace' | 'name'>): string => `${rule.namespace}/${rule.name}`;

/** Writes that lose a race with another rule write on the same trigger read it again and retry this often. */
const ATTEMPTS = 5;

/**
 * Change the `rules` map of the trigger `path/name` (`change` returns the new map, or
 * undefined to leave the trigger as it is), retrying on concurrent writes. Returns the
 * trigger as written, or undefined when there is no such trigger.
 */
export async function updateTriggerRules(
  store: EntityStore,
  trigger: Rule['trigger'],
  change: (rules: Record<string, ReducedRule>) => Record<string, ReducedRule> | undefined,
): Promise<Stored<Trigger> | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await findTrigger(store, trigger);
    if (!current) return undefined;
    const rules = change({ ...current.rules });
    if (!rules) return current;
    try {
      return await store.put('trigger', { ...(publicView(current) as Trigger), rules }, current._rev);
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt >= ATTEMPTS) throw e;
    }
  }
}

/** The trigger, or undefined when it is gone (rules outlive their triggers). */
export async function findTrigger(store: Pick<EntityStore, 'get'>, trigger: Rule['trigger']): Promise<Stored<Trigger> | undefined> {
  try {
    return await store.get('trigger', trigger.path, trigger.name);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

/** A rule's status as its trigger records it; `inactive` when the trigger is gone or does not know the rule (OpenWhisk's getStatus). */
export const ruleStatus = (trigger: Trigger | undefined, rule: Pick<Rule, 'namespace' | 'name'>): ReducedRule['status'] => trigger?.rules?.[ruleKey(rule)]?.status ?? 'inactive';

/** The rule as the API shows it: with the status its trigger records. */
export async function ruleView(store: Pick<EntityStore, 'get'>, rule: Stored<Rule>): Promise<Rule> {
  return { ...(publicView(rule) as Rule), status: ruleStatus(await findTrigger(store, rule.trigger), rule) };
}

/**
 * Rules as a listing shows them: each with the status its trigger records, as a GET shows it
 * (the rule document's copy goes stale when the trigger is deleted). Each trigger is read once.
 */
export async function ruleListView<T extends Pick<Rule, 'namespace' | 'name'> & { trigger?: Rule['trigger']; status?: Rule['status'] }>(store: EntityStore, rules: T[]): Promise<T[]> {
  const triggers = new Map<string, Promise<Trigger | undefined>>();
  const triggerOf = (t: Rule['trigger']) => {
    const key = `${t.path}/${t.name}`;
    if (!triggers.has(key)) triggers.set(key, findTrigger(store, t));
    return triggers.get(key)!;
  };
  return Promise.all(rules.map(async (r) => (r.trigger ? { ...r, status: ruleStatus(await triggerOf(r.trigger), r) } : r)));
}

/** Add (or replace) a rule's link on a trigger. */
export const linkRule = (store: EntityStore, trigger: Rule['trigger'], key: string, link: ReducedRule) =>
  updateTriggerRules(store, trigger, (rules) => ({ ...rules, [key]: link }));

/** Remove a rule's link from a trigger (nothing to do when the trigger or the link is gone). */
export const unlinkRule = (store: EntityStore, trigger: Rule['trigger'], key: string) =>
  updateTriggerRules(store, trigger, (rules) => {
    if (!(key in rules)) return undefined;
    delete rules[key];
    return rules;
  });

/**
 * Set a rule's status on its trigger (linking it again when the trigger was recreated
 * without it), then on the rule document, which keeps it for listings. Returns false when
 * the rule's trigger is gone: only rules with a trigger can change status.
 */
export async function setRuleStatus(store: EntityStore, rule: Stored<Rule>, status: ReducedRule['status']): Promise<boolean> {
  const key = ruleKey(rule);
  const linked = await updateTriggerRules(store, rule.trigger, (rules) => (rules[key]?.status === status ? undefined : { ...rules, [key]: { action: rule.action, status } }));
  if (!linked) return false;
  for (let attempt = 1, current = rule; current.status !== status; attempt++) {
    try {
      await store.put('rule', { ...(publicView(current) as Rule), status }, current._rev);
      return true;
    } catch (e) {
      // a concurrent write of the rule: the trigger holds the truth already, so another try is enough
      if (!(e instanceof ConflictError) || attempt >= ATTEMPTS) throw e;
      current = await store.get('rule', rule.namespace, rule.name);
    }
  }
  return true;
}
