import type Router from '@koa/router';
import {
  type Action,
  COLLECTIONS,
  type Collection,
  type EntityKind,
  type EntityOf,
  type EntitySummary,
  isBinding,
  type KeyValue,
  newAction,
  newPackage,
  newRule,
  newTrigger,
  type Package,
  type PackageBinding,
  parseBody,
  type Rule,
  type RulePut,
  publicView,
  putSchemas,
  type Stored,
  updateAction,
  updatePackage,
  updateRule,
  updateTrigger,
} from '../../common/entities.ts';
import { BadRequestError, ConflictError, ForbiddenError, Messages, NotFoundError } from '../../common/errors.ts';
import { LIST_LIMIT, SIZES } from '../../common/limits.ts';
import { assertEntityName, entityPath, parseQualifiedName, type QualifiedName } from '../../common/names.ts';
import type { EntityStore, ListScope } from '../../common/store/entity-store.ts';
import type { Ctx, Services, SwirlState } from '../context.ts';
import { readJson } from '../middleware.ts';
import type { Resolver} from '../resolver.ts';
import { type ResolvedPackage, toObject } from '../resolver.ts';
import { checkSequence } from '../sequence-check.ts';
import { findTrigger, linkRule, ruleKey, ruleListView, ruleStatus, ruleView, unlinkRule } from '../trigger-rules.ts';
import { forbidden, namespaceParam, resolveNamespace } from './namespaces.ts';

/** The entity a request addresses: `/namespaces/{ns}/{collection}/[{pkg}/]{name}`. */
interface Address {
  kind: EntityKind;
  collection: Collection;
  namespace: string;
  pkg?: string;
  name: string;
  /** `ns` or `ns/pkg` */
  path: string;
}

function collectionParam(ctx: Ctx): { kind: EntityKind; collection: Collection } {
  const collection = ctx.params.collection as Collection;
  const kind = COLLECTIONS[collection];
  if (!kind) throw new NotFoundError(Messages.routeNotFound);
  return { kind, collection };
}

/** The collection, namespace and (for actions) package of the path; only actions live in packages. */
function scope(ctx: Ctx): { kind: EntityKind; collection: Collection } & ListScope {
  const { kind, collection } = collectionParam(ctx);
  const namespace = resolveNamespace(ctx);
  const pkg = ctx.params.pkg;
  if (pkg === undefined) return { kind, collection, namespace };
  if (kind !== 'action') throw new NotFoundError(Messages.routeNotFound);
  return { kind, collection, namespace, pkg: assertEntityName(pkg) };
}

function address(ctx: Ctx): Address {
  const s = scope(ctx);
  return { ...s, name: assertEntityName(ctx.params.name!), path: entityPath(s) };
}

/** A query parameter's value (the first, when it is repeated), or undefined. */
export function queryParam(ctx: Ctx, name: string): string | undefined {
  const raw = ctx.query[name];
  return Array.isArray(raw) ? raw[0] : raw;
}

/** `?limit` and `?skip` with OpenWhisk's ranges and messages. */
export function paging(ctx: Ctx, collection: string): { limit: number; skip: number } {
  const int = (name: string, dflt: number): number => {
    const s = queryParam(ctx, name);
    if (s === undefined) return dflt;
    if (!/^-?\d+$/.test(s)) throw new BadRequestError(Messages.argumentNotInteger(collection, s));
    return Number(s);
  };
  const limit = int('limit', LIST_LIMIT.default);
  if (limit < 0 || limit > LIST_LIMIT.max) throw new BadRequestError(Messages.listLimitOutOfRange(collection, String(limit), LIST_LIMIT.max));
  const skip = int('skip', 0);
  if (skip < 0) throw new BadRequestError(Messages.listSkipOutOfRange(collection, String(skip)));
  return { limit: limit === 0 ? LIST_LIMIT.max : limit, skip };
}

export const flag = (ctx: Ctx, name: string): boolean => ctx.query[name] === 'true' || ctx.query[name] === '';

/** Every summary in a scope (for the few listings that cannot page in the store). */
async function listAll(store: EntityStore, kind: EntityKind, where: ListScope): Promise<EntitySummary[]> {
  const all: EntitySummary[] = [];
  for (;;) {
    const batch = await store.list(kind, where, { limit: LIST_LIMIT.max, skip: all.length });
    all.push(...batch);
    if (batch.length < LIST_LIMIT.max) return all;
  }
}

/**
 * A read of another namespace: only its published packages, and the actions inside them,
 * are visible (OpenWhisk's entitlement for shared packages).
 */
