import { annotation, type Package, publicView, type Stored, updatePackage } from '../../common/entities.ts';
import { BadRequestError, ConflictError, Messages, NotFoundError } from '../../common/errors.ts';
import { formatRef, type HubRef, packageRefOf, parsePackageRef } from '../../common/hub/ref.ts';
import { assertEntityName } from '../../common/names.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import { bundleActions, bundlePackage, ORIGIN, originAnnotations, putAnnotations, writeActions } from './copy.ts';
import type { Origins } from './origin.ts';

/**
 * `hub install` and `hub update`: a copy of a published package in the caller's namespace,
 * recording where it came from (`hub-origin`: the package REF with its version), its version
 * and its digest. The copy runs without its origin; `update` replaces its actions when the
 * origin has a newer version, verified against the digest the origin announces.
 */

type Store = Pick<EntityStore, 'find' | 'put' | 'delete' | 'list'>;

/** `a` newer than `b` (numeric x.y.z). */
export function newer(a: string, b: string): boolean {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if ((x![i] ?? 0) !== (y![i] ?? 0)) return (x![i] ?? 0) > (y![i] ?? 0);
  return false;
}

export class Installer {
  constructor(
    private readonly store: Store,
    private readonly origins: Pick<Origins, 'fetch' | 'detail'>,
  ) {}

  /** Install the package REF as `as` (default its name) in `namespace`; a name taken by anything else is a 409. */
  async install(namespace: string, refText: string, as?: string): Promise<Package> {
    const ref = parsePackageRef(refText);
    const name = assertEntityName(as ?? ref.package);
    await this.vacant(namespace, name, ref);
    const fetched = await this.origins.fetch(ref);
    const pkg = bundlePackage(fetched.bundle, namespace, name, originAnnotations(ref, fetched));
    const actions = bundleActions(fetched.bundle, `${namespace}/${name}`);
    const stored = await this.store.put('package', pkg);
    try {
      await writeActions(this.store, `${namespace}/${name}`, actions, true);
    } catch (e) {
      await this.store.delete(namespace, name, stored._rev).catch(() => undefined);
      throw e;
    }
    return publicView(stored) as Package;
  }

  /** Refuse a name in use: by another entity, by a package from elsewhere, or by this very origin (then `update` is the way). */
  private async vacant(namespace: string, name: string, ref: HubRef): Promise<void> {
    const existing = await this.store.find(namespace, name);
    if (!existing) return;
    const origin = existing.entityType === 'package' ? annotation(existing.annotations, ORIGIN.origin) : undefined;
    if (typeof origin !== 'string') throw new ConflictError(`'${name}' is taken in your namespace by a ${existing.entityType} that was not installed from the hub; install with --as NAME.`);
    const same = formatRef({ ...parsePackageRef(origin), version: undefined }) === formatRef({ ...packageRefOf(ref), version: undefined });
    if (same) throw new ConflictError(`'${name}' is installed from ${origin} already; use hub update ${name} for a newer version.`);
    throw new ConflictError(`'${name}' is taken in your namespace by a package installed from ${origin}; install with --as NAME.`);
  }

  /** Update the installed package `name` to its origin's current version, if newer. */
  async update(namespace: string, name: string): Promise<{ updated: boolean; from: string; to: string }> {
    assertEntityName(name);
    const existing = await this.store.find(namespace, name);
    if (!existing || existing.entityType !== 'package') throw new NotFoundError(`there is no package '${name}' in your namespace.`);
    const pkg = existing as Stored<Package>;
    const origin = annotation(pkg.annotations, ORIGIN.origin);
    if (typeof origin !== 'string') throw new BadRequestError(`'${name}' was not installed from the hub (it has no ${ORIGIN.origin} annotation).`);
    const ref = { ...parsePackageRef(origin), version: undefined };
    const from = String(annotation(pkg.annotations, ORIGIN.version) ?? ref.version ?? '');
    const current = await this.origins.detail(ref);
    if (!newer(current.version, from)) return { updated: false, from, to: from };
    const fetched = await this.origins.fetch({ ...ref, version: current.version });
    const actions = bundleActions(fetched.bundle, `${namespace}/${name}`);
    await writeActions(this.store, `${namespace}/${name}`, actions, false);
    const fresh = bundlePackage(fetched.bundle, namespace, name, originAnnotations(ref, fetched));
    await this.store.put('package', updatePackage(pkg, { annotations: putAnnotations(fresh.annotations) }, undefined), pkg._rev).catch((e: unknown) => {
      throw e instanceof ConflictError ? new ConflictError(Messages.conflict) : e;
    });
    return { updated: true, from, to: fetched.detail.version };
  }
}
