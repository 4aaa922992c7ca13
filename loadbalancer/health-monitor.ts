import type { HealthStore, InvokerHeartbeat, InvokerState, KnownInvoker } from '../common/health.ts';
import type { Logger } from '../common/logger.ts';
import type { SchedulerInvoker } from './sharding.ts';

/** How an activation sent to an invoker ended, as the controller saw it. */
export type Outcome = 'ok' | 'systemError' | 'timeout';

export interface InvokerStatus {
  id: number;
  state: InvokerState;
  heartbeat: InvokerHeartbeat;
}

export interface HealthChange {
  id: number;
  /** Undefined the first time the invoker is seen. */
  from: InvokerState | undefined;
  to: InvokerState;
}

export interface HealthMonitorOptions {
  /** How often the store is read (ms). Default 1000. */
  pollMs?: number;
  log: Logger;
  /**
   * Also count an invoker offline when its last heartbeat's own timestamp is older than
   * this (ms), whatever the store says: a guard against invokers configured with a long TTL.
   * Compares clocks of two machines, so keep it well above the skew. Default: off (the
   * store's TTL decides).
   */
  offlineAfterMs?: number;
  /** Told the invokers, their states and memory whenever any of them changes. */
  scheduler?: { update(invokers: SchedulerInvoker[]): void };
  /** Outcomes remembered per invoker. Default 10. */
  window?: number;
  /** More than this many system errors (timeouts) among the remembered outcomes → unhealthy (unresponsive). Default 3. */
  tolerance?: number;
  /** Without a new bad outcome for this long (ms), an unhealthy/unresponsive verdict is lifted. Default 30 000. */
  probationMs?: number;
  /** Clock (tests inject a fake one); epoch ms. */
  now?: () => number;
}

/** What the monitor knows of one invoker. */
interface Tracked {
  id: number;
  state: InvokerState;
  known?: KnownInvoker;
  /** Recent outcomes, oldest first, at most `window`. */
  outcomes: Outcome[];
  /** Set by outcomes; lifted after probation. */
  verdict?: 'unhealthy' | 'unresponsive';
  lastBadAt: number;
  /** False until its first state was announced. */
  reported: boolean;
}

/**
 * Invoker health for one controller (OpenWhisk's InvokerSupervision as a pure function of
 * what the store and the controller report). The state of an invoker, first rule that holds:
 * 1. not live in the store (no heartbeat within its TTL), or forgotten → `offline`;
 * 2. its heartbeat says `draining` or `unhealthy` → that;
 * 3. more than `tolerance` (3) of its last `window` (10) outcomes were timeouts → `unresponsive`,
 *    or system errors → `unhealthy` (whichever crossed the line first), until `probationMs`
 *    (30 s) pass without another bad outcome: then its outcome history is cleared and it is
 *    `up` again, to prove itself on new work (a few more failures put it straight back);
 * 4. otherwise `up`.
 * A restarted invoker (new `startedAt`) starts with a clean history.
 *
 * Timing: with heartbeats every 1 s and a TTL of 5 s (tolerates four lost beats, a GC pause
 * or a Redis fail-over) and polls every 1 s, an invoker that stops is `offline` at most
 * TTL + poll ≈ 6 s after its last heartbeat (within the 10 s promised). Verdicts from
 * outcomes apply at once, not at the next poll.
 *
 * The store failing (Redis down) keeps the last known states: heartbeats cannot be read,
 * but nothing says the invokers stopped; it is logged once per outage.
 */
export class HealthMonitor {
  private readonly pollMs: number;
  private readonly log: Logger;
  private readonly window: number;
  private readonly tolerance: number;
  private readonly probationMs: number;
  private readonly now: () => number;
  private readonly tracked = new Map<number, Tracked>();
  private readonly listeners = new Set<(change: HealthChange) => void>();
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private storeDown = false;
  private closed = false;

