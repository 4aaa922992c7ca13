import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { ActivationRecord } from '../../common/activation.ts';
import { newActivationId } from '../../common/activation.ts';
import { newCredentials } from '../../common/credentials.ts';
import { BadRequestError, Messages, SwirlError } from '../../common/errors.ts';
import type { Bundle } from '../../common/hub/manifest.ts';
import type { TrialStep } from '../../common/hub/types.ts';
import { identityOf, type Identity } from '../../common/identity.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import type { Logger } from '../../common/logger.ts';
import type { Activator, Admission } from '../activator.ts';
import { bundleActions, bundlePackage } from './copy.ts';

/**
 * The trial runner: a hub bundle deployed in a disposable namespace (a fresh subject
 * `hubtest-<random>` that owns it), its examples or the given parameters run there, and
 * everything removed after — actions, package, activation records, subject — in a finally
 * block, whether the runs passed, failed or threw. Used by the catalog's figures (its own
 * examples, once per version) and by the consumer's `hub test`.
 *
 * What is deployed is what an install would make of the bundle (controller/hub/copy.ts): only
 * the hub-safe annotations (a manifest asking for `provide-api-key` gets no key), kinds this
 * instance runs, limits within this instance's — whoever calls. A `caller` (hub test) pays
 * for each run with its own invoke throttles: the disposable namespace's defaults are not
 * the tenant's.
 */

/** One invocation to make: an action of the bundle, its parameters, perhaps what its result must hold. */
export interface TrialRun {
  action: string;
  params: Record<string, unknown>;
  expect?: Record<string, unknown>;
}

export interface TrialResult extends TrialRun {
  /** Set when the run had an expectation: whether the result held it. */
  passed?: boolean;
  /** The run's record, or why there is none (refused; or still running: then its id). */
  activation: { activationId: string; response: ActivationRecord['response']; duration: number; logs: string[] } | { error: string; activationId?: string };
}

export interface TrialOutcome {
  /** The disposable namespace it ran in (gone now). */
  namespace: string;
  runs: TrialResult[];
  /** No entity, record or subject of the namespace is left. */
  cleanedUp: boolean;
}

/** What the trial runner needs of a controller's services. */
export interface TrialServices {
  store: Pick<EntityStore, 'put' | 'get' | 'delete' | 'list' | 'count' | 'putSubject' | 'deleteSubject' | 'getSubject' | 'getActivation' | 'deleteActivations' | 'countActivations'>;
  activator: Pick<Activator, 'invoke'>;
  /** The invoke throttles a `caller`'s runs are admitted by. */
  throttler?: Admission;
}

export interface TrialOptions {
  /** Called with each step (deploying, running 1/2, cleaning): what a person waiting sees. */
  progress?: (step: TrialStep) => void;
  /** How long a run may take before its activation id is all there is (default 60 s). */
  waitMs?: number;
  tid?: string;
  /** Where a failed clean-up step is logged. */
  log?: Pick<Logger, 'warn'>;
  /** Whose trial it is: each run is admitted by this namespace's invoke throttles too (a refusal ends the trial: its 429). */
  caller?: Pick<Identity, 'namespace' | 'limits'>;
}

export const TRIAL_PREFIX = 'hubtest-';
/** A trial namespace older than this is a leftover (its controller stopped mid-run): sweepTrials removes it. */
export const TRIAL_MAX_AGE_MS = 3_600_000;

/** `hubtest-<start time, base 36>-<random>`: its age can be told from its name. */
const trialNamespace = (now = Date.now()): string => `${TRIAL_PREFIX}${now.toString(36)}-${randomBytes(6).toString('hex')}`;
const trialStart = (namespace: string): number | undefined => {
  const m = /^hubtest-([0-9a-z]{1,11})-[0-9a-f]{12}$/.exec(namespace);
  return m ? parseInt(m[1]!, 36) : undefined;
};
/** How long the runner waits for a run's record to be stored before removing the namespace's records. */
const RECORD_WAIT_MS = 10_000;

