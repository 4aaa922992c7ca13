import type * as IoRedis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';
import { ServiceUnavailableError } from './errors.ts';
import { lazyPackage } from './lazy-package.ts';
import type { Logger } from './logger.ts';

/** ioredis, loaded when a connection is made: standalone without Redis starts without it. */
const ioredis = lazyPackage<typeof IoRedis>('ioredis');

/**
 * A Redis connection for swirl's stores (health, throttles, the redis bus). Commands fail
 * fast while Redis is unreachable (no offline queue: callers answer 503) and the client
 * reconnects on its own, so service resumes without a restart when Redis returns.
 */
export function connectRedis(url: string, log: Logger, opts: RedisOptions = {}): Redis {
  const client = new (ioredis().Redis)(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
    lazyConnect: false,
    ...opts,
  });
  let down = false;
  client.on('error', (e: Error) => {
    if (!down) log.warn({ err: e, redis: redact(url) }, 'redis unreachable; retrying');
    down = true;
  });
  client.on('ready', () => {
    if (down) log.info({ redis: redact(url) }, 'redis reachable again');
    down = false;
  });
  return client;
}

/** Wait until the client is connected (start-up), or fail after `ms`. */
export async function redisReady(client: Redis, ms = 10_000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => {
      cleanup();
      fail(new ServiceUnavailableError('Redis is not reachable.'));
    }, ms);
    const onReady = () => {
      cleanup();
      ok();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
    };
    client.on('ready', onReady);
  });
}

/** Run Redis commands; an unreachable Redis is a ServiceUnavailableError (503) for the caller, other errors pass. */
export async function redisCall<T>(client: Redis, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (client.status !== 'ready' || /Connection is closed|isn't writeable|ECONNREFUSED|ETIMEDOUT|MaxRetriesPerRequest/i.test((e as Error).message)) {
      throw new ServiceUnavailableError(`${what} is unavailable: Redis is not reachable.`, { cause: e });
    }
    throw e;
  }
}

/** A store's connection: one it was given (shared, the caller closes it), or its own from a URL. */
export function redisClientFrom(opts: { url: string; log: Logger } | { client: Redis }): { client: Redis; owned: boolean } {
  return 'client' in opts ? { client: opts.client, owned: false } : { client: connectRedis(opts.url, opts.log), owned: true };
}

/** Whether Redis answers now (for /ready and health checks); never throws. */
export async function pingRedis(client: Redis): Promise<boolean> {
  if (client.status !== 'ready') return false;
  try {
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  }
}

/** Close a connection: QUIT when connected (replies are flushed), else drop it (QUIT would wait for Redis). */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
  else client.disconnect();
}

const redact = (url: string): string => url.replace(/\/\/[^@/]*@/, '//***@');

/**
 * Either a URL (the store opens its own connection and closes it in `close()`), or an
 * existing ioredis client the caller owns (shared with other stores; `close()` leaves it
 * open). The client should come from `connectRedis` so an outage fails fast.
 */
export type RedisStoreOptions = ({ url: string; log: Logger } | { client: Redis }) & {
  /** Key prefix, so several deployments (or tests) can share one Redis. */
  prefix?: string;
};

/**
 * What swirl's Redis-backed stores (health, throttles, leases) share: the connection and
 * whether they own it, their key prefix, start-up and health checks, and commands whose
 * failure while Redis is unreachable is a 503 naming the store.
 */
export abstract class RedisStore {
  readonly name = 'redis' as const;
  protected readonly client: Redis;
  protected readonly prefix: string;
  private readonly owned: boolean;

  /** `what` names the store in 503s ("The lease store"). */
  protected constructor(
    opts: RedisStoreOptions,
    defaultPrefix: string,
    private readonly what: string,
  ) {
    ({ client: this.client, owned: this.owned } = redisClientFrom(opts));
    this.prefix = opts.prefix ?? defaultPrefix;
  }

  /** Wait until Redis answers (start-up); a ServiceUnavailableError after `ms`. */
  ready(ms?: number): Promise<void> {
    return redisReady(this.client, ms);
  }

  ping(): Promise<boolean> {
    return pingRedis(this.client);
  }

  async close(): Promise<void> {
    if (this.owned) await closeRedis(this.client);
  }

  /** Run Redis commands as this store (see redisCall). */
  protected call<T>(fn: () => Promise<T>): Promise<T> {
    return redisCall(this.client, this.what, fn);
  }
}
