import type { Redis } from 'ioredis';
import type { BusMessage, Consumer, ConsumerOptions, MessageBus } from '../bus.ts';
import { ServiceUnavailableError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { closeRedis, connectRedis, pingRedis, redisCall, redisReady } from '../redis.ts';

export interface RedisBusOptions {
  url: string;
  log: Logger;
  /** Approximate length each stream is trimmed to on XADD (MAXLEN ~). Default 100k. */
  maxLen?: number;
  /** Longest a consumer's XREADGROUP blocks before it looks around (close, claims). Default 2000 ms. */
  blockMs?: number;
  /**
   * How often a consumer tells Redis that the messages it is still running are alive
   * (XCLAIM JUSTID to itself), so a slow handler is not taken over by another consumer's
   * claimIdleMs. Every consumer of a group must heartbeat well inside the shortest
   * claimIdleMs of that group (≥ 3×; subscribe warns otherwise). Default 1000 ms.
   */
  heartbeatMs?: number;
  /** Key prefix of the streams, so the bus can share a Redis with other stores. Default `swirl:bus:`. */
  prefix?: string;
}

const WHAT = 'The message bus';
const FIELD = 'v';

/** A stream entry as XREADGROUP / XAUTOCLAIM return it; fields are null when the entry was trimmed away. */
type RawEntry = [id: Buffer, fields: Buffer[] | null];

/** The entries of the single stream in an XREADGROUP reply (RESP2 `[[key, entries]]`, RESP3 legacy `[key, entries]`). */
function readReply(reply: unknown): RawEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const first: unknown = reply[0];
  if (Buffer.isBuffer(first) || typeof first === 'string') return (reply[1] as RawEntry[] | undefined) ?? [];
  return ((first as unknown[])[1] as RawEntry[] | undefined) ?? [];
}

function fieldValue(fields: Buffer[]): Buffer {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === FIELD) return fields[i + 1]!;
  return Buffer.alloc(0);
}

const isNoGroup = (e: unknown): boolean => /NOGROUP/.test((e as Error)?.message ?? '');
const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/**
 * MessageBus on Redis streams. A topic is the stream `<prefix><topic>`, appended with XADD
 * (MAXLEN ~ trimming); a group is a stream consumer group, created at id 0 (a new group
 * reads what the stream keeps) with MKSTREAM. Produce, acknowledgements (batched: one XACK
 * for what settled in the same tick) and claims share one connection; every consumer has its own connection for XREADGROUP
 * BLOCK, so a blocking read never stalls anything else, and an XADD wakes it at once.
 *
 * Redelivery, by the stream's pending entries list (PEL): a message stays pending for the
 * consumer that read it until XACK, which happens when its handler settles. A consumer
 * first re-reads its own pending entries (id 0), so the same consumer id coming back after
 * a crash gets its unacknowledged work again; with claimIdleMs it also takes over entries
 * idle that long from others (XAUTOCLAIM, at subscribe and then periodically). Live
 * consumers touch the entries they are running every heartbeatMs, so "idle" means "its
 * consumer stopped answering", not "its handler is slow".
 */
export class RedisBus implements MessageBus {
  readonly name = 'redis' as const;
  /** @internal shared by the consumers for XACK, XAUTOCLAIM and heartbeats */
  readonly client: Redis;
  /** @internal */
  readonly settings: { url: string; log: Logger; maxLen: number; blockMs: number; heartbeatMs: number; prefix: string };
  private readonly consumers = new Set<RedisConsumer>();
  private closed = false;

  constructor(opts: RedisBusOptions) {
    this.settings = {
      url: opts.url,
      log: opts.log,
      maxLen: opts.maxLen ?? 100_000,
      blockMs: opts.blockMs ?? 2_000,
      heartbeatMs: opts.heartbeatMs ?? 1_000,
      prefix: opts.prefix ?? 'swirl:bus:',
    };
    // not auto-pipelined: ioredis 6 drops the command name of callBuffer() in an auto pipeline;
    // consumers batch their XACKs themselves
    this.client = connectRedis(opts.url, opts.log, { connectionName: 'swirl-bus' });
  }

  /** Wait until Redis answers (start-up); a ServiceUnavailableError after `ms`. */
  ready(ms?: number): Promise<void> {
    return redisReady(this.client, ms);
  }

  /** @internal */
  key(topic: string): string {
    return this.settings.prefix + topic;
  }

