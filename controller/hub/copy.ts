import { type Action, actionPutSchema, bumpVersion, type KeyValue, newAction, newPackage, type Package, type PackagePut, packagePutSchema, parseBody, type Stored } from '../../common/entities.ts';
import { NotFoundError, SwirlError } from '../../common/errors.ts';
import { actionCode, type Bundle, hubSafeAnnotations } from '../../common/hub/manifest.ts';
import { formatRef, type HubRef, packageRefOf } from '../../common/hub/ref.ts';
import { resolveKind } from '../../common/kinds.ts';
import { LIMITS, type LimitName } from '../../common/limits.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import type { Fetched } from './origin.ts';
import { HubBundleMismatch } from './remote.ts';

/**
 * A verified bundle as entities of this instance: a package and its actions, as the
 * publisher's manifest describes them (kind, main, limits, hub-safe annotations; no parameter
 * values, for none were published). Shared by install, update and the fetch-on-demand cache.
 */

/** Annotations an install records on its package. */
export const ORIGIN = { origin: 'hub-origin', digest: 'hub-digest', version: 'hub-version' } as const;

/** What a copy records of where it came from: the package REF with its version, the version, the digest it verified. */
export const originAnnotations = (ref: HubRef, fetched: Fetched): KeyValue[] => [
  { key: ORIGIN.origin, value: formatRef({ ...packageRefOf(ref), version: fetched.detail.version }) },
  { key: ORIGIN.digest, value: fetched.bundle.digest },
  { key: ORIGIN.version, value: fetched.detail.version },
];

/** Annotations as a PUT takes them (values from a verified manifest or from swirl itself). */
export const putAnnotations = (a: KeyValue[]): NonNullable<PackagePut['annotations']> => a as NonNullable<PackagePut['annotations']>;

/** The package's annotations with `extra` on top (an extra key replaces the manifest's). */
const withAnnotations = (base: KeyValue[], extra: KeyValue[]): KeyValue[] => [...base.filter((a) => !extra.some((e) => e.key === a.key)), ...extra];

/** A verified bundle that still cannot be used here (a kind this instance cannot run, a malformed field): the bundle's fault. */
const unusable = (bundle: Bundle, why: string): HubBundleMismatch => new HubBundleMismatch(bundle.manifest.ref, bundle.digest, undefined, new Error(why));

/**
 * What a manifest says, checked as a PUT's body would be; of the annotations only the hub-safe
 * subset is kept, whatever a peer's manifest claims (an annotation such as `provide-api-key`
 * would hand the caller's key to a stranger's code).
 */
function checked<T extends { annotations?: KeyValue[] | undefined }>(bundle: Bundle, what: string, parse: () => T): T {
  try {
    const put = parse();
    return { ...put, annotations: putAnnotations(hubSafeAnnotations(put.annotations ?? [])) };
  } catch (e) {
    if (e instanceof SwirlError) throw unusable(bundle, `${what} is not valid here: ${e.message}`);
    throw e;
  }
}

/**
 * A manifest's action limits within this instance's (its publisher's may allow more): each
 * known limit that is a number, rounded and clamped to the range an action here may take;
 * anything else left to the defaults.
 */
export function clampLimits(limits: unknown): Partial<Record<LimitName, number>> {
  if (limits === null || typeof limits !== 'object') return {};
  const out: Partial<Record<LimitName, number>> = {};
  for (const name of Object.keys(LIMITS) as LimitName[]) {
    const v = (limits as Record<string, unknown>)[name];
    if (typeof v === 'number' && Number.isFinite(v)) out[name] = Math.min(LIMITS[name].max, Math.max(LIMITS[name].min, Math.round(v)));
  }
  return out;
}

/** The actions of `bundle` as new entities in `path` (`ns/pkg`). */
export function bundleActions(bundle: Bundle, path: string): Action[] {
  return bundle.manifest.actions.map((a) => {
    if (!resolveKind(a.kind)?.image) throw unusable(bundle, `its action '${a.name}' has kind '${a.kind}', which this instance cannot run`);
    const what = `its action '${a.name}'`;
    const put = checked(bundle, what, () => parseBody(actionPutSchema, { exec: { kind: a.kind, code: actionCode(bundle, a), ...(a.main ? { main: a.main } : {}) }, annotations: a.annotations, limits: clampLimits(a.limits) }));
    try {
      return newAction({ namespace: path, name: a.name, callerNamespace: path.split('/')[0]! }, put);
    } catch (e) {
      if (e instanceof SwirlError) throw unusable(bundle, `${what} is not valid here: ${e.message}`);
      throw e;
    }
  });
}

/** The package of `bundle` as a new entity `namespace/name`, carrying `extra` annotations. */
export function bundlePackage(bundle: Bundle, namespace: string, name: string, extra: KeyValue[]): Package {
  const m = bundle.manifest.package;
  const put = checked(bundle, 'its package', () => parseBody(packagePutSchema, { annotations: m.annotations }));
  const described = [...(typeof m.description === 'string' && m.description ? [{ key: 'description', value: m.description }] : []), { key: 'hub-license', value: typeof m.license === 'string' ? m.license : 'unspecified' }];
  return newPackage({ namespace, name, callerNamespace: namespace }, { annotations: putAnnotations(withAnnotations(put.annotations ?? [], [...described, ...extra])) }, undefined);
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
