import { expect } from 'chai';
import { TooManyRequestsError } from '../../common/errors.ts';
import { MemoryThrottleStore } from '../../common/throttle/memory.ts';
import type { ThrottleStore } from '../../common/throttle.ts';
import { Throttler } from '../../loadbalancer/throttles.ts';

class Clock {
  t = Date.UTC(2030, 0, 1, 12, 0, 0);
  now = () => this.t;
}

const DEFAULTS = { invocationsPerMinute: 5, concurrentInvocations: 2, firesPerMinute: 3 };

async function rejection(p: Promise<unknown> | undefined): Promise<TooManyRequestsError> {
  expect(p, 'a refusal is a rejected promise, never undefined (admitted)').to.be.instanceOf(Promise);
  const e = await p!.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a rejection').to.be.instanceOf(TooManyRequestsError);
  expect((e as TooManyRequestsError).status).to.equal(429);
  return e as TooManyRequestsError;
}

describe('Throttler', () => {
  let clock: Clock;
  let store: MemoryThrottleStore;
  let throttler: Throttler;
  const guest = { namespace: 'guest' };
  const later = () => clock.t + 60_000;

  beforeEach(() => {
    clock = new Clock();
    store = new MemoryThrottleStore({ now: clock.now });
    throttler = new Throttler(store, DEFAULTS);
  });
  afterEach(() => store.close());

  it('invocations per minute: the one over the limit gets OpenWhisk’s message; the next minute admits again', async () => {
    const many = new Throttler(store, { ...DEFAULTS, concurrentInvocations: 100 });
    for (let i = 0; i < 5; i++) await many.admitInvoke(guest, `a${i}`, later());
    const e = await rejection(many.admitInvoke(guest, 'a5', later()));
    expect(e.message).to.equal('Too many requests in the last minute (count: 6, allowed: 5).');
    // every attempt counts, as in OpenWhisk
    expect((await rejection(many.admitInvoke(guest, 'a6', later()))).message).to.contain('(count: 7, allowed: 5)');
    clock.t += 60_000;
    await many.admitInvoke(guest, 'a7', later());
  });

  it('concurrent invocations: OpenWhisk’s message counts those already in flight', async () => {
    await throttler.admitInvoke(guest, 'a1', later());
    await throttler.admitInvoke(guest, 'a2', later());
    const e = await rejection(throttler.admitInvoke(guest, 'a3', later()));
    expect(e.message).to.equal('Too many concurrent requests in flight (count: 2, allowed: 2).');
  });

  it('finished releases the slot', async () => {
    await throttler.admitInvoke(guest, 'a1', later());
    await throttler.admitInvoke(guest, 'a2', later());
    await throttler.finished('guest', 'a1');
    await throttler.admitInvoke(guest, 'a3', later());
  });

  it('a slot whose activation never finished frees itself at expiresAt', async () => {
    await throttler.admitInvoke(guest, 'a1', clock.t + 1_000);
    await throttler.admitInvoke(guest, 'a2', later());
    await rejection(throttler.admitInvoke(guest, 'a3', later()));
    clock.t += 1_000;
    await throttler.admitInvoke(guest, 'a4', later());
  });

  it('a rejected invoke holds no concurrency slot (rate rejection, concurrency rejection)', async () => {
    const one = new Throttler(store, { ...DEFAULTS, invocationsPerMinute: 1, concurrentInvocations: 10 });
    await one.admitInvoke(guest, 'a1', later());
    await rejection(one.admitInvoke(guest, 'a2', later())); // rate
    // only a1 holds a slot: a probe under max 2 is taken as the second
    expect(await store.acquire('concurrent:guest', 'probe', 2, later())).to.deep.equal({ taken: true, held: 2 });

    const other = { namespace: 'other' };
    await throttler.admitInvoke(other, 'b1', later());
    await throttler.admitInvoke(other, 'b2', later());
    await rejection(throttler.admitInvoke(other, 'b3', later())); // concurrency
    await throttler.finished('other', 'b1');
    // exactly one slot free: b3 did not keep one
    await throttler.admitInvoke(other, 'b4', later());
    await rejection(throttler.admitInvoke(other, 'b5', later()));
  });

  it('with the store in memory, admission makes no promise: admitted at once (undefined); a refusal or a closed store is a rejected promise, never a throw', async () => {
    const one = new Throttler(store, { ...DEFAULTS, invocationsPerMinute: 1 });
    expect(one.admitInvoke(guest, 'a1', later())).to.equal(undefined);
    expect(one.finished('guest', 'a1')).to.equal(undefined);
    const refused = one.admitInvoke(guest, 'a2', later());
    expect((await rejection(refused)).message).to.contain('(count: 2, allowed: 1)');
    await store.close();
    const closed = throttler.admitInvoke({ namespace: 'other' }, 'b1', later());
    expect(closed).to.be.instanceOf(Promise);
    expect(await closed!.then(() => 'admitted', (e: Error) => e.message)).to.equal('MemoryThrottleStore is closed');
    const release = throttler.finished('other', 'b1');
    expect(release).to.be.instanceOf(Promise);
    expect(await release!.then(() => 'released', (e: Error) => e.message)).to.equal('MemoryThrottleStore is closed');
  });

  it('checks the rate before concurrency, and a rate rejection does not touch the slots', async () => {
    const calls: string[] = [];
    const spy: ThrottleStore = {
      name: 'memory',
      hit: async (key, now) => (calls.push(`hit ${key}`), store.hit(key, now)),
      acquire: async (key, id, max, until) => (calls.push(`acquire ${key}`), store.acquire(key, id, max, until)),
      release: async (key, id) => (calls.push(`release ${key}`), store.release(key, id)),
      ping: async () => true,
      close: async () => {},
    };
    const t = new Throttler(spy, { ...DEFAULTS, invocationsPerMinute: 1 });
    await t.admitInvoke(guest, 'a1', later());
    await rejection(t.admitInvoke(guest, 'a2', later()));
    expect(calls).to.deep.equal(['hit invocations:guest', 'acquire concurrent:guest', 'hit invocations:guest']);
  });

  it('per-namespace limits in the identity override the defaults; namespaces are counted apart', async () => {
    const vip = { namespace: 'vip', limits: { concurrentInvocations: 4, invocationsPerMinute: 100 } };
    for (let i = 0; i < 4; i++) await throttler.admitInvoke(vip, `v${i}`, later());
    expect((await rejection(throttler.admitInvoke(vip, 'v4', later()))).message).to.equal(
      'Too many concurrent requests in flight (count: 4, allowed: 4).',
    );
    // guest is unaffected and keeps the defaults
    await throttler.admitInvoke(guest, 'g1', later());
    await throttler.admitInvoke(guest, 'g2', later());
    await rejection(throttler.admitInvoke(guest, 'g3', later()));
    // an override of 0 blocks
    const blocked = { namespace: 'blocked', limits: { invocationsPerMinute: 0 } };
    expect((await rejection(throttler.admitInvoke(blocked, 'x', later()))).message).to.equal(
      'Too many requests in the last minute (count: 1, allowed: 0).',
    );
  });

  it('trigger fires per minute, apart from invocations', async () => {
    for (let i = 0; i < 3; i++) await throttler.admitFire(guest);
    expect((await rejection(throttler.admitFire(guest))).message).to.equal('Too many requests in the last minute (count: 4, allowed: 3).');
    await throttler.admitInvoke(guest, 'a1', later());
    await throttler.admitFire({ namespace: 'guest', limits: { firesPerMinute: 10 } });
    clock.t += 60_000;
    await throttler.admitFire(guest);
  });
});
