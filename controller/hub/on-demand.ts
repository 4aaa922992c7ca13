import { createHash } from 'node:crypto';
import type { Action, Package, Stored } from '../../common/entities.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../../common/errors.ts';
import { type FunctionRef, formatRef, packageRefOf, parseFunctionRef } from '../../common/hub/ref.ts';
import type { Logger } from '../../common/logger.ts';
import type { QualifiedName } from '../../common/names.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import type { Activator, LocalKind } from '../activator.ts';
import type { ResolvedAction } from '../resolver.ts';
import { bundleActions, bundlePackage, originAnnotations, writeActions } from './copy.ts';
import type { Origins } from './origin.ts';

/**
 * Fetch on demand: an action of kind `hub` (`exec.ref`: a function REF) or a sequence
 * component `hub:<function REF>` runs a function of another instance. The first invoke
 * fetches its package, verifies it and caches it; every invoke runs the cached copy in the
 * caller's namespace (the record is the caller's, as for any action).
 *
 * The cache is the entity store, under the namespace `.hub-cache`: one package per REF and
 * version (named by a hash of them), its actions inside. Why there: the invoker runs only what
 * the store holds (it reads the action's code by path and revision), so a copy kept anywhere
 * else would have to be written there anyway; and the store is shared by every controller and
 * invoker of an instance, so one fetch serves them all and survives restarts. Why that name: it
 * is no entity name (a leading dot), so no subject can own it (`admin` refuses such a
 * namespace) and no request can name it (every path is parsed as entity names: a 400), so no
 * tenant reads or writes the cache by name — the controller alone reaches it, here. The
 * package is written last, after its actions, and only after the bundle verified: it marks a
 * complete entry, and a refused download leaves nothing.
 */
export const HUB_CACHE_NAMESPACE = '.hub-cache';
/** The record annotation naming the function REF a hub action ran (its `path` is the hub action's own). */
export const HUB_ANNOTATION = 'hub';

const NO_CODE = { code: false } as const;

/** The cache package of a REF: pinned versions by version, unversioned REFs by the REF ("latest" as first fetched). */
const cacheName = (ref: FunctionRef): string => `r${createHash('sha256').update(formatRef(packageRefOf(ref))).digest('hex').slice(0, 40)}`;

export class OnDemand {
  /** Fetches under way by cache package: concurrent first invokes share one. */
  private readonly fetching = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: {
      store: Pick<EntityStore, 'find' | 'put' | 'delete' | 'list'>;
      /** Reads through the entity cache. */
      entities: Pick<EntityStore, 'get'>;
      origins: Pick<Origins, 'fetch'>;
      activator: () => Pick<Activator, 'invokeResolved'>;
      log: Logger;
    },
  ) {}

  /** The cached action for a function REF (fetched, verified and cached first when missing), as the caller's invoke resolves it. */
  async resolve(refText: string, params: Record<string, unknown> = {}): Promise<{ target: QualifiedName; resolved: ResolvedAction }> {
    const ref = parseFunctionRef(refText);
    const pkg = cacheName(ref);
    const path = `${HUB_CACHE_NAMESPACE}/${pkg}`;
    const marker = await this.deps.store.find(HUB_CACHE_NAMESPACE, pkg);
    if (!marker) await this.fill(ref, pkg);
    let action: Stored<Action>;
    try {
      action = await this.deps.entities.get('action', path, ref.action, NO_CODE);
    } catch (e) {
      if (e instanceof NotFoundError) throw new NotFoundError(`${formatRef(ref)}: the package has no action '${ref.action}'.`);
      throw e;
    }
    return { target: { namespace: HUB_CACHE_NAMESPACE, pkg, name: ref.action }, resolved: { action, path, params } };
  }

  private fill(ref: FunctionRef, pkg: string): Promise<void> {
    let running = this.fetching.get(pkg);
    if (!running) {
      running = this.fetch(ref, pkg).finally(() => this.fetching.delete(pkg));
      this.fetching.set(pkg, running);
    }
    return running;
  }

  private async fetch(ref: FunctionRef, pkg: string): Promise<void> {
    const fetched = await this.deps.origins.fetch(packageRefOf(ref));
    const path = `${HUB_CACHE_NAMESPACE}/${pkg}`;
    const actions = bundleActions(fetched.bundle, path);
    const marker: Package = bundlePackage(fetched.bundle, HUB_CACHE_NAMESPACE, pkg, originAnnotations(ref, fetched));
    try {
      await writeActions(this.deps.store, path, actions, true);
      await this.deps.store.put('package', marker);
    } catch (e) {
      // another controller filling the same entry at once: its entry, once complete, is as good
      if (!(e instanceof ConflictError) || !(await this.completed(pkg))) throw e;
      return;
    }
    this.deps.log.info({ ref: formatRef(ref), version: fetched.detail.version, digest: fetched.bundle.digest }, 'hub function fetched and cached');
  }

  /** Whether the cache package `pkg` is complete, or becomes so within a few seconds (another controller writing it). */
  private async completed(pkg: string): Promise<boolean> {
    for (let i = 0; i < 50; i++) {
      if (await this.deps.store.find(HUB_CACHE_NAMESPACE, pkg)) return true;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    return false;
  }

  /** The LocalKind for `hub`: run the cached function with the hub action's merged parameters, as the caller. */
  readonly run: LocalKind = async (req, resolved, params) => {
    const ref = resolved.action.exec.ref;
    if (!ref) throw new NotFoundError(`the action '${resolved.action.name}' names no hub function (exec.ref).`);
    const { target, resolved: cached } = await this.resolve(ref, params);
    // the record is filed under the caller's action (what `activation list NAME` finds), and says which function ran
    const annotations = [
      { key: 'path', value: `${resolved.path}/${resolved.action.name}` },
      { key: HUB_ANNOTATION, value: ref },
    ];
    return this.deps.activator().invokeResolved({ ...req, target, params: {}, annotations: [...(req.annotations ?? []), ...annotations] }, cached);
  };
}

/** The LocalKind for `hub` when the hub is off (SWIRL_HUB=off): a clear refusal, never an invoker's puzzle. */
export const hubOff: LocalKind = () => Promise.reject(new ForbiddenError('The Function Hub is turned off on this instance (SWIRL_HUB=off): hub functions cannot run here.'));
