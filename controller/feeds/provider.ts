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

/** The feeds a provider must run (the active ones), by id and version. */
export const activeFeeds = (feeds: StoredFeed[]): Array<{ id: string; feed: StoredFeed; version: string }> =>
  feeds.filter((f) => f.active).map((feed) => ({ id: feedId(feed), feed, version: feedVersion(feed) }));
