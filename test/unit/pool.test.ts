import { expect } from 'chai';
import type { Container, ContainerFactory, ContainerSpec, LogSegment } from '../../common/container.ts';
import { silentLogger } from '../../common/logger.ts';
import { ContainerPool, type Lease, type PlacementRequest, type PoolOptions } from '../../invoker/pool.ts';

/** A container double that records what the pool did to it. */
class FakeContainer implements Container {
  readonly id: string;
  readonly address = '127.0.0.1:1';
  readonly exited: Promise<void>;
  events: string[] = [];
  destroyed = false;
  crash!: () => void;
  /** The next pause takes this long and then fails (as `docker pause` can). */
  failPauseAfterMs: number | undefined;
  constructor(readonly spec: ContainerSpec, n: number) {
    this.id = `fake-${n}`;
    this.exited = new Promise((ok) => (this.crash = ok));
  }
  async pause() {
    this.events.push('pause');
    if (this.failPauseAfterMs !== undefined) {
      await sleep(this.failPauseAfterMs);
      throw new Error('cannot freeze the cgroup');
    }
  }
  async resume() {
    this.events.push('resume');
  }
  async destroy() {
    this.destroyed = true;
    this.crash();
  }
  async logs(): Promise<LogSegment> {
    return { lines: [], truncated: false, complete: true };
  }
}

class FakeFactory implements ContainerFactory {
  readonly name = 'process';
  created: FakeContainer[] = [];
  failNext = false;
  async init() {}
  async create(spec: ContainerSpec) {
    await new Promise((r) => setImmediate(r));
    if (this.failNext) {
      this.failNext = false;
      throw new Error('cannot start');
    }
    const c = new FakeContainer(spec, this.created.length);
    this.created.push(c);
    return c;
  }
  async close() {}
  live() {
    return this.created.filter((c) => !c.destroyed);
  }
}

