import { Socket, connect } from 'node:net';
import { expect } from 'chai';
import { type Consumer, type EachMessagePayload, type ISocketFactory, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { KafkaBus } from '../../common/bus/kafka.ts';
import { ServiceUnavailableError } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { KafkaTestBroker } from '../support/kafka-broker/index.ts';

/**
 * The Kafka test broker against kafkajs 2.2.4 over TCP (no mocks): producer, consumer
 * groups with several members, offsets, a killed member's partitions moving after its
 * session timeout, and long-poll fetch latency. Then KafkaBus on it: an outage, and the
 * latency/throughput figures (printed).
 */

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** A socket factory whose connections a test can cut as a crash would (no LeaveGroup gets out). */
function killable(): { socketFactory: ISocketFactory; kill(): void } {
  const sockets: Socket[] = [];
  let killed = false;
  return {
    socketFactory: ({ host, port, onConnect }) => {
      const socket = killed ? new Socket() : connect({ host, port, noDelay: true }, onConnect);
      if (killed) process.nextTick(() => socket.destroy(new Error('killed')));
      sockets.push(socket);
      return socket;
    },
    kill() {
      killed = true;
      for (const s of sockets) s.destroy(new Error('killed'));
    },
  };
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

describe('Kafka test broker with kafkajs', function () {
  this.timeout(30_000);
  let broker: KafkaTestBroker;
  let closers: (() => Promise<unknown>)[] = [];
  let serial = 0;
  const unique = (prefix: string) => `${prefix}-${process.pid}-${++serial}`;

  const client = (socketFactory?: ISocketFactory) =>
    new Kafka({ brokers: broker.brokers, clientId: unique('test'), logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50 }, ...(socketFactory ? { socketFactory } : {}) });

  const producer = async (): Promise<Producer> => {
    const p = client().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await p.connect();
    closers.push(() => p.disconnect());
    return p;
  };

  /** A running consumer that records what it gets and which partitions it holds. */
  const member = async (topic: string, groupId: string, opts: { socketFactory?: ISocketFactory; autoCommit?: boolean; maxWaitTimeInMs?: number; onMessage?: (p: EachMessagePayload) => void } = {}) => {
    const consumer: Consumer = client(opts.socketFactory).consumer({ groupId, sessionTimeout: 1_000, heartbeatInterval: 100, maxWaitTimeInMs: opts.maxWaitTimeInMs ?? 100 });
    const got: { partition: number; offset: string; value: string }[] = [];
    const state = { assigned: [] as number[], joins: 0 };
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      state.assigned = payload.memberAssignment[topic] ?? [];
      state.joins++;
    });
    await consumer.connect();
    closers.push(() => consumer.disconnect());
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: opts.autoCommit ?? true,
      autoCommitInterval: 50,
      eachMessage: async (p) => {
        got.push({ partition: p.partition, offset: p.message.offset, value: p.message.value!.toString() });
        opts.onMessage?.(p);
      },
    });
    return { consumer, got, state, values: () => got.map((m) => m.value) };
  };

  beforeEach(async () => {
    broker = await KafkaTestBroker.start({ onError: (e) => console.error('broker:', e) });
  });
  afterEach(async function () {
    this.timeout(20_000);
    for (const close of closers.reverse()) await close().catch(() => undefined);
    closers = [];
    await broker.close();
  });

  it('creates topics, produces with acks=all, consumes in order and lists earliest/latest offsets', async () => {
    const topic = unique('t');
    const admin = client().admin();
    await admin.connect();
    closers.push(() => admin.disconnect());
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })).to.equal(true);
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })).to.equal(false);
    expect(await admin.listTopics()).to.include(topic);
    const p = await producer();
    const sent = await p.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) });
    expect(sent[0]).to.include({ errorCode: 0, baseOffset: '0' });
    await p.send({ topic, acks: -1, messages: [{ value: 'm10', key: 'k', headers: { h: 'v' } }] });
    expect(await admin.fetchTopicOffsets(topic)).to.deep.equal([{ partition: 0, offset: '11', high: '11', low: '0' }]);
    const c = await member(topic, unique('g'));
    await until(() => c.got.length === 11, 5_000, 'all messages');
    expect(c.values()).to.deep.equal(Array.from({ length: 11 }, (_, i) => `m${i}`));
    expect(c.got.map((m) => m.offset)).to.deep.equal(Array.from({ length: 11 }, (_, i) => String(i)));
  });

  it('auto-creates a topic a producer writes to', async () => {
    const topic = unique('auto');
    const p = await producer();
    await p.send({ topic, messages: [{ value: 'x' }] });
    expect(broker.topics.has(topic)).to.equal(true);
  });

  it('splits partitions between two members and rebalances when one joins or leaves', async () => {
    const topic = unique('t');
    const groupId = unique('g');
    broker.topics.create(topic, 2);
    const p = await producer();
    const a = await member(topic, groupId);
    await until(() => a.state.assigned.length === 2, 5_000, 'a owns both partitions');
    const b = await member(topic, groupId);
    await until(() => a.state.assigned.length === 1 && b.state.assigned.length === 1, 10_000, 'the split');
    expect([...a.state.assigned, ...b.state.assigned].sort()).to.deep.equal([0, 1]);

    const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
    await p.send({ topic, acks: -1, messages: values.map((value, i) => ({ value, partition: i % 2 })) });
    await until(() => a.got.length + b.got.length === 20, 5_000, 'all messages');
    expect([...a.values(), ...b.values()].sort()).to.deep.equal([...values].sort());
    expect(a.got.every((m) => a.state.assigned.includes(m.partition))).to.equal(true);
    expect(b.got.every((m) => b.state.assigned.includes(m.partition))).to.equal(true);
    // let the auto-commit land before b leaves, so nothing is read twice
    await sleep(300);

    await b.consumer.disconnect(); // leaves the group
    await until(() => a.state.assigned.length === 2, 10_000, 'a to take both partitions again');
    await p.send({ topic, acks: -1, messages: [{ value: 'after0', partition: 0 }, { value: 'after1', partition: 1 }] });
    await until(() => a.values().includes('after0') && a.values().includes('after1'), 5_000, 'a to get both');
    expect([...a.values(), ...b.values()].filter((v) => v.startsWith('v'))).to.have.length(20);
  });

  it('commits offsets per group and resumes from them', async () => {
    const topic = unique('t');
    const groupId = unique('g');
    const p = await producer();
    await p.send({ topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) });
    const first = await member(topic, groupId, { autoCommit: false });
    await until(() => first.got.length === 10, 5_000, 'first read');
    await first.consumer.commitOffsets([{ topic, partition: 0, offset: '6' }]);
    const admin = client().admin();
    await admin.connect();
    closers.push(() => admin.disconnect());
    const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(fetched!.partitions).to.have.length(1);
    expect(fetched!.partitions[0]).to.include({ partition: 0, offset: '6' });
    await first.consumer.disconnect();

    const second = await member(topic, groupId);
    await until(() => second.got.length === 4, 5_000, 'the rest');
    expect(second.values()).to.deep.equal(['m6', 'm7', 'm8', 'm9']);
    // another group has its own offsets
    const other = await member(topic, unique('g'));
    await until(() => other.got.length === 10, 5_000, 'another group');
  });

  it("moves a killed member's partitions to the other member after the session timeout", async () => {
    const topic = unique('t');
    const groupId = unique('g');
    broker.topics.create(topic, 2);
    const p = await producer();
    const cut = killable();
    const doomed = await member(topic, groupId, { socketFactory: cut.socketFactory, autoCommit: false });
    await until(() => doomed.state.assigned.length === 2, 5_000, 'the first member to join');
    const survivor = await member(topic, groupId, { autoCommit: false });
    await until(() => doomed.state.assigned.length === 1 && survivor.state.assigned.length === 1, 10_000, 'the split');
    const lost = doomed.state.assigned[0]!;
    await p.send({ topic, acks: -1, messages: [{ value: 'unacked', partition: lost }] });
    await until(() => doomed.values().includes('unacked'), 5_000, 'the doomed member to receive it');

    const killedAt = Date.now();
    cut.kill(); // no LeaveGroup, no commit: the broker only notices the silence
    await until(() => survivor.values().includes('unacked'), 10_000, 'redelivery to the survivor');
    const took = Date.now() - killedAt;
    expect(survivor.state.assigned.sort()).to.deep.equal([0, 1]);
    expect(took).to.be.greaterThan(900); // the session timeout (1 s), not earlier
    console.log(`      partition moved ${took} ms after the kill (session timeout 1000 ms)`);
  });

  it('answers a waiting fetch as soon as data arrives (long poll)', async () => {
    const topic = unique('t');
    broker.topics.create(topic, 1);
    const p = await producer();
    let arrived = 0;
    const c = await member(topic, unique('g'), { maxWaitTimeInMs: 5_000, onMessage: () => (arrived = performance.now()) });
    await until(() => c.state.joins > 0, 5_000, 'the join');
    await sleep(300); // the consumer's fetch is now parked at the broker
    const sentAt = performance.now();
    await p.send({ topic, acks: -1, messages: [{ value: 'ping' }] });
    await until(() => c.got.length === 1, 2_000, 'the message');
    const latency = arrived - sentAt;
    expect(latency).to.be.lessThan(100);

    const samples: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await p.send({ topic, acks: -1, messages: [{ value: `s${i}` }] });
      await until(() => c.got.length === i + 2, 2_000, `message ${i}`);
      samples.push(arrived - t0);
    }
    samples.sort((x, y) => x - y);
    console.log(`      kafkajs produce→consume: p50 ${percentile(samples, 50).toFixed(2)} ms, p99 ${percentile(samples, 99).toFixed(2)} ms (first, after an idle wait: ${latency.toFixed(2)} ms)`);
  });
});

