import { expect } from 'chai';
import type { InvokerState } from '../../common/health.ts';
import { gcd, hashOf, ShardingScheduler, stepSizes, type SchedulerInvoker } from '../../loadbalancer/sharding.ts';

const invokers = (n: number, memoryMb = 1024, state: InvokerState = 'up'): SchedulerInvoker[] =>
  Array.from({ length: n }, (_, id) => ({ id, state, memoryMb }));

const scheduler = (list: SchedulerInvoker[], controllerCount = 1) => {
  const s = new ShardingScheduler({ controllerCount });
  s.update(list);
  return s;
};

const used = (s: ShardingScheduler) => s.load().map((l) => l.usedMb);

describe('ShardingScheduler', () => {
  it('sends the same action to the same home invoker while it has room', () => {
    const s = scheduler(invokers(5, 10_000));
    const first = s.schedule('ns', 'ns/pkg/act', 256)!;
    for (let i = 0; i < 20; i++) expect(s.schedule('ns', 'ns/pkg/act', 256)).to.deep.equal({ invokerId: first.invokerId, forced: false });
  });

  it('the home is hash mod n, and another namespace invoking the same action may have another home', () => {
    const s = scheduler(invokers(7, 10_000));
    expect(s.schedule('a', 'a/x', 128)!.invokerId).to.equal(hashOf('a', 'a/x') % 7);
    expect(hashOf('a', 'shared/x')).to.not.equal(hashOf('b', 'shared/x'));
    expect(hashOf('ab', 'c')).to.not.equal(hashOf('a', 'bc'));
  });

  it('spreads different actions over the invokers', () => {
    const s = scheduler(invokers(8, 1_000_000));
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 800; i++) counts[s.schedule('ns', `ns/action-${i}`, 128)!.invokerId]! += 1;
    // 100 expected each; a decent hash stays well within 50..150
    expect(Math.min(...counts)).to.be.greaterThan(50);
    expect(Math.max(...counts)).to.be.lessThan(150);
  });

  it('step sizes are coprime with n (and with each other, as OpenWhisk picks them)', () => {
    for (let n = 1; n <= 64; n++) {
      const steps = stepSizes(n);
      expect(steps[0]).to.equal(1);
      for (const a of steps) {
        expect(gcd(a, n), `step ${a} for n=${n}`).to.equal(1);
        for (const b of steps) if (a !== b) expect(gcd(a, b)).to.equal(1);
      }
    }
    expect(stepSizes(10)).to.deep.equal([1, 3, 7]);
  });

  it('the walk from home by a coprime step reaches every invoker: one action fills all of them before overflowing', () => {
    const s = scheduler(invokers(6, 512));
    const seen = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const p = s.schedule('ns', 'ns/a', 256)!;
      expect(p.forced).to.equal(false);
      seen.add(p.invokerId);
    }
    expect(seen.size).to.equal(6);
    expect(used(s)).to.deep.equal([512, 512, 512, 512, 512, 512]);
    expect(s.schedule('ns', 'ns/a', 256)!.forced).to.equal(true);
  });

  it('gives work only to up invokers; undefined when none is up', () => {
    const states: InvokerState[] = ['offline', 'unhealthy', 'up', 'unresponsive', 'draining'];
    const s = scheduler(states.map((state, id) => ({ id, state, memoryMb: 100_000 })));
    for (let i = 0; i < 200; i++) expect(s.schedule('ns', `ns/a${i}`, 128)!.invokerId).to.equal(2);
    const none = scheduler(invokers(3, 1024, 'unhealthy'));
    expect(none.schedule('ns', 'ns/a', 128)).to.equal(undefined);
    expect(new ShardingScheduler().schedule('ns', 'ns/a', 128)).to.equal(undefined);
  });

  it('when every up invoker is full, overflows to the least loaded one (forced), over its budget', () => {
    const s = scheduler(invokers(3, 1024));
    for (let i = 0; i < 12; i++) expect(s.schedule('ns', `ns/a${i}`, 256)!.forced).to.equal(false);
    expect(used(s)).to.deep.equal([1024, 1024, 1024]);
    const forced = [0, 1, 2].map(() => s.schedule('ns', 'ns/x', 256)!);
    expect(forced.every((p) => p.forced)).to.equal(true);
    // least loaded each time: the three land on three different invokers
    expect(new Set(forced.map((p) => p.invokerId)).size).to.equal(3);
    expect(used(s)).to.deep.equal([1280, 1280, 1280]);
  });

  it('overflow prefers the lowest share used, then the fewest in flight', () => {
    const s = scheduler([
      { id: 0, state: 'up', memoryMb: 512 },
      { id: 1, state: 'up', memoryMb: 1024 },
    ]);
    for (let i = 0; i < 6; i++) expect(s.schedule('ns', `ns/a${i % 3}`, 256)!.forced).to.equal(false);
    expect(used(s)).to.deep.equal([512, 1024]);
    // both 100 % used: invoker 0 has 2 in flight, invoker 1 has 4
    expect(s.schedule('ns', 'ns/x', 256)).to.deep.equal({ invokerId: 0, forced: true });
    // now 150 % against 100 %
    expect(s.schedule('ns', 'ns/x', 256)).to.deep.equal({ invokerId: 1, forced: true });
  });

  it('an action bigger than any free space goes to the least loaded invoker, forced', () => {
    const s = scheduler(invokers(2, 256));
    expect(s.schedule('ns', 'ns/big', 512)!.forced).to.equal(true);
  });

  it('release frees the memory and the in-flight count', () => {
    const s = scheduler(invokers(1, 512));
    const a = s.schedule('ns', 'ns/a', 256)!;
    s.schedule('ns', 'ns/a', 256);
    expect(s.schedule('ns', 'ns/a', 256)!.forced).to.equal(true);
    s.release(a.invokerId, 256);
    s.release(a.invokerId, 256);
    expect(s.load()[0]).to.include({ usedMb: 256, inFlight: 1 });
    s.release(a.invokerId, 256);
    s.release(a.invokerId, 256); // one too many: ignored, never negative
    s.release(99, 256); // unknown invoker: ignored
    expect(s.load()[0]).to.include({ usedMb: 0, inFlight: 0 });
    expect(s.schedule('ns', 'ns/a', 256)!.forced).to.equal(false);
  });

  it('an invoker going offline keeps its in-flight accounting; back up, it is neither lost nor doubled', () => {
    const s = scheduler(invokers(2, 512));
    const home = s.schedule('ns', 'ns/a', 256)!.invokerId;
    const other = 1 - home;
    s.schedule('ns', 'ns/a', 256); // home now full
    s.update([{ id: other, state: 'up', memoryMb: 512 }, { id: home, state: 'offline', memoryMb: 512 }]);
    expect(s.schedule('ns', 'ns/a', 256)!.invokerId).to.equal(other);
    expect(s.load()[home]).to.include({ state: 'offline', usedMb: 512, inFlight: 2 });
    // one of its activations completes while it is offline
    s.release(home, 256);
    // it disappears from the list entirely, then comes back up
    s.update([{ id: other, state: 'up', memoryMb: 512 }]);
    expect(s.load()[home]).to.include({ state: 'offline', usedMb: 256, inFlight: 1 });
    s.update(invokers(2, 512));
    expect(s.load()[home]).to.include({ state: 'up', usedMb: 256, inFlight: 1, totalMb: 512 });
    expect(s.schedule('ns', 'ns/a', 256)).to.deep.equal({ invokerId: home, forced: false });
    expect(s.schedule('ns', 'ns/a', 256)!.invokerId).to.equal(other);
  });

  it('missing ids are holes in the ring: homes do not move when an invoker disappears', () => {
    const full = scheduler(invokers(4, 100_000));
    const homes = Array.from({ length: 50 }, (_, i) => full.schedule('ns', `ns/a${i}`, 128)!.invokerId);
    const gap = scheduler(invokers(4, 100_000).filter((i) => i.id !== 1));
    homes.forEach((home, i) => {
      const got = gap.schedule('ns', `ns/a${i}`, 128)!.invokerId;
      if (home !== 1) expect(got).to.equal(home);
      else expect(got).to.not.equal(1);
    });
  });

  it('controllerCount divides each invoker memory between the controllers (never below 128 MB)', () => {
    const s = scheduler(invokers(2, 1024), 2);
    expect(s.load().map((l) => l.totalMb)).to.deep.equal([512, 512]);
    const tiny = scheduler(invokers(1, 256), 4);
    expect(tiny.load()[0]!.totalMb).to.equal(128);
    s.setControllerCount(4);
    expect(s.load().map((l) => l.totalMb)).to.deep.equal([256, 256]);
    expect(() => new ShardingScheduler({ controllerCount: 0 })).to.throw(RangeError);
  });

  it('memory changes from heartbeats resize the share, keeping what is used', () => {
    const s = scheduler(invokers(1, 512));
    s.schedule('ns', 'ns/a', 256);
    s.update(invokers(1, 2048));
    expect(s.load()[0]).to.include({ totalMb: 2048, usedMb: 256 });
  });

  describe('actions with concurrency above 1 (memory per container, as OpenWhisk\'s NestedSemaphore)', () => {
    const c100 = { concurrency: 100, revision: '1-a' };

    it('8 concurrent calls to a 256 MB action with concurrency 100 take 256 MB of a 2 GB invoker, not 2 GB', () => {
      const s = scheduler(invokers(1, 2048));
      const placed = Array.from({ length: 8 }, () => s.schedule('ns', 'ns/par', 256, c100)!);
      expect(placed.every((p) => p.invokerId === 0 && !p.forced)).to.equal(true);
      expect(s.load()[0]).to.include({ usedMb: 256, inFlight: 8 });
      // the invoker still has room for 7 other 256 MB actions
      for (let i = 0; i < 7; i++) expect(s.schedule('ns', `ns/other${i}`, 256)!.forced).to.equal(false);
      expect(s.schedule('ns', 'ns/one-too-many', 256)!.forced).to.equal(true);
    });

    it('the N+1st activation takes a second container; memory goes back a container at a time, all of it with the last', () => {
      const s = scheduler(invokers(1, 2048));
      const three = { concurrency: 3 };
      const p = Array.from({ length: 7 }, () => s.schedule('ns', 'ns/par', 256, three)!);
      expect(used(s), 'ceil(7 / 3) containers').to.deep.equal([768]);
      s.release(0, 256, p[0]!.shared);
      expect(used(s), '6 running fit in 2 containers').to.deep.equal([512]);
      s.release(0, 256, p[1]!.shared);
      expect(used(s), '5 running still need 2').to.deep.equal([512]);
      for (let i = 2; i < 6; i++) s.release(0, 256, p[i]!.shared);
      expect(used(s)).to.deep.equal([256]);
      s.release(0, 256, p[6]!.shared);
      expect(s.load()[0]).to.include({ usedMb: 0, inFlight: 0 });
    });

    it('a free slot in a counted container admits the action on a full invoker; other actions, namespaces and revisions do not share it', () => {
      const s = scheduler(invokers(1, 512));
      s.schedule('ns', 'ns/par', 256, c100);
      s.schedule('ns', 'ns/plain', 256);
      expect(used(s), 'full').to.deep.equal([512]);
      expect(s.schedule('ns', 'ns/par', 256, c100)!.forced, 'a slot of its container').to.equal(false);
      expect(s.schedule('ns', 'ns/par', 256, { concurrency: 100, revision: '2-b' })!.forced, 'another revision: another container').to.equal(true);
      expect(s.schedule('other', 'ns/par', 256, c100)!.forced, 'another invoking namespace: another container').to.equal(true);
      expect(s.schedule('ns', 'ns/par2', 256, c100)!.forced).to.equal(true);
      expect(used(s)).to.deep.equal([1280]);
    });

    it('concurrency 1 keeps memory per activation; a release with an unknown key frees nothing it did not take', () => {
      const s = scheduler(invokers(1, 2048));
      for (let i = 0; i < 3; i++) s.schedule('ns', 'ns/a', 256, { concurrency: 1 });
      expect(used(s)).to.deep.equal([768]);
      const shared = s.schedule('ns', 'ns/par', 256, c100)!;
      s.release(0, 256, 'not-a-key');
      expect(used(s), 'only the in-flight count moves').to.deep.equal([1024]);
      s.release(0, 256, shared.shared);
      expect(used(s)).to.deep.equal([768]);
    });
  });

  it('schedule is cheap: many calls over 100 invokers complete (figure measured in a scratch run)', () => {
    const s = scheduler(invokers(100, 1 << 30));
    for (let i = 0; i < 20_000; i++) {
      const p = s.schedule('guest', `guest/pkg/action-${i % 500}`, 256)!;
      s.release(p.invokerId, 256);
    }
    expect(s.load().every((l) => l.inFlight === 0)).to.equal(true);
  });
});