  constructor(
    private readonly store: HealthStore,
    private readonly opts: HealthMonitorOptions,
  ) {
    this.pollMs = opts.pollMs ?? 1_000;
    this.log = opts.log;
    this.window = opts.window ?? 10;
    this.tolerance = opts.tolerance ?? 3;
    this.probationMs = opts.probationMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  /** Read the store once (states are known when this resolves), then every `pollMs`. */
  async start(): Promise<void> {
    await this.refresh();
    this.schedule();
  }

  /** One poll of the store. Store failures are logged, not thrown: the last states stand. */
  async refresh(): Promise<void> {
    if (this.closed) return;
    // a second caller waits for the poll in progress rather than reading the store twice
    this.polling ??= this.poll().finally(() => (this.polling = undefined));
    return this.polling;
  }

  /** Record how an activation on `invokerId` ended; may change its state at once. */
  outcome(invokerId: number, outcome: Outcome): void {
    const t = this.tracked.get(invokerId);
    // nothing to judge: work only goes to invokers the monitor has seen
    if (!t) return;
    t.outcomes.push(outcome);
    if (t.outcomes.length > this.window) t.outcomes.shift();
    if (outcome !== 'ok') {
      if (t.verdict) t.lastBadAt = this.now();
      else {
        const count = t.outcomes.filter((o) => o === outcome).length;
        if (count > this.tolerance) {
          t.verdict = outcome === 'timeout' ? 'unresponsive' : 'unhealthy';
          t.lastBadAt = this.now();
          this.log.warn({ invoker: invokerId, outcomes: t.outcomes.join(',') }, `invoker${invokerId} is ${t.verdict}: too many ${outcome}s`);
        }
      }
    }
    if (this.settle([t])) this.feed();
  }

  /** Subscribe to state changes; returns the unsubscribe function. */
  onChange(listener: (change: HealthChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every invoker known, by id. */
  states(): InvokerStatus[] {
    return [...this.tracked.values()]
      .sort((a, b) => a.id - b.id)
      .flatMap((t) => (t.known ? [{ id: t.id, state: t.state, heartbeat: t.known.heartbeat }] : []));
  }

  state(invokerId: number): InvokerState | undefined {
    return this.tracked.get(invokerId)?.state;
  }

  /** Stop polling (waits for a poll in progress). The store stays open: its owner closes it. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
    this.listeners.clear();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.refresh()
        .catch((e: Error) => this.log.error({ err: e }, 'health poll failed'))
        .finally(() => this.schedule());
    }, this.pollMs);
    // the monitor alone does not keep a process alive; its owner closes it
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    let invokers: KnownInvoker[];
    try {
      invokers = await this.store.invokers();
    } catch (e) {
      if (!this.storeDown) this.log.warn({ err: e, store: this.store.name }, 'health store unreadable; keeping the last invoker states');
      this.storeDown = true;
      return;
    }
    if (this.closed) return;
    if (this.storeDown) this.log.info({ store: this.store.name }, 'health store readable again');
    this.storeDown = false;

    const seen = new Set<number>();
    const forgotten: Tracked[] = [];
    let memoryChanged = false;
    for (const known of invokers) {
      const id = known.heartbeat.id;
      if (!Number.isInteger(id) || id < 0) {
        this.log.warn({ invoker: id }, 'ignoring a heartbeat with an invalid invoker id');
        continue;
      }
      const t = this.track(id);
      seen.add(t.id);
      if (t.known && t.known.heartbeat.startedAt !== known.heartbeat.startedAt) {
        // a new process: what the old one did says nothing about it
        t.outcomes = [];
        t.verdict = undefined;
      }
      if (t.known?.heartbeat.memoryMb !== known.heartbeat.memoryMb) memoryChanged = true;
      t.known = known;
    }
    for (const t of this.tracked.values()) {
      if (!seen.has(t.id) && t.known) {
        // forgotten by the store: announced offline, then dropped
        t.known = undefined;
        forgotten.push(t);
        memoryChanged = true;
      }
    }
    const changed = this.settle(this.tracked.values());
    for (const t of forgotten) this.tracked.delete(t.id);
    if (changed || memoryChanged) this.feed();
  }

  /** Recompute the states of `which`; emit the changes; true if any changed. */
  private settle(which: Iterable<Tracked>): boolean {
    const changes: HealthChange[] = [];
    const now = this.now();
    for (const t of which) {
      const to = this.derive(t, now);
      const from = t.reported ? t.state : undefined;
      if (from === to) continue;
      t.state = to;
      t.reported = true;
      changes.push({ id: t.id, from, to });
    }
    for (const change of changes) {
      this.log.info({ invoker: change.id, from: change.from, to: change.to }, `invoker${change.id} is ${change.to}`);
      for (const listener of this.listeners) {
        try {
          listener(change);
        } catch (e) {
          this.log.error({ err: e }, 'health change listener failed');
        }
      }
    }
    return changes.length > 0;
  }

  private derive(t: Tracked, now: number): InvokerState {
    if (t.verdict && now - t.lastBadAt >= this.probationMs) {
      this.log.info({ invoker: t.id }, `invoker${t.id} probation over: back to up`);
      t.verdict = undefined;
      t.outcomes = [];
    }
    const known = t.known;
    if (!known || !known.live) return 'offline';
    if (this.opts.offlineAfterMs !== undefined && now - known.heartbeat.at > this.opts.offlineAfterMs) return 'offline';
    if (known.heartbeat.status !== 'up') return known.heartbeat.status;
    return t.verdict ?? 'up';
  }

  private track(id: number): Tracked {
    let t = this.tracked.get(id);
    if (!t) {
      t = { id, state: 'offline', outcomes: [], lastBadAt: 0, reported: false };
      this.tracked.set(id, t);
    }
    return t;
  }

  private feed(): void {
    if (!this.opts.scheduler) return;
    const invokers: SchedulerInvoker[] = [];
    for (const t of this.tracked.values()) {
      if (t.known) invokers.push({ id: t.id, state: t.state, memoryMb: t.known.heartbeat.memoryMb });
    }
    this.opts.scheduler.update(invokers);
  }
}
