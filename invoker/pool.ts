import { type Container, type ContainerFactory, type ContainerSpec, PROXY_REHEARSE_ENV } from '../common/container.ts';
import type { Logger } from '../common/logger.ts';
import type { InvokerContainer } from '../common/health.ts';
import { type ContainerEvent, type ContainerState, frozenOrFreezing, transition } from './container-state.ts';
import { idleExpired, memoryUsed, pauseDue, place, type SlotView, stemsToStart } from './pool-decisions.ts';

/** How long after a taken stem cell's init its replacement starts at the latest: a first /run takes a few milliseconds. */
const STEM_REPLACE_MS = 50;

/** Stem cells to keep ready: `count` containers of `kind` with `memoryMb`. */
export interface PrewarmConfig {
  kind: string;
  image: string;
  memoryMb: number;
  count: number;
}

export interface PoolOptions {
  /** Memory budget for all containers of this invoker (MB). */
  memoryMb: number;
  prewarm: PrewarmConfig[];
  /** An idle warm container is paused after this long (ms). */
  pauseGraceMs: number;
  /** An idle container is removed after this long (ms). */
  idleTimeoutMs: number;
  log: Logger;
  /** Told how each activation got its container (metrics). */
  onStart?: (start: StartKind) => void;
}

/** What an activation needs from the pool. */
export interface PlacementRequest {
  /** Warm containers are reused only for the same key: invoking namespace + action + revision. */
  key: string;
  kind: string;
  image: string;
  memoryMb: number;
  /** Activations one container may run at once (the action's concurrency limit). */
  concurrency: number;
  /** Readable container name part. */
  name: string;
  env?: Record<string, string>;
  /** The action a new container is labelled with (ContainerSpec.action). */
  action?: ContainerSpec['action'];
}

/** What becomes of a container after an activation (see ContainerPool.release). */
export type ContainerEnd = 'keep' | 'retire' | 'destroy';

/** How the container was obtained: reused warm, resumed from pause, a stem cell, or created. */
export type StartKind = 'warm' | 'paused' | 'prewarm' | 'cold';

export interface Lease {
  readonly container: Container;
  readonly start: StartKind;
  /** True when the action code must be sent with /init before the first /run. */
  readonly needsInit: boolean;
  /**
   * True once another activation ran in the same container while this one did (an action
   * whose concurrency limit is above 1): their output is interleaved.
   */
  shared: boolean;
  /** Until the activation's /run answered; the runner clears it. */
  running: boolean;
  /** @internal */
  readonly slot: Slot;
}

/** A lease, or the promise of one (acquireAtOnce). */
export type Leasing = Lease | Promise<Lease>;

export interface PoolStats {
  containers: number;
  busy: number;
  idle: number;
  paused: number;
  prewarm: number;
  starting: number;
  memoryUsedMb: number;
  queued: number;
}

/**
 * One container as operators see it (the heartbeat's list, `swirl invoker containers`): a
 * stem cell takes the action it serves only once taken, and Docker cannot relabel a running
 * container (nor may its name, which other containers can resolve, say whose it is), so this
 * is where a stem cell's action is told.
 */
export interface PoolContainer extends InvokerContainer {
  state: ContainerState;
}

/** One container as the pool sees it: its state, and what the transitions leave to the pool. */
interface Slot extends SlotView {
  state: ContainerState;
  key: string | undefined;
  /** What the slot was started as, and the action it serves once it serves one. */
  origin: PoolContainer['origin'];
  action?: PoolContainer['action'];
  concurrency: number;
  inFlight: number;
  lastUsed: number;
  container?: Container;
  /**
   * Serializes pause/resume on the container and resolves with whether the container is
   * frozen after them (a pause that failed left it running); never rejects.
   */
  op: Promise<boolean>;
  /** The pauses and resumes chained on `op` that are not done yet. */
  opsUnderWay: number;
  /** The leases running in the container now. */
  leases: Set<Lease>;
  /**
   * While the first activation initializes the container, others for the same key that
   * find it wait here (an action with concurrency above 1); true when init succeeded.
   */
  initGate?: Promise<boolean>;
  openGate?: (ok: boolean) => void;
  pauseTimer?: NodeJS.Timeout;
  idleTimer?: NodeJS.Timeout;
}