const req = (over: Partial<PlacementRequest> = {}): PlacementRequest => ({
  key: 'guest|guest/hello|1-a',
  kind: 'nodejs:20',
  image: 'swirl/runtime-nodejs-20:test',
  memoryMb: 256,
  concurrency: 1,
  name: 'guest_hello',
  ...over,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('container pool', () => {
  let factory: FakeFactory;
  let pool: ContainerPool;
  const make = (opts: Partial<PoolOptions> = {}) => {
    factory = new FakeFactory();
    pool = new ContainerPool(factory, { memoryMb: 1024, prewarm: [], pauseGraceMs: 10_000, idleTimeoutMs: 60_000, log: silentLogger, ...opts });
    return pool;
  };
  afterEach(() => pool?.close());

  it('creates a container when cold and reuses it warm for the same action and revision', async () => {
    make();
    const first = await pool.acquire(req());
    expect(first.start).to.equal('cold');
    expect(first.needsInit).to.equal(true);
    pool.release(first);
    const second = await pool.acquire(req());
    expect(second.start).to.equal('warm');
    expect(second.needsInit).to.equal(false);
    expect(second.container).to.equal(first.container);
    expect(factory.created).to.have.length(1);
  });

  it('retires a container after a failed activation: no new activation enters, it goes once the others are done', async () => {
    make();
    const a = await pool.acquire(req({ concurrency: 2 }));
    pool.initialized(a, true);
    const b = await pool.acquire(req({ concurrency: 2 }));
    expect(b.container).to.equal(a.container);
    pool.release(a, 'retire');
    expect(factory.created[0]!.destroyed, 'b still runs in it').to.equal(false);
    const c = await pool.acquire(req({ concurrency: 2 }));
    expect(c.container, 'a new container').to.not.equal(a.container);
    pool.release(b);
    await sleep(1);
    expect(factory.created[0]!.destroyed).to.equal(true);
    pool.release(c);
    expect(factory.live()).to.deep.equal([c.container]);
  });

  it('does not reuse a container for another revision or another invoking namespace', async () => {
    make();
    const a = await pool.acquire(req());
    pool.release(a);
    const b = await pool.acquire(req({ key: 'guest|guest/hello|2-b' }));
    expect(b.start).to.equal('cold');
    expect(b.container).to.not.equal(a.container);
    pool.release(b);
    const c = await pool.acquire(req({ key: 'alice|guest/hello|1-a' }));
    expect(c.container).to.not.equal(a.container);
    expect(c.container).to.not.equal(b.container);
  });

  it('pauses an idle container after the grace period and resumes it on demand', async () => {
    make({ pauseGraceMs: 20 });
    const a = await pool.acquire(req());
    pool.release(a);
    await sleep(60);
    const fake = a.container as FakeContainer;
    expect(fake.events).to.deep.equal(['pause']);
    expect(pool.stats().paused).to.equal(1);
    const b = await pool.acquire(req());
    expect(b.start).to.equal('paused');
    expect(b.container).to.equal(a.container);
    expect(fake.events).to.deep.equal(['pause', 'resume']);
  });

  it('does not pause a container that is taken again within the grace period', async () => {
    make({ pauseGraceMs: 40 });
    const a = await pool.acquire(req());
    pool.release(a);
    await sleep(10);
    const b = await pool.acquire(req());
    await sleep(60);
    expect((b.container as FakeContainer).events).to.deep.equal([]);
  });

  it('never pauses a container while an activation runs in it', async () => {
    make({ pauseGraceMs: 10 });
    const a = await pool.acquire(req({ concurrency: 2 }));
    pool.initialized(a, true);
    const b = await pool.acquire(req({ concurrency: 2 }));
    expect(b.container).to.equal(a.container);
    pool.release(a);
    await sleep(50);
    expect((a.container as FakeContainer).events, 'b still runs').to.deep.equal([]);
    pool.release(b);
    await sleep(50);
    expect((a.container as FakeContainer).events).to.deep.equal(['pause']);
  });

  it('keeps a container whose pause failed running, with every activation that arrived meanwhile, and says so', async () => {
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (_o: unknown, msg: string) => warnings.push(msg), debug: () => undefined, error: () => undefined, info: () => undefined } as unknown as typeof silentLogger;
    make({ pauseGraceMs: 5, log });
    const first = await pool.acquire(req({ concurrency: 40 }));
    pool.initialized(first, true);
    const fake = first.container as FakeContainer;
    fake.failPauseAfterMs = 30;
    pool.release(first);
    await sleep(15); // the pause is under way
    expect(fake.events).to.deep.equal(['pause']);
    const leases = await Promise.all(Array.from({ length: 38 }, () => pool.acquire(req({ concurrency: 40 }))));
    expect(leases.every((l) => l.container === fake), 'all in the one container').to.equal(true);
    expect(fake.destroyed, 'not destroyed').to.equal(false);
    expect(fake.events, 'nothing to resume: it never froze').to.deep.equal(['pause']);
    expect(warnings).to.deep.equal(['pause failed; the container keeps running, unpaused']);
    expect(pool.stats()).to.include({ containers: 1, busy: 1, paused: 0 });
    for (const l of leases) pool.release(l);
    expect(fake.destroyed).to.equal(false);
  });

  it('removes a container that stayed idle for the idle timeout', async () => {
    make({ pauseGraceMs: 5, idleTimeoutMs: 50 });
    const a = await pool.acquire(req());
    pool.release(a);
    await sleep(120);
    expect((a.container as FakeContainer).destroyed).to.equal(true);
    expect(pool.stats().containers).to.equal(0);
    const b = await pool.acquire(req());
    expect(b.start).to.equal('cold');
  });

  it('evicts the least recently used idle container when the memory budget is full', async () => {
    make({ memoryMb: 512 });
    const a = await pool.acquire(req({ key: 'a' }));
    const b = await pool.acquire(req({ key: 'b' }));
    pool.release(a);
    await sleep(5);
    pool.release(b);
    const c = await pool.acquire(req({ key: 'c' }));
    expect(c.start).to.equal('cold');
    expect((a.container as FakeContainer).destroyed, 'least recently used evicted').to.equal(true);
    expect((b.container as FakeContainer).destroyed).to.equal(false);
    expect(pool.stats().memoryUsedMb).to.equal(512);
  });

  it('queues an activation while every container is busy and runs it when one is released', async () => {
    make({ memoryMb: 512 });
    const a = await pool.acquire(req({ key: 'a' }));
    const b = await pool.acquire(req({ key: 'b' }));
    let placed = false;
    const waiting = pool.acquire(req({ key: 'c' })).then((l) => ((placed = true), l));
    await sleep(20);
    expect(placed).to.equal(false);
    expect(pool.stats().queued).to.equal(1);
    pool.release(a);
    const c = await waiting;
    expect(c.start).to.equal('cold');
    expect((a.container as FakeContainer).destroyed, 'idle a evicted for c').to.equal(true);
    pool.release(b);
    pool.release(c);
    expect(pool.stats().queued).to.equal(0);
  });

  it('serves queued activations in order, but lets one with a free warm container pass', async () => {
    make({ memoryMb: 256 });
    const a = await pool.acquire(req({ key: 'a', concurrency: 2 }));
    pool.initialized(a, true);
    const order: string[] = [];
    const x = pool.acquire(req({ key: 'x' })).then((l) => (order.push('x'), l));
    const y = pool.acquire(req({ key: 'y' })).then((l) => (order.push('y'), l));
    // `a` has room for a second activation: it does not wait behind x and y
    const a2 = await pool.acquire(req({ key: 'a', concurrency: 2 }));
    expect(a2.start).to.equal('warm');
    expect(a2.container).to.equal(a.container);
    expect(pool.stats().queued).to.equal(2);
    pool.release(a);
    pool.release(a2);
    const lx = await x;
    expect(order).to.deep.equal(['x']);
    pool.release(lx);
    await y;
    expect(order).to.deep.equal(['x', 'y']);
  });

  it('runs several activations in one container up to the action concurrency', async () => {
    make();
    const first = await pool.acquire(req({ concurrency: 2 }));
    pool.initialized(first, true);
    const second = await pool.acquire(req({ concurrency: 2 }));
    expect(second.start).to.equal('warm');
    expect(second.container).to.equal(first.container);
    const third = await pool.acquire(req({ concurrency: 2 }));
    expect(third.start, 'the first container is full').to.equal('cold');
    expect(third.container).to.not.equal(first.container);
    pool.release(first);
    const fourth = await pool.acquire(req({ concurrency: 2 }));
    expect(fourth.container).to.be.oneOf([first.container, third.container]);
    expect(factory.created).to.have.length(2);
  });

  it('holds a concurrent activation until the container is initialized, and re-places it when init fails', async () => {
    make();
    const first = await pool.acquire(req({ concurrency: 4 }));
    let second: Lease | undefined;
    const waiting = pool.acquire(req({ concurrency: 4 })).then((l) => (second = l));
    await sleep(5);
    expect(second, 'no /run before /init').to.equal(undefined);
    pool.initialized(first, true);
    await waiting;
    expect(second!.container).to.equal(first.container);
    expect(second!.needsInit).to.equal(false);

    const other = req({ key: 'guest|guest/other|1-a', concurrency: 4 });
    const broken = await pool.acquire(other);
    const retried = pool.acquire(other);
    await sleep(5);
    pool.initialized(broken, false);
    pool.release(broken, 'destroy');
    const lease = await retried;
    expect(lease.container, 'a new container').to.not.equal(broken.container);
    expect(lease.needsInit).to.equal(true);
  });

  it('marks activations that overlapped in one container as shared, and not those that followed each other', async () => {
    make();
    const a = await pool.acquire(req({ concurrency: 2 }));
    pool.initialized(a, true);
    a.running = false; // its /run answered; its logs are still being taken
    const b = await pool.acquire(req({ concurrency: 2 }));
    expect(b.container).to.equal(a.container);
    expect([a.shared, b.shared]).to.deep.equal([false, false]);
    const c = await pool.acquire(req({ concurrency: 3 }));
    expect(c.container).to.not.equal(a.container);
    pool.release(a);
    const d = await pool.acquire(req({ concurrency: 2 }));
    expect(d.container).to.equal(b.container);
    expect([b.shared, d.shared]).to.deep.equal([true, true]);
  });

  it('initializes a stem cell of the same kind and memory and replenishes it', async () => {
    make({ prewarm: [{ kind: 'nodejs:20', image: 'swirl/runtime-nodejs-20:test', memoryMb: 256, count: 1 }] });
    await pool.start();
    expect(pool.stats().prewarm).to.equal(1);
    const stem = factory.created[0];
    const a = await pool.acquire(req());
    expect(a.start).to.equal('prewarm');
    expect(a.needsInit).to.equal(true);
    expect(a.container).to.equal(stem);
    await sleep(10);
    expect(factory.created, 'no replacement while the taken one initializes (it would take the CPU of its init)').to.have.length(1);
    pool.initialized(a, true);
    await sleep(10);
    expect(factory.created, 'nor while its first run runs (the same)').to.have.length(1);
    pool.release(a);
    await sleep(10);
    expect(pool.stats().prewarm, 'replenished').to.equal(1);
    expect(factory.created).to.have.length(2);
    // another memory size does not take the stem cell
    const b = await pool.acquire(req({ key: 'other', memoryMb: 512 }));
    expect(b.start).to.equal('cold');
  });

  it('replaces a taken stem cell whose first run runs long, shortly after its init', async () => {
    make({ prewarm: [{ kind: 'nodejs:20', image: 'swirl/runtime-nodejs-20:test', memoryMb: 256, count: 1 }] });
    await pool.start();
    const a = await pool.acquire(req());
    pool.initialized(a, true);
    await sleep(120);
    expect(pool.stats().prewarm, 'replenished while the first activation still runs').to.equal(1);
    expect(factory.created).to.have.length(2);
    pool.release(a);
  });

  it('lists its containers with the action each serves: a stem cell once taken, a cold one from the start', async () => {
    make({ prewarm: [{ kind: 'nodejs:20', image: 'swirl/runtime-nodejs-20:test', memoryMb: 256, count: 1 }] });
    await pool.start();
    expect(pool.containers().map((c) => [c.id, c.state, c.origin, c.action])).to.deep.equal([['fake-0', 'prewarmed', 'prewarm', undefined]]);
    const hello = { namespace: 'alice', name: 'alice/hello' };
    const a = await pool.acquire(req({ action: hello }));
    const b = await pool.acquire(req({ key: 'bob|shared/pkg/echo|1-b', memoryMb: 512, action: { namespace: 'bob', name: 'shared/pkg/echo' } }));
    pool.initialized(a, true);
    await sleep(80); // the replacement stem cell starts while the first activation runs on
    const listed = Object.fromEntries(pool.containers().map((c) => [c.id, c]));
    expect(listed[a.container.id]).to.include({ origin: 'prewarm', state: 'busy', inFlight: 1, kind: 'nodejs:20', memoryMb: 256 });
    expect(listed[a.container.id]!.action).to.deep.equal(hello);
    expect(listed[b.container.id]).to.include({ origin: 'cold', state: 'initializing', memoryMb: 512 });
    expect(listed[b.container.id]!.action).to.deep.equal({ namespace: 'bob', name: 'shared/pkg/echo' });
    // the replacement stem cell serves nobody yet
    const stems = pool.containers().filter((c) => c.state === 'prewarmed');
    expect(stems.map((c) => [c.origin, c.action])).to.deep.equal([['prewarm', undefined]]);
    pool.release(a);
    expect(pool.containers()[0]!.id, 'the most recently used first').to.equal(a.container.id);
    expect(pool.containers().find((c) => c.id === a.container.id)).to.include({ state: 'idle', inFlight: 0 });
    pool.release(b, 'destroy');
    expect(pool.containers().map((c) => c.id), 'a removed container is not listed').to.not.include(b.container.id);
  });

  it('replaces a container that timed out or crashed instead of reusing it', async () => {
    make();
    const a = await pool.acquire(req());
    pool.release(a, 'destroy');
    await sleep(1);
    expect((a.container as FakeContainer).destroyed).to.equal(true);
    const b = await pool.acquire(req());
    expect(b.start).to.equal('cold');
    pool.release(b);
    (b.container as FakeContainer).crash();
    await sleep(5);
    expect(pool.stats().containers).to.equal(0);
    const c = await pool.acquire(req());
    expect(c.start).to.equal('cold');
    expect(c.container).to.not.equal(b.container);
  });

  it('fails the activation when a container cannot be started, and frees its memory', async () => {
    make({ memoryMb: 256 });
    factory.failNext = true;
    let error: Error | undefined;
    await pool.acquire(req()).catch((e: Error) => (error = e));
    expect(error?.message).to.equal('cannot start');
    expect(pool.stats().memoryUsedMb).to.equal(0);
    const a = await pool.acquire(req());
    expect(a.start).to.equal('cold');
  });

  it('gives a container whose init failed no more activations, even before its first activation is done with it', async () => {
    make();
    const broken = await pool.acquire(req({ concurrency: 4 }));
    const waiting = pool.acquire(req({ concurrency: 4 }));
    await sleep(5);
    pool.initialized(broken, false);
    // the runner still collects the failed init's logs: the container is not yet released
    const lease = await waiting;
    expect(lease.container, 'a new container').to.not.equal(broken.container);
    expect(lease.start).to.equal('cold');
    expect(pool.stats()).to.include({ containers: 2, busy: 2 });
    pool.release(broken, 'destroy');
    expect(pool.stats().containers).to.equal(1);
  });

  it('counts a container whose pause failed as idle and running, and does not try to resume it', async () => {
    make({ pauseGraceMs: 5 });
    const a = await pool.acquire(req());
    const fake = a.container as FakeContainer;
    fake.failPauseAfterMs = 5;
    pool.release(a);
    await sleep(40);
    expect(pool.stats()).to.include({ idle: 1, paused: 0 });
    const b = await pool.acquire(req());
    expect(b.start).to.equal('warm');
    expect(b.container).to.equal(fake);
    expect(fake.events).to.deep.equal(['pause']);
  });

  it('rejects an action larger than the whole budget and fails queued work on close', async () => {
    make({ memoryMb: 256 });
    let tooBig: Error | undefined;
    await pool.acquire(req({ memoryMb: 512 })).catch((e: Error) => (tooBig = e));
    expect(tooBig?.message).to.match(/needs 512 MB but the invoker has 256 MB/);
    const a = await pool.acquire(req({ key: 'a' }));
    const queued = pool.acquire(req({ key: 'b' }));
    await pool.close();
    let closed: Error | undefined;
    await queued.catch((e: Error) => (closed = e));
    expect(closed?.name).to.equal('PoolClosedError');
    expect((a.container as FakeContainer).destroyed).to.equal(true);
  });
});
