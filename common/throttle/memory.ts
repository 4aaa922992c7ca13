import type { ThrottleStore } from '../throttle.ts';

export const WINDOW_MS = 60_000;

export interface MemoryThrottleStoreOptions {
  /** Clock for slot expiry and for `hit` without `now` (tests inject a fake one); epoch ms. */
  now?: () => number;
}

/**
 * ThrottleStore in process memory, for standalone (one controller). Same semantics as the
 * redis store: fixed one-minute windows for `hit`; slots that expire at `expiresAt`, so a
 * lost release frees itself. It answers at once (no promise), and throws once closed.
 */
export class MemoryThrottleStore implements ThrottleStore {
  readonly name = 'memory' as const;
  private readonly now: () => number;
  /** key → [window number, count in that window]. */
  private readonly windows = new Map<string, { window: number; count: number }>();
  /** key → (id → expiresAt). */
  private readonly slots = new Map<string, Map<string, number>>();
  private closed = false;

  constructor(opts: MemoryThrottleStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  hit(key: string, now = this.now()): number {
    this.open();
    const window = Math.floor(now / WINDOW_MS);
    const w = this.windows.get(key);
    if (w && w.window === window) return ++w.count;
    this.windows.set(key, { window, count: 1 });
    return 1;
  }

  acquire(key: string, id: string, max: number, expiresAt: number): { taken: boolean; held: number } {
    this.open();
    const held = this.pruned(key);
    if (held.has(id)) {
      // the same activation again (a retry): keep its slot, extend it
      held.set(id, expiresAt);
      return { taken: true, held: held.size };
    }
    if (held.size >= max) return { taken: false, held: held.size };
    held.set(id, expiresAt);
    this.slots.set(key, held);
    return { taken: true, held: held.size };
  }

  release(key: string, id: string): void {
    this.open();
    const held = this.slots.get(key);
    if (!held) return;
    held.delete(id);
    if (held.size === 0) this.slots.delete(key);
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.windows.clear();
    this.slots.clear();
  }

  /** The slots of `key` without the expired ones (expired: `expiresAt <= now`). */
  private pruned(key: string): Map<string, number> {
    const held = this.slots.get(key) ?? new Map<string, number>();
    const now = this.now();
    for (const [id, until] of held) if (until <= now) held.delete(id);
    return held;
  }

  private open(): void {
    if (this.closed) throw new Error('MemoryThrottleStore is closed');
  }
}
