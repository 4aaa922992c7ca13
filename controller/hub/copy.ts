import { type Action, bumpVersion, type KeyValue, newAction, newPackage, type Package, type PackagePut, type Stored } from '../../common/entities.ts';
import { NotFoundError, SwirlError } from '../../common/errors.ts';
import { actionCode, type Bundle } from '../../common/hub/manifest.ts';
import { resolveKind } from '../../common/kinds.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import { HubBundleMismatch } from './remote.ts';

/**
 * A verified bundle as entities of this instance: a package and its actions, as the
 * publisher's manifest describes them (kind, main, limits, hub-safe annotations; no parameter
 * values, for none were published). Shared by install, update and the fetch-on-demand cache.
 */

/** Annotations an install records on its package. */
export const ORIGIN = { origin: 'hub-origin', digest: 'hub-digest', version: 'hub-version' } as const;

/** Annotations as a PUT takes them (values from a verified manifest or from swirl itself). */
export const putAnnotations = (a: KeyValue[]): NonNullable<PackagePut['annotations']> => a as NonNullable<PackagePut['annotations']>;

/** The package's annotations with `extra` on top (an extra key replaces the manifest's). */
const withAnnotations = (base: KeyValue[], extra: KeyValue[]): KeyValue[] => [...base.filter((a) => !extra.some((e) => e.key === a.key)), ...extra];

/** The actions of `bundle` as new entities in `path` (`ns/pkg`); a kind this instance cannot run is the bundle's fault. */
export function bundleActions(bundle: Bundle, path: string): Action[] {
  return bundle.manifest.actions.map((a) => {
    if (!resolveKind(a.kind)?.image) throw new HubBundleMismatch(bundle.manifest.ref, bundle.digest, undefined, new Error(`its action '${a.name}' has kind '${a.kind}', which this instance cannot run`));
    try {
      return newAction({ namespace: path, name: a.name, callerNamespace: path.split('/')[0]! }, { exec: { kind: a.kind, code: actionCode(bundle, a), ...(a.main ? { main: a.main } : {}) }, annotations: putAnnotations(a.annotations), limits: a.limits });
    } catch (e) {
      if (e instanceof SwirlError) throw new HubBundleMismatch(bundle.manifest.ref, bundle.digest, undefined, new Error(`its action '${a.name}' is not valid here: ${e.message}`));
      throw e;
    }
  });
}

/** The package of `bundle` as a new entity `namespace/name`, carrying `extra` annotations. */
export function bundlePackage(bundle: Bundle, namespace: string, name: string, extra: KeyValue[]): Package {
  const m = bundle.manifest.package;
  const annotations = withAnnotations(m.annotations, [...(m.description ? [{ key: 'description', value: m.description }] : []), { key: 'hub-license', value: m.license }, ...extra]);
  return newPackage({ namespace, name, callerNamespace: namespace }, { annotations: putAnnotations(annotations) }, undefined);
}

/**
 * Write `actions` into their package, replacing any of the same name and deleting the
 * package's other actions; on a failure, the actions written so far are removed again when
 * they were new (`fresh`).
 */
export async function writeActions(store: Pick<EntityStore, 'find' | 'put' | 'delete' | 'list'>, path: string, actions: Action[], fresh: boolean): Promise<void> {
  const written: Array<Stored<Action>> = [];
  try {
    for (const a of actions) {
      const old = await store.find(path, a.name);
      const kept = old?.entityType === 'action' ? { ...a, version: bumpVersion(old.version) } : a;
      written.push(await store.put('action', kept, old?.entityType === 'action' ? old._rev : undefined));
    }
  } catch (e) {
    if (fresh) for (const w of written) await store.delete(path, w.name, w._rev).catch(() => undefined);
    throw e;
  }
  const [namespace, pkg] = path.split('/');
  const names = new Set(actions.map((a) => a.name));
  for (const stale of await store.list('action', { namespace: namespace!, pkg: pkg! }, { limit: 200, skip: 0 })) {
    if (names.has(stale.name)) continue;
    const doc = await store.find(path, stale.name);
    if (doc) await store.delete(path, stale.name, doc._rev).catch((e: unknown) => (e instanceof NotFoundError ? undefined : Promise.reject(e)));
  }
}
