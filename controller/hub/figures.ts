import type { ActivationRecord } from '../../common/activation.ts';
import type { Bundle } from '../../common/hub/manifest.ts';
import type { ExampleFigures } from '../../common/hub/types.ts';
import type { Logger } from '../../common/logger.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import { exampleRuns, runTrial, TRIAL_PREFIX, type TrialServices } from './trial.ts';

/**
 * A published package's figures, from this instance's activation records: how often its
 * actions ran over 30 days, from how many namespaces, how often successfully, their median
 * duration; and how its own examples fared (run once per version and digest, in the
 * background, through the trial runner).
 */

export type { ExampleFigures, HubFigures as Figures } from '../../common/hub/types.ts';

export const DAY_MS = 24 * 3600 * 1000;
/** Records read per namespace and action at most (newest first): the figures stay cheap however busy the instance. */
export const MAX_RECORDS_SCANNED = 5_000;
const PAGE = 200;

export interface Usage {
  invocations: number;
  namespaces: number;
  successRate: number | null;
  p50Ms: number | null;
}

/** The median of durations (the lower middle of an even count), or null for none. */
export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

const pathOf = (r: ActivationRecord): string | undefined => r.annotations?.find((a) => a.key === 'path' && typeof a.value === 'string')?.value as string | undefined;
const statusOf = (r: ActivationRecord): number | undefined => (r as unknown as { statusCode?: number }).statusCode ?? r.response?.statusCode;

/**
 * Usage of the actions `paths` (`owner/pkg/action`) since `since`, over the records of
 * `namespaces` (those that may have run them: directly, through a binding, in a sequence).
 * A record counts when its path annotation is one of `paths` exactly; disposable trial
 * namespaces do not count.
 */
export async function usageOf(store: Pick<EntityStore, 'listActivations'>, namespaces: string[], paths: string[], since: number): Promise<Usage> {
  const wanted = new Set(paths);
  const users = new Set<string>();
  const durations: number[] = [];
  let successes = 0;
  for (const ns of namespaces) {
    if (ns.startsWith(TRIAL_PREFIX)) continue;
    for (const path of paths) {
      // (the store's by-name index keys a record by its path without the owner)
      const name = path.split('/').slice(1).join('/');
      for (let skip = 0; skip < MAX_RECORDS_SCANNED; skip += PAGE) {
        const page = await store.listActivations(ns, { name, since, skip, limit: PAGE });
        for (const r of page) {
          if (!wanted.has(pathOf(r) ?? '')) continue;
          users.add(ns);
          durations.push(r.duration ?? 0);
          if (statusOf(r) === 0) successes += 1;
        }
        if (page.length < PAGE) break;
      }
    }
  }
  const invocations = durations.length;
  return { invocations, namespaces: users.size, successRate: invocations ? successes / invocations : null, p50Ms: median(durations) };
}

/**
 * The examples' results per bundle digest: a digest seen for the first time is queued and its
 * examples run in a disposable namespace, one bundle at a time; until then (and for a bundle
 * without examples) its figures are null. Kept in memory: a restarted controller runs them again.
 */
export class ExampleRunner {
  private readonly results = new Map<string, ExampleFigures>();
  private readonly queued = new Set<string>();
  /** Bundles whose examples could not run (no invoker, refused): not asked again before then. */
  private readonly retryAt = new Map<string, number>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly services: TrialServices,
    private readonly log: Logger,
    /** Results kept at most (the oldest are dropped). */
    private readonly keep = 500,
    private readonly retryMs = 60_000,
  ) {}

  /** The results for this bundle, or null; the first ask for a bundle with examples queues its run. */
  figures(bundle: Bundle): ExampleFigures | null {
    const done = this.results.get(bundle.digest);
    if (done) return done;
    if (!this.closed && !this.queued.has(bundle.digest) && (this.retryAt.get(bundle.digest) ?? 0) <= Date.now() && exampleRuns(bundle).length > 0) {
      this.queued.add(bundle.digest);
      this.queue = this.queue.then(() => this.run(bundle));
    }
    return null;
  }

  private async run(bundle: Bundle): Promise<void> {
    if (this.closed) return;
    try {
      const outcome = await runTrial(this.services, bundle, exampleRuns(bundle), { tid: 'hub-examples', log: this.log });
      // (a run still running past the wait has its activation id: that is the package's slowness, a failure)
      const refused = outcome.runs.find((r) => 'error' in r.activation && !r.activation.activationId);
      if (refused) {
        // not the package's failure: the instance could not run it now (no invoker, throttled)
        this.retryAt.set(bundle.digest, Date.now() + this.retryMs);
        this.log.warn({ ref: bundle.manifest.ref, error: (refused.activation as { error: string }).error }, 'hub: the examples could not run; trying again later');
        return;
      }
      // (an example without expectations passes when it succeeds)
      const passed = outcome.runs.filter((r) => r.passed !== false && 'response' in r.activation && r.activation.response.success).length;
      this.results.set(bundle.digest, { total: outcome.runs.length, passed, failed: outcome.runs.length - passed, ranAt: Date.now() });
      while (this.results.size > this.keep) this.results.delete(this.results.keys().next().value!);
      this.log.info({ ref: bundle.manifest.ref, passed, total: outcome.runs.length, cleanedUp: outcome.cleanedUp }, 'hub: examples ran');
    } catch (err) {
      this.log.warn({ err, ref: bundle.manifest.ref }, 'hub: the examples could not run');
    } finally {
      this.queued.delete(bundle.digest);
    }
  }

  /** Wait for the run in progress (its clean-up included); queue no more. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
  }
}
