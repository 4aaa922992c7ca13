import type { Container, ContainerFactory, ContainerSpec } from '../common/container.ts';
import type { Logger } from '../common/logger.ts';

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

/** One container as the pool sees it. */
interface Slot {
  container?: Container;
  kind: string;
  image: string;
  memoryMb: number;
  /** Undefined while the slot is a stem cell. */
  key?: string;
  concurrency: number;
  active: number;
  /** Idle and to be frozen: no activation may start before a resume. */
  paused: boolean;
  /** The container really is frozen (its pause succeeded and no resume followed). */
  frozen: boolean;
  /** Serializes pause/resume on the container; never rejects. */
  op: Promise<void>;
  lastUsed: number;
  removed: boolean;
  /** Takes no more activations: removed when those running in it are done. */
  retiring?: boolean;
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

/** Preference among warm candidates: ready and running 2, ready and paused 1, still starting 0. */
const rank = (s: Slot): number => (!s.container ? 0 : s.paused ? 1 : 2);

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
 * activation waits in a queue until capacity frees up. Container I/O goes through the
 * factory only; this class decides.
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
    if (this.closed) return Promise.reject(new PoolClosedError());
    if (req.memoryMb > this.opts.memoryMb) {
      return Promise.reject(new Error(`the action needs ${req.memoryMb} MB but the invoker has ${this.opts.memoryMb} MB`));
    }
    const placed = this.queue.length === 0 ? this.place(req, true) : this.place(req, false);
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
    if (lease.needsInit) this.initialized(lease, false);
    slot.active = Math.max(0, slot.active - 1);
    slot.lastUsed = Date.now();
    if (end === 'retire') slot.retiring = true;
    if (end === 'destroy' || this.closed || (slot.retiring && slot.active === 0)) this.remove(slot);
    else if (slot.active === 0) this.scheduleIdle(slot);
    this.drain();
  }

  /**
   * The lease's /init finished: activations waiting for this container run now (ok) or
   * are placed again (the container failed to initialize and is being replaced).
   */
  initialized(lease: Lease, ok: boolean): void {
    const slot = lease.slot;
    slot.openGate?.(ok);
    slot.openGate = undefined;
    slot.initGate = undefined;
  }

  stats(): PoolStats {
    const s: PoolStats = { containers: 0, busy: 0, idle: 0, paused: 0, prewarm: 0, starting: 0, memoryUsedMb: this.memoryUsed(), queued: this.queue.length };
    for (const slot of this.slots) {
      s.containers++;
      if (!slot.container) s.starting++;
      else if (slot.key === undefined) s.prewarm++;
      else if (slot.active > 0) s.busy++;
      else if (slot.paused) s.paused++;
      else s.idle++;
    }
    return s;
  }

  /** Stop placing, fail queued requests, destroy every container. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.queue.splice(0)) w.fail(new PoolClosedError());
    const all = [...this.slots];
    for (const slot of all) this.remove(slot);
    await Promise.all(all.map((s) => s.container?.destroy().catch(() => undefined)));
  }

  // ---- placement -------------------------------------------------------------------

  /**
   * Try to place a request now. `mayCreate` is false for requests that arrive while
   * others wait: they may take a warm container of their own but not capacity that an
   * earlier request is waiting for.
   */
  private place(req: PlacementRequest, mayCreate: boolean): Promise<Lease> | undefined {
    const warm = this.findWarm(req);
    if (warm) return this.lease(warm, warm.paused ? 'paused' : 'warm', req);
    if (!mayCreate) return undefined;
    const stem = this.findStem(req);
    if (stem) {
      stem.key = req.key;
      stem.concurrency = req.concurrency;
      this.closeGate(stem);
      const lease = this.lease(stem, 'prewarm', req);
      this.replenish();
      return lease;
    }
    if (!this.makeRoom(req.memoryMb)) return undefined;
    return this.createFor(req);
  }

  private findWarm(req: PlacementRequest): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) {
      if (s.key !== req.key || s.removed || s.retiring || s.active >= s.concurrency) continue;
      // a container still starting for this key takes more activations when its concurrency allows
      if (!s.container && !s.initGate) continue;
      // a ready container beats a starting one, a running one beats a paused one; among equals, the most recently used
      if (!best || rank(s) > rank(best) || (rank(s) === rank(best) && s.lastUsed > best.lastUsed)) best = s;
    }
    return best;
  }

  private findStem(req: PlacementRequest): Slot | undefined {
    for (const s of this.slots) {
      if (s.key === undefined && s.container && !s.removed && s.kind === req.kind && s.memoryMb === req.memoryMb && s.image === req.image) return s;
    }
    return undefined;
  }

  private lease(slot: Slot, start: StartKind, req: PlacementRequest): Promise<Lease> {
    slot.active++;
    slot.lastUsed = Date.now();
    this.clearTimers(slot);
    const gate = start === 'prewarm' ? undefined : slot.initGate;
    if (!gate) return this.take(slot, start, req);
    // wait until the activation that initializes the container is done with /init
    return gate.then((ok) => {
      if (ok && !slot.removed) return this.take(slot, start, req);
      slot.active = Math.max(0, slot.active - 1);
      return this.placeAgain(req);
    });
  }

  private take(slot: Slot, start: StartKind, req: PlacementRequest): Promise<Lease> {
    const container = slot.container!;
    const lease = this.addLease(slot, { container, start, needsInit: start === 'prewarm', shared: false, running: true, slot });
    // not paused: start at once, or once a resume under way (another activation's) is done
    if (!slot.paused) return slot.op.then(() => lease);
    slot.paused = false;
    let failed: Error | undefined;
    // resume only what a pause really froze: a pause that failed left the container running
    slot.op = slot.op
      .then(async () => {
        if (slot.frozen) await container.resume();
        slot.frozen = false;
      })
      .catch((e: Error) => void (failed = e));
    return slot.op.then(() => {
      if (!failed) return lease;
      // a container that cannot be resumed is replaced (what else is leased in it waited for this resume too)
      this.opts.log.warn({ err: failed, container: container.id }, 'resume failed; replacing the container');
      slot.active--;
      slot.leases.delete(lease);
      this.remove(slot);
      return this.placeAgain(req);
    });
  }

  private placeAgain(req: PlacementRequest): Promise<Lease> {
    return this.place(req, true) ?? new Promise((ok, fail) => this.queue.unshift({ req, ok, fail }));
  }

  private createFor(req: PlacementRequest): Promise<Lease> {
    const slot = this.newSlot(req.kind, req.image, req.memoryMb, req.key, req.concurrency);
    slot.active = 1;
    this.closeGate(slot);
    const spec: ContainerSpec = { kind: req.kind, image: req.image, memoryMb: req.memoryMb, name: req.name, env: req.env, ...(req.action ? { action: req.action } : {}) };
    return this.startContainer(slot, spec).then(
      (container) => this.addLease(slot, { container, start: 'cold', needsInit: true, shared: false, running: true, slot }),
      (e: Error) => {
        // activations waiting to share this container are placed again
        slot.openGate?.(false);
        this.drain();
        throw e;
      },
    );
  }

  /** Free `memoryMb` of the budget, evicting idle containers (least recently used first) if that is enough. */
  private makeRoom(memoryMb: number): boolean {
    let free = this.opts.memoryMb - this.memoryUsed();
    if (free >= memoryMb) return true;
    // idle warm/paused containers first, stem cells last
    const idle = [...this.slots]
      .filter((s) => s.container && !s.removed && s.active === 0)
      .sort((a, b) => Number(a.key === undefined) - Number(b.key === undefined) || a.lastUsed - b.lastUsed);
    const victims: Slot[] = [];
    for (const s of idle) {
      if (free >= memoryMb) break;
      victims.push(s);
      free += s.memoryMb;
    }
    if (free < memoryMb) return false;
    for (const v of victims) {
      this.opts.log.debug({ container: v.container!.id, key: v.key ?? 'prewarm' }, 'evicting an idle container for capacity');
      this.remove(v);
    }
    return true;
  }

  private drain(): void {
    let blocked = false;
    for (let i = 0; i < this.queue.length && !this.closed; ) {
      const w = this.queue[i]!;
      const placed = this.place(w.req, !blocked);
      if (placed) {
        this.queue.splice(i, 1);
        placed.then(w.ok, w.fail);
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
    if (this.closed || Date.now() < this.prewarmRetryAt || this.queue.length > 0) return [];
    const starts: Promise<unknown>[] = [];
    for (const p of this.opts.prewarm) {
      let have = [...this.slots].filter((s) => s.key === undefined && s.kind === p.kind && s.memoryMb === p.memoryMb && !s.removed).length;
      while (have < p.count && this.opts.memoryMb - this.memoryUsed() >= p.memoryMb) {
        const slot = this.newSlot(p.kind, p.image, p.memoryMb, undefined, 1);
        const spec: ContainerSpec = { kind: p.kind, image: p.image, memoryMb: p.memoryMb, name: `prewarm_${p.kind.replace(/\W/g, '-')}` };
        starts.push(
          this.startContainer(slot, spec).then(
            () => this.drain(),
            (e: Error) => {
              this.prewarmRetryAt = Date.now() + 5_000;
              this.opts.log.error({ err: e, kind: p.kind }, 'could not start a stem cell; retrying in 5 s');
            },
          ),
        );
        have++;
      }
    }
    return starts;
  }

  // ---- container life cycle ----------------------------------------------------------

  private addLease(slot: Slot, lease: Lease): Lease {
    slot.leases.add(lease);
    this.opts.onStart?.(lease.start);
    const others = [...slot.leases].filter((l) => l.running && l !== lease);
    if (others.length) for (const l of [...others, lease]) l.shared = true;
    return lease;
  }

  private closeGate(slot: Slot): void {
    slot.initGate = new Promise((ok) => (slot.openGate = ok));
  }

  private newSlot(kind: string, image: string, memoryMb: number, key: string | undefined, concurrency: number): Slot {
    const slot: Slot = { kind, image, memoryMb, key, concurrency, active: 0, paused: false, frozen: false, op: Promise.resolve(), lastUsed: Date.now(), removed: false, leases: new Set() };
    this.slots.add(slot);
    return slot;
  }

  private async startContainer(slot: Slot, spec: ContainerSpec): Promise<Container> {
    let container: Container;
    try {
      container = await this.factory.create(spec);
    } catch (e) {
      this.slots.delete(slot);
      slot.removed = true;
      throw e;
    }
    if (slot.removed) {
      // the pool closed while it started
      await container.destroy().catch(() => undefined);
      throw new PoolClosedError();
    }
    slot.container = container;
    void container.exited.then(() => {
      if (!slot.removed) {
        this.opts.log.warn({ container: container.id, key: slot.key ?? 'prewarm' }, 'container exited unexpectedly; removed from the pool');
        this.remove(slot);
        this.drain();
      }
    });
    return container;
  }

  private scheduleIdle(slot: Slot): void {
    this.clearTimers(slot);
    if (slot.key === undefined) return;
    slot.pauseTimer = setTimeout(() => {
      // never a container with activations in flight
      if (slot.active > 0 || slot.removed || slot.paused) return;
      slot.paused = true;
      const container = slot.container!;
      slot.op = slot.op.then(async () => {
        // an activation may have taken the container while an earlier operation ran
        if (!slot.paused || slot.removed) return;
        try {
          await container.pause();
          slot.frozen = true;
        } catch (e) {
          // a failed pause costs nothing but the CPU the idle container may use: it stays warm and running
          this.opts.log.warn({ err: e, container: container.id }, 'pause failed; the container keeps running, unpaused');
        }
      });
    }, this.opts.pauseGraceMs);
    slot.idleTimer = setTimeout(() => {
      if (slot.active === 0 && !slot.removed) {
        this.opts.log.debug({ container: slot.container!.id, key: slot.key }, 'removing an idle container');
        this.remove(slot);
        this.drain();
      }
    }, this.opts.idleTimeoutMs);
    slot.pauseTimer.unref();
    slot.idleTimer.unref();
  }

  private clearTimers(slot: Slot): void {
    clearTimeout(slot.pauseTimer);
    clearTimeout(slot.idleTimer);
    slot.pauseTimer = slot.idleTimer = undefined;
  }

  /** Take the slot out of the pool now (its memory is free at once) and destroy its container. */
  private remove(slot: Slot): void {
    if (slot.removed) return;
    slot.removed = true;
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

  private memoryUsed(): number {
    let mb = 0;
    for (const s of this.slots) mb += s.memoryMb;
    return mb;
  }
}
