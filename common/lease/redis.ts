import type { LeaseStore } from '../lease.ts';
import { RedisStore, type RedisStoreOptions } from '../redis.ts';

/** Key prefix default `swirl:lease:`. */
export type RedisLeaseStoreOptions = RedisStoreOptions;

/**
 * LeaseStore in Redis, shared by every controller: `SET <prefix><key> <owner> NX PX <ttl>`
 * is atomic, so of several controllers asking for one key exactly one gets it, and Redis
 * drops the key when the lease runs out.
 */
export class RedisLeaseStore extends RedisStore implements LeaseStore {
  constructor(opts: RedisLeaseStoreOptions) {
    super(opts, 'swirl:lease:', 'The lease store');
  }

  async take(key: string, owner: string, ttlMs: number): Promise<boolean> {
    const reply = await this.call(() => this.client.set(this.prefix + key, owner, 'PX', Math.max(1, Math.round(ttlMs)), 'NX'));
    return reply === 'OK';
  }

  async holder(key: string): Promise<string | undefined> {
    return (await this.call(() => this.client.get(this.prefix + key))) ?? undefined;
  }
}
