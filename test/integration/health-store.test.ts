import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { ServiceUnavailableError } from '../../common/errors.ts';
import type { HealthStore, InvokerHeartbeat } from '../../common/health.ts';
import { MemoryHealthStore } from '../../common/health/memory.ts';
import { RedisHealthStore } from '../../common/health/redis.ts';
import { silentLogger } from '../../common/logger.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

interface Subject {
  store: HealthStore;
  /** Kill and restart the backing server (stores that have one). */
  outage?: { stop(): Promise<void>; start(): Promise<void> };
  teardown(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const heartbeat = (id: number, extra: Partial<InvokerHeartbeat> = {}): InvokerHeartbeat => ({
  id,
  status: 'up',
  memoryMb: 2048,
  running: 0,
  queued: 0,
  containers: 0,
  startedAt: 1_700_000_000_000,
  at: Date.now(),
  ...extra,
});

/** Retry `fn` until it succeeds or `ms` pass (recovery after an outage takes a reconnect). */
async function eventually<T>(fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(100);
    }
  }
}

/** The HealthStore contract, run against every implementation. */
function healthStoreConformance(name: string, open: () => Promise<Subject>, caps: { outage: boolean }): void {
  describe(`HealthStore conformance: ${name}`, function () {
    let s: Subject;
    beforeEach(async () => (s = await open()));
    afterEach(async () => s.teardown());

    it('knows nothing before the first beat', async () => {
      expect(await s.store.invokers()).to.deep.equal([]);
      expect(await s.store.ping()).to.equal(true);
    });

    it('keeps the last heartbeat of each invoker, live within its TTL, sorted by id', async () => {
      await s.store.beat(heartbeat(2, { running: 1 }), 10_000);
      await s.store.beat(heartbeat(0), 10_000);
      await s.store.beat(heartbeat(1, { status: 'draining' }), 10_000);
      await s.store.beat(heartbeat(2, { running: 5, url: 'http://127.0.0.1:1' }), 10_000);
      const all = await s.store.invokers();
      expect(all.map((k) => k.heartbeat.id)).to.deep.equal([0, 1, 2]);
      expect(all.every((k) => k.live)).to.equal(true);
      expect(all[1]!.heartbeat.status).to.equal('draining');
      expect(all[2]!.heartbeat).to.include({ running: 5, url: 'http://127.0.0.1:1' });
    });

    it('an invoker whose TTL passed without a beat is not live, but still known with its last heartbeat', async () => {
      await s.store.beat(heartbeat(0, { running: 3 }), 150);
      await s.store.beat(heartbeat(1), 10_000);
      await sleep(250);
      const [a, b] = await s.store.invokers();
      expect(a).to.deep.include({ live: false });
      expect(a!.heartbeat.running).to.equal(3);
      expect(b).to.deep.include({ live: true });
    });

    it('a new beat makes an expired invoker live again', async () => {
      await s.store.beat(heartbeat(4), 100);
      await sleep(200);
      expect((await s.store.invokers())[0]!.live).to.equal(false);
      await s.store.beat(heartbeat(4), 10_000);
      expect((await s.store.invokers())[0]!.live).to.equal(true);
    });

    it('forget removes an invoker; others stay', async () => {
      await s.store.beat(heartbeat(0), 10_000);
      await s.store.beat(heartbeat(1), 10_000);
      await s.store.forget(0);
      await s.store.forget(7); // unknown: no error
      expect((await s.store.invokers()).map((k) => k.heartbeat.id)).to.deep.equal([1]);
    });

    if (caps.outage) it('an outage is a ServiceUnavailableError and service resumes when the server returns', async function () {
      if (!s.outage) throw new Error('the subject has no outage control');
      this.timeout(30_000);
      await s.store.beat(heartbeat(0), 10_000);
      await s.outage.stop();
      const err = await s.store.invokers().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(ServiceUnavailableError);
      expect(await s.store.ping()).to.equal(false);
      await s.outage.start();
      // the restarted server is empty; invokers beat again
      await eventually(() => s.store.beat(heartbeat(0), 10_000));
      const all = await s.store.invokers();
      expect(all.map((k) => [k.heartbeat.id, k.live])).to.deep.equal([[0, true]]);
    });
  });
}

healthStoreConformance('memory', async () => {
  const store = new MemoryHealthStore();
  return { store, teardown: () => store.close() };
}, { outage: false });

describe('redis-server for the health store', function () {
  let redis: TestRedis;
  before(async function () {
    this.timeout(20_000);
    redis = await startRedis();
  });
  after(async () => redis?.cleanup());

  healthStoreConformance('redis', async () => {
    const store = new RedisHealthStore({ url: redis.url, log: silentLogger, prefix: `t${randomBytes(4).toString('hex')}:` });
    await store.ready();
    return { store, outage: { stop: () => redis.stop(), start: () => redis.start() }, teardown: () => store.close() };
  }, { outage: true });

  it('several controllers share one view: a second store on another connection sees the same invokers', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const a = new RedisHealthStore({ url: redis.url, log: silentLogger, prefix });
    const b = new RedisHealthStore({ url: redis.url, log: silentLogger, prefix });
    try {
      await Promise.all([a.ready(), b.ready()]);
      await a.beat(heartbeat(3), 10_000);
      expect((await b.invokers()).map((k) => [k.heartbeat.id, k.live])).to.deep.equal([[3, true]]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
