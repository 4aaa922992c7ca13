import type { Consumer, EachBatchPayload } from 'kafkajs';
import { createClient, type KafkaClient } from '../../common/bus/kafka-client.ts';
import { feedId, type StoredFeed } from '../../common/feed.ts';
import { SIZES } from '../../common/limits.ts';
import type { Logger } from '../../common/logger.ts';
import type { QualifiedName } from '../../common/names.ts';
import type { FeedFirer } from './fire.ts';
import { feedMessage, type KafkaFeedConfig, kafkaFeedConfig } from './kafka-config.ts';
import { FeedParamError } from './params.ts';
import { type FeedProvider, type FeedRunner, reconcile } from './provider.ts';

const RETRY = { retries: 5, initialRetryTime: 200, maxRetryTime: 5_000 };

/** A fire that did not go through: kafkajs fetches the batch again from the last committed message. */
class FeedFireFailed extends Error {
  override name = 'FeedFireFailed';
}

/**
 * Messages in fires of at most `count` messages and, as OpenWhisk bounds a fire's payload,
 * about `bytes` of keys and values (a message larger than that fires alone).
 */
export function* fires<M extends { key: Buffer | null; value: Buffer | null }>(messages: M[], count: number, bytes: number): Generator<M[]> {
  let chunk: M[] = [];
  let size = 0;
  for (const m of messages) {
    const n = (m.key?.length ?? 0) + (m.value?.length ?? 0);
    if (chunk.length > 0 && (chunk.length >= count || size + n > bytes)) {
      yield chunk;
      chunk = [];
      size = 0;
    }
    chunk.push(m);
    size += n;
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * One kafkaFeed on this controller: a kafkajs consumer in the feed's own group (every
 * controller joins it, so Kafka gives each partition to one of them and a message fires
 * once), firing the trigger with the messages of each fetched batch, at most
 * `maxBatchSize` (and about 1 MB) per fire, and committing only what was fired.
 */
class FeedConsumer implements FeedRunner {
  private readonly client: KafkaClient;
  private readonly consumer: Consumer;
  private readonly config: KafkaFeedConfig;
  private stopped: Promise<void> | undefined;

  constructor(
    private feed: StoredFeed,
    readonly version: string,
    private readonly firer: Pick<FeedFirer, 'fire'>,
    private readonly log: Logger,
    private readonly onGone: () => void,
  ) {
    this.config = feed.config as unknown as KafkaFeedConfig;
    this.client = createClient({ brokers: this.config.brokers, clientId: `swirl-feed-${feed.namespace}-${feed.name}`, log, retry: RETRY, connectionTimeout: 3_000 });
    // a feed created again after a delete starts afresh: its creation time is part of the group
    this.consumer = this.client.kafka.consumer({ groupId: `swirl-feed.${feedId(feed)}.${feed.created}`, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 500, allowAutoTopicCreation: false });
  }

  /** The same feed, read again (a new revision of an unchanged config). */
  refresh(feed: StoredFeed): void {
    this.feed = feed;
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    // a new group reads from the oldest message; what came before the feed is skipped (startOffsets)
    await this.consumer.subscribe({ topics: [this.config.topic], fromBeginning: true });
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (payload) => this.onBatch(payload) });
  }

  close(): Promise<void> {
    this.stopped ??= this.consumer.disconnect().catch((e: Error) => this.log.warn({ err: e }, 'kafka feed consumer did not disconnect cleanly'));
    return this.stopped;
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const start = BigInt(this.config.startOffsets[String(partition)] ?? '0');
    const fresh = batch.messages.filter((m) => BigInt(m.offset) >= start);
    const done = async (offset: string) => {
      resolveOffset(offset);
      await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: (BigInt(offset) + 1n).toString() }] }] });
    };
    for (const chunk of fires(fresh, this.config.maxBatchSize, SIZES.payload)) {
      if (!isRunning() || isStale() || this.stopped) return;
      const result = await this.firer.fire(this.feed, { messages: chunk.map((m) => feedMessage(this.config, topic, partition, m)) });
      if (result === 'gone') return this.onGone();
      if (result === 'failed') throw new FeedFireFailed(`could not fire /${this.feed.namespace}/${this.feed.name}`);
      await done(chunk[chunk.length - 1]!.offset);
      await heartbeat();
    }
    // messages from before the feed existed: step over them for good
    const last = batch.messages[batch.messages.length - 1];
    if (fresh.length === 0 && last) await done(last.offset);
  }
}

