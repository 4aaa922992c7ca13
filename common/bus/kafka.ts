import { type Admin, Partitioners, type Producer } from 'kafkajs';
import type { Consumer, ConsumerOptions, MessageBus } from '../bus.ts';
import { Messages, ServiceUnavailableError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { createClient, type KafkaClient, unavailable } from './kafka-client.ts';
import { KafkaConsumer } from './kafka-consumer.ts';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  log: Logger;
  /** A consumer that stops heartbeating for this long leaves the group and its partitions move. Default 30 s. */
  sessionTimeoutMs?: number;
  /** Default: a tenth of the session timeout, at most 3 s. */
  heartbeatIntervalMs?: number;
}

/** Failing fast matters more than riding out an outage: callers turn the rejection into a 503. */
const PRODUCER_RETRY = { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 };
/** Consumers ride out outages: kafkajs restarts a crashed consumer with these retries. */
const CONSUMER_RETRY = { retries: 8, initialRetryTime: 100, maxRetryTime: 5_000 };
/**
 * A produce request carries at most about this much; more waits for the next one. The count
 * matters too: kafkajs groups a request's messages by partition in quadratic time.
 */
const MAX_REQUEST_BYTES = 512 * 1024;
const MAX_REQUEST_MESSAGES = 500;
const PING_TIMEOUT_MS = 2_000;

interface QueuedProduce {
  topic: string;
  values: Buffer[];
  bytes: number;
  resolve(): void;
  reject(e: Error): void;
}

/**
 * MessageBus on Kafka through kafkajs. Topics have one partition each (the bus orders
 * per topic, as the redis and memory buses do).
 *
 * Producing: one idempotent producer (acks=all; a retried batch is not written twice) with
 * one request in flight; produce() calls that arrive meanwhile go out together in the next
 * request, in call order. That is both the ordering guarantee and the batching: a burst of
 * single-message produce() calls costs one round trip per request, not per message.
 *
 * Consuming: see KafkaConsumer.
 */
export class KafkaBus implements MessageBus {
  readonly name = 'kafka' as const;
  private readonly client: KafkaClient;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private producerReady: Promise<void> | undefined;
  private adminReady: Promise<void> | undefined;
  private readonly knownTopics = new Set<string>();
  private readonly consumers = new Set<KafkaConsumer>();
  private queue: QueuedProduce[] = [];
  /** Cleared by drain() itself when it finds the queue empty (not in a .finally hop), so a produce() never finds a drain that already ended. */
  private draining = false;
  private sending: Promise<void> | undefined;
  private closed = false;
  private readonly sessionTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;

  constructor(private readonly options: KafkaBusOptions) {
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? Math.min(3_000, Math.max(10, Math.floor(this.sessionTimeoutMs / 10)));
    this.client = createClient({ brokers: options.brokers, clientId: options.clientId, log: options.log, retry: PRODUCER_RETRY });
    this.producer = this.client.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.admin = this.client.kafka.admin();
  }

  async ensureTopics(topics: string[]): Promise<void> {
    const missing = [...new Set(topics)].filter((t) => !this.knownTopics.has(t));
    if (missing.length === 0) return;
    try {
      await this.connectAdmin();
      // false (not an error) when they all exist already
      await this.admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });
    } catch (e) {
      throw unavailable(e);
    }
    for (const t of missing) this.knownTopics.add(t);
  }

  produce(topic: string, values: (Buffer | string)[]): Promise<void> {
    if (this.closed) return Promise.reject(new ServiceUnavailableError(Messages.unavailable('The message bus')));
    if (values.length === 0) return Promise.resolve();
    const buffers = values.map((v) => (typeof v === 'string' ? Buffer.from(v) : v));
    return new Promise((resolve, reject) => {
      this.queue.push({ topic, values: buffers, bytes: buffers.reduce((n, b) => n + b.length, 0), resolve, reject });
      if (!this.draining) {
        this.draining = true;
        this.sending = this.drain();
      }
    });
  }

  async subscribe(options: ConsumerOptions): Promise<Consumer> {
    if (this.closed) throw new ServiceUnavailableError(Messages.unavailable('The message bus'));
    // a client per consumer, so that abort() cuts exactly this consumer's connections
    const client = createClient({
      brokers: this.options.brokers,
      clientId: `${this.options.clientId}-${options.consumerId}`,
      log: this.options.log,
      retry: CONSUMER_RETRY,
    });
    const log = this.options.log.child({ topic: options.topic, group: options.group, consumerId: options.consumerId });
    const consumer = new KafkaConsumer(client, options, { sessionTimeoutMs: this.sessionTimeoutMs, heartbeatIntervalMs: this.heartbeatIntervalMs }, log, () =>
      this.consumers.delete(consumer),
    );
    this.consumers.add(consumer);
    try {
      await consumer.start();
    } catch (e) {
      await consumer.abort();
      throw unavailable(e);
    }
    return consumer;
  }

  async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)));
    const probe = (async () => {
      await this.connectAdmin();
      await this.admin.describeCluster();
      return true;
    })().catch(() => false);
    try {
      return await Promise.race([probe, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    await this.sending;
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }

  /** Send the queue, one request at a time; each request takes what queued up while the last one was out. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.takeRequest();
      const byTopic = new Map<string, { value: Buffer }[]>();
      for (const item of batch) {
        let messages = byTopic.get(item.topic);
        if (!messages) byTopic.set(item.topic, (messages = []));
        for (const value of item.values) messages.push({ value });
      }
      try {
        await this.connectProducer();
        await this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        for (const item of batch) item.resolve();
      } catch (e) {
        const error = unavailable(e);
        for (const item of batch) item.reject(error);
      }
    }
    // in the same synchronous stretch as the check above: a produce() from a continuation of
    // the promises just settled runs after this, sees draining false and starts a new drain
    this.draining = false;
  }

  /** Whole produce() calls from the head of the queue, within the request limits (at least one). */
  private takeRequest(): QueuedProduce[] {
    let bytes = 0;
    let messages = 0;
    let n = 0;
    for (; n < this.queue.length; n++) {
      const item = this.queue[n]!;
      if (n > 0 && (bytes + item.bytes > MAX_REQUEST_BYTES || messages + item.values.length > MAX_REQUEST_MESSAGES)) break;
      bytes += item.bytes;
      messages += item.values.length;
    }
    return this.queue.splice(0, n);
  }

  /** Connect once; a failed attempt is forgotten so the next call tries again. */
  private connectProducer(): Promise<void> {
    this.producerReady ??= this.producer.connect().catch((e) => {
      this.producerReady = undefined;
      throw e;
    });
    return this.producerReady;
  }

  private connectAdmin(): Promise<void> {
    this.adminReady ??= this.admin.connect().catch((e) => {
      this.adminReady = undefined;
      throw e;
    });
    return this.adminReady;
  }
}
