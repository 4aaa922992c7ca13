import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { ServiceUnavailableError } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import type { ThrottleStore } from '../../common/throttle.ts';
import { MemoryThrottleStore } from '../../common/throttle/memory.ts';
import { RedisThrottleStore } from '../../common/throttle/redis.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

/** A clock the test moves; both stores read expiry time from it. */
class Clock {
  t = Date.UTC(2030, 0, 1, 12, 0, 0);
  now = () => this.t;
}

interface Subject {
  store: ThrottleStore;
  clock: Clock;
  outage?: { stop(): Promise<void>; start(): Promise<void> };
  teardown(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(fn: () => T | Promise<T>, ms = 10_000): Promise<T> {
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

/** The ThrottleStore contract, run against every implementation. */
function throttleStoreConformance(name: string, open: (clock: Clock) => Promise<Subject>, caps: { outage: boolean }): void {
  describe(`ThrottleStore conformance: ${name}`, function () {
    let s: Subject;
    beforeEach(async () => (s = await open(new Clock())));
    afterEach(async () => s.teardown());

    it('hit counts per key within a minute, this hit included', async () => {
      const t = s.clock.t;
      expect(await s.store.hit('a', t)).to.equal(1);
      expect(await s.store.hit('a', t + 1_000)).to.equal(2);
      expect(await s.store.hit('b', t + 2_000)).to.equal(1);
      expect(await s.store.hit('a', t + 59_999)).to.equal(3);
    });

    it('windows are fixed minutes: the count starts again when the minute rolls over', async () => {
      const start = s.clock.t + 30_000; // half way into a minute
      expect(await s.store.hit('k', start)).to.equal(1);
      expect(await s.store.hit('k', start + 29_999)).to.equal(2);
      expect(await s.store.hit('k', start + 30_000)).to.equal(1); // next minute
      expect(await s.store.hit('k', start + 89_999)).to.equal(2);
      expect(await s.store.hit('k', start + 90_000)).to.equal(1);
    });

    it('hit without now uses the current time', async () => {
      expect(await s.store.hit('n')).to.equal(1);
      expect(await s.store.hit('n')).to.be.oneOf([1, 2]); // 1 only if a minute boundary fell between
    });

    it('acquire takes slots up to max; held counts them; the next is refused', async () => {
      const until = s.clock.t + 60_000;
      expect(await s.store.acquire('c', 'a1', 2, until)).to.deep.equal({ taken: true, held: 1 });
      expect(await s.store.acquire('c', 'a2', 2, until)).to.deep.equal({ taken: true, held: 2 });
      expect(await s.store.acquire('c', 'a3', 2, until)).to.deep.equal({ taken: false, held: 2 });
      expect(await s.store.acquire('other', 'a3', 2, until)).to.deep.equal({ taken: true, held: 1 });
    });

    it('acquiring a held id again keeps one slot (a retried admission)', async () => {
      const until = s.clock.t + 60_000;
      await s.store.acquire('c', 'a1', 2, until);
      expect(await s.store.acquire('c', 'a1', 2, until + 1)).to.deep.equal({ taken: true, held: 1 });
    });

    it('release frees a slot; releasing an unknown id or key is harmless', async () => {
      const until = s.clock.t + 60_000;
      await s.store.acquire('c', 'a1', 1, until);
      expect((await s.store.acquire('c', 'a2', 1, until)).taken).to.equal(false);
      await s.store.release('c', 'a1');
      await s.store.release('c', 'a1');
      await s.store.release('nothing', 'x');
      expect(await s.store.acquire('c', 'a2', 1, until)).to.deep.equal({ taken: true, held: 1 });
    });

    it('a slot frees itself when it expires (a lost release)', async () => {
      await s.store.acquire('c', 'short', 2, s.clock.t + 1_000);
      await s.store.acquire('c', 'long', 2, s.clock.t + 60_000);
      expect((await s.store.acquire('c', 'x', 2, s.clock.t + 60_000)).taken).to.equal(false);
      s.clock.t += 1_000; // expiresAt reached
      expect(await s.store.acquire('c', 'x', 2, s.clock.t + 60_000)).to.deep.equal({ taken: true, held: 2 });
    });

    it('concurrent acquires never exceed max (50 at once, max 10)', async () => {
      const until = s.clock.t + 60_000;
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => s.store.acquire('burst', `a${i}`, 10, until)));
      expect(results.filter((r) => r.taken)).to.have.length(10);
      expect(Math.max(...results.map((r) => r.held))).to.equal(10);
      expect(results.filter((r) => !r.taken).every((r) => r.held === 10)).to.equal(true);
    });

    it('ping answers', async () => {
      expect(await s.store.ping()).to.equal(true);
    });

    if (caps.outage) {
      it('an outage is a ServiceUnavailableError and service resumes when the server returns', async function () {
        if (!s.outage) throw new Error('the subject has no outage control');
        this.timeout(30_000);
        await s.outage.stop();
        for (const op of [() => s.store.hit('k'), () => s.store.acquire('c', 'a', 1, s.clock.t + 1_000), () => s.store.release('c', 'a')]) {
          const err = await Promise.resolve()
            .then(() => op() as unknown)
            .then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).to.be.instanceOf(ServiceUnavailableError);
        }
        expect(await s.store.ping()).to.equal(false);
        await s.outage.start();
        // a restarted Redis has lost the script cache too: acquire must load it again
        expect(await eventually(() => s.store.acquire('c', 'a', 1, s.clock.t + 1_000))).to.deep.equal({ taken: true, held: 1 });
        expect(await s.store.hit('k', s.clock.t)).to.equal(1);
      });
    }
  });
}

throttleStoreConformance('memory', async (clock) => {
  const store = new MemoryThrottleStore({ now: clock.now });
  return { store, clock, teardown: () => store.close() };
}, { outage: false });

describe('redis-server for the throttle store', function () {
  let redis: TestRedis;
  before(async function () {
    this.timeout(20_000);
    redis = await startRedis();
  });
  after(async () => redis?.cleanup());

  throttleStoreConformance('redis', async (clock) => {
    const store = new RedisThrottleStore({ url: redis.url, log: silentLogger, prefix: `t${randomBytes(4).toString('hex')}:`, now: clock.now });
    await store.ready();
    return { store, clock, outage: { stop: () => redis.stop(), start: () => redis.start() }, teardown: () => store.close() };
  }, { outage: true });

  it('two controllers (two connections) share the slots: 50 acquires split across them stop at max', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const a = new RedisThrottleStore({ url: redis.url, log: silentLogger, prefix });
    const b = new RedisThrottleStore({ url: redis.url, log: silentLogger, prefix });
    try {
      await Promise.all([a.ready(), b.ready()]);
      const until = Date.now() + 60_000;
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).acquire('ns', `a${i}`, 10, until)));
      expect(results.filter((r) => r.taken)).to.have.length(10);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the slot key expires by itself after its last slot', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const store = new RedisThrottleStore({ url: redis.url, log: silentLogger, prefix });
    const { Redis } = await import('ioredis');
    const probe = new Redis(redis.url);
    try {
      await store.ready();
      await store.acquire('ns', 'a', 1, Date.now() + 5_000);
      const ttl = await probe.pttl(`${prefix}slots:ns`);
      expect(ttl).to.be.greaterThan(60_000).and.at.most(65_000);
      await store.hit('ns');
      const keys = await probe.keys(`${prefix}hit:*`);
      expect(keys).to.have.length(1);
      expect(await probe.pttl(keys[0]!)).to.be.within(60_000, 120_000);
    } finally {
      probe.disconnect();
      await store.close();
    }
  });
});
