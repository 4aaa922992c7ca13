import type { HealthStore, InvokerHeartbeat, KnownInvoker } from '../health.ts';
import { RedisStore, type RedisStoreOptions } from '../redis.ts';

/** Key prefix default `swirl:health:`. */
export type RedisHealthStoreOptions = RedisStoreOptions;

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
export class RedisHealthStore extends RedisStore implements HealthStore {
  constructor(opts: RedisHealthStoreOptions) {
    super(opts, 'swirl:health:', 'The health store');
  }

  async beat(heartbeat: InvokerHeartbeat, ttlMs: number): Promise<void> {
    const id = heartbeat.id;
    await this.call(async () => {
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
    return this.call(async () => {
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
    await this.call(async () => {
      const replies = await this.client.multi().srem(this.idsKey(), String(id)).del(this.hbKey(id), this.liveKey(id)).exec();
      throwFirst(replies);
    });
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
