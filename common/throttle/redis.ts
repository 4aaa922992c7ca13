import { createHash } from 'node:crypto';
import { RedisStore, type RedisStoreOptions } from '../redis.ts';
import type { ThrottleStore } from '../throttle.ts';
import { WINDOW_MS } from './memory.ts';

/** Key prefix default `swirl:throttle:`. */
export type RedisThrottleStoreOptions = RedisStoreOptions & {
  /**
   * Clock for slot expiry and `hit` without `now`; epoch ms. Expiry compares `expiresAt`
   * (set by a controller on its clock) with this clock, not Redis's, so both sides agree.
   */
  now?: () => number;
};

/**
 * Take a slot atomically: drop expired holders (score = expiry ≤ now), then add `id` only
 * while fewer than `max` are held. Re-acquiring a held id extends it and counts as taken
 * (a retried admission must not take two slots). The key outlives its last slot by a minute,
 * then goes away by itself.
 * KEYS[1] slots; ARGV now, id, max, expiresAt. Returns {taken 0|1, held}.
 */
const ACQUIRE = `
local now = tonumber(ARGV[1])
local expires = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local taken = 0
if redis.call('ZSCORE', KEYS[1], ARGV[2]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
  taken = 1
  local ttl = math.max(1, math.ceil(expires - now)) + 60000
  if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return {taken, redis.call('ZCARD', KEYS[1])}
`;
const ACQUIRE_SHA = createHash('sha1').update(ACQUIRE).digest('hex');

/**
 * ThrottleStore in Redis, shared by every controller.
 * - `hit`: `<prefix>hit:<key>:<minute>`, INCR and PEXPIRE in one MULTI (one round trip);
 *   fixed windows, the key lives a minute past its window.
 * - `acquire`/`release`: `<prefix>slots:<key>`, a sorted set of holder ids scored by expiry,
 *   changed by one Lua script (one round trip), so concurrent controllers never exceed `max`
 *   and a lost release frees its slot when it expires.
 */
export class RedisThrottleStore extends RedisStore implements ThrottleStore {
  private readonly now: () => number;

  constructor(opts: RedisThrottleStoreOptions) {
    super(opts, 'swirl:throttle:', 'The throttle store');
    this.now = opts.now ?? Date.now;
  }

  async hit(key: string, now = this.now()): Promise<number> {
    const window = Math.floor(now / WINDOW_MS);
    const k = `${this.prefix}hit:${key}:${window}`;
    const ttl = (window + 1) * WINDOW_MS - now + WINDOW_MS;
    return this.call(async () => {
      const replies = await this.client.multi().incr(k).pexpire(k, ttl).exec();
      const incr = replies?.[0];
      if (!incr) throw new Error('Redis transaction aborted');
      if (incr[0]) throw incr[0];
      return Number(incr[1]);
    });
  }

  async acquire(key: string, id: string, max: number, expiresAt: number): Promise<{ taken: boolean; held: number }> {
    const args = [String(this.now()), id, String(max), String(Math.round(expiresAt))];
    const k = `${this.prefix}slots:${key}`;
    return this.call(async () => {
      const [taken, held] = (await this.script(k, args)) as [number, number];
      return { taken: taken === 1, held };
    });
  }

  async release(key: string, id: string): Promise<void> {
    await this.call(() => this.client.zrem(`${this.prefix}slots:${key}`, id));
  }

  /** EVALSHA, loading the script with EVAL when Redis does not have it (first use, or after a Redis restart). */
  private async script(key: string, args: string[]): Promise<unknown> {
    try {
      return await this.client.evalsha(ACQUIRE_SHA, 1, key, ...args);
    } catch (e) {
      if (!/NOSCRIPT/.test((e as Error).message)) throw e;
      return this.client.eval(ACQUIRE, 1, key, ...args);
    }
  }
}
