import { expect } from 'chai';
import type { HealthStore, InvokerHeartbeat, InvokerState } from '../../common/health.ts';
import { MemoryHealthStore } from '../../common/health/memory.ts';
import { silentLogger } from '../../common/logger.ts';
import { HealthMonitor, type HealthChange, type HealthMonitorOptions } from '../../loadbalancer/health-monitor.ts';
import type { SchedulerInvoker } from '../../loadbalancer/sharding.ts';

/** The recommended timing: beat every 1 s with a 5 s TTL, poll every 1 s. */
const BEAT_MS = 1_000;
const TTL_MS = 5_000;
const POLL_MS = 1_000;

class Clock {
  t = 1_000_000;
  now = () => this.t;
}

const beat = (id: number, at: number, extra: Partial<InvokerHeartbeat> = {}): InvokerHeartbeat => ({
  id,
  status: 'up',
  memoryMb: 1024,
  running: 0,
  queued: 0,
  containers: 0,
  startedAt: 1,
  at,
  ...extra,
});

describe('HealthMonitor', () => {
  let clock: Clock;
  let store: MemoryHealthStore;
  let monitor: HealthMonitor;
  let changes: HealthChange[];
  let fed: SchedulerInvoker[][];

  const open = (opts: Partial<HealthMonitorOptions> = {}, s: HealthStore = store) => {
    monitor = new HealthMonitor(s, { log: silentLogger, pollMs: POLL_MS, now: clock.now, scheduler: { update: (l) => fed.push(l) }, ...opts });
    monitor.onChange((c) => changes.push(c));
    return monitor;
  };
  const state = (id: number): InvokerState | undefined => monitor.state(id);

  beforeEach(() => {
    clock = new Clock();
    store = new MemoryHealthStore({ now: clock.now });
    changes = [];
    fed = [];
  });
  afterEach(async () => {
    await monitor?.close();
    await store.close();
  });

  it('an invoker that stops heartbeating is offline within TTL + poll (< 10 s) of its last beat', async () => {
    open();
    await store.beat(beat(0, clock.t), TTL_MS);
    await monitor.refresh();
    expect(state(0)).to.equal('up');
    const last = clock.t;
    // it keeps beating for a while, then stops; the monitor polls every second
    for (let t = 0; t < 3; t++) {
      clock.t += BEAT_MS;
      await store.beat(beat(0, clock.t), TTL_MS);
    }
    let offlineAt: number | undefined;
    for (let i = 0; i < 15 && offlineAt === undefined; i++) {
      clock.t += POLL_MS;
      await monitor.refresh();
      if (state(0) === 'offline') offlineAt = clock.t;
    }
    const lastBeat = last + 3 * BEAT_MS;
    expect(offlineAt! - lastBeat).to.be.at.most(TTL_MS + POLL_MS).and.below(10_000);
    expect(changes).to.deep.equal([
      { id: 0, from: undefined, to: 'up' },
      { id: 0, from: 'up', to: 'offline' },
    ]);
  });

  it('offlineAfterMs also takes out an invoker whose store TTL is longer', async () => {
    open({ offlineAfterMs: 8_000 });
    await store.beat(beat(0, clock.t), 60_000);
    await monitor.refresh();
    clock.t += 8_001;
    await monitor.refresh();
    expect(state(0)).to.equal('offline');
  });

  it('takes draining and unhealthy from the heartbeat, and up again when it says so', async () => {
    open();
    await store.beat(beat(0, clock.t, { status: 'draining' }), TTL_MS);
    await store.beat(beat(1, clock.t, { status: 'unhealthy' }), TTL_MS);
    await store.beat(beat(2, clock.t), TTL_MS);
    await monitor.refresh();
    expect(monitor.states().map((s) => [s.id, s.state])).to.deep.equal([
      [0, 'draining'],
      [1, 'unhealthy'],
      [2, 'up'],
    ]);
    await store.beat(beat(1, clock.t), TTL_MS);
    await monitor.refresh();
    expect(state(1)).to.equal('up');
  });

  it('several timeouts among the last outcomes make it unresponsive at once; probation without new ones brings it back', async () => {
    open({ probationMs: 30_000 });
    await store.beat(beat(0, clock.t), 600_000);
    await monitor.refresh();
    monitor.outcome(0, 'ok');
    for (let i = 0; i < 3; i++) monitor.outcome(0, 'timeout');
    expect(state(0)).to.equal('up'); // 3 of 10 tolerated
    monitor.outcome(0, 'timeout');
    expect(state(0)).to.equal('unresponsive'); // no poll needed
    expect(fed.at(-1)).to.deep.equal([{ id: 0, state: 'unresponsive', memoryMb: 1024 }]);

    // a late timeout of work already sent restarts probation
    clock.t += 20_000;
    monitor.outcome(0, 'timeout');
    clock.t += 20_000;
    await monitor.refresh();
    expect(state(0)).to.equal('unresponsive');
    clock.t += 10_000;
    await monitor.refresh();
    expect(state(0)).to.equal('up');
    // a clean slate: one more timeout does not put it back
    monitor.outcome(0, 'timeout');
    expect(state(0)).to.equal('up');
  });

  it('several system errors make it unhealthy; ok outcomes push old errors out of the window', async () => {
    open();
    await store.beat(beat(0, clock.t), 600_000);
    await store.beat(beat(1, clock.t), 600_000);
    await monitor.refresh();
    // invoker 1: errors spread out among successes never exceed 3 of the last 10
    for (let i = 0; i < 30; i++) monitor.outcome(1, i % 4 === 0 ? 'systemError' : 'ok');
    expect(state(1)).to.equal('up');
    for (let i = 0; i < 4; i++) monitor.outcome(0, 'systemError');
    expect(state(0)).to.equal('unhealthy');
    // successes of work still in flight do not lift it before probation
    monitor.outcome(0, 'ok');
    clock.t += 29_999;
    await monitor.refresh();
    expect(state(0)).to.equal('unhealthy');
    clock.t += 1;
    await monitor.refresh();
    expect(state(0)).to.equal('up');
  });

  it('a heartbeat status outranks a verdict; offline outranks everything', async () => {
    open();
    await store.beat(beat(0, clock.t), TTL_MS);
    await monitor.refresh();
    for (let i = 0; i < 4; i++) monitor.outcome(0, 'timeout');
    await store.beat(beat(0, clock.t, { status: 'draining' }), TTL_MS);
    await monitor.refresh();
    expect(state(0)).to.equal('draining');
    clock.t += TTL_MS;
    await monitor.refresh();
    expect(state(0)).to.equal('offline');
  });

  it('a restarted invoker (new startedAt) starts with a clean history', async () => {
    open();
    await store.beat(beat(0, clock.t), TTL_MS);
    await monitor.refresh();
    for (let i = 0; i < 4; i++) monitor.outcome(0, 'systemError');
    expect(state(0)).to.equal('unhealthy');
    await store.beat(beat(0, clock.t, { startedAt: 2 }), TTL_MS);
    await monitor.refresh();
    expect(state(0)).to.equal('up');
  });

  it('ignores outcomes for invokers it never saw', async () => {
    open();
    for (let i = 0; i < 10; i++) monitor.outcome(9, 'timeout');
    expect(monitor.states()).to.deep.equal([]);
    expect(changes).to.deep.equal([]);
  });

  it('feeds the scheduler with states and memory when something changes, not on every poll', async () => {
    open();
    await store.beat(beat(0, clock.t), TTL_MS);
    await store.beat(beat(1, clock.t, { status: 'draining', memoryMb: 2048 }), TTL_MS);
    await monitor.refresh();
    await monitor.refresh();
    expect(fed).to.deep.equal([
      [
        { id: 0, state: 'up', memoryMb: 1024 },
        { id: 1, state: 'draining', memoryMb: 2048 },
      ],
    ]);
    await store.beat(beat(0, clock.t, { memoryMb: 4096 }), TTL_MS);
    await monitor.refresh();
    expect(fed.at(-1)![0]).to.deep.equal({ id: 0, state: 'up', memoryMb: 4096 });
  });

  it('a forgotten invoker is announced offline and dropped', async () => {
    open();
    await store.beat(beat(0, clock.t), TTL_MS);
    await store.beat(beat(1, clock.t), TTL_MS);
    await monitor.refresh();
    await store.forget(1);
    await monitor.refresh();
    expect(changes.at(-1)).to.deep.equal({ id: 1, from: 'up', to: 'offline' });
    expect(monitor.states().map((s) => s.id)).to.deep.equal([0]);
    expect(fed.at(-1)).to.deep.equal([{ id: 0, state: 'up', memoryMb: 1024 }]);
  });

  it('keeps the last states while the store fails, and resumes when it answers', async () => {
    let failing = false;
    const flaky: HealthStore = {
      name: 'memory',
      beat: (h, ttl) => store.beat(h, ttl),
      invokers: () => (failing ? Promise.reject(new Error('down')) : store.invokers()),
      forget: (id) => store.forget(id),
      ping: async () => !failing,
      close: async () => {},
    };
    open({}, flaky);
    await store.beat(beat(0, clock.t), TTL_MS);
    await monitor.refresh();
    failing = true;
    await monitor.refresh();
    expect(state(0)).to.equal('up');
    failing = false;
    clock.t += TTL_MS;
    await monitor.refresh();
    expect(state(0)).to.equal('offline');
  });

  it('start() polls on its own every pollMs and emits changes; close() stops it; a throwing listener is contained', async () => {
    const real = new MemoryHealthStore();
    monitor = new HealthMonitor(real, { log: silentLogger, pollMs: 20 });
    const seen: HealthChange[] = [];
    monitor.onChange(() => {
      throw new Error('listener bug');
    });
    const off = monitor.onChange((c) => seen.push(c));
    await real.beat(beat(5, Date.now()), 100);
    await monitor.start();
    expect(monitor.state(5)).to.equal('up');
    await new Promise((r) => setTimeout(r, 250));
    expect(seen).to.deep.equal([
      { id: 5, from: undefined, to: 'up' },
      { id: 5, from: 'up', to: 'offline' },
    ]);
    off();
    await monitor.close();
    await real.close();
  });
});