/** The runs of a bundle's examples (those naming an action it has). */
export const exampleRuns = (bundle: Bundle): TrialRun[] =>
  bundle.manifest.examples.filter((e) => bundle.manifest.actions.some((a) => a.name === e.action)).map((e) => ({ action: e.action, params: e.params ?? {}, ...(e.expect ? { expect: e.expect } : {}) }));

/** Whether a result holds every key of `expect` with a deep-equal value. */
export function meetsExpectation(result: unknown, expect: Record<string, unknown>): boolean {
  if (result === null || typeof result !== 'object') return false;
  const r = result as Record<string, unknown>;
  return Object.entries(expect).every(([k, v]) => Object.prototype.hasOwnProperty.call(r, k) && isDeepStrictEqual(r[k], v));
}

/** Deploy `bundle` in a disposable namespace, make the runs, and remove everything (see the module comment). */
export async function runTrial(services: TrialServices, bundle: Bundle, runs: TrialRun[], opts: TrialOptions = {}): Promise<TrialOutcome> {
  for (const r of runs) if (!bundle.manifest.actions.some((a) => a.name === r.action)) throw new BadRequestError(`the package ${bundle.manifest.ref} has no action '${r.action}'`);
  const progress = opts.progress ?? (() => undefined);
  const namespace = trialNamespace();
  const { creds } = newCredentials(namespace);
  const subject = { subject: namespace, namespaces: [creds] };
  const identity = identityOf(subject, creds);
  const results: TrialResult[] = [];
  const activationIds: string[] = [];
  try {
    progress({ step: 'deploying', ref: bundle.manifest.ref, namespace });
    await services.store.putSubject(subject);
    await deploy(services.store, namespace, bundle);
    for (const [i, run] of runs.entries()) {
      progress({ step: 'running', run: i + 1, of: runs.length, action: run.action });
      const result = await asCaller(services, opts, () => runOne(services.activator, identity, bundle.manifest.package.name, run, opts));
      if ('error' in result.activation) {
        // still running: its record comes later, the clean-up waits for it (bounded)
        if (result.activation.activationId) activationIds.push(result.activation.activationId);
      } else {
        // the logs come with the stored record (a blocking answer has none)
        const stored = await storedRecord(services.store, namespace, result.activation.activationId, Date.now() + RECORD_WAIT_MS);
        if (stored) result.activation.logs = stored.logs;
        else activationIds.push(result.activation.activationId);
      }
      results.push(result);
    }
  } finally {
    progress({ step: 'cleaning' });
    await awaitRecords(services.store, namespace, activationIds);
    await removeNamespace(services.store, namespace, opts.log);
  }
  return { namespace, runs: results, cleanedUp: await isGone(services.store, namespace) };
}

async function deploy(store: TrialServices['store'], namespace: string, bundle: Bundle): Promise<void> {
  const pkgName = bundle.manifest.package.name;
  // (a bundle may come from a peer: made into entities as an install would, every action checked before any is written)
  const actions = bundleActions(bundle, `${namespace}/${pkgName}`);
  await store.put('package', bundlePackage(bundle, namespace, pkgName, []));
  for (const a of actions) await store.put('action', a);
}

/** `body` run holding a concurrency slot of `caller`'s (admitted by `throttler`, else its TooManyRequestsError), given back after. */
export async function holdingSlot<T>(throttler: Admission, caller: Pick<Identity, 'namespace' | 'limits'>, holdMs: number, body: () => Promise<T>): Promise<T> {
  const slot = newActivationId();
  await throttler.admitInvoke(caller, slot, Date.now() + holdMs);
  try {
    return await body();
  } finally {
    await throttler.finished(caller.namespace, slot)?.catch(() => undefined);
  }
}

/** A run admitted by the caller's invoke throttles (when there is a caller), its concurrency slot held while it runs. */
function asCaller<T>(services: TrialServices, opts: TrialOptions, body: () => Promise<T>): Promise<T> {
  if (!opts.caller || !services.throttler) return body();
  return holdingSlot(services.throttler, opts.caller, (opts.waitMs ?? 60_000) + 120_000, body);
}

