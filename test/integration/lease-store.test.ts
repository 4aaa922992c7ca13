import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { ServiceUnavailableError } from '../../common/errors.ts';
import type { LeaseStore } from '../../common/lease.ts';
import { MemoryLeaseStore } from '../../common/lease/memory.ts';
import { RedisLeaseStore } from '../../common/lease/redis.ts';
import { silentLogger } from '../../common/logger.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Subject {
  /** Two views of one lease store, as two controllers have. */
  a: LeaseStore;
  b: LeaseStore;
  teardown(): Promise<void>;
}

/** The LeaseStore contract, run against every implementation. */
function leaseStoreConformance(name: string, open: () => Promise<Subject>): void {
  describe(`LeaseStore conformance: ${name}`, function () {
    let s: Subject;
    beforeEach(async () => (s = await open()));
    afterEach(async () => s.teardown());

    it('the first to take a key gets it; the holder is recorded; others are refused while it lasts', async () => {
      expect(await s.a.take('tick:1', 'c0', 10_000)).to.equal(true);
      expect(await s.b.take('tick:1', 'c1', 10_000)).to.equal(false);
      expect(await s.a.take('tick:1', 'c0', 10_000)).to.equal(false); // not re-entrant: a tick fires once
      expect(await s.b.holder('tick:1')).to.equal('c0');
      expect(await s.b.take('tick:2', 'c1', 10_000)).to.equal(true);
      expect(await s.a.holder('never')).to.equal(undefined);
    });

    it('a lease runs out by itself and can then be taken again', async () => {
      expect(await s.a.take('short', 'c0', 150)).to.equal(true);
      expect(await s.b.take('short', 'c1', 150)).to.equal(false);
      await sleep(250);
      expect(await s.a.holder('short')).to.equal(undefined);
      expect(await s.b.take('short', 'c1', 10_000)).to.equal(true);
      expect(await s.a.holder('short')).to.equal('c1');
    });

    it('of 40 concurrent takes of one key from two stores exactly one wins', async () => {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? s.a : s.b).take('race', `c${i}`, 10_000)));
      expect(results.filter(Boolean)).to.have.length(1);
    });

    it('ping answers', async () => {
      expect(await s.a.ping()).to.equal(true);
    });
  });
}

leaseStoreConformance('memory', async () => {
  const store = new MemoryLeaseStore();
  return { a: store, b: store, teardown: () => store.close() };
});

describe('redis-server for the lease store', function () {
  let redis: TestRedis;
  before(async function () {
    this.timeout(20_000);
    redis = await startRedis();
  });
  after(async () => redis?.cleanup());

  leaseStoreConformance('redis', async () => {
    const prefix = `l${randomBytes(4).toString('hex')}:`;
    const a = new RedisLeaseStore({ url: redis.url, log: silentLogger, prefix });
    const b = new RedisLeaseStore({ url: redis.url, log: silentLogger, prefix });
    await Promise.all([a.ready(), b.ready()]);
    return { a, b, teardown: async () => (await a.close(), await b.close()) };
  });

  it('an outage is a ServiceUnavailableError (a tick is then skipped, never fired twice)', async function () {
    this.timeout(30_000);
    const store = new RedisLeaseStore({ url: redis.url, log: silentLogger, prefix: `l${randomBytes(4).toString('hex')}:` });
    try {
      await store.ready();
      await redis.stop();
      const err = await store.take('k', 'c0', 1_000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(ServiceUnavailableError);
      expect(await store.ping()).to.equal(false);
    } finally {
      await redis.start();
      await store.close();
    }
  });
});
