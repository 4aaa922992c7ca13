/**
 * What a feed provider keeps about one trigger's feed (the alarm schedule, the Kafka topic
 * to watch), in the store's `feeds` database so that it survives a controller restart and
 * every controller sees it. One document per trigger, under `namespace/name`.
 */
export interface FeedDoc {
  /** The trigger's namespace and name. */
  namespace: string;
  name: string;
  /** Which provider runs it (the store lists feeds by provider). */
  provider: string;
  /** The feed action that made it, `package/action` in /whisk.system (`alarms/once`). */
  feed: string;
  /** What the provider validated from the lifecycle parameters. */
  config: Record<string, unknown>;
  /** Paused (PAUSE), or done (a `once` alarm that fired, an alarm past its stop date). */
  active: boolean;
  /** When `active` last changed (epoch ms). */
  dateChanged: number;
  /** Why it is not active, when it stopped by itself. */
  reason?: string;
  created: number;
}

export type StoredFeed = FeedDoc & { _rev: string };

export const feedId = (f: Pick<FeedDoc, 'namespace' | 'name'>): string => `${f.namespace}/${f.name}`;