interface Waiter {
  req: PlacementRequest;
  ok: (lease: Lease) => void;
  fail: (e: Error) => void;
}

const RELEASED = { keep: 'released:keep', retire: 'released:retire', destroy: 'released:destroy' } as const satisfies Record<ContainerEnd, ContainerEvent>;

/** The pool is closing; nothing more is placed. */
export class PoolClosedError extends Error {
  constructor() {
    super('the container pool is shutting down');
    this.name = 'PoolClosedError';
  }
}

/**
 * The invoker's containers: which container an activation runs in, and when containers
 * are created, paused, resumed and removed. Order of preference for an activation (as
 * OpenWhisk's ContainerPool): a free warm container of the same key; a paused one
 * (resumed); a stem cell of its kind and memory (initialized); a new container, evicting
 * least recently used idle containers when the memory budget is full; otherwise the
 * activation waits in a queue until capacity frees up. Those decisions are the pure
 * functions of pool-decisions.ts; each container's life is one state that changes only
 * through container-state.ts's transition. Container I/O goes through the factory only.
 */
export class ContainerPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Waiter[] = [];
  private closed = false;
  /** Stem cell creation failures back off instead of retrying in a loop. */
  private prewarmRetryAt = 0;

  constructor(
    private readonly factory: ContainerFactory,
    private readonly opts: PoolOptions,
  ) {}

  /** Create the configured stem cells (returns once they are all ready). */
  async start(): Promise<void> {
    await Promise.all(this.replenish());
  }

  /** A container for the request; waits in the queue when no capacity is free. */
  acquire(req: PlacementRequest): Promise<Lease> {
    return Promise.resolve(this.acquireAtOnce(req));
  }

  /**
   * As acquire, but the lease itself when it is at hand (a warm container with no pause or
   * resume under way): what the runner asks, so that a warm activation costs no promise here
   * (on Node 20 each pays for the hooks of the AsyncLocalStorage that carries the log context).
   */
  acquireAtOnce(req: PlacementRequest): Leasing {
    if (this.closed) return Promise.reject(new PoolClosedError());
    if (req.memoryMb > this.opts.memoryMb) {
      return Promise.reject(new Error(`the action needs ${req.memoryMb} MB but the invoker has ${this.opts.memoryMb} MB`));
    }
    const placed = this.place(req, this.queue.length === 0);
    if (placed) return placed;
    return new Promise((ok, fail) => this.queue.push({ req, ok, fail }));
  }

  /**
   * Give the container back after an activation. `keep`: it stays warm for the same key,
   * is paused after the grace period and removed after the idle timeout. `retire` (the
   * activation failed, as OpenWhisk's proxy retires a container after a developer or
   * internal error): it takes no more activations and is removed once those running in it
   * are done. `destroy` (timeout, crash, failed init): it is removed now.
   */
  release(lease: Lease, end: ContainerEnd = 'keep'): void {
    const slot = lease.slot;
    if (!slot.leases.delete(lease)) return;
    // an activation that never reported its init (it failed before) does not leave others waiting
    if (lease.needsInit) this.openGate(slot, false);
    slot.inFlight = Math.max(0, slot.inFlight - 1);
    slot.lastUsed = Date.now();
    this.to(slot, RELEASED[end]);
    if (slot.state === 'idle') this.scheduleIdle(slot);
    this.drain();
  }

  /**
   * The lease's /init finished: activations waiting for this container run now (ok) or
   * are placed again (the container failed to initialize and is being replaced: it takes
   * no more activations).
   */
  initialized(lease: Lease, ok: boolean): void {
    const slot = lease.slot;
    // reported once, by the first activation (a release reports an init never reported)
    if (!slot.openGate) return;
    this.openGate(slot, ok);
    this.to(slot, ok ? 'init-ok' : 'init-failed');
    // a stem cell's one init (its gate closes once, when it is taken): its replacement starts when
    // the activation's answer is in (release), or after STEM_REPLACE_MS for one that runs long.
    // Started now it would take the CPU, and the invoker's event loop (a fork blocks it for
    // milliseconds), that the activation's first /run needs.
    if (slot.origin === 'prewarm') setTimeout(() => this.replenish(), STEM_REPLACE_MS).unref();
  }

  /** Its started containers, the most recently used first. */
  containers(): PoolContainer[] {
    const out: PoolContainer[] = [];
    for (const slot of this.slots) {
      if (!slot.container || slot.state === 'removed') continue;
      const { kind, state, origin, action, memoryMb, inFlight, lastUsed } = slot;
      out.push({ id: slot.container.id, kind, state, origin, ...(action ? { action } : {}), memoryMb, inFlight, lastUsed });
    }
    return out.sort((a, b) => b.lastUsed - a.lastUsed);
  }

  stats(): PoolStats {
    const s: PoolStats = { containers: 0, busy: 0, idle: 0, paused: 0, prewarm: 0, starting: 0, memoryUsedMb: memoryUsed(this.slots), queued: this.queue.length };
    for (const slot of this.slots) {
      s.containers++;
      switch (slot.state) {
        case 'starting':
          s.starting++;
          break;
        case 'prewarmed':
          s.prewarm++;
          break;
        case 'idle':
          s.idle++;
          break;
        case 'pausing':
        case 'paused':
          s.paused++;
          break;
        default:
          // initializing, busy, resuming, retiring: activations in it
          s.busy++;
      }
    }
    return s;
  }

  /** Stop placing, fail queued requests, destroy every container. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.queue.splice(0)) w.fail(new PoolClosedError());
    const all = [...this.slots];
    for (const slot of all) this.to(slot, 'closed');
    await Promise.all(all.map((s) => s.container?.destroy().catch(() => undefined)));
  }

  // ---- placement -------------------------------------------------------------------

  /**
   * Place a request now, as pool-decisions' place() decides, or undefined (it waits).
   * `mayCreate` is false for requests that arrive while others wait.
   */
  private place(req: PlacementRequest, mayCreate: boolean): Leasing | undefined {
    const decision = place(this.slots, req, this.opts, mayCreate);
    switch (decision.how) {
      case 'warm':
        return this.lease(decision.slot, frozenOrFreezing(decision.slot.state) ? 'paused' : 'warm', req);
      case 'prewarm': {
        const stem = decision.slot;
        stem.key = req.key;
        stem.concurrency = req.concurrency;
        if (req.action) stem.action = req.action;
        this.closeGate(stem);
        // its replacement starts once this one's first /run is done (initialized): started at once, it
        // takes the CPU the activation's init and first run need (a cold start from a stem cell)
        return this.lease(stem, 'prewarm', req);
      }
      case 'cold':
        for (const v of decision.evict) {
          this.opts.log.debug({ container: v.container!.id, key: v.key ?? 'prewarm' }, 'evicting an idle container for capacity');
          this.to(v, 'evicted');
        }
        return this.createFor(req);
      case 'queue':
        return undefined;
    }
  }

  private lease(slot: Slot, start: StartKind, req: PlacementRequest): Leasing {
    slot.inFlight++;
    slot.lastUsed = Date.now();
    this.clearTimers(slot);
    this.to(slot, 'leased');
    const gate = start === 'prewarm' ? undefined : slot.initGate;
    if (!gate) return this.take(slot, start, req);
    // wait until the activation that initializes the container is done with /init
    return gate.then((ok) => {
      if (ok && slot.state !== 'removed') return this.take(slot, start, req);
      slot.inFlight = Math.max(0, slot.inFlight - 1);
      this.to(slot, 'left');
      if (slot.state === 'idle') this.scheduleIdle(slot);
      return this.placeAgain(req);
    });
  }

  private take(slot: Slot, start: StartKind, req: PlacementRequest): Leasing {
    const container = slot.container!;
    const lease = this.addLease(slot, { container, start, needsInit: start === 'prewarm', shared: false, running: true, slot });
    // not taken from a pause: start at once, or once a resume under way (another activation's) is done
    if (start !== 'paused') return slot.opsUnderWay ? slot.op.then(() => lease) : lease;
    let failed: Error | undefined;
    // resume only what a pause really froze: a pause that failed left the container running
    this.chainOp(
      slot,
      slot.op
        .then(async (frozen) => {
          if (frozen) await container.resume();
          return false;
        })
        .catch((e: Error) => ((failed = e), false)),
    );
    return slot.op.then(() => {
      if (!failed) {
        this.to(slot, 'resume-ok');
        return lease;
      }
      // a container that cannot be resumed is replaced (what else is leased in it waited for this resume too)
      this.opts.log.warn({ err: failed, container: container.id }, 'resume failed; replacing the container');
      slot.inFlight--;
      slot.leases.delete(lease);
      this.to(slot, 'resume-failed');
      return this.placeAgain(req);
    });
  }

  private placeAgain(req: PlacementRequest): Leasing {
    return this.place(req, true) ?? new Promise((ok, fail) => this.queue.unshift({ req, ok, fail }));
  }

  private createFor(req: PlacementRequest): Promise<Lease> {
    const slot = this.newSlot(req.kind, req.image, req.memoryMb, req.key, req.concurrency);
    if (req.action) slot.action = req.action;
    slot.inFlight = 1;
    this.closeGate(slot);
    const spec: ContainerSpec = { kind: req.kind, image: req.image, memoryMb: req.memoryMb, name: req.name, env: req.env, ...(req.action ? { action: req.action } : {}) };
    return this.startContainer(slot, spec).then(
      (container) => this.addLease(slot, { container, start: 'cold', needsInit: true, shared: false, running: true, slot }),
      (e: Error) => {
        // activations waiting to share this container are placed again
        this.openGate(slot, false);
        this.drain();
        throw e;
      },
    );
  }

  private drain(): void {
    let blocked = false;
    for (let i = 0; i < this.queue.length && !this.closed; ) {
      const w = this.queue[i]!;
      const placed = this.place(w.req, !blocked);
      if (placed) {
        this.queue.splice(i, 1);
        if (placed instanceof Promise) placed.then(w.ok, w.fail);
        else w.ok(placed);
      } else {
        blocked = true;
        i++;
      }
    }
    this.replenish();
  }

  // ---- stem cells ------------------------------------------------------------------

  /** Start stem cells up to the configured counts while memory allows; returns the starts. */
  private replenish(): Promise<unknown>[] {
    if (this.closed || this.opts.prewarm.length === 0 || Date.now() < this.prewarmRetryAt || this.queue.length > 0) return [];
    return stemsToStart(this.slots, this.opts.prewarm, this.opts).map((p) => {
      const slot = this.newSlot(p.kind, p.image, p.memoryMb, undefined, 1);
      const spec: ContainerSpec = { kind: p.kind, image: p.image, memoryMb: p.memoryMb, name: `prewarm_${p.kind.replace(/\W/g, '-')}`, env: { [PROXY_REHEARSE_ENV]: '1' } };
      return this.startContainer(slot, spec).then(
        () => this.drain(),
        (e: Error) => {
          this.prewarmRetryAt = Date.now() + 5_000;
          this.opts.log.error({ err: e, kind: p.kind }, 'could not start a stem cell; retrying in 5 s');
        },
      );
    });
  }

  // ---- container life cycle ----------------------------------------------------------

  /**
   * Apply an event to the container's state. An event its state cannot take is a bug in
   * the pool's bookkeeping: it is refused (the state stays) and logged as an internal error.
   * Entering `removed` takes the container out of the pool and destroys it.
   */
  private to(slot: Slot, event: ContainerEvent): void {
    const was = slot.state;
    try {
      slot.state = transition(was, event, slot.inFlight);
    } catch (e) {
      this.opts.log.error({ err: e, container: slot.container?.id, key: slot.key ?? 'prewarm', inFlight: slot.inFlight }, 'container pool: impossible transition refused');
      return;
    }
    if (slot.state === 'removed' && was !== 'removed') this.discard(slot);
  }

  private addLease(slot: Slot, lease: Lease): Lease {
    // activations that overlap in one container: their output is interleaved
    for (const other of slot.leases) {
      if (other.running) lease.shared = other.shared = true;
    }
    slot.leases.add(lease);
    this.opts.onStart?.(lease.start);
    return lease;
  }

  private closeGate(slot: Slot): void {
    slot.initGate = new Promise((ok) => (slot.openGate = ok));
  }

  private openGate(slot: Slot, ok: boolean): void {
    const open = slot.openGate;
    slot.openGate = slot.initGate = undefined;
    open?.(ok);
  }

  private newSlot(kind: string, image: string, memoryMb: number, key: string | undefined, concurrency: number): Slot {
    const origin = key === undefined ? 'prewarm' : 'cold';
    const slot: Slot = { state: 'starting', kind, image, memoryMb, key, origin, concurrency, inFlight: 0, op: Promise.resolve(false), opsUnderWay: 0, lastUsed: Date.now(), leases: new Set() };
    this.slots.add(slot);
    return slot;
  }

  private async startContainer(slot: Slot, spec: ContainerSpec): Promise<Container> {
    let container: Container;
    try {
      container = await this.factory.create(spec);
    } catch (e) {
      this.to(slot, 'start-failed');
      throw e;
    }
    if (slot.state === 'removed') {
      // the pool closed while it started
      await container.destroy().catch(() => undefined);
      throw new PoolClosedError();
    }
    slot.container = container;
    this.to(slot, 'started');
    void container.exited.then(() => {
      if (slot.state !== 'removed') {
        this.opts.log.warn({ container: container.id, key: slot.key ?? 'prewarm' }, 'container exited unexpectedly; removed from the pool');
        this.to(slot, 'crashed');
        this.drain();
      }
    });
    return container;
  }

  /** Arm the pause grace and the idle timeout of a container that became idle. */
  private scheduleIdle(slot: Slot): void {
    this.clearTimers(slot);
    if (slot.key === undefined) return;
    slot.pauseTimer = setTimeout(() => this.pauseIdle(slot), this.opts.pauseGraceMs);
    slot.idleTimer = setTimeout(() => {
      if (!idleExpired(slot)) return;
      this.opts.log.debug({ container: slot.container!.id, key: slot.key }, 'removing an idle container');
      this.to(slot, 'idle-timeout');
      this.drain();
    }, this.opts.idleTimeoutMs);
    slot.pauseTimer.unref();
    slot.idleTimer.unref();
  }

  private pauseIdle(slot: Slot): void {
    // never a container with activations in flight
    if (!pauseDue(slot)) return;
    this.to(slot, 'pause');
    const container = slot.container!;
    this.chainOp(slot, slot.op.then(async (frozen) => {
      // an activation may have taken the container (or it was removed) while an earlier operation ran
      if (slot.state !== 'pausing') return frozen;
      try {
        await container.pause();
      } catch (e) {
        // a failed pause costs nothing but the CPU the idle container may use: it stays warm and running
        this.opts.log.warn({ err: e, container: container.id }, 'pause failed; the container keeps running, unpaused');
        if (slot.state === 'pausing') this.to(slot, 'pause-failed');
        return false;
      }
      // taken meanwhile: the resume chained behind this pause thaws it
      if (slot.state === 'pausing') this.to(slot, 'pause-ok');
      return true;
    }));
  }

  /** Make `op` (chained on the slot's) the slot's pause or resume, counted in `opsUnderWay` until done: a take waits only while one is. */
  private chainOp(slot: Slot, op: Promise<boolean>): void {
    slot.op = op;
    slot.opsUnderWay++;
    // (an op never rejects)
    void op.then(() => slot.opsUnderWay--);
  }

  private clearTimers(slot: Slot): void {
    clearTimeout(slot.pauseTimer);
    clearTimeout(slot.idleTimer);
    slot.pauseTimer = slot.idleTimer = undefined;
  }

  /** Out of the pool now (its memory is free at once); its container is destroyed. */
  private discard(slot: Slot): void {
    this.clearTimers(slot);
    this.slots.delete(slot);
    const container = slot.container;
    if (container) {
      // let a pending pause/resume finish first: destroying a container mid-pause can fail
      void slot.op
        .catch(() => undefined)
        .then(() => container.destroy())
        .catch((e: Error) => this.opts.log.warn({ err: e, container: container.id }, 'could not destroy a container'));
    }
  }
}