function foreignRead(ctx: Ctx): { kind: EntityKind; collection: Collection; namespace: string; pkg?: string } | undefined {
  const namespace = namespaceParam(ctx);
  if (namespace === ctx.state.identity!.namespace) return undefined;
  const { kind, collection } = collectionParam(ctx);
  const pkg = ctx.params.pkg;
  if (kind === 'package' && pkg === undefined) return { kind, collection, namespace };
  if (kind === 'action' && pkg !== undefined) return { kind, collection, namespace, pkg: assertEntityName(pkg) };
  throw forbidden(ctx);
}

async function list(ctx: Ctx, store: EntityStore, resolver: Resolver): Promise<void> {
  const foreign = foreignRead(ctx);
  const { kind, collection, ...where } = foreign ?? scope(ctx);
  const page = paging(ctx, collection);
  if (!foreign && !where.pkg) {
    if (flag(ctx, 'count')) ctx.body = { [collection]: await store.count(kind, where) };
    else if (kind === 'rule') ctx.body = await ruleListView(store, await store.list(kind, where, page));
    else ctx.body = await store.list(kind, where, page);
    return;
  }
  let found: EntitySummary[];
  if (where.pkg) {
    // a package's contents (through a binding: the bound package's); an own package that is gone has none
    const origin = await resolver.package(ctx.state.identity!.namespace, where.namespace, where.pkg).then(
      (p) => p.origin,
      (e: unknown) => (e instanceof NotFoundError && !foreign ? { namespace: where.namespace, name: where.pkg! } : Promise.reject(e)),
    );
    found = await listAll(store, 'action', { namespace: origin.namespace, pkg: origin.name });
  } else {
    found = (await listAll(store, 'package', where)).filter((p) => p.publish);
  }
  ctx.body = flag(ctx, 'count') ? { [collection]: found.length } : found.slice(page.skip, page.skip + page.limit);
}

/** GET of one entity: read through the entity cache (`entities`), as the invoke path reads. */
async function get(ctx: Ctx, store: EntityStore, entities: Pick<EntityStore, 'get'>, resolver: Resolver): Promise<void> {
  const foreign = foreignRead(ctx);
  const a = foreign ? { ...foreign, name: assertEntityName(ctx.params.name!), path: entityPath(foreign) } : address(ctx);
  const caller = ctx.state.identity!.namespace;
  if (a.kind === 'package') {
    ctx.body = await packageView(store, await resolver.package(caller, a.namespace, a.name));
    return;
  }
  const withCode = ctx.query.code !== 'false';
  let entity: Stored;
  if (a.kind === 'action' && a.pkg) {
    // through the package (or binding) it is addressed by, which decides what the caller may see
    const pkg = await resolver.package(caller, a.namespace, a.pkg);
    const action = await entities.get('action', entityPath({ namespace: pkg.origin.namespace, pkg: pkg.origin.name }), a.name, { code: withCode });
    entity = pkg.entity === pkg.origin ? action : { ...action, parameters: toKeyValues({ ...pkg.params, ...toObject(action.parameters) }) };
  } else {
    entity = await entities.get(a.kind, a.path, a.name, { code: withCode });
  }
  // (what the cache holds is shared: copied, never changed)
  if (!withCode && entity.entityType === 'action') {
    const { code: _code, ...exec } = (entity as Stored<Action>).exec as Action['exec'] & { code?: string };
    entity = { ...entity, exec } as Stored;
  }
  // a rule's status is its trigger's to tell (inactive once the trigger is gone)
  ctx.body = entity.entityType === 'rule' ? await ruleView(entities, entity as Stored<Rule>) : shown(store, entity, a.path, a.name);
}

/**
 * An entity as the API shows it: without store bookkeeping, and its parameters as they are
 * kept at rest — sealed, as OpenWhisk shows encrypted parameters — for the entity at
 * `path/name`, where a PUT may send them back. So reading an entity (another namespace's
 * published package, say) does not reveal the secrets it holds.
 */
function shown(store: EntityStore, e: Stored, path = e.namespace, name = e.name): object {
  const view = publicView(e) as { parameters?: KeyValue[] };
  return Array.isArray(view.parameters) ? { ...view, parameters: store.sealedParameters(path, name, view.parameters) } : view;
}

const toKeyValues = (o: Record<string, unknown>): KeyValue[] => Object.entries(o).map(([key, value]) => ({ key, value }));

/**
 * A package as OpenWhisk shows it: with the actions and feeds it offers. A binding shows
 * the bound package's contents and parameters, its own parameters on top.
 */
