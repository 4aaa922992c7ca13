import type { HealthStore, InvokerHeartbeat, KnownInvoker } from '../health.ts';

export interface MemoryHealthStoreOptions {
  /** Clock for liveness (tests inject a fake one); epoch ms. */
  now?: () => number;
}

interface Entry {
  heartbeat: InvokerHeartbeat;
  /** Epoch ms (store clock) after which the invoker no longer counts as live. */
  liveUntil: number;
}

/**
 * HealthStore in process memory, for standalone (one controller, invokers in the same
 * process). Liveness is measured on the store's own clock from the moment of `beat`, as
 * Redis measures a PX TTL, so both implementations agree in the conformance suite.
 */
export class MemoryHealthStore implements HealthStore {
  readonly name = 'memory' as const;
  private readonly entries = new Map<number, Entry>();
  private readonly now: () => number;
  private closed = false;

  constructor(opts: MemoryHealthStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  async beat(heartbeat: InvokerHeartbeat, ttlMs: number): Promise<void> {
    this.open();
    // a copy: the caller may reuse its object for the next beat
    this.entries.set(heartbeat.id, { heartbeat: { ...heartbeat }, liveUntil: this.now() + ttlMs });
  }

  async invokers(): Promise<KnownInvoker[]> {
    this.open();
    const now = this.now();
    return [...this.entries.values()]
      .map((e) => ({ heartbeat: { ...e.heartbeat }, live: now < e.liveUntil }))
      .sort((a, b) => a.heartbeat.id - b.heartbeat.id);
  }

  async forget(id: number): Promise<void> {
    this.open();
    this.entries.delete(id);
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.entries.clear();
  }

  private open(): void {
    if (this.closed) throw new Error('MemoryHealthStore is closed');
  }
}