describe('KafkaBus on the Kafka test broker', function () {
  this.timeout(60_000);
  let broker: KafkaTestBroker;
  let bus: KafkaBus;
  let serial = 0;
  const unique = (prefix: string) => `${prefix}-${process.pid}-${++serial}`;

  beforeEach(async () => {
    broker = await KafkaTestBroker.start();
    bus = new KafkaBus({ brokers: broker.brokers, clientId: unique('bus'), log: silentLogger, sessionTimeoutMs: 2_000 });
  });
  afterEach(async function () {
    this.timeout(20_000);
    await bus.close();
    await broker.close();
  });

  it('rejects produce with ServiceUnavailableError while the broker is down and recovers after it returns', async () => {
    const topic = unique('t');
    await bus.ensureTopics([topic]);
    await bus.produce(topic, ['before']);
    await broker.stop();
    const startedAt = Date.now();
    const error = await bus.produce(topic, ['during']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(ServiceUnavailableError);
    expect(Date.now() - startedAt).to.be.lessThan(10_000);
    expect(await bus.ping()).to.equal(false);
    await broker.restart();
    await bus.produce(topic, ['after']);
    expect(await bus.ping()).to.equal(true);
    const got: string[] = [];
    await bus.subscribe({ topic, group: 'g', consumerId: 'c', maxInFlight: 4, handler: async (m) => void got.push(m.value.toString()) });
    await until(() => got.includes('after'), 10_000, 'the message produced after the outage');
    expect(got[0]).to.equal('before');
  });

  it('delivers single messages within a few ms and streams (figures printed)', async () => {
    const topic = unique('t');
    await bus.ensureTopics([topic]);
    let received = 0;
    let arrived = 0;
    await bus.subscribe({
      topic,
      group: 'g',
      consumerId: 'c',
      maxInFlight: 64,
      handler: async () => {
        received++;
        arrived = performance.now();
      },
    });
    await bus.produce(topic, ['warm-up']);
    await until(() => received === 1, 10_000, 'the warm-up message');

    const samples: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t0 = performance.now();
      await bus.produce(topic, [`s${i}`]);
      await until(() => received === i + 2, 2_000, `message ${i}`);
      samples.push(arrived - t0);
    }
    samples.sort((x, y) => x - y);
    const [p50, p99] = [percentile(samples, 50), percentile(samples, 99)];

    const n = 20_000;
    const before = received;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, (_, i) => bus.produce(topic, [`stream${i}`])));
    const producedMs = performance.now() - t0;
    await until(() => received === before + n, 30_000, 'the stream');
    const totalMs = performance.now() - t0;
    console.log(
      `      KafkaBus produce→handler: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; stream of ${n} single-message produce() calls: ` +
        `${Math.round(n / (producedMs / 1000))} msg/s produced, ${Math.round(n / (totalMs / 1000))} msg/s end to end`,
    );
    expect(p50).to.be.lessThan(5);
  });
});
