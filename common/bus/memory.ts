import type { BusMessage, Consumer, ConsumerOptions, MessageBus, MessageHandler } from '../bus.ts';
import { ServiceUnavailableError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** A produce with nothing to wait for (no journal) answers this. */
const DONE: Promise<void> = Promise.resolve();

export interface MemoryBusOptions {
  log: Logger;
  /**
   * Messages a topic keeps that some group has not yet received (as redis MAXLEN): beyond
   * it the oldest are dropped, so a topic nobody reads cannot grow without bound. Default 100k.
   */
  maxLen?: number;
  /** Where a durable bus keeps what it holds (common/bus/lmdb.ts); none: nothing survives the process. */
  journal?: BusJournal;
}

/** A group's state as a journal restores it after a restart. */
export interface RestoredGroup {
  /** Every message below it is acknowledged. */
  low: number;
  /** Acknowledged messages at or above `low`. */
  acked: Set<number>;
}

/** A topic as a journal restores it after a restart: its unreleased messages from `first` on, and its groups. */
export interface RestoredTopic {
  first: number;
  values: Buffer[];
  groups: Map<string, RestoredGroup>;
}

/**
 * What a durable bus writes down so that a restart finds every message some group has not
 * acknowledged. The engine below calls it; only topics for which `durable` holds are journalled.
 */
export interface BusJournal {
  durable(topic: string): boolean;
  /** The topic as it was before a restart, or undefined when the journal knows nothing of it. */
  restore(topic: string): RestoredTopic | undefined;
  /** Store messages appended from sequence `seq` on; resolves once they are on disk. */
  append(topic: string, seq: number, values: Buffer[]): Promise<void>;
  /** A group acknowledged `seq`; every message of the group below `low` is acknowledged now. */
  acked(topic: string, group: string, seq: number, low: number): void;
  /** No group needs the topic's messages below `low` any more (acknowledged, or dropped beyond maxLen). */
  released(topic: string, low: number): void;
}

/** Messages one dispatch round hands out before it yields to I/O (setImmediate). */
const DISPATCH_BATCH = 1_000;

/** A message a group handed to a consumer and that is not acknowledged yet. */
interface Pending {
  seq: number;
  value: Buffer;
  /** The consumer id it was last given to; it gets the message back when it subscribes again. */
  owner: string;
  /** The live consumer running it; undefined once that consumer aborted (the message is an orphan). */
  consumer: MemoryConsumer | undefined;
  deliveries: number;
}

/**
 * One topic: an append-only log of the messages that some group has not received yet.
 * Sequence numbers are absolute; `first` is the sequence of `values[offset]`. Delivered
 * messages live in their group's pending map until acknowledged, so the log can drop
 * everything below the slowest group's cursor.
 */
class TopicLog {
  first = 0;
  private offset = 0;
  private values: (Buffer | undefined)[] = [];
  readonly groups = new Map<string, Group>();

  constructor(
    readonly name: string,
    private readonly maxLen: number,
    readonly journal: BusJournal | undefined,
    restored: RestoredTopic | undefined,
  ) {
    if (restored) {
      this.first = restored.first;
      this.values = restored.values;
    }
  }

  /** Sequence the next appended message gets. */
  get end(): number {
    return this.first + this.values.length - this.offset;
  }

  at(seq: number): Buffer {
    return this.values[this.offset + seq - this.first]!;
  }

  append(value: Buffer): void {
    this.values.push(value);
  }

  /** Drop what every group has received (nothing while there is no group yet), and anything beyond maxLen. */
  trim(): void {
    let low = this.groups.size === 0 ? this.first : this.end;
    for (const g of this.groups.values()) low = Math.min(low, g.cursor);
    low = Math.max(low, this.end - this.maxLen);
    if (low > this.first) this.drop(low);
    this.release();
  }

  private drop(low: number): void {
    for (let i = this.offset; i < this.offset + low - this.first; i++) this.values[i] = undefined;
    this.offset += low - this.first;
    this.first = low;
    if (this.offset === this.values.length) {
      this.values = [];
      this.offset = 0;
    } else if (this.offset > 1024 && this.offset * 2 > this.values.length) {
      this.values = this.values.slice(this.offset);
      this.offset = 0;
    }
  }

  /** Tell the journal what no group needs any more: below every group's lowest unacknowledged message. */
  release(): void {
    if (!this.journal) return;
    let low = this.groups.size === 0 ? this.first : Infinity;
    for (const g of this.groups.values()) low = Math.min(low, g.low);
    this.journal.released(this.name, low);
  }
}

/**
 * A consumer group of one topic: where the group is in the log, what it handed out and has
 * not had acknowledged, and which of that belongs to consumers that are gone (orphans).
 */
class Group {
  cursor: number;
  readonly pending = new Map<number, Pending>();
  /** Pending messages whose consumer aborted, oldest first. */
  orphans: Pending[] = [];
  readonly consumers: MemoryConsumer[] = [];
  private rr = 0;
  private scheduled = false;
  /** Restored after a restart: messages acknowledged out of order (skipped), and where the restored ones end. */
  private readonly skip: Set<number>;
  private readonly restoredEnd: number;

  constructor(
    readonly topic: TopicLog,
    readonly name: string,
    private readonly log: Logger,
    restored?: RestoredGroup,
  ) {
    // a new group starts at the oldest message the topic keeps, as a new redis group at id 0
    // (a restored mark may lag below what every group acknowledged and the journal released)
    this.cursor = Math.max(restored?.low ?? topic.first, topic.first);
    this.skip = restored?.acked ?? new Set();
    this.restoredEnd = restored ? topic.end : -1;
  }

  /** The lowest message of the group not acknowledged yet (pending is in sequence order: insertion follows the cursor). */
  get low(): number {
    for (const seq of this.pending.keys()) return seq;
    return this.cursor;
  }

  /** Acknowledge `seq`: the group forgets it; the journal writes it down. */
  ack(seq: number): void {
    this.pending.delete(seq);
    const journal = this.topic.journal;
    if (!journal) return;
    journal.acked(this.topic.name, this.name, seq, this.low);
    this.topic.release();
  }

  /** Run a dispatch round soon (one microtask away), once however often it is asked. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.dispatch());
  }

  private dispatch(): void {
    this.scheduled = false;
    let budget = DISPATCH_BATCH;
    if (this.orphans.length > 0) budget -= this.dispatchOrphans(budget);
    if (this.cursor < this.topic.first) {
      this.log.warn({ topic: this.topic.name, group: this.name, dropped: this.topic.first - this.cursor }, 'bus group fell behind the topic limit; oldest messages dropped');
      this.cursor = this.topic.first;
    }
    const end = this.topic.end;
    while (this.cursor < end && budget > 0) {
      const c = this.nextReady();
      if (!c) break;
      const seq = this.cursor++;
      if (this.skip.delete(seq)) continue;
      // a message restored from before a restart may have been handed out then: say it may be a redelivery
      const p: Pending = { seq, value: this.topic.at(seq), owner: c.id, consumer: undefined, deliveries: seq < this.restoredEnd ? 1 : 0 };
      this.pending.set(seq, p);
      c.run(p);
      budget--;
    }
    this.topic.trim();
    // more to hand out and consumers with room: continue after I/O had its turn
    if (budget === 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.dispatch());
    }
  }

  /** Orphans go back to their owner id when it is subscribed, else to a consumer that claims (claimIdleMs). */
  private dispatchOrphans(budget: number): number {
    const kept: Pending[] = [];
    let given = 0;
    for (const p of this.orphans) {
      if (given >= budget || this.pending.get(p.seq) !== p) {
        if (this.pending.get(p.seq) === p) kept.push(p);
        continue;
      }
      const c = this.consumers.find((k) => k.ready && k.id === p.owner) ?? this.consumers.find((k) => k.ready && k.claims);
      if (!c) {
        kept.push(p);
        continue;
      }
      c.run(p);
      given++;
    }
    this.orphans = kept;
    return given;
  }

  /** The next consumer in turn with room for another message. */
  private nextReady(): MemoryConsumer | undefined {
    const n = this.consumers.length;
    for (let i = 0; i < n; i++) {
      const c = this.consumers[(this.rr + i) % n]!;
      if (c.ready) {
        this.rr = (this.rr + i + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  remove(c: MemoryConsumer): void {
    const i = this.consumers.indexOf(c);
    if (i >= 0) this.consumers.splice(i, 1);
  }
}

/** One subscription: runs up to maxInFlight handlers and acknowledges each when it settles. */
class MemoryConsumer implements Consumer {
  readonly id: string;
  readonly claims: boolean;
  private readonly handler: MessageHandler;
  private readonly maxInFlight: number;
  private readonly running = new Set<Pending>();
  private state: 'open' | 'closing' | 'closed' | 'aborted' = 'open';
  private drained?: () => void;

  constructor(
    private readonly group: Group,
    opts: ConsumerOptions,
    private readonly log: Logger,
    private readonly onGone: (c: MemoryConsumer) => void,
  ) {
    this.id = opts.consumerId;
    this.claims = opts.claimIdleMs !== undefined;
    this.handler = opts.handler;
    this.maxInFlight = opts.maxInFlight;
  }

  /** Open and below maxInFlight: may take another message. */
  get ready(): boolean {
    return this.state === 'open' && this.running.size < this.maxInFlight;
  }

  run(p: Pending): void {
    p.owner = this.id;
    p.consumer = this;
    p.deliveries++;
    this.running.add(p);
    const message: BusMessage = { topic: this.group.topic.name, value: p.value, id: String(p.seq), redelivered: p.deliveries > 1 };
    let done: Promise<void> | void;
    try {
      done = this.handler(message);
    } catch (e) {
      done = Promise.reject(e);
    }
    // handled at once: acknowledged now
    if (done === undefined) {
      this.settle(p);
      return;
    }
    done.then(
      () => this.settle(p),
      (e: unknown) => {
        if (this.state !== 'aborted') this.log.warn({ err: (e as Error)?.message ?? String(e), topic: message.topic, group: this.group.name, id: message.id }, 'bus handler failed; message acknowledged');
        this.settle(p);
      },
    );
  }

  /** Acknowledge: the group forgets the message. After abort() nothing is acknowledged. */
  private settle(p: Pending): void {
    if (this.state === 'aborted') return;
    this.running.delete(p);
    if (this.group.pending.get(p.seq) === p) this.group.ack(p.seq);
    if (this.running.size === 0) this.drained?.();
    if (this.state === 'open') this.group.schedule();
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    if (this.running.size > 0) await new Promise<void>((ok) => (this.drained = ok));
    if (this.state !== 'closing') return; // aborted meanwhile
    this.state = 'closed';
    this.group.remove(this);
    this.onGone(this);
  }

  async abort(): Promise<void> {
    if (this.state === 'closed' || this.state === 'aborted') return;
    this.state = 'aborted';
    this.group.remove(this);
    for (const p of this.running) {
      p.consumer = undefined;
      this.group.orphans.push(p);
    }
    this.running.clear();
    this.drained?.();
    this.onGone(this);
    this.group.schedule();
  }
}

/**
 * MessageBus in one process (standalone). Each topic is an in-memory log, each group a
 * cursor into it plus the messages it handed out and has not had acknowledged. A produce
 * schedules a dispatch round one microtask later, which calls the handlers directly: no
 * timers, no polling, a hop costs microseconds.
 *
 * Redelivery: a consumer that aborts leaves its running messages pending as orphans. They
 * go at once to a consumer of the same id when it subscribes again, or to any consumer of
 * the group that set claimIdleMs (the bus knows the owner is dead, so there is no idle time
 * to wait out). Consumers that are alive are never robbed: in one process a slow handler
 * is slow, not lost. Nothing survives the process, unless a journal is given: the local bus
 * (lmdb.ts) is this engine writing each durable topic's messages and acknowledgements down.
 */
export class MemoryBus implements MessageBus {
  readonly name: 'memory' | 'local';
  private readonly topics = new Map<string, TopicLog>();
  private readonly consumers = new Set<MemoryConsumer>();
  private readonly maxLen: number;
  private closed = false;

  constructor(private readonly opts: MemoryBusOptions) {
    this.maxLen = opts.maxLen ?? 100_000;
    this.name = opts.journal ? 'local' : 'memory';
  }

  async ensureTopics(topics: string[]): Promise<void> {
    this.assertOpen();
    for (const t of topics) this.topic(t);
  }

  // not async: on the invoke path three times per activation, where each promise more costs (and more under a log context)
  produce(topic: string, values: (Buffer | string)[]): Promise<void> {
    try {
      this.assertOpen();
      const log = this.topic(topic);
      const seq = log.end;
      const buffers = values.map((v) => (typeof v === 'string' ? Buffer.from(v) : v));
      // written before anything is delivered, so the journal holds a message before its acknowledgement
      const written = log.journal?.append(topic, seq, buffers);
      for (const b of buffers) log.append(b);
      if (log.groups.size === 0) log.trim();
      for (const g of log.groups.values()) g.schedule();
      return written ?? DONE;
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  async subscribe(options: ConsumerOptions): Promise<Consumer> {
    this.assertOpen();
    if (!(options.maxInFlight >= 1)) throw new RangeError(`maxInFlight must be at least 1 (got ${options.maxInFlight})`);
    const log = this.topic(options.topic);
    let group = log.groups.get(options.group);
    if (!group) {
      group = new Group(log, options.group, this.opts.log);
      log.groups.set(options.group, group);
    }
    const consumer = new MemoryConsumer(group, options, this.opts.log, (c) => this.consumers.delete(c));
    this.consumers.add(consumer);
    group.consumers.push(consumer);
    group.schedule();
    return consumer;
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.close()));
  }

  private topic(name: string): TopicLog {
    let log = this.topics.get(name);
    if (!log) {
      const journal = this.opts.journal?.durable(name) ? this.opts.journal : undefined;
      const restored = journal?.restore(name);
      log = new TopicLog(name, this.maxLen, journal, restored);
      // the groups a restart found keep their place (and hold their messages) until their consumers come back
      for (const [group, state] of restored?.groups ?? []) log.groups.set(group, new Group(log, group, this.opts.log, state));
      this.topics.set(name, log);
    }
    return log;
  }

  private assertOpen(): void {
    if (this.closed) throw new ServiceUnavailableError('The message bus is closed.');
  }
}
