import { createHash } from 'node:crypto';
import { feedId, type StoredFeed } from '../../common/feed.ts';
import type { QualifiedName } from '../../common/names.ts';

/**
 * One feed provider running inside every controller (OpenWhisk runs each as a service of
 * its own): it validates the lifecycle parameters of its feed actions and runs the feeds
 * the store holds for it. The FeedService keeps `sync` in step with the store.
 */
export interface FeedProvider {
  /** The provider name kept on its feed documents. */
  readonly name: string;
  /** The config of a new feed (CREATE); FeedParamError for bad parameters. */
  create(feed: string, trigger: QualifiedName, params: Record<string, unknown>, now: number): Promise<Record<string, unknown>>;
  /** The config with an UPDATE's parameters applied. */
  update(feed: string, current: Record<string, unknown>, params: Record<string, unknown>, now: number): Promise<Record<string, unknown>>;
  /** What READ shows of a config. */
  describe(config: Record<string, unknown>): Record<string, unknown>;
  /** Run exactly these feeds (all of this provider's, as stored now); stop any others. */
  sync(feeds: StoredFeed[]): Promise<void>;
  close(): Promise<void>;
}

/** Identifies what a feed runs (its creation and config): a runner restarts a feed whose version changed. */
export const feedVersion = (f: StoredFeed): string => createHash('sha1').update(`${f.created}:${JSON.stringify(f.config)}`).digest('hex').slice(0, 16);

/** What a provider runs for one feed: the version it was started for. */
export interface FeedRunner {
  readonly version: string;
}

/**
 * Bring a provider's runners (by feed id) in line with the feeds as stored: a runner whose
 * feed is still active at the same version is kept (`keep` gets the feed as read now), one
 * whose feed changed is stopped and started again, a new active feed is started, and a
 * runner whose feed is gone or paused is stopped.
 */
export async function reconcile<R extends FeedRunner>(
  running: Map<string, R>,
  feeds: StoredFeed[],
  on: { keep(runner: R, feed: StoredFeed): void; start(id: string, feed: StoredFeed, version: string): void; stop(id: string): Promise<void> | void },
): Promise<void> {
  const active = feeds.filter((f) => f.active).map((feed) => ({ id: feedId(feed), feed, version: feedVersion(feed) }));
  for (const { id, feed, version } of active) {
    const have = running.get(id);
    if (have?.version === version) {
      on.keep(have, feed);
      continue;
    }
    if (have) await on.stop(id);
    on.start(id, feed, version);
  }
  const ids = new Set(active.map((a) => a.id));
  for (const id of [...running.keys()]) if (!ids.has(id)) await on.stop(id);
}
