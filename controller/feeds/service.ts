import type { Logger } from '../../common/logger.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import type { FeedProvider } from './provider.ts';

/** How often every controller reads the feeds again, to run what other controllers changed. */
export const FEED_RELOAD_MS = 3_000;

/**
 * Keeps each provider running exactly the feeds the store holds for it: reads them at
 * start, again every `reloadMs` (changes made through another controller), and at once
 * after a lifecycle event on this one. Reloads of one provider never overlap.
 */
export class FeedService {
  /** Per provider: the last reload asked for, and the one that has not started yet (later asks join it). */
  private readonly tail = new Map<string, Promise<void>>();
  private readonly waiting = new Map<string, Promise<void>>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(
    readonly providers: readonly FeedProvider[],
    private readonly opts: { store: Pick<EntityStore, 'listFeeds'>; log: Logger; reloadMs?: number },
  ) {}

  async start(): Promise<void> {
    await Promise.all(this.providers.map((p) => this.reload(p)));
    this.timer = setInterval(() => {
      for (const p of this.providers) void this.reload(p);
    }, this.opts.reloadMs ?? FEED_RELOAD_MS);
  }

  /** Read the provider's feeds and sync it, after any reload already running; never rejects. */
  reload(provider: FeedProvider): Promise<void> {
    const waiting = this.waiting.get(provider.name);
    if (waiting) return waiting;
    const run = (this.tail.get(provider.name) ?? Promise.resolve()).then(() => {
      this.waiting.delete(provider.name);
      return this.load(provider);
    });
    this.waiting.set(provider.name, run);
    this.tail.set(provider.name, run);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all(this.tail.values());
    await Promise.all(this.providers.map((p) => p.close()));
  }

  private async load(provider: FeedProvider): Promise<void> {
    if (this.closed) return;
    try {
      const feeds = await this.opts.store.listFeeds(provider.name);
      if (!this.closed) await provider.sync(feeds);
    } catch (e) {
      // keep running what we have until the store answers again
      this.opts.log.warn({ provider: provider.name, err: e }, 'could not reload the feeds');
    }
  }
}
