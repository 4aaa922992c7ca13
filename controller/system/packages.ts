import { type Action, type ActionExec, bumpVersion, INITIAL_VERSION, type KeyValue, type Package, type Stored } from '../../common/entities.ts';
import { ConflictError } from '../../common/errors.ts';
import { defaultLimits } from '../../common/limits.ts';
import type { Logger } from '../../common/logger.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';

/** The read-only namespace of the packages every namespace can use. */
export const SYSTEM_NAMESPACE = 'whisk.system';

export interface SystemAction {
  name: string;
  description: string;
  /** Node.js source (kind nodejs:20), or `exec` for an action the controller runs itself. */
  code?: string;
  exec?: ActionExec;
  /**
   * The parameters it reads, described in its `parameters` annotation as OpenWhisk's
   * catalog does. They get no default values: a default on the action would win over a
   * binding's parameters (package < binding < action), and bindings are how users set them.
   */
  parameters?: Array<{ name: string; description: string }>;
  annotations?: KeyValue[];
}

export interface SystemPackage {
  name: string;
  annotations: KeyValue[];
  parameters?: KeyValue[];
  actions: SystemAction[];
}

type Fields<T> = Omit<T, 'namespace' | 'name' | 'version' | 'updated'>;

function packageFields(p: SystemPackage): Fields<Package> {
  return { publish: true, annotations: p.annotations, parameters: p.parameters ?? [], binding: {} };
}

function actionFields(a: SystemAction): Fields<Action> {
  const exec = a.exec ?? { kind: 'nodejs:20', code: a.code, binary: false };
  return {
    publish: true,
    // OpenWhisk's catalog describes each action and its parameters in annotations
    annotations: [
      { key: 'description', value: a.description },
      ...(a.parameters?.length ? [{ key: 'parameters', value: a.parameters }] : []),
      ...(a.annotations ?? []),
      { key: 'exec', value: exec.kind },
    ],
    exec,
    parameters: [],
    limits: defaultLimits(),
  };
}

const same = (stored: object, want: object): boolean => Object.entries(want).every(([k, v]) => JSON.stringify((stored as Record<string, unknown>)[k]) === JSON.stringify(v));

/**
 * Create or bring up to date one entity of the system namespace. Several controllers may
 * start at once: whoever writes second sees a conflict and leaves the first one's write.
 */
async function ensure<K extends 'action' | 'package'>(store: EntityStore, kind: K, path: string, name: string, want: Fields<K extends 'action' ? Action : Package>): Promise<boolean> {
  const existing = (await store.find(path, name)) as Stored<Action | Package> | undefined;
  if (existing && existing.entityType === kind && same(existing, want)) return false;
  const entity = { namespace: path, name, version: existing ? bumpVersion(existing.version) : INITIAL_VERSION, updated: Date.now(), ...want };
  try {
    await store.put(kind, entity as never, existing?.entityType === kind ? existing._rev : undefined);
  } catch (e) {
    if (e instanceof ConflictError) return false;
    throw e;
  }
  return true;
}

/**
 * Install the system packages (`/whisk.system/...`) on first start and update them when
 * this version of swirl defines them differently. Idempotent; every controller runs it.
 */
export async function ensureSystemPackages(store: EntityStore, packages: readonly SystemPackage[], log: Logger): Promise<void> {
  let written = 0;
  for (const p of packages) {
    if (await ensure(store, 'package', SYSTEM_NAMESPACE, p.name, packageFields(p))) written++;
    for (const a of p.actions) if (await ensure(store, 'action', `${SYSTEM_NAMESPACE}/${p.name}`, a.name, actionFields(a))) written++;
  }
  if (written) log.info({ written }, `system packages installed in /${SYSTEM_NAMESPACE}`);
}
