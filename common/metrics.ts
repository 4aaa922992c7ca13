import type Router from '@koa/router';
import { collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';
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
export function metric<T>(registry: Registry, name: string, make: (registers: Registry[]) => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make([registry]);
}

export const counter = <L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): FastCounter<L> =>
  metric(registry, name, (registers) => new FastCounter(name, help, labelNames, registers));

export const gauge = <L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], collect: (g: Gauge<L>) => void): Gauge<L> =>
  metric(registry, name, (registers) => new Gauge<L>({ name, help, labelNames, registers, collect() { collect(this); } }));

/** Seconds from 1 ms to 5 min: an activation's wait, init and run, an HTTP request, a store call. */
export const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export const histogram = <L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): FastHistogram<L> =>
  metric(registry, name, (registers) => new FastHistogram(name, help, labelNames, SECONDS_BUCKETS, registers));

type Labels<L extends string> = Partial<Record<L, string | number>>;

/**
 * Series of one metric by their label values. prom-client's own counters and histograms
 * check, hash and copy the labels on every observation (several µs each, a dozen per
 * activation); these keep each series' numbers in a map keyed by the label values joined,
 * and hand prom-client's registry the samples only when it is scraped (the metric protocol
 * it reads: name, help, type, get(), reset()).
 */
abstract class FastMetric<L extends string, V> {
  protected readonly series = new Map<string, { labels: Record<string, string>; value: V }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    registers: Registry[],
  ) {
    for (const r of registers) r.registerMetric(this as unknown as Metric);
  }

  protected abstract fresh(): V;

  /** The series of these labels (a label missing is the empty string, as prom-client has it). */
  protected at(labels: Labels<L> | undefined): V {
    let key = '';
    if (this.labelNames.length === 1) key = String(labels?.[this.labelNames[0]!] ?? '');
    else for (const n of this.labelNames) key += `${labels?.[n] ?? ''}\u0001`;
    let s = this.series.get(key);
    if (!s) {
      const named: Record<string, string> = {};
      for (const n of this.labelNames) if (labels?.[n] !== undefined) named[n] = String(labels[n]);
      s = { labels: named, value: this.fresh() };
      this.series.set(key, s);
    }
    return s.value;
  }

  reset(): void {
    this.series.clear();
  }
}

export class FastCounter<L extends string> extends FastMetric<L, { n: number }> {
  readonly type = 'counter';
  readonly aggregator = 'sum';

  protected fresh(): { n: number } {
    return { n: 0 };
  }

  inc(labels?: Labels<L>, by = 1): void {
    this.at(labels).n += by;
  }

  get() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value.n })) };
  }
}

interface Buckets {
  /** Observations per bucket (not cumulative), the last one above every bound (+Inf). */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class FastHistogram<L extends string> extends FastMetric<L, Buckets> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    private readonly bounds: readonly number[],
    registers: Registry[],
  ) {
    super(name, help, labelNames, registers);
  }

  protected fresh(): Buckets {
    return { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }

  /** Observe `value` (a number that is not finite is not observed, as prom-client refuses it). */
  observe(labels: Labels<L> | undefined, value: number): void {
    if (!Number.isFinite(value)) return;
    const b = this.at(labels);
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    b.counts[i]!++;
    b.sum += value;
    b.count++;
  }

  /** Start timing; the returned function observes the seconds since, with `labels` added to the first ones. */
  startTimer(labels?: Labels<L>): (more?: Labels<L>) => number {
    const start = process.hrtime.bigint();
    return (more) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      this.observe(more ? { ...labels, ...more } : labels, seconds);
      return seconds;
    };
  }

  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const { labels, value } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += value.counts[i]!;
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: value.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: value.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: value.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

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
