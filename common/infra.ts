import type { Redis } from 'ioredis';
import { type MessageBus, Topics } from './bus.ts';
import { join } from 'node:path';
import { MemoryBus } from './bus/memory.ts';
import { RedisBus } from './bus/redis.ts';
import type { Config } from './config.ts';
import type { HealthStore } from './health.ts';
import type { LeaseStore } from './lease.ts';
import { MemoryLeaseStore } from './lease/memory.ts';
import { RedisLeaseStore } from './lease/redis.ts';
import { MemoryHealthStore } from './health/memory.ts';
import { RedisHealthStore } from './health/redis.ts';
import { componentLogger, type Logger } from './logger.ts';
import { connectRedis, redisReady } from './redis.ts';
import type { ThrottleStore } from './throttle.ts';
import { MemoryThrottleStore } from './throttle/memory.ts';
import { RedisThrottleStore } from './throttle/redis.ts';

/** The shared services of the invoke path, chosen by configuration. */
export interface Infra {
  bus: MessageBus;
  health: HealthStore;
  throttles: ThrottleStore;
  /** Leases that let exactly one controller do shared work (alarm ticks). */
  leases: LeaseStore;
  close(): Promise<void>;
}

/**
 * Open the bus, the health store and the throttle counters: Redis for health and throttles
 * when `redisUrl` is set (one connection shared by both), memory otherwise (one process);
 * the bus as `bus` says. Start-up waits (bounded) for Redis so a typo fails fast.
 */
export async function openInfra(config: Pick<Config, 'bus' | 'redisUrl' | 'kafkaBrokers' | 'controllerId' | 'invokerId' | 'dataDir'>, log: Logger, clientId: string): Promise<Infra> {
  let redis: Redis | undefined;
  if (config.redisUrl) {
    redis = connectRedis(config.redisUrl, componentLogger(log, 'redis'));
    await redisReady(redis, 15_000);
  }
  const health: HealthStore = redis ? new RedisHealthStore({ client: redis }) : new MemoryHealthStore();
  const throttles: ThrottleStore = redis ? new RedisThrottleStore({ client: redis }) : new MemoryThrottleStore();
  const leases: LeaseStore = redis ? new RedisLeaseStore({ client: redis }) : new MemoryLeaseStore();
  const bus = await openBus(config, log, clientId);
  return {
    bus,
    health,
    throttles,
    leases,
    async close() {
      await bus.close();
      await health.close();
      await throttles.close();
      await leases.close();
      redis?.disconnect();
    },
  };
}

/** The message bus the configuration names (SWIRL_BUS), connected. */
export async function openBus(config: Pick<Config, 'bus' | 'redisUrl' | 'kafkaBrokers' | 'dataDir'>, log: Logger, clientId: string): Promise<MessageBus> {
  switch (config.bus) {
    case 'memory':
      return new MemoryBus({ log });
    case 'local': {
      // lmdb loads only where the local bus is used; activations and sequence starts survive a
      // crash; completions and results only matter to callers in this process, which a crash ends
      const { LocalBus } = await import('./bus/lmdb.ts');
      return LocalBus.open({ path: join(config.dataDir, 'bus'), log, durable: (topic) => topic.startsWith(Topics.invoker('')) || topic.startsWith(Topics.sequences('')) });
    }
    case 'redis': {
      const redisBus = new RedisBus({ url: config.redisUrl!, log });
      await redisBus.ready(15_000);
      return redisBus;
    }
    case 'kafka': {
      // kafkajs loads only where Kafka is used
      const { KafkaBus } = await import('./bus/kafka.ts');
      // a dead invoker's partition moves to the invoker that takes over its topic when its session times out
      return new KafkaBus({ brokers: config.kafkaBrokers!.split(','), clientId, log, sessionTimeoutMs: 10_000 });
    }
  }
}
