import { expect } from 'chai';
import type { ActivationQuery, ActivationRecord } from '../../common/activation.ts';
import { silentLogger } from '../../common/logger.ts';
import { ActivationFeed } from '../../controller/activation-feed.ts';
import { testRecord } from '../support/records.ts';

/** A store of records by namespace that counts its reads. */
function fakeStore() {
  const records: ActivationRecord[] = [];
  let lists = 0;
  return {
    records,
    lists: () => lists,
    add: (ns: string, id: string, start = Date.now()) => records.push(testRecord({ namespace: ns, activationId: id.padEnd(32, '0'), start })),
    async listActivations(ns: string, q: ActivationQuery) {
      lists++;
      return records
        .filter((r) => r.namespace === ns && r.start >= (q.since ?? 0))
        .sort((a, b) => b.start - a.start)
        .slice(q.skip, q.skip + q.limit);
    },
    async getActivation(ns: string, id: string) {
      const r = records.find((x) => x.namespace === ns && x.activationId === id);
      if (!r) throw new Error('not found');
      return r;
    },
  };
}

const tick = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

describe('ActivationFeed (the activation stream’s source)', () => {
  it('carries each record stored after subscribing once, oldest first, only to its namespace’s listeners', async () => {
    const store = fakeStore();
    store.add('guest', 'a0', Date.now() - 1000);
    const feed = new ActivationFeed(store, silentLogger, { intervalMs: 20 });
    const guest: string[] = [];
    const alice: string[] = [];
    await feed.subscribe('guest', { record: (r) => guest.push(r.activationId.slice(0, 2)), end: () => undefined });
    await feed.subscribe('alice', { record: (r) => alice.push(r.activationId.slice(0, 2)), end: () => undefined });
    store.add('guest', 'b1', Date.now() - 10);
    store.add('guest', 'b2');
    store.add('alice', 'c1');
    await tick(80);
    expect(guest).to.deep.equal(['b1', 'b2']);
    expect(alice).to.deep.equal(['c1']);
    feed.close();
  });

  it('one reader per namespace however many listen; none once the last one leaves', async () => {
    const store = fakeStore();
    const feed = new ActivationFeed(store, silentLogger, { intervalMs: 20 });
    const stops = await Promise.all([1, 2, 3].map(() => feed.subscribe('guest', { record: () => undefined, end: () => undefined })));
    expect(feed.listeners('guest')).to.equal(3);
    const before = store.lists();
    await tick(100);
    // about one read per interval, not one per listener
    expect(store.lists() - before).to.be.within(2, 6);
    stops.forEach((stop) => stop());
    expect(feed.listeners('guest')).to.equal(0);
    const after = store.lists();
    await tick(60);
    expect(store.lists()).to.equal(after);
  });

  it('a record that started before the lookback is not carried', async () => {
    const store = fakeStore();
    const feed = new ActivationFeed(store, silentLogger, { intervalMs: 20, lookbackMs: 1000 });
    const got: string[] = [];
    await feed.subscribe('guest', { record: (r) => got.push(r.activationId.slice(0, 2)), end: () => undefined });
    store.add('guest', 'o1', Date.now() - 5000);
    store.add('guest', 'n1', Date.now() - 500);
    await tick(60);
    expect(got).to.deep.equal(['n1']);
    feed.close();
  });

  it('close ends every listener', async () => {
    const feed = new ActivationFeed(fakeStore(), silentLogger, { intervalMs: 20 });
    let ended = 0;
    await feed.subscribe('guest', { record: () => undefined, end: () => ended++ });
    await feed.subscribe('alice', { record: () => undefined, end: () => ended++ });
    feed.close();
    expect(ended).to.equal(2);
    expect(feed.listeners('guest')).to.equal(0);
  });
});
