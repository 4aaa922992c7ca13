import { type Action, type KeyValue, isBinding, type Package, type Stored } from '../common/entities.ts';
import { ForbiddenError, Messages, NotFoundError } from '../common/errors.ts';
import { entityPath, type QualifiedName, qualifiedString } from '../common/names.ts';
import type { EntityStore } from '../common/store/entity-store.ts';
import type { EntityCache } from './entity-cache.ts';

/** A package as a caller sees it: a binding merged with the package it binds. */
export interface ResolvedPackage {
  /** The package as stored under the name asked for (the binding, when it is one). */
  entity: Stored<Package>;
  /** The package whose actions it offers: the bound one for a binding, else `entity`. */
  origin: Stored<Package>;
  /** Package parameters, then the binding's on top. */
  params: Record<string, unknown>;
}

/** An action as a caller invokes it: the stored action and the parameters it inherits. */
export interface ResolvedAction {
  action: Stored<Action>;
  /** Where the action really lives: `ns` or `ns/pkg` (the bound package's path, through a binding). */
  path: string;
  /** Parameters: package < binding < action. The request's go on top of these. */
  params: Record<string, unknown>;
  /** `ns/binding` when the action was reached through a binding (OpenWhisk's `binding` annotation). */
  binding?: string;
}

const NO_CODE = { code: false } as const;

export const toObject = (kvs: KeyValue[] | undefined): Record<string, unknown> => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, kv.value]));

/**
 * Resolves references the way OpenWhisk does for reading and invoking: actions in
 * packages and in bindings (following the binding to its package, across namespaces when
 * that package is published), with the parameters they inherit, and with entitlement — a
 * caller reaches another namespace only through its published packages; anything else
 * there is a 403 whether it exists or not, so private entities stay invisible.
 */
export class Resolver {
  /** `entities`: the controller's entity cache (reads without code). */
  constructor(private readonly entities: Pick<EntityStore, 'get'> & Partial<Pick<EntityCache, 'cached'>>) {}

  /**
   * `action`, at once, when it needs nothing the entity cache does not hold already (an
   * action of the caller's own, outside a package); else undefined: ask `action`. The common
   * invoke then makes no promise for it (each costs while AsyncLocalStorage carries the log
   * context). Entitlement as in `action`: another namespace's is never answered here.
   */
  cachedAction(caller: string, target: QualifiedName): ResolvedAction | undefined {
    if (target.pkg || target.namespace !== caller) return undefined;
    const action = this.entities.cached?.('action', target.namespace, target.name, NO_CODE);
    return action && { action, path: target.namespace, params: toObject(action.parameters) };
  }

  /** The package `namespace/name` as `caller` may read it. */
  async package(caller: string, namespace: string, name: string): Promise<ResolvedPackage> {
    const entity = await this.readablePackage(caller, namespace, name);
    if (!isBinding(entity)) return { entity, origin: entity, params: toObject(entity.parameters) };
    const { namespace: bns, name: bname } = entity.binding;
    let origin: Stored<Package>;
    try {
      origin = await this.readablePackage(caller, bns, bname, entity.namespace);
    } catch (e) {
      if (e instanceof NotFoundError) throw new NotFoundError(`The package '/${bns}/${bname}' that '/${namespace}/${name}' binds does not exist.`);
      throw e;
    }
    return { entity, origin, params: { ...toObject(origin.parameters), ...toObject(entity.parameters) } };
  }

  /** The action `target` as `caller` may invoke it. */
  async action(caller: string, target: QualifiedName): Promise<ResolvedAction> {
    if (!target.pkg) {
      if (target.namespace !== caller) throw new ForbiddenError(Messages.notAuthorizedFor(qualifiedString(target).slice(1)));
      const action = await this.entities.get('action', target.namespace, target.name, NO_CODE);
      return { action, path: target.namespace, params: toObject(action.parameters) };
    }
    const pkg = await this.package(caller, target.namespace, target.pkg);
    const path = entityPath({ namespace: pkg.origin.namespace, pkg: pkg.origin.name });
    const action = await this.entities.get('action', path, target.name, NO_CODE);
    return {
      action,
      path,
      params: { ...pkg.params, ...toObject(action.parameters) },
      ...(pkg.entity !== pkg.origin ? { binding: `${target.namespace}/${target.pkg}` } : {}),
    };
  }

  /**
   * A package `caller` may read: its own, or a published one of another namespace.
   * `via` is the namespace of a binding that leads here: a binding reaches into its own
   * namespace's packages whether published or not.
   */
  private async readablePackage(caller: string, namespace: string, name: string, via?: string): Promise<Stored<Package>> {
    const own = namespace === caller || namespace === via;
    let pkg: Stored<Package>;
    try {
      pkg = await this.entities.get('package', namespace, name, NO_CODE);
    } catch (e) {
      if (e instanceof NotFoundError && !own) throw new ForbiddenError(Messages.notAuthorizedFor(`${namespace}/${name}`));
      throw e;
    }
    if (!own && !pkg.publish) throw new ForbiddenError(Messages.notAuthorizedFor(`${namespace}/${name}`));
    return pkg;
  }
}