  /** Redis makes a stream with its first entry or group: make one with a throw-away group. */
  async ensureTopics(topics: string[]): Promise<void> {
    this.assertOpen();
    if (topics.length === 0) return;
    await redisCall(this.client, WHAT, async () => {
      const p = this.client.pipeline();
      for (const t of topics) p.exists(this.key(t));
      const exists = (await p.exec()) ?? [];
      const missing = topics.filter((_t, i) => exists[i]?.[1] === 0);
      if (missing.length === 0) return;
      const q = this.client.pipeline();
      for (const t of missing) q.call('XGROUP', 'CREATE', this.key(t), 'swirl-ensure', '$', 'MKSTREAM').call('XGROUP', 'DESTROY', this.key(t), 'swirl-ensure');
      for (const [err] of (await q.exec()) ?? []) if (err && !/BUSYGROUP/.test(err.message)) throw err;
    });
  }

  async produce(topic: string, values: (Buffer | string)[]): Promise<void> {
    this.assertOpen();
    if (values.length === 0) return;
    const key = this.key(topic);
    const maxLen = String(this.settings.maxLen);
    await redisCall(this.client, WHAT, async () => {
      if (values.length === 1) {
        await this.client.xadd(key, 'MAXLEN', '~', maxLen, '*', FIELD, values[0]!);
        return;
      }
      const p = this.client.pipeline();
      for (const v of values) p.xadd(key, 'MAXLEN', '~', maxLen, '*', FIELD, v);
      for (const [err] of (await p.exec()) ?? []) if (err) throw err;
    });
  }

  async subscribe(options: ConsumerOptions): Promise<Consumer> {
    this.assertOpen();
    if (!(options.maxInFlight >= 1)) throw new RangeError(`maxInFlight must be at least 1 (got ${options.maxInFlight})`);
    if (options.claimIdleMs !== undefined && options.claimIdleMs < 3 * this.settings.heartbeatMs) {
      this.settings.log.warn({ topic: options.topic, group: options.group, claimIdleMs: options.claimIdleMs, heartbeatMs: this.settings.heartbeatMs }, 'bus claimIdleMs is under 3 heartbeats: slow handlers of live consumers may be taken over');
    }
    await redisCall(this.client, WHAT, () => this.createGroup(options.topic, options.group));
    const consumer = new RedisConsumer(this, options, () => this.consumers.delete(consumer));
    this.consumers.add(consumer);
    try {
      await consumer.start();
    } catch (e) {
      await consumer.abort();
      throw e instanceof ServiceUnavailableError ? e : new ServiceUnavailableError(`${WHAT} is unavailable: Redis is not reachable.`, { cause: e });
    }
    return consumer;
  }

  /** @internal XGROUP CREATE at id 0 with MKSTREAM; an existing group is fine. */
  async createGroup(topic: string, group: string): Promise<void> {
    try {
      await this.client.call('XGROUP', 'CREATE', this.key(topic), group, '0', 'MKSTREAM');
    } catch (e) {
      if (!/BUSYGROUP/.test((e as Error).message)) throw e;
    }
  }

  async ping(): Promise<boolean> {
    return !this.closed && pingRedis(this.client);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.close()));
    await closeRedis(this.client);
  }

  private assertOpen(): void {
    if (this.closed) throw new ServiceUnavailableError('The message bus is closed.');
  }
}

/**
 * One subscription: a read loop on its own connection that keeps at most maxInFlight
 * handlers running, and acknowledges each message when its handler settles.
 */
class RedisConsumer implements Consumer {
  private readonly conn: Redis;
  private readonly key: string;
  private readonly log: Logger;
  /** Entry ids whose handlers run now. */
  private readonly running = new Set<string>();
  /** Acknowledgements that failed (Redis away); sent again before the next read. */
  private readonly unacked = new Set<string>();
  /** Settled since the last XACK went out. */
  private toAck: string[] = [];
  private acking: Promise<void> = Promise.resolve();
  private state: 'open' | 'closing' | 'closed' | 'aborted' = 'open';
  private connId: number | undefined;
  private wake: (() => void) | undefined;
  private drained: (() => void) | undefined;
  private loop: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private claimCursor = '0-0';

  constructor(
    private readonly bus: RedisBus,
    private readonly opts: ConsumerOptions,
    private readonly onGone: () => void,
  ) {
    const s = bus.settings;
    this.key = bus.key(opts.topic);
    this.log = s.log;
    this.conn = connectRedis(s.url, s.log, { connectionName: `swirl-bus-${opts.group}-${opts.consumerId}`.replace(/[^\w.:-]/g, '_') });
    // the connection id lets close() end a blocked XREADGROUP at once (CLIENT UNBLOCK)
    this.conn.on('ready', () => {
      this.connId = undefined;
      this.conn.client('ID').then(
        (id) => (this.connId = Number(id)),
        () => undefined,
      );
    });
  }

