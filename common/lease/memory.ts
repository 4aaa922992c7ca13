import type { LeaseStore } from '../lease.ts';

/** LeaseStore in process memory, for standalone (one controller): same semantics as the redis one. */
export class MemoryLeaseStore implements LeaseStore {
  readonly name = 'memory' as const;
  /** key → holder and when its lease runs out (epoch ms). */
  private readonly leases = new Map<string, { owner: string; until: number }>();
  private closed = false;
  private taken = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async take(key: string, owner: string, ttlMs: number): Promise<boolean> {
    this.open();
    const now = this.now();
    // sweep now and then, so leases nobody asks about again do not pile up
    if (++this.taken % 1_000 === 0) for (const [k, l] of this.leases) if (l.until <= now) this.leases.delete(k);
    const held = this.leases.get(key);
    if (held && held.until > now) return false;
    this.leases.set(key, { owner, until: now + ttlMs });
    return true;
  }

  async holder(key: string): Promise<string | undefined> {
    this.open();
    const held = this.leases.get(key);
    return held && held.until > this.now() ? held.owner : undefined;
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.leases.clear();
  }

  private open(): void {
    if (this.closed) throw new Error('MemoryLeaseStore is closed');
  }
}
