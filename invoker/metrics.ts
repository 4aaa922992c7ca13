import type { ActivationRecord } from '../common/activation.ts';
import type { ActivationMessage } from '../common/messages.ts';
import { BoundedLabels, counter, gauge, histogram, type Registry } from '../common/metrics.ts';
import { activationFacts } from './observed.ts';
import type { PoolStats, StartKind } from './pool.ts';

const MB = 1024 * 1024;

/** The status label of each status code (OpenWhisk's status strings, in snake case). */
const STATUS = ['success', 'application_error', 'developer_error', 'internal_error'] as const;

/** What the pool gauges read (the invoker's pool). */
export interface PoolView {
  stats(): PoolStats;
  readonly memoryMb: number;
}

/**
 * An invoker's metrics: its activations (by namespace, action, kind and status; times by
 * kind), how containers were obtained, the pool's containers and memory, the activation
 * topic's lag and the invoker's state. Counters and histograms are observed once per
 * activation; the gauges are read from the pool when scraped.
 */
export class InvokerMetrics {
  private readonly labels: BoundedLabels;
  private readonly activations;
  private readonly wait;
  private readonly init;
  private readonly run;
  private readonly endToEnd;
  private readonly starts;
  private readonly lag;

  constructor(private readonly registry: Registry, opts: { maxNamespaces?: number; maxActions?: number } = {}) {
    this.labels = new BoundedLabels(opts.maxNamespaces, opts.maxActions);
    this.activations = counter(registry, 'swirl_activations_total', 'Activations run, by namespace, action, kind and status', ['namespace', 'action', 'kind', 'status']);
    this.wait = histogram(registry, 'swirl_activation_wait_seconds', 'From the controller accepting an activation to its container being ready (waitTime)', ['kind']);
    this.init = histogram(registry, 'swirl_activation_init_seconds', 'Time of /init for activations that initialized their container (initTime)', ['kind']);
    this.run = histogram(registry, 'swirl_activation_run_seconds', 'Time of /run (duration without initTime)', ['kind']);
    this.endToEnd = histogram(registry, 'swirl_activation_end_to_end_seconds', 'From the controller accepting an activation to its result', ['kind']);
    this.starts = counter(registry, 'swirl_container_starts_total', 'How activations got their container: cold (created), prewarm (a stem cell), warm (reused), paused (reused after a resume)', ['start']);
    this.lag = histogram(registry, 'swirl_bus_lag_seconds', 'From the controller publishing an activation to the invoker taking it from the bus, by topic', ['topic']);
  }

  /** Count one activation (an ActivationObserver). */
  readonly activation = (record: ActivationRecord, m: ActivationMessage): void => {
    const f = activationFacts(record, m);
    const kind = { kind: f.kind };
    this.activations.inc({ namespace: this.labels.namespace(m.namespace), action: this.labels.action(f.fqn), kind: f.kind, status: STATUS[record.response.statusCode] });
    this.wait.observe(kind, f.waitMs / 1000);
    if (f.initMs > 0) this.init.observe(kind, f.initMs / 1000);
    this.run.observe(kind, Math.max(0, (record.duration || 0) - f.initMs) / 1000);
    this.endToEnd.observe(kind, f.endToEndMs / 1000);
  };

  /** A container was obtained for an activation. */
  readonly started = (start: StartKind): void => this.starts.inc({ start });

  /** The invoker took an activation message published at `receivedAt` from `topic`. */
  delivered(topic: string, receivedAt: number): void {
    // (a message from elsewhere may say anything)
    if (typeof receivedAt === 'number') this.lag.observe({ topic }, Math.max(0, Date.now() - receivedAt) / 1000);
  }

  /** Gauges of the pool, read when scraped. */
  watchPool(pool: PoolView): void {
    const registry = this.registry;
    gauge(registry, 'swirl_pool_containers', 'Containers of the invoker by state: prewarm (stem cells), warm (idle, running), paused, busy, starting', ['state'], (g) => {
      const s = pool.stats();
      g.set({ state: 'prewarm' }, s.prewarm);
      g.set({ state: 'warm' }, s.idle);
      g.set({ state: 'paused' }, s.paused);
      g.set({ state: 'busy' }, s.busy);
      g.set({ state: 'starting' }, s.starting);
    });
    gauge(registry, 'swirl_pool_memory_used_bytes', "Memory of the invoker's budget held by containers", [], (g) => g.set(pool.stats().memoryUsedMb * MB));
    gauge(registry, 'swirl_pool_memory_free_bytes', "Memory of the invoker's budget free for containers", [], (g) => g.set((pool.memoryMb - pool.stats().memoryUsedMb) * MB));
    gauge(registry, 'swirl_pool_queued_activations', 'Activations waiting for a container', [], (g) => g.set(pool.stats().queued));
  }

  /** The invoker's state (1 for the current one): up, draining, disabled, stopped. */
  watchState(service: { readonly state: string; readonly inFlight: number }): void {
    const registry = this.registry;
    gauge(registry, 'swirl_invoker_state', 'The state of this invoker (1 for the current one)', ['state'], (g) => {
      for (const state of ['up', 'draining', 'disabled', 'stopped']) g.set({ state }, service.state === state ? 1 : 0);
    });
    gauge(registry, 'swirl_invoker_activations_in_flight', 'Activations this invoker is handling now', [], (g) => g.set(service.inFlight));
  }
}