async function packageView(store: EntityStore, pkg: ResolvedPackage): Promise<Record<string, unknown>> {
  const contents = await listAll(store, 'action', { namespace: pkg.origin.namespace, pkg: pkg.origin.name });
  const brief = (s: EntitySummary) => ({ name: s.name, version: s.version, annotations: s.annotations });
  const isFeed = (s: EntitySummary) => s.annotations.some((kv) => kv.key === 'feed');
  return {
    ...shown(store, { ...pkg.entity, parameters: pkg.entity === pkg.origin ? pkg.entity.parameters : toKeyValues(pkg.params) }),
    actions: contents.filter((s) => !isFeed(s)).map(brief),
    feeds: contents.filter(isFeed).map(brief),
  };
}

async function del(ctx: Ctx, store: EntityStore): Promise<void> {
  const a = address(ctx);
  const entity = await store.get(a.kind, a.path, a.name, { code: false });
  if (a.kind === 'package') {
    const contents = await store.count('action', { namespace: a.namespace, pkg: a.name });
    if (contents > 0) {
      if (!flag(ctx, 'force')) throw new ConflictError(Messages.packageNotEmpty(contents));
      await deleteContents(store, a.namespace, a.name);
    }
  }
  // the trigger forgets a rule first, so that a fire never runs a deleted rule (a trigger or
  // action deleted instead leaves its rules in place, as in OpenWhisk)
  if (entity.entityType === 'rule') await unlinkRule(store, (entity as Stored<Rule>).trigger, ruleKey(entity));
  await store.delete(a.path, a.name, entity._rev);
  ctx.body = entity.entityType === 'rule' ? { ...publicView(entity), status: 'inactive' } : shown(store, entity);
}

async function deleteContents(store: EntityStore, namespace: string, pkg: string): Promise<void> {
  for (;;) {
    const batch = await store.list('action', { namespace, pkg }, { limit: 100, skip: 0 });
    if (batch.length === 0) return;
    for (const brief of batch) {
      const action = await store.get('action', brief.namespace, brief.name, { code: false });
      await store.delete(brief.namespace, brief.name, action._rev);
    }
  }
}

/** PUT: create, or with `?overwrite=true` update (OpenWhisk's merge semantics). */
async function put(ctx: Ctx, store: EntityStore, resolver: Resolver): Promise<void> {
  const a = address(ctx);
  const callerNamespace = ctx.state.identity!.namespace;
  const body = (await readJson(ctx, SIZES.requestBody)) ?? {};
  const overwrite = flag(ctx, 'overwrite');
  const existing = overwrite ? await findExisting(store, a) : undefined;
  const target = { namespace: a.path, name: a.name, callerNamespace };
  let saved: Stored;
  switch (a.kind) {
    case 'action': {
      const req = parseBody(putSchemas.action, body);
      if (a.pkg) await requireWritablePackage(store, a.namespace, a.pkg);
      const old = existing as Stored<Action> | undefined;
      const next = old ? updateAction(old, req, callerNamespace) : newAction(target, req);
      // a new or changed list of components must exist, stay acyclic and within the limit
      if (req.exec && next.exec.kind === 'sequence') await checkSequence(resolver, callerNamespace, a, next.exec.components ?? []);
      saved = await store.put('action', next, old?._rev);
      break;
    }
    case 'trigger': {
      const req = parseBody(putSchemas.trigger, body);
      const old = existing as Stored<EntityOf['trigger']> | undefined;
      saved = await store.put('trigger', old ? updateTrigger(old, req) : newTrigger(target, req), old?._rev);
      break;
    }
    case 'rule': {
      const req = parseBody(putSchemas.rule, body);
      const old = existing as Stored<EntityOf['rule']> | undefined;
      if (!old && (!req.trigger || !req.action)) throw new BadRequestError(Messages.malformedBody('a rule needs both trigger and action'));
      const trigger = req.trigger ? await ruleTrigger(store, req.trigger, callerNamespace) : undefined;
      const action = req.action ? await ruleAction(resolver, req.action, callerNamespace) : undefined;
      saved = await putRule(store, old ? updateRule(old, req, trigger, action) : newRule(target, req, trigger!, action!), old, req.status);
      break;
    }
    case 'package': {
      const req = parseBody(putSchemas.package, body);
      const old = existing as Stored<Package> | undefined;
      const binding = req.binding && req.binding.name ? await bindingTarget(store, req.binding, callerNamespace) : undefined;
      if (old && binding && !isBinding(old)) throw new BadRequestError('Resource is a package and cannot be converted into a binding.');
      saved = await store.put('package', old ? updatePackage(old, req, binding) : newPackage(target, req, binding), old?._rev);
      break;
    }
  }
  ctx.body = shown(store, saved);
}

async function findExisting(store: EntityStore, a: Address): Promise<Stored | undefined> {
  const found = await store.find(a.path, a.name);
  if (found && found.entityType !== a.kind) throw new ConflictError(Messages.conformance);
  return found;
}

