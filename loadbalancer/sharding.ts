import type { InvokerState } from '../common/health.ts';
import { LIMITS } from '../common/limits.ts';

/** An invoker as the scheduler needs to know it (from the health monitor). */
export interface SchedulerInvoker {
  id: number;
  state: InvokerState;
  /** The invoker's memory budget for action containers (MB), as it heartbeats it. */
  memoryMb: number;
}

/** Where an activation goes. `forced`: every healthy invoker was full; it was put on the least loaded one anyway. */
export interface Placement {
  invokerId: number;
  forced: boolean;
  /** For an action with concurrency above 1: the key of its shared containers, to hand back to `release`. */
  shared?: string;
}

/** What an activation needs of an invoker beyond its memory: the action's concurrency and revision. */
export interface Sharing {
  /** Activations one container of the action runs at once (its concurrency limit). Default 1. */
  concurrency?: number;
  /** The action's revision: containers of another revision are not shared. */
  revision?: string;
}

/** Containers of one action on one invoker, as this controller counts them (OpenWhisk's NestedSemaphore). */
interface Shared {
  concurrency: number;
  memoryMb: number;
  /** Activations running; they fill ceil(running / concurrency) containers, each holding `memoryMb`. */
  running: number;
}

export interface InvokerLoad {
  id: number;
  state: InvokerState;
  /** Memory this controller has placed there and not yet released (MB); may exceed `totalMb` after forced placements. */
  usedMb: number;
  /** This controller's share of the invoker's memory (MB). */
  totalMb: number;
  inFlight: number;
}

export interface ShardingOptions {
  /** Controllers sharing the invokers; each takes `memoryMb / controllerCount` of every invoker. Default 1. */
  controllerCount?: number;
  /** A controller's share of an invoker is never below this (MB; OpenWhisk: the smallest action memory). */
  minShareMb?: number;
}

interface Slot {
  id: number;
  state: InvokerState;
  memoryMb: number;
  totalMb: number;
  usedMb: number;
  inFlight: number;
  /** Actions with concurrency above 1 running here, by key. */
  shared: Map<string, Shared>;
}

/**
 * OpenWhisk's ShardingContainerPoolBalancer scheduling, pure and synchronous (it runs on
 * every invoke).
 *
 * Invokers form a ring indexed by id (size: highest id + 1; missing ids count as offline, so
 * an invoker going away does not move every action's home). An activation of action `fqn`
 * invoked in `namespace` hashes to a home invoker (hash mod n) and a step size (one of the
 * pairwise coprime numbers up to n that are coprime with n, as OpenWhisk picks them; being
 * coprime, the walk home, home+step, … visits every invoker once). The first `up` invoker on
 * the walk with room for the action's memory takes it: the same action keeps landing on the
 * same invoker, where its containers are warm, and different actions spread. When none has
 * room, the activation is forced onto the least loaded `up` invoker (OpenWhisk picks a random
 * one; least loaded spreads overload more evenly and is deterministic in tests).
 *
 * An action with concurrency N > 1 takes memory per container, not per activation, as
 * OpenWhisk's NestedSemaphore does: the first activation on an invoker takes one share of the
 * action's memory and N-1 more can run beside it for nothing; the N+1st takes another share.
 * A share is given back once N of its slots are free again (so the memory held always covers
 * ceil(running / N) containers). An invoker with a free slot for the action takes it even when
 * its memory is full: the container is already counted. The invoker's pool runs up to N
 * activations in one container of the same invoking namespace, action and revision, so those
 * are the key.
 *
 * Memory is accounted per invoker id and survives state changes and `update` calls: an
 * invoker that goes offline keeps the memory of the work in flight there until each of those
 * activations is released, and comes back with exactly that, never counted twice or lost.
 * Every successful `schedule` must be matched by one `release` (completion, timeout, or
 * when the work is moved elsewhere).
 */
export class ShardingScheduler {
  private controllerCount: number;
  private readonly minShareMb: number;
  /** Every invoker ever seen, by id: their accounting outlives their presence in the ring. */
  private readonly slots = new Map<number, Slot>();
  /** Index = invoker id; holes are ids never seen. */
  private ring: (Slot | undefined)[] = [];
  private steps: number[] = [];

  constructor(opts: ShardingOptions = {}) {
    this.controllerCount = positive(opts.controllerCount ?? 1, 'controllerCount');
    this.minShareMb = opts.minShareMb ?? LIMITS.memory.min;
  }

  /** The invokers and their states now; invokers absent from the list count as offline. */
  update(invokers: readonly SchedulerInvoker[]): void {
    const present = new Set<number>();
    let n = 0;
    for (const inv of invokers) {
      if (!Number.isInteger(inv.id) || inv.id < 0) throw new RangeError(`invoker id must be a non-negative integer: ${inv.id}`);
      present.add(inv.id);
      n = Math.max(n, inv.id + 1);
      const slot = this.slots.get(inv.id) ?? { id: inv.id, state: inv.state, memoryMb: 0, totalMb: 0, usedMb: 0, inFlight: 0, shared: new Map() };
      slot.state = inv.state;
      slot.memoryMb = inv.memoryMb;
      slot.totalMb = this.share(inv.memoryMb);
      this.slots.set(inv.id, slot);
    }
    for (const slot of this.slots.values()) if (!present.has(slot.id)) slot.state = 'offline';
    const ring = new Array<Slot | undefined>(n).fill(undefined);
    for (const id of present) ring[id] = this.slots.get(id);
    if (n !== this.ring.length) this.steps = stepSizes(n);
    this.ring = ring;
  }