/**
 * `/whisk.system/messaging/kafkaFeed`: a consumer per feed on every controller. CREATE
 * reads the topic's end offsets (which also proves brokers and topic are there).
 */
export class KafkaFeeds implements FeedProvider {
  readonly name = 'kafka';
  private readonly consumers = new Map<string, FeedConsumer>();
  private closed = false;

  constructor(private readonly opts: { firer: Pick<FeedFirer, 'fire'>; log: Logger }) {}

  async create(_feed: string, _trigger: QualifiedName, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const config = kafkaFeedConfig(params);
    return { ...config, startOffsets: await this.endOffsets(config) } satisfies KafkaFeedConfig;
  }

  async update(_feed: string, current: Record<string, unknown>, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const old = current as unknown as KafkaFeedConfig;
    const config = kafkaFeedConfig(params, old);
    const moved = config.topic !== old.topic || config.brokers.join() !== old.brokers.join();
    return { ...config, startOffsets: moved ? await this.endOffsets(config) : old.startOffsets } satisfies KafkaFeedConfig;
  }

  describe(config: Record<string, unknown>): Record<string, unknown> {
    const { startOffsets: _s, ...shown } = config as unknown as KafkaFeedConfig;
    return shown;
  }

  async sync(feeds: StoredFeed[]): Promise<void> {
    if (this.closed) return;
    await reconcile(this.consumers, feeds, { keep: (consumer, feed) => consumer.refresh(feed), start: (id, feed, version) => this.begin(id, feed, version), stop: (id) => this.stop(id) });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.consumers.keys()].map((id) => this.stop(id)));
  }

  /** Start a consumer in the background; one that cannot start is dropped, and the next sync tries again. */
  private begin(id: string, feed: StoredFeed, version: string): void {
    const log = this.opts.log.child({ trigger: id, topic: (feed.config as unknown as KafkaFeedConfig).topic });
    const consumer = new FeedConsumer(feed, version, this.opts.firer, log, () => void this.stop(id));
    this.consumers.set(id, consumer);
    consumer.start().catch(async (e: Error) => {
      log.warn({ err: e }, 'kafka feed consumer could not start; retrying at the next reload');
      if (this.consumers.get(id) === consumer) await this.stop(id);
    });
  }

  private async stop(id: string): Promise<void> {
    const consumer = this.consumers.get(id);
    this.consumers.delete(id);
    await consumer?.close();
  }

  /** The end of each partition of the topic now. */
  private async endOffsets(config: Omit<KafkaFeedConfig, 'startOffsets'>): Promise<Record<string, string>> {
    const client = createClient({ brokers: config.brokers, clientId: 'swirl-feed-admin', log: this.opts.log, retry: { retries: 2, initialRetryTime: 200 }, connectionTimeout: 3_000 });
    const admin = client.kafka.admin();
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(config.topic);
      return Object.fromEntries(offsets.map((o) => [String(o.partition), o.high]));
    } catch (e) {
      this.opts.log.warn({ err: e, brokers: config.brokers, topic: config.topic }, 'kafka feed: cannot read the topic');
      throw new FeedParamError(`Cannot read the topic '${config.topic}' from the brokers ${config.brokers.join(',')}: they are unreachable or the topic does not exist.`);
    } finally {
      await admin.disconnect().catch(() => undefined);
      client.kill();
    }
  }
}