  /** A getter, so the compiler does not narrow it across awaits. */
  private get aborted(): boolean {
    return this.state === 'aborted';
  }

  async start(): Promise<void> {
    await redisReady(this.conn, 5_000);
    const beatMs = this.heartbeatMs();
    this.heartbeat = setInterval(() => this.touch(beatMs), beatMs);
    this.heartbeat.unref();
    this.loop = this.run();
  }

  private heartbeatMs(): number {
    const { heartbeatMs } = this.bus.settings;
    const claim = this.opts.claimIdleMs;
    return Math.max(20, claim === undefined ? heartbeatMs : Math.min(heartbeatMs, Math.floor(claim / 3)));
  }

  /** Reads until closed: own pending entries first, then claims (when due) and new entries. */
  private async run(): Promise<void> {
    const claimIdle = this.opts.claimIdleMs;
    const claimEvery = claimIdle === undefined ? Infinity : clamp(claimIdle / 2, 50, 5_000);
    let ownCursor: string | undefined = '0';
    let nextClaim = claimIdle === undefined ? Infinity : 0;
    let failing = false;
    let backoff = 50;
    while (this.state === 'open') {
      try {
        const free = await this.room();
        if (this.state !== 'open') break;
        if (this.unacked.size > 0) await this.flushAcks();
        if (ownCursor !== undefined) {
          const entries = readReply(await this.conn.callBuffer('XREADGROUP', 'GROUP', this.opts.group, this.opts.consumerId, 'COUNT', String(free), 'STREAMS', this.key, ownCursor));
          if (entries.length === 0) ownCursor = undefined;
          else ownCursor = entries[entries.length - 1]![0].toString();
          this.deliver(entries, true);
          continue;
        } else if (Date.now() >= nextClaim) {
          await this.claim(claimIdle!, free);
          nextClaim = Date.now() + claimEvery;
        } else {
          const block = Math.max(1, Math.min(this.bus.settings.blockMs, nextClaim - Date.now()));
          const reply = await this.conn.callBuffer('XREADGROUP', 'GROUP', this.opts.group, this.opts.consumerId, 'COUNT', String(free), 'BLOCK', String(block), 'STREAMS', this.key, '>');
          // delivered even when closing: they are in our PEL now, and close() waits for them
          this.deliver(readReply(reply), false);
        }
        if (failing) this.log.info({ topic: this.opts.topic, group: this.opts.group, consumer: this.opts.consumerId }, 'bus consumer reading again');
        failing = false;
        backoff = 50;
      } catch (e) {
        if (this.state !== 'open') break;
        if (isNoGroup(e)) {
          // the stream or group went away (Redis restarted empty, or someone deleted it)
          const made = await this.bus.createGroup(this.opts.topic, this.opts.group).then(
            () => true,
            () => false,
          );
          if (!made) await this.pause(backoff);
        } else {
          if (!failing) this.log.warn({ err: e, topic: this.opts.topic, group: this.opts.group, consumer: this.opts.consumerId }, 'bus consumer cannot read; retrying');
          failing = true;
          await this.pause(backoff);
          backoff = Math.min(backoff * 2, 1_000);
        }
        // after any trouble, look at our own pending entries again (acks may have been lost)
        ownCursor = '0';
      }
    }
  }

  /** Free handler slots; waits while none are. */
  private async room(): Promise<number> {
    while (this.state === 'open' && this.running.size >= this.opts.maxInFlight) {
      await new Promise<void>((ok) => (this.wake = ok));
    }
    return this.opts.maxInFlight - this.running.size;
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((ok) => {
      const t = setTimeout(ok, ms);
      this.wake = () => {
        clearTimeout(t);
        ok();
      };
    });
  }

  /** XAUTOCLAIM entries idle for claimIdleMs from any consumer of the group (one pass over the PEL at most). */
  private async claim(minIdle: number, free: number): Promise<void> {
    for (let round = 0; round < 10 && free > 0; round++) {
      const reply = (await this.bus.client.callBuffer('XAUTOCLAIM', this.key, this.opts.group, this.opts.consumerId, String(minIdle), this.claimCursor, 'COUNT', String(free))) as [Buffer, RawEntry[], Buffer[]?];
      this.claimCursor = reply[0].toString();
      const fresh = reply[1].filter((e) => !this.running.has(e[0].toString()));
      if (fresh.length > 0) this.log.info({ topic: this.opts.topic, group: this.opts.group, consumer: this.opts.consumerId, claimed: fresh.length }, 'bus consumer took over idle messages');
      this.deliver(fresh, true);
      free -= fresh.length;
      if (this.claimCursor === '0-0') break;
    }
  }

