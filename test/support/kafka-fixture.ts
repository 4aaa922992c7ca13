import { KafkaTestBroker } from './kafka-broker/index.ts';

/**
 * Kafka for tests: the brokers listed in env KAFKA_BROKERS (comma-separated) when set — a
 * real cluster, left as it is — otherwise a KafkaTestBroker (the in-memory wire-protocol
 * test double) on a free loopback port, stopped by cleanup().
 */
export interface KafkaFixture {
  brokers: string[];
  /** True for a real cluster from KAFKA_BROKERS. */
  real: boolean;
  /** The test broker (absent with a real cluster), e.g. to stop() and restart() it for an outage. */
  broker?: KafkaTestBroker;
  cleanup(): Promise<void>;
}

export async function startKafkaFixture(): Promise<KafkaFixture> {
  const listed = process.env.KAFKA_BROKERS?.split(',').map((b) => b.trim()).filter(Boolean) ?? [];
  if (listed.length > 0) return { brokers: listed, real: true, cleanup: async () => {} };
  const broker = await KafkaTestBroker.start();
  return { brokers: broker.brokers, real: false, broker, cleanup: () => broker.close() };
}
