import type { Redis } from 'ioredis';
import type { HealthStore, InvokerHeartbeat, KnownInvoker } from '../health.ts';
import type { Logger } from '../logger.ts';
import { closeRedis, pingRedis, redisCall, redisClientFrom, redisReady } from '../redis.ts';

/**
 * Either a URL (the store opens its own connection and closes it in `close()`), or an
 * existing ioredis client that the caller owns (shared with other stores; `close()` leaves
 * it open). The client should come from `connectRedis` so an outage fails fast.
 */
export type RedisHealthStoreOptions = ({ url: string; log: Logger } | { client: Redis }) & {
  /** Key prefix, so several deployments (or tests) can share one Redis. Default `swirl:health:`. */
  prefix?: string;
};

/**
 * HealthStore in Redis, shared by every controller. Per invoker:
 * - `<prefix>hb:<id>`: the last heartbeat as JSON, kept until `forget` (so a controller can
 *   still show an offline invoker and what it said last);
 * - `<prefix>live:<id>`: a marker with a PX TTL; its existence is what "live" means, so every
 *   controller agrees on liveness to the millisecond on Redis's clock, whatever its own
 *   clock says;
 * - `<prefix>ids`: a set of the ids that ever beat.
 * A beat is one round trip (MULTI); `invokers()` is two (SMEMBERS, then one MGET).
 */
export class RedisHealthStore implements HealthStore {
  readonly name = 'redis' as const;
  private readonly client: Redis;
  private readonly owned: boolean;
  private readonly prefix: string;

  constructor(opts: RedisHealthStoreOptions) {
    ({ client: this.client, owned: this.owned } = redisClientFrom(opts));
    this.prefix = opts.prefix ?? 'swirl:health:';
  }

  /** Wait until Redis answers (start-up); a ServiceUnavailableError after `ms`. */
  ready(ms?: number): Promise<void> {
    return redisReady(this.client, ms);
  }

  async beat(heartbeat: InvokerHeartbeat, ttlMs: number): Promise<void> {
    const id = heartbeat.id;
    await redisCall(this.client, 'The health store', async () => {
      const replies = await this.client
        .multi()
        .set(this.hbKey(id), JSON.stringify(heartbeat))
        .set(this.liveKey(id), '1', 'PX', Math.max(1, Math.ceil(ttlMs)))
        .sadd(this.idsKey(), String(id))
        .exec();
      throwFirst(replies);
    });
  }

  async invokers(): Promise<KnownInvoker[]> {
    return redisCall(this.client, 'The health store', async () => {
      const ids = (await this.client.smembers(this.idsKey())).map(Number).sort((a, b) => a - b);
      if (ids.length === 0) return [];
      const values = await this.client.mget(...ids.map((id) => this.hbKey(id)), ...ids.map((id) => this.liveKey(id)));
      const out: KnownInvoker[] = [];
      ids.forEach((_id, i) => {
        const json = values[i];
        // an id without a heartbeat is a forget racing this read: skip it
        if (json) out.push({ heartbeat: JSON.parse(json) as InvokerHeartbeat, live: values[ids.length + i] != null });
      });
      return out;
    });
  }

  async forget(id: number): Promise<void> {
    await redisCall(this.client, 'The health store', async () => {
      const replies = await this.client.multi().srem(this.idsKey(), String(id)).del(this.hbKey(id), this.liveKey(id)).exec();
      throwFirst(replies);
    });
  }

  ping(): Promise<boolean> {
    return pingRedis(this.client);
  }

  async close(): Promise<void> {
    if (this.owned) await closeRedis(this.client);
  }

  private hbKey = (id: number): string => `${this.prefix}hb:${id}`;
  private liveKey = (id: number): string => `${this.prefix}live:${id}`;
  private idsKey = (): string => `${this.prefix}ids`;
}

/** MULTI replies carry per-command errors; surface the first one. */
function throwFirst(replies: [Error | null, unknown][] | null): void {
  if (!replies) throw new Error('Redis transaction aborted');
  for (const [err] of replies) if (err) throw err;
}