  private deliver(entries: RawEntry[], redelivered: boolean): void {
    // a reply that lands after abort() is left pending, as a crash would leave it
    if (this.aborted) return;
    for (const [rawId, fields] of entries) {
      const id = rawId.toString();
      if (this.running.has(id) || this.unacked.has(id)) continue;
      if (fields === null) {
        // trimmed away (MAXLEN) while pending: nothing to deliver, drop it from the PEL
        this.ack(id);
        continue;
      }
      this.running.add(id);
      const message: BusMessage = { topic: this.opts.topic, value: fieldValue(fields), id, redelivered };
      let done: Promise<void> | void;
      try {
        done = this.opts.handler(message);
      } catch (e) {
        done = Promise.reject(e);
      }
      // handled at once: acknowledged now
      if (done === undefined) {
        this.settle(id);
        continue;
      }
      done.then(
        () => this.settle(id),
        (e: unknown) => {
          if (this.state !== 'aborted') this.log.warn({ err: (e as Error)?.message ?? String(e), topic: this.opts.topic, group: this.opts.group, id }, 'bus handler failed; message acknowledged');
          this.settle(id);
        },
      );
    }
  }

  /** A handler settled: acknowledge (unless aborted) and free its slot. */
  private settle(id: string): void {
    if (this.state === 'aborted') return;
    this.ack(id);
    this.running.delete(id);
    this.wake?.();
    if (this.running.size === 0) this.drained?.();
  }

  /** Queue an XACK; what settles within one microtask turn goes in one command. */
  private ack(id: string): void {
    this.toAck.push(id);
    if (this.toAck.length === 1) queueMicrotask(() => void this.sendAcks());
  }

  private sendAcks(): Promise<void> {
    const ids = this.toAck;
    if (ids.length === 0) return this.acking;
    this.toAck = [];
    const sent = this.bus.client.xack(this.key, this.opts.group, ...ids).then(
      () => undefined,
      () => {
        // Redis away: keep them and send them again; meanwhile they stay in our PEL (at least once)
        for (const id of ids) this.unacked.add(id);
      },
    );
    this.acking = Promise.all([this.acking, sent]).then(() => undefined);
    return this.acking;
  }

  private async flushAcks(): Promise<void> {
    const ids = [...this.unacked];
    await this.bus.client.xack(this.key, this.opts.group, ...ids);
    for (const id of ids) this.unacked.delete(id);
  }

  /** Reset the idle time of what we run, so claimIdleMs elsewhere does not take it. */
  private touch(minIdle: number): void {
    if (this.running.size === 0 || this.state === 'aborted') return;
    // min-idle of half a beat: an entry someone just claimed from us is left alone
    this.bus.client.call('XCLAIM', this.key, this.opts.group, this.opts.consumerId, String(Math.floor(minIdle / 2)), ...this.running, 'JUSTID').catch(() => undefined);
  }

  close(): Promise<void> {
    if (this.state === 'aborted' || this.state === 'closed') return Promise.resolve();
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    this.wake?.();
    // end a blocked XREADGROUP now rather than after blockMs; retried in case the read was not blocked yet
    let done = false;
    void this.loop.then(() => (done = true));
    for (let i = 0; !done && i < 200; i++) {
      if (this.connId !== undefined) await this.bus.client.call('CLIENT', 'UNBLOCK', String(this.connId)).catch(() => undefined);
      await Promise.race([this.loop, new Promise((ok) => setTimeout(ok, 20))]);
    }
    await this.loop;
    if (this.running.size > 0) await new Promise<void>((ok) => (this.drained = ok));
    clearInterval(this.heartbeat);
    await this.sendAcks();
    if (this.unacked.size > 0) await this.flushAcks().catch(() => undefined);
    if (this.state === 'closing') this.state = 'closed';
    await this.conn.quit().catch(() => this.conn.disconnect());
    this.onGone();
  }

  async abort(): Promise<void> {
    if (this.state === 'aborted' || this.state === 'closed') return;
    this.state = 'aborted';
    clearInterval(this.heartbeat);
    this.wake?.();
    this.drained?.();
    this.running.clear();
    const ended = this.conn.status === 'end' ? Promise.resolve() : new Promise<void>((ok) => this.conn.once('end', () => ok()));
    this.conn.disconnect();
    await Promise.race([ended, new Promise((ok) => setTimeout(ok, 1_000).unref())]);
    await this.loop.catch(() => undefined);
    this.onGone();
  }
}