async function runOne(activator: TrialServices['activator'], identity: Identity, pkg: string, run: TrialRun, opts: TrialOptions): Promise<TrialResult> {
  try {
    const out = await activator.invoke({ identity, target: { namespace: identity.namespace, pkg, name: run.action }, params: run.params, blocking: true, waitMs: opts.waitMs ?? 60_000, tid: opts.tid ?? 'hubtest' });
    if (!out.record) return { ...run, ...(run.expect ? { passed: false } : {}), activation: { error: `still running after ${opts.waitMs ?? 60_000} ms`, activationId: out.activationId } };
    const { activationId, response, duration, logs } = out.record;
    const passed = run.expect ? response.success && meetsExpectation(response.result, run.expect) : undefined;
    return { ...run, ...(passed !== undefined ? { passed } : {}), activation: { activationId, response, duration, logs } };
  } catch (e) {
    // a refused invoke (throttled, bad parameters) is this run's failure, not the trial's
    if (!(e instanceof SwirlError)) opts.log?.warn({ err: e }, 'hub trial: a run failed');
    return { ...run, ...(run.expect ? { passed: false } : {}), activation: { error: e instanceof SwirlError ? e.message : Messages.internal } };
  }
}

/** The record once stored (records are written in batches, after the result), or undefined at the deadline. */
async function storedRecord(store: TrialServices['store'], namespace: string, id: string, deadline: number): Promise<ActivationRecord | undefined> {
  for (;;) {
    const found = await store.getActivation(namespace, id).catch(() => undefined);
    if (found || Date.now() >= deadline) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Wait (bounded) until the records not seen yet are stored, so that the clean-up removes them too. */
async function awaitRecords(store: TrialServices['store'], namespace: string, ids: string[]): Promise<void> {
  const deadline = Date.now() + RECORD_WAIT_MS;
  for (const id of ids) await storedRecord(store, namespace, id, deadline);
}

/** Remove every entity, record and the subject of the namespace; each step is tried even when another fails. */
async function removeNamespace(store: TrialServices['store'], namespace: string, log?: TrialOptions['log']): Promise<void> {
  const all = { limit: 200, skip: 0 };
  const steps: Array<() => Promise<unknown>> = [
    async () => {
      // (a namespace's listing holds its packages' actions too)
      for (const a of await store.list('action', { namespace }, all)) {
        const stored = await store.get('action', a.namespace, a.name, { code: false });
        await store.delete(a.namespace, a.name, stored._rev);
      }
    },
    async () => {
      for (const p of await store.list('package', { namespace }, all)) {
        const stored = await store.get('package', namespace, p.name);
        await store.delete(namespace, p.name, stored._rev);
      }
    },
    () => store.deleteActivations(namespace),
    async () => {
      if (await store.getSubject(namespace)) await store.deleteSubject(namespace);
    },
  ];
  for (const step of steps) await step().catch((err: unknown) => log?.warn({ err, namespace }, 'hub trial: a clean-up step failed'));
}

/**
 * Remove the trial namespaces left by a controller that stopped mid-run (those older than
 * TRIAL_MAX_AGE_MS: a younger one may be another controller's, running). Resolves with their names.
 */
export async function sweepTrials(store: TrialServices['store'] & Pick<EntityStore, 'listSubjects'>, log?: TrialOptions['log'], now = Date.now()): Promise<string[]> {
  const stale = (await store.listSubjects()).map((s) => s.subject).filter((name) => {
    const start = trialStart(name);
    return start !== undefined && now - start > TRIAL_MAX_AGE_MS;
  });
  for (const namespace of stale) await removeNamespace(store, namespace, log);
  return stale;
}

async function isGone(store: TrialServices['store'], namespace: string): Promise<boolean> {
  const [actions, packages, records, subject] = await Promise.all([
    store.count('action', { namespace }),
    store.count('package', { namespace }),
    store.countActivations(namespace, {}),
    store.getSubject(namespace),
  ]);
  return actions === 0 && packages === 0 && records === 0 && !subject;
}
