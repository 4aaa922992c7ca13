import type { Redis } from 'ioredis';
import type { LeaseStore } from '../lease.ts';
import type { Logger } from '../logger.ts';
import { closeRedis, pingRedis, redisCall, redisClientFrom, redisReady } from '../redis.ts';

/** A URL (own connection, closed by close()) or a client the caller owns; key prefix default `swirl:lease:`. */
export type RedisLeaseStoreOptions = ({ url: string; log: Logger } | { client: Redis }) & { prefix?: string };

/**
 * LeaseStore in Redis, shared by every controller: `SET <prefix><key> <owner> NX PX <ttl>`
 * is atomic, so of several controllers asking for one key exactly one gets it, and Redis
 * drops the key when the lease runs out.
 */
export class RedisLeaseStore implements LeaseStore {
  readonly name = 'redis' as const;
  private readonly client: Redis;
  private readonly owned: boolean;
  private readonly prefix: string;

  constructor(opts: RedisLeaseStoreOptions) {
    ({ client: this.client, owned: this.owned } = redisClientFrom(opts));
    this.prefix = opts.prefix ?? 'swirl:lease:';
  }

  /** Wait until Redis answers (start-up); a ServiceUnavailableError after `ms`. */
  ready(ms?: number): Promise<void> {
    return redisReady(this.client, ms);
  }

  async take(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const reply = await redisCall(this.client, 'The lease store', () => this.client.set(this.prefix + key, owner, 'PX', Math.max(1, Math.round(ttlMs)), 'NX'));
    return reply === 'OK';
  }

  async holder(key: string): Promise<string | undefined> {
    return (await redisCall(this.client, 'The lease store', () => this.client.get(this.prefix + key))) ?? undefined;
  }

  ping(): Promise<boolean> {
    return pingRedis(this.client);
  }

  async close(): Promise<void> {
    if (this.owned) await closeRedis(this.client);
  }
}
