import type { Consumer as KafkaJsConsumer, EachMessagePayload } from 'kafkajs';
import type { BusMessage, Consumer, ConsumerOptions } from '../bus.ts';
import type { Logger } from '../logger.ts';
import type { KafkaClient } from './kafka-client.ts';
import { stickyAssigner } from './kafka-assigner.ts';
import { PartitionProgress } from './kafka-offsets.ts';

/** The Kafka consumer group behind a bus group on a topic. */
export const kafkaGroupId = (group: string, topic: string): string => `${group}.${topic}`;

export interface KafkaConsumerTiming {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
}

/**
 * One subscription of KafkaBus: a kafkajs consumer in the group, on a client of its own
 * (so abort() can cut exactly its connections), with autoCommit off.
 *
 * eachMessage starts the handler and returns at once, so up to maxInFlight handlers run
 * concurrently. When that many are unsettled, eachMessage waits for a slot instead of
 * returning, which stops kafkajs from fetching — the effect of pausing the topic, without
 * kafkajs' paused-consumer sleep of maxWaitTime before it looks again. While it waits it
 * heartbeats, so long handlers do not cost the session; a rebalance surfaces there as an
 * error, and kafkajs rejoins and fetches again from the committed offsets (messages already
 * begun are recognised and skipped).
 *
 * Offsets are committed per partition over the contiguous prefix of settled messages
 * (PartitionProgress), one commit request at a time, coalescing what settles meanwhile.
 */
export class KafkaConsumer implements Consumer {
  private readonly consumer: KafkaJsConsumer;
  private readonly progress = new Map<number, PartitionProgress>();
  /** Partitions of the topic this member holds (from the last join), for the sticky assigner. */
  private assigned: number[] = [];
  private readonly running = new Set<Promise<void>>();
  private slotWaiters: (() => void)[] = [];
  private committing: Promise<void> | undefined;
  private commitAgain = false;
  private stopping = false;
  private aborted = false;
  private done: Promise<void> | undefined;

  constructor(
    private readonly client: KafkaClient,
    private readonly options: ConsumerOptions,
    private readonly timing: KafkaConsumerTiming,
    private readonly log: Logger,
    private readonly onGone: () => void,
  ) {
    this.consumer = client.kafka.consumer({
      // a Kafka group per (group, topic): kafkajs' leader assigns only the topics it subscribes
      // itself, and one group over several topics would rebalance all of them when one changes
      groupId: kafkaGroupId(options.group, options.topic),
      partitionAssigners: [stickyAssigner(() => ({ [options.topic]: this.assigned }))],
      sessionTimeout: timing.sessionTimeoutMs,
      heartbeatInterval: timing.heartbeatIntervalMs,
      // the broker answers a waiting fetch as soon as data arrives; the wait only paces idle polling (and heartbeats)
      maxWaitTimeInMs: Math.min(500, timing.heartbeatIntervalMs),
      minBytes: 1,
      allowAutoTopicCreation: false,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => this.onAssignment(payload.memberAssignment[options.topic] ?? []));
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (!this.stopping) log.warn({ err: payload.error, topic: options.topic, restart: payload.restart }, 'kafka consumer crashed');
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    // a new group starts at the oldest message (as redis groups at id 0 and the memory bus)
    await this.consumer.subscribe({ topics: [this.options.topic], fromBeginning: true });
    await this.consumer.run({ autoCommit: false, eachMessage: (payload) => this.onMessage(payload) });
  }

  close(): Promise<void> {
    this.done ??= this.shutdown();
    return this.done;
  }

  abort(): Promise<void> {
    if (!this.done) {
      this.aborted = true;
      this.done = this.shutdown();
    }
    return this.done;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.wakeSlotWaiters();
    if (this.aborted) {
      // a crash: no more acknowledgements, no LeaveGroup; the group notices by session timeout
      this.client.kill();
    } else {
      this.consumer.pause([{ topic: this.options.topic }]);
      await Promise.allSettled([...this.running]);
      await this.commit();
    }
    await this.consumer.disconnect().catch((e) => this.log.debug({ err: e }, 'kafka consumer disconnect failed'));
    this.onGone();
  }

  private async onMessage({ partition, message, heartbeat }: EachMessagePayload): Promise<void> {
    if (this.stopping) return;
    const offset = Number(message.offset);
    let progress = this.progress.get(partition);
    if (progress?.seen(offset)) return;
    if (!(await this.slot(heartbeat))) return;
    if (!progress) this.progress.set(partition, (progress = new PartitionProgress()));
    progress.begin(offset);
    const bus: BusMessage = { topic: this.options.topic, value: message.value ?? Buffer.alloc(0), id: `${partition}:${message.offset}`, redelivered: false };
    const run = this.runHandler(bus).then(() => this.settled(progress, offset));
    this.running.add(run);
    void run.finally(() => {
      this.running.delete(run);
      this.slotWaiters.shift()?.();
    });
  }

  private async runHandler(message: BusMessage): Promise<void> {
    try {
      await this.options.handler(message);
    } catch (e) {
      this.log.warn({ err: e, topic: message.topic, id: message.id }, 'message handler failed');
    }
  }

  /** Wait until fewer than maxInFlight handlers run, heartbeating meanwhile; false when stopping. */
  private async slot(heartbeat: () => Promise<void>): Promise<boolean> {
    while (this.running.size >= this.options.maxInFlight) {
      let wake!: () => void;
      const freed = new Promise<void>((resolve) => (wake = resolve));
      this.slotWaiters.push(wake);
      const timer = setTimeout(wake, this.timing.heartbeatIntervalMs);
      await freed;
      clearTimeout(timer);
      this.slotWaiters = this.slotWaiters.filter((w) => w !== wake);
      if (this.stopping) return false;
      if (this.running.size >= this.options.maxInFlight) await heartbeat();
    }
    return !this.stopping;
  }

  private wakeSlotWaiters(): void {
    for (const wake of this.slotWaiters.splice(0)) wake();
  }

  private settled(progress: PartitionProgress, offset: number): void {
    if (this.aborted || !progress.attached) return;
    if (progress.settle(offset)) void this.commit();
  }

  /**
   * After every (re)join. Partitions a rebalance took away stop counting (their handlers'
   * results are ignored); the kept ones commit their settled prefix again in the new generation.
   */
  private onAssignment(partitions: number[]): void {
    this.assigned = partitions;
    for (const [partition, progress] of this.progress) {
      if (partitions.includes(partition)) {
        progress.forgetCommitted();
      } else {
        progress.attached = false;
        this.progress.delete(partition);
      }
    }
    void this.commit();
  }

  /** Commit the settled prefixes; one request at a time, the next one carries what settled meanwhile. */
  private commit(): Promise<void> {
    if (this.committing) {
      this.commitAgain = true;
      return this.committing;
    }
    this.committing = (async () => {
      do {
        this.commitAgain = false;
        if (this.aborted) return;
        const offsets = [...this.progress].flatMap(([partition, p]) => {
          const offset = p.uncommitted();
          return offset === undefined ? [] : [{ topic: this.options.topic, partition, offset: String(offset), progress: p, at: offset }];
        });
        if (offsets.length === 0) return;
        try {
          await this.consumer.commitOffsets(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
          for (const o of offsets) o.progress.markCommitted(o.at);
        } catch (e) {
          // typically a rebalance; the assignment that follows commits again
          this.log.debug({ err: e, topic: this.options.topic }, 'kafka offset commit failed');
          return;
        }
      } while (this.commitAgain);
    })().finally(() => (this.committing = undefined));
    return this.committing;
  }
}