  /** Controllers joined or left: every invoker's share changes (in-flight accounting stays). */
  setControllerCount(count: number): void {
    this.controllerCount = positive(count, 'controllerCount');
    for (const slot of this.slots.values()) slot.totalMb = this.share(slot.memoryMb);
  }

  /**
   * Choose an invoker and take `memoryMb` of it (with `sharing.concurrency` N > 1: a slot in
   * one of the action's containers there, taking `memoryMb` only for a new container);
   * undefined when no invoker is `up`.
   */
  schedule(namespace: string, fqn: string, memoryMb: number, sharing: Sharing = {}): Placement | undefined {
    const n = this.ring.length;
    if (n === 0) return undefined;
    const concurrency = sharing.concurrency ?? 1;
    const key = concurrency > 1 ? `${namespace}\0${fqn}\0${sharing.revision ?? ''}` : undefined;
    const demand = { memoryMb, concurrency, key };
    const hash = hashOf(namespace, fqn);
    const step = this.steps[hash % this.steps.length] ?? 1;
    let index = hash % n;
    for (let i = 0; i < n; i++) {
      const slot = this.ring[index];
      if (slot !== undefined && slot.state === 'up' && (hasFreeSlot(slot, key) || slot.totalMb - slot.usedMb >= memoryMb)) return take(slot, demand, false);
      index = (index + step) % n;
    }
    const least = this.leastLoaded();
    return least ? take(least, demand, true) : undefined;
  }

  /**
   * Give back what `schedule` took on `invokerId` (`shared`: the placement's key, for an action
   * with concurrency above 1). A release without a matching schedule is ignored.
   */
  release(invokerId: number, memoryMb: number, shared?: string): void {
    const slot = this.slots.get(invokerId);
    if (!slot || slot.inFlight === 0) return;
    slot.inFlight -= 1;
    if (slot.inFlight === 0) {
      slot.usedMb = 0;
      slot.shared.clear();
      return;
    }
    const s = shared === undefined ? undefined : slot.shared.get(shared);
    if (shared !== undefined && !s) return; // not ours (or already cleared): nothing held for it
    if (s) {
      s.running -= 1;
      // until a container's worth of slots is free, its memory stays taken
      if (s.running % s.concurrency !== 0) return;
      if (s.running === 0) slot.shared.delete(shared!);
    }
    slot.usedMb = Math.max(0, slot.usedMb - (s?.memoryMb ?? memoryMb));
  }

  /** Every invoker seen, by id, with this controller's accounting. */
  load(): InvokerLoad[] {
    return [...this.slots.values()]
      .sort((a, b) => a.id - b.id)
      .map(({ id, state, usedMb, totalMb, inFlight }) => ({ id, state, usedMb, totalMb, inFlight }));
  }

  private leastLoaded(): Slot | undefined {
    let best: Slot | undefined;
    let bestLoad = Infinity;
    for (const slot of this.ring) {
      if (slot === undefined || slot.state !== 'up') continue;
      const load = slot.totalMb > 0 ? slot.usedMb / slot.totalMb : Infinity;
      if (best === undefined || load < bestLoad || (load === bestLoad && slot.inFlight < best.inFlight)) {
        best = slot;
        bestLoad = load;
      }
    }
    return best;
  }

  private share(memoryMb: number): number {
    return Math.max(Math.floor(memoryMb / this.controllerCount), this.minShareMb);
  }
}

/** Whether one of the action's containers on the invoker has a slot free. */
function hasFreeSlot(slot: Slot, key: string | undefined): boolean {
  const s = key === undefined ? undefined : slot.shared.get(key);
  return s !== undefined && s.running % s.concurrency !== 0;
}

function take(slot: Slot, demand: { memoryMb: number; concurrency: number; key: string | undefined }, forced: boolean): Placement {
  slot.inFlight += 1;
  const { memoryMb, concurrency, key } = demand;
  if (key === undefined) {
    slot.usedMb += memoryMb;
    return { invokerId: slot.id, forced };
  }
  let s = slot.shared.get(key);
  if (!s) slot.shared.set(key, (s = { concurrency, memoryMb, running: 0 }));
  // every container full (or none yet): another one, and its memory
  if (s.running % s.concurrency === 0) slot.usedMb += s.memoryMb;
  s.running += 1;
  return { invokerId: slot.id, forced, shared: key };
}

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer: ${n}`);
  return n;
}

/**
 * OpenWhisk's step sizes: 1..n, each coprime with n and with every smaller one kept
 * (`pairwiseCoprimeNumbersUntil`). Never empty for n ≥ 1 (1 is always there).
 */
export function stepSizes(n: number): number[] {
  const out: number[] = [];
  for (let cur = 1; cur <= n; cur++) {
    if (gcd(cur, n) === 1 && out.every((s) => gcd(s, cur) === 1)) out.push(cur);
  }
  return out;
}

export function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * A 32-bit hash of namespace + NUL + fqn (FNV-1a over UTF-16 code units, then murmur3's
 * finalizer so the low bits used by `mod n` are well mixed). No string is built: this runs
 * on every invoke.
 */
export function hashOf(namespace: string, fqn: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < namespace.length; i++) h = Math.imul(h ^ namespace.charCodeAt(i), 0x01000193);
  h = Math.imul(h, 0x01000193); // the NUL separator: ("a", "bc") and ("ab", "c") differ
  for (let i = 0; i < fqn.length; i++) h = Math.imul(h ^ fqn.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
