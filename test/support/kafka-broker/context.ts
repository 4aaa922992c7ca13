import type { GroupCoordinator } from './group-coordinator.ts';
import type { TopicStore } from './log.ts';

/** What the API handlers share: the broker's identity, its topics and its groups. */
export interface BrokerContext {
  nodeId: number;
  host: string;
  /** The port clients reach the broker on (advertised in Metadata and FindCoordinator). */
  port(): number;
  topics: TopicStore;
  groups: GroupCoordinator;
  /** Create unknown topics when a client asks for their metadata or produces to them (Kafka's auto.create.topics.enable). */
  autoCreateTopics: boolean;
  /** Next id for InitProducerId. */
  nextProducerId(): bigint;
  /**
   * Resolves after `ms`, on the first append to one of `logs`, or when the broker stops —
   * whichever comes first. Fetch long-polls with it.
   */
  waitForData(logs: { onAppend(listener: () => void): () => void }[], ms: number): Promise<void>;
}