async function requireWritablePackage(store: EntityStore, namespace: string, pkg: string): Promise<void> {
  let p: Stored<Package>;
  try {
    p = await store.get('package', namespace, pkg, { code: false });
  } catch (e) {
    if (e instanceof NotFoundError) throw new NotFoundError(`The package '${pkg}' does not exist.`);
    throw e;
  }
  if (isBinding(p)) throw new BadRequestError(Messages.notAllowedOnBinding);
}

/** A rule's trigger: it must exist, in the caller's namespace. */
async function ruleTrigger(store: EntityStore, ref: string, callerNamespace: string): Promise<QualifiedName> {
  const q = parseQualifiedName(ref, callerNamespace);
  if (q.namespace !== callerNamespace) throw new ForbiddenError(Messages.notAuthorizedFor(ref));
  if (q.pkg) throw new BadRequestError(`A trigger cannot be inside a package: '${ref}'.`);
  await store.get('trigger', q.namespace, q.name, { code: false }).catch((e: unknown) => Promise.reject(e instanceof NotFoundError ? new NotFoundError(`The trigger '${ref}' does not exist.`) : e));
  return q;
}

/** A rule's action: one the caller may invoke, also inside a package or a binding (kept as named, so a fire goes through the binding). */
async function ruleAction(resolver: Resolver, ref: string, callerNamespace: string): Promise<QualifiedName> {
  const q = parseQualifiedName(ref, callerNamespace);
  await resolver.action(callerNamespace, q).catch((e: unknown) => Promise.reject(e instanceof NotFoundError ? new NotFoundError(`The action '${ref}' does not exist.`) : e));
  return q;
}

/**
 * Write a rule and its link on its trigger, which holds the rule's status (OpenWhisk's
 * model). The rule goes first, so that a create losing to an existing name changes no
 * trigger; an update keeps the status it had (unless the request sets one) and moves the
 * link when the trigger changes. The rule document keeps the status too, for listings.
 */
async function putRule(store: EntityStore, next: Rule, old: Stored<Rule> | undefined, requested: RulePut['status']): Promise<Stored<Rule>> {
  const key = ruleKey(next);
  const status = requested === 'active' || requested === 'inactive' ? requested : old ? ruleStatus(await findTrigger(store, old.trigger), old) : 'active';
  const saved = await store.put('rule', { ...next, status }, old?._rev);
  const moved = old && (old.trigger.path !== next.trigger.path || old.trigger.name !== next.trigger.name);
  if (moved) await unlinkRule(store, old.trigger, key);
  if (!(await linkRule(store, next.trigger, key, { action: next.action, status }))) {
    // the trigger went away since it was checked: a new rule is not left behind for a 404
    if (!old) await store.delete(saved.namespace, saved.name, saved._rev).catch((e: unknown) => (e instanceof NotFoundError || e instanceof ConflictError ? undefined : Promise.reject(e)));
    throw new NotFoundError(`The trigger '/${next.trigger.path}/${next.trigger.name}' does not exist.`);
  }
  return saved;
}

/** A binding must name an existing package (not a binding), published when it is another namespace's. */
async function bindingTarget(store: EntityStore, b: { namespace?: string; name?: string }, callerNamespace: string): Promise<PackageBinding> {
  const namespace = !b.namespace || b.namespace === '_' ? callerNamespace : assertEntityName(b.namespace, 'namespace');
  const name = assertEntityName(b.name!);
  const target = await store.find(namespace, name, { code: false });
  if (!target || target.entityType !== 'package') throw new BadRequestError('Binding references a package that does not exist.');
  if (isBinding(target as Stored<Package>)) throw new BadRequestError('Cannot bind to another package binding.');
  if (namespace !== callerNamespace && !target.publish) throw new BadRequestError('Binding references a package that does not exist.');
  return { namespace, name };
}

export function entityRoutes(router: Router<SwirlState>, { store, cache, resolver }: Services): void {
  const base = '/namespaces/:ns';
  // reads go through the entity cache; writes through `store` invalidate it on every controller
  router.get(`${base}/:collection`, (ctx) => list(ctx as Ctx, store, resolver));
  router.get(`${base}/:collection/`, (ctx) => list(ctx as Ctx, store, resolver));
  router.get(`${base}/:collection/:pkg/`, (ctx) => list(ctx as Ctx, store, resolver));
  for (const path of [`${base}/:collection/:name`, `${base}/:collection/:pkg/:name`]) {
    router.get(path, (ctx) => get(ctx as Ctx, store, cache, resolver));
    router.put(path, (ctx) => put(ctx as Ctx, store, resolver));
    router.delete(path, (ctx) => del(ctx as Ctx, store));
  }
}
