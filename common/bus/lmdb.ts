import { mkdirSync } from 'node:fs';
import { type Database, type RootDatabase, open } from 'lmdb';
import { ServiceUnavailableError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { type BusJournal, MemoryBus, type RestoredGroup, type RestoredTopic } from './memory.ts';

export interface LocalBusOptions {
  /** Directory of the bus's own lmdb environment (standalone: `<dataDir>/bus`). */
  path: string;
  log: Logger;
  /** Topics that survive a restart; others are kept in memory only. Default: all. */
  durable?: (topic: string) => boolean;
  maxLen?: number;
}

type MessageKey = [topic: string, seq: number];
/** `['low', topic, group]` → the group's lowest unacknowledged sequence; `['acked', topic, group, seq]` → acknowledged above it. */
type GroupKey = ['low', string, string] | ['acked', string, string, number];

/** A commit promise of lmdb with `separateFlushed`: `flushed` resolves once the commit is synced to disk. */
type Flushing = Promise<boolean> & { flushed?: Promise<unknown> };

const groupKey = (topic: string, group: string): string => `${topic}\u0000${group}`;

/**
 * The journal of the local bus in lmdb. Messages are written once (`[topic, seq]` → bytes),
 * acknowledgements as each group's low-water mark plus markers for what was acknowledged
 * out of order above it; a message is deleted once every group's mark passed it. Appends
 * resolve once flushed to disk (lmdb batches the writes of one event turn into one
 * transaction and syncs it while the next commits); acknowledgements are not waited for:
 * one lost in a crash means a redelivery, which the invoker answers from the record.
 */
class LmdbJournal implements BusJournal {
  private readonly topics = new Map<string, RestoredTopic>();
  /** Per topic: messages below it are deleted. */
  private readonly releasedTo = new Map<string, number>();
  /** Per topic+group: the low-water mark written, and the markers written above it. */
  private readonly lows = new Map<string, number>();
  private readonly marks = new Map<string, Set<number>>();

  constructor(
    private readonly messages: Database<Buffer, MessageKey>,
    private readonly groups: Database<true | number, GroupKey>,
    readonly durable: (topic: string) => boolean,
  ) {
    this.load();
  }

  /** Read what a previous run left: messages (contiguous from each topic's lowest mark) and group marks. */
  private load(): void {
    const topic = (name: string): RestoredTopic => {
      let t = this.topics.get(name);
      if (!t) this.topics.set(name, (t = { first: -1, values: [], groups: new Map() }));
      return t;
    };
    for (const { key, value } of this.messages.getRange()) {
      const t = topic(key[0]);
      if (t.first < 0) t.first = key[1];
      t.values[key[1] - t.first] = value;
    }
    const group = (t: RestoredTopic, name: string): RestoredGroup => {
      let g = t.groups.get(name);
      if (!g) t.groups.set(name, (g = { low: 0, acked: new Set() }));
      return g;
    };
    for (const { key, value } of this.groups.getRange()) {
      const g = group(topic(key[1]), key[2]);
      if (key[0] === 'low') g.low = value as number;
      else g.acked.add(key[3]);
    }
    for (const [name, t] of this.topics) {
      const lows = [...t.groups.values()].map((g) => g.low);
      // no message left: the next one continues after every group's mark
      if (t.first < 0) t.first = Math.max(0, ...lows);
      this.releasedTo.set(name, t.first);
      for (const [gname, g] of t.groups) {
        for (const seq of g.acked) {
          if (seq >= g.low) continue;
          g.acked.delete(seq);
          void this.groups.remove(['acked', name, gname, seq]);
        }
        this.lows.set(groupKey(name, gname), g.low);
        this.marks.set(groupKey(name, gname), new Set(g.acked));
      }
    }
  }

  /** Topics the previous run left, restored once (the bus creates each topic once). */
  restore(topic: string): RestoredTopic | undefined {
    const t = this.topics.get(topic);
    this.topics.delete(topic);
    return t;
  }

  /** Messages a previous run left, per topic, that nobody asked for yet. */
  get waiting(): Record<string, number> {
    return Object.fromEntries([...this.topics].filter(([, t]) => t.values.length > 0).map(([name, t]) => [name, t.values.length]));
  }

  append(topic: string, seq: number, values: Buffer[]): Promise<void> {
    let last: Flushing | undefined;
    try {
      for (let i = 0; i < values.length; i++) last = this.messages.put([topic, seq + i], values[i]!) as Flushing;
    } catch (e) {
      return Promise.reject(e as Error);
    }
    if (!last) return Promise.resolve();
    const put = last;
    // committed, then on disk
    return put.then(() => put.flushed) as Promise<unknown> as Promise<void>;
  }

  acked(topic: string, group: string, seq: number, low: number): void {
    const key = groupKey(topic, group);
    let marks = this.marks.get(key);
    if (!marks) this.marks.set(key, (marks = new Set()));
    if (seq >= low) {
      void this.groups.put(['acked', topic, group, seq], true);
      marks.add(seq);
    }
    if (low <= (this.lows.get(key) ?? -1)) return;
    this.lows.set(key, low);
    void this.groups.put(['low', topic, group], low);
    for (const m of marks) {
      if (m >= low) continue;
      marks.delete(m);
      void this.groups.remove(['acked', topic, group, m]);
    }
  }

  released(topic: string, low: number): void {
    const from = this.releasedTo.get(topic) ?? 0;
    if (low <= from) return;
    this.releasedTo.set(topic, low);
    for (let seq = from; seq < low; seq++) void this.messages.remove([topic, seq]);
  }
}

/**
 * The durable bus of standalone (`SWIRL_BUS=local`): the memory bus's delivery (one process,
 * handlers called directly) with every message of a durable topic in an lmdb environment of
 * its own. `produce` resolves once the messages are synced to disk, so an accepted activation
 * (202) survives a crash; after a restart every message some group had not acknowledged is
 * delivered again (as `redelivered`: the bus cannot tell which were handed out before).
 */
export class LocalBus extends MemoryBus {
  private closing: Promise<void> | undefined;
  private constructor(
    private readonly root: RootDatabase,
    journal: LmdbJournal,
    private readonly local: LocalBusOptions,
  ) {
    super({ log: local.log, journal, ...(local.maxLen ? { maxLen: local.maxLen } : {}) });
    const waiting = journal.waiting;
    // (a topic whose consumer never comes back, e.g. after SWIRL_INVOKER_ID changed, keeps them: this line names it)
    if (Object.keys(waiting).length) local.log.info({ messages: waiting }, 'bus: messages kept from before the restart are delivered again to their groups');
  }

  static open(opts: LocalBusOptions): LocalBus {
    mkdirSync(opts.path, { recursive: true, mode: 0o700 });
    const root = open({ path: opts.path, separateFlushed: true, maxDbs: 4 });
    const messages = root.openDB<Buffer, MessageKey>({ name: 'messages', encoding: 'binary' });
    const groups = root.openDB<true | number, GroupKey>({ name: 'groups' });
    return new LocalBus(root, new LmdbJournal(messages, groups, opts.durable ?? (() => true)), opts);
  }

  override produce(topic: string, values: (Buffer | string)[]): Promise<void> {
    return super.produce(topic, values).catch((e: unknown) => {
      if (e instanceof ServiceUnavailableError) throw e;
      this.local.log.error({ err: e, topic }, 'bus: could not write messages to disk');
      throw new ServiceUnavailableError('The message bus could not store the message.');
    });
  }

  /** Close the consumers (their acknowledgements are written), then the environment once flushed. Idempotent. */
  override close(): Promise<void> {
    this.closing ??= (async () => {
      await super.close();
      await this.root.flushed;
      await this.root.close();
    })();
    return this.closing;
  }
}
