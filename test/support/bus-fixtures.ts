import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageBus } from '../../common/bus.ts';
import { LocalBus } from '../../common/bus/lmdb.ts';
import { MemoryBus } from '../../common/bus/memory.ts';
import { RedisBus } from '../../common/bus/redis.ts';
import { silentLogger } from '../../common/logger.ts';
import { startRedis } from './redis.ts';

/** A running backend for one implementation, for the bus conformance suite. */
export interface BusBackend {
  /** A new bus on the backend (each test makes its own and closes it). */
  newBus(): Promise<MessageBus>;
  cleanup(): Promise<void>;
  /** Take the backend away and bring it back (redis); absent where the suite cannot. */
  outage?: { stop(): Promise<void>; start(): Promise<void> };
  /** Open the bus again on what `bus` wrote (local): a restart of the process, after `bus` was closed. */
  reopen?(bus: MessageBus): Promise<MessageBus>;
}

/**
 * Timing of an implementation, so one suite can wait as long as each protocol needs:
 * kafka hands a dead member's partition on only after its session times out.
 */
export interface BusTiming {
  /** claimIdleMs the tests give consumers that should take over a dead consumer's work. */
  claimIdleMs: number;
  /** Longest a redelivery after a crash may take. */
  redeliveryMs: number;
  /** How long "nothing more arrives" is watched for, after a fresh message got through. */
  quietMs: number;
  /** Longest the first delivery to a new consumer may take (kafka: joining the group). */
  firstDeliveryMs: number;
  /** Whether two consumers of one group can both receive messages of one topic (not with one kafka partition). */
  spreadsInGroup: boolean;
  /**
   * Whether a consumer joining a group may get a message that a live member is still
   * handling (kafka: the join rebalances, the partition may move, and the new owner reads
   * from the committed offset, which stops before any unsettled message).
   */
  joinMayRedeliver: boolean;
}

export interface BusFixture {
  name: MessageBus['name'];
  timing: BusTiming;
  start(): Promise<BusBackend>;
}

const KAFKA_SESSION_MS = 4_000;

export const busFixtures: BusFixture[] = [
  {
    name: 'memory',
    timing: { claimIdleMs: 100, redeliveryMs: 2_000, quietMs: 100, firstDeliveryMs: 2_000, spreadsInGroup: true, joinMayRedeliver: false },
    async start() {
      return { newBus: async () => new MemoryBus({ log: silentLogger }), cleanup: async () => undefined };
    },
  },
  {
    name: 'local',
    timing: { claimIdleMs: 100, redeliveryMs: 2_000, quietMs: 100, firstDeliveryMs: 2_000, spreadsInGroup: true, joinMayRedeliver: false },
    async start() {
      const root = mkdtempSync(join(tmpdir(), 'swirl-bus-'));
      const paths = new Map<MessageBus, string>();
      const openAt = (path: string): MessageBus => {
        const bus = LocalBus.open({ path, log: silentLogger });
        paths.set(bus, path);
        return bus;
      };
      let n = 0;
      return {
        newBus: async () => openAt(join(root, String(n++))),
        reopen: async (bus) => openAt(paths.get(bus)!),
        cleanup: async () => rmSync(root, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'redis',
    timing: { claimIdleMs: 300, redeliveryMs: 5_000, quietMs: 800, firstDeliveryMs: 5_000, spreadsInGroup: true, joinMayRedeliver: false },
    async start() {
      const redis = await startRedis();
      const prefix = `t${randomBytes(3).toString('hex')}:`;
      return {
        async newBus() {
          // heartbeats well inside the suite's claimIdleMs, as a deployment keeps claimIdleMs ≥ 3 × heartbeatMs
          const bus = new RedisBus({ url: redis.url, log: silentLogger, prefix, blockMs: 1_000, heartbeatMs: 100 });
          await bus.ready();
          return bus;
        },
        cleanup: () => redis.cleanup(),
        outage: { stop: () => redis.stop(), start: () => redis.start() },
      };
    },
  },
  {
    name: 'kafka',
    timing: { claimIdleMs: 300, redeliveryMs: KAFKA_SESSION_MS * 3 + 10_000, quietMs: 1_000, firstDeliveryMs: 20_000, spreadsInGroup: false, joinMayRedeliver: true },
    async start() {
      // loaded here, so the other implementations' cases run without kafka's modules loaded
      const { KafkaBus } = await import('../../common/bus/kafka.ts');
      const { startKafkaFixture } = await import('./kafka-fixture.ts');
      const kafka = await startKafkaFixture();
      return {
        newBus: async () => new KafkaBus({ brokers: kafka.brokers, clientId: `swirl-test-${randomBytes(3).toString('hex')}`, log: silentLogger, sessionTimeoutMs: KAFKA_SESSION_MS }),
        cleanup: () => kafka.cleanup(),
      };
    },
  },
];
