import type Router from '@koa/router';
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import type { RequestState } from './http.ts';

/**
 * Prometheus metrics (prom-client). One registry per process: a controller's, an invoker's,
 * or standalone's one for both, so that its single `/metrics` shows both roles. Every role
 * registers its metrics through `metric()`, which hands back the one already registered
 * under a name, so nothing is registered twice. swirl's metrics are named `swirl_*` in base
 * units (seconds, bytes), counters end in `_total`; Node's default process metrics keep
 * their usual names (`process_*`, `nodejs_*`).
 */

export type { Registry };

/** A registry with Node's default process metrics. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** The metric registered under `name`, made by `make` the first time. */
export function metric<T extends Metric>(registry: Registry, name: string, make: (registers: Registry[]) => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make([registry]);
}

export const counter = <L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> =>
  metric(registry, name, (registers) => new Counter({ name, help, labelNames, registers }));

export const gauge = <L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], collect: (g: Gauge<L>) => void): Gauge<L> =>
  metric(registry, name, (registers) => new Gauge<L>({ name, help, labelNames, registers, collect() { collect(this); } }));

/** Seconds from 1 ms to 5 min: an activation's wait, init and run, an HTTP request, a store call. */
export const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export const histogram = <L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Histogram<L> =>
  metric(registry, name, (registers) => new Histogram({ name, help, labelNames, buckets: SECONDS_BUCKETS, registers }));

/** The value a label takes beyond its cap. */
export const OTHER = 'other';

/**
 * Namespace and action labels are chosen by users: each new value is a new series in every
 * scraper. The first `maxNamespaces` namespaces and `maxActions` actions seen keep their own
 * series; later ones are counted under `other`.
 */
export class BoundedLabels {
  private readonly namespaces = new Set<string>();
  private readonly actions = new Set<string>();

  constructor(
    private readonly maxNamespaces = 100,
    private readonly maxActions = 1_000,
  ) {}

  namespace(ns: string): string {
    return this.admit(this.namespaces, ns, this.maxNamespaces);
  }

  /** An action by its fully qualified name (`ns/pkg/name`). */
  action(fqn: string): string {
    return this.admit(this.actions, fqn, this.maxActions);
  }

  private admit(seen: Set<string>, value: string, max: number): string {
    if (seen.has(value)) return value;
    if (seen.size >= max) return OTHER;
    seen.add(value);
    return value;
  }
}

/**
 * `GET /metrics` in Prometheus' text format, for the callers `mayRead` admits (it throws
 * the 401 or 403 for the others).
 */
export function metricsRoute<S extends RequestState>(router: Router<S>, registry: Registry, mayRead: (authorization: string) => Promise<void> | void): void {
  router.get('/metrics', async (ctx) => {
    await mayRead(ctx.get('authorization'));
    ctx.set('Cache-Control', 'no-store');
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
}
