import { dispatch } from './api.ts';
import type { BrokerContext } from './context.ts';
import { GroupCoordinator } from './group-coordinator.ts';
import { TopicStore } from './log.ts';
import { FrameServer } from './server.ts';

/**
 * KafkaTestBroker — a TEST DOUBLE of a single Kafka broker, for tests only. It speaks the
 * Kafka wire protocol over TCP on 127.0.0.1, well enough for kafkajs 2.2.4 as producer
 * (idempotent or not), consumer (consumer groups with several members, rebalances, session
 * expiry) and admin (create topics). Everything is in memory; nothing is replicated.
 *
 * Layout: server.ts (TCP and framing) → api.ts (ApiVersions and routing) →
 * data-handlers.ts / group-handlers.ts (one function per API) → log.ts (partitions) and
 * group-coordinator.ts (group state). protocol.ts lists the versions it speaks.
 */
export interface KafkaTestBrokerOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Partitions of a topic created without a count (auto-creation, CreateTopics with -1). Default 1. */
  defaultPartitions?: number;
  /** Create unknown topics on Metadata and Produce, as Kafka's auto.create.topics.enable. Default true. */
  autoCreateTopics?: boolean;
  /** Called with requests the broker could not serve (the connection is closed). Default: ignore. */
  onError?: (error: Error) => void;
}

const HOST = '127.0.0.1';

export class KafkaTestBroker {
  readonly topics: TopicStore;
  readonly groups = new GroupCoordinator();
  private readonly server: FrameServer;
  private readonly waiters = new Set<() => void>();
  private listeningPort = 0;
  private producerIds = 1000n;
  private running = false;

  private constructor(options: KafkaTestBrokerOptions) {
    this.topics = new TopicStore(options.defaultPartitions ?? 1);
    const ctx: BrokerContext = {
      nodeId: 0,
      host: HOST,
      port: () => this.listeningPort,
      topics: this.topics,
      groups: this.groups,
      autoCreateTopics: options.autoCreateTopics ?? true,
      nextProducerId: () => this.producerIds++,
      waitForData: (logs, ms) => this.waitForData(logs, ms),
    };
    this.server = new FrameServer(
      (header, body) => dispatch(ctx, header, body),
      options.onError ?? (() => {}),
    );
  }

  /** Start a broker on a free loopback port (or options.port). */
  static async start(options: KafkaTestBrokerOptions = {}): Promise<KafkaTestBroker> {
    const broker = new KafkaTestBroker(options);
    await broker.listen(options.port ?? 0);
    return broker;
  }

  get port(): number {
    return this.listeningPort;
  }

  /** Bootstrap list for kafkajs. */
  get brokers(): string[] {
    return [`${HOST}:${this.listeningPort}`];
  }

  /**
   * Take the broker off the network like a crash: the listener closes and every connection
   * drops at once, waiting fetches included. Topics, offsets and groups stay in memory, so
   * restart() brings back the same cluster on the same port.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const wake of [...this.waiters]) wake();
    await this.server.close();
  }

  /** Listen again on the same port after stop(). */
  async restart(): Promise<void> {
    if (this.running) return;
    await this.listen(this.listeningPort);
  }

  /** Stop for good: the network side and the group timers. */
  async close(): Promise<void> {
    await this.stop();
    this.groups.close();
  }

  private async listen(port: number): Promise<void> {
    this.listeningPort = await this.server.listen(port);
    this.running = true;
  }

  private waitForData(logs: { onAppend(listener: () => void): () => void }[], ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const unsubscribe: (() => void)[] = [];
      const done = () => {
        clearTimeout(timer);
        for (const u of unsubscribe) u();
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      for (const log of logs) unsubscribe.push(log.onAppend(done));
    });
  }
}
