import { type ContainerState, evictable, frozenOrFreezing, joinable } from './container-state.ts';

/**
 * The pool's decisions as pure functions over what it holds (as OpenWhisk's ContainerPool
 * object keeps schedule and remove): which container serves a request, which idle ones
 * make room, when an idle one pauses, which stem cells to start. They read, never change,
 * and never do I/O; the pool carries their answers out.
 */

/** One container as the decisions see it. */
export interface SlotView {
  readonly state: ContainerState;
  /** Undefined while it is a stem cell (or starting as one). */
  readonly key: string | undefined;
  readonly kind: string;
  readonly image: string;
  readonly memoryMb: number;
  readonly concurrency: number;
  /** Activations in it, or waiting at its init. */
  readonly inFlight: number;
  /** Epoch ms when an activation last took or left it. */
  readonly lastUsed: number;
}

/** What a request needs of a container (PlacementRequest's part the decisions read). */
export interface Need {
  readonly key: string;
  readonly kind: string;
  readonly image: string;
  readonly memoryMb: number;
}

/** How much of the memory budget containers may hold (MB). */
export interface Budget {
  readonly memoryMb: number;
}

export type Placement<S extends SlotView> =
  /** A warm container of the same action (running, paused, or still starting for it). */
  | { readonly how: 'warm'; readonly slot: S }
  /** A stem cell of the kind and memory, to be initialized. */
  | { readonly how: 'prewarm'; readonly slot: S }
  /** A new container, once the idle containers in `evict` are removed (none when memory is free). */
  | { readonly how: 'cold'; readonly evict: readonly S[] }
  /** Nothing now: the request waits until capacity frees up. */
  | { readonly how: 'queue' };

const QUEUE = { how: 'queue' } as const;
const NO_VICTIMS: readonly never[] = [];
const COLD_NOW = { how: 'cold', evict: NO_VICTIMS } as const;

/** Preference among warm candidates: ready 2, paused (or pausing) 1, still starting 0. */
const rank = (s: SlotView): number => (s.state === 'starting' ? 0 : frozenOrFreezing(s.state) ? 1 : 2);

/**
 * The warm container a request of `key` should take: one of its action that has room under
 * its concurrency limit; a ready one before a paused one before one still starting; among
 * equals, the most recently used.
 */
export function warmFor<S extends SlotView>(slots: Iterable<S>, key: string): S | undefined {
  let best: S | undefined;
  for (const s of slots) {
    if (s.key !== key || s.inFlight >= s.concurrency || !joinable(s.state)) continue;
    if (!best || rank(s) > rank(best) || (rank(s) === rank(best) && s.lastUsed > best.lastUsed)) best = s;
  }
  return best;
}

/** A stem cell that fits the request: same kind, image and memory. */
export function stemFor<S extends SlotView>(slots: Iterable<S>, need: Need): S | undefined {
  for (const s of slots) {
    if (s.state === 'prewarmed' && s.kind === need.kind && s.memoryMb === need.memoryMb && s.image === need.image) return s;
  }
  return undefined;
}

/** Memory the containers hold (MB): a container holds its memory from its start to its removal. */
export function memoryUsed(slots: Iterable<SlotView>): number {
  let mb = 0;
  for (const s of slots) if (s.state !== 'removed') mb += s.memoryMb;
  return mb;
}

/**
 * The idle containers to remove so that `memoryMb` fits in the budget, least recently used
 * first and stem cells last (as OpenWhisk's ContainerPool.remove); an empty list when it
 * fits already, undefined when removing every idle container would not make room.
 */
export function victimsFor<S extends SlotView>(slots: Iterable<S>, memoryMb: number, budget: Budget): readonly S[] | undefined {
  let free = budget.memoryMb - memoryUsed(slots);
  if (free >= memoryMb) return NO_VICTIMS;
  const idle: S[] = [];
  for (const s of slots) if (evictable(s.state)) idle.push(s);
  idle.sort((a, b) => Number(a.key === undefined) - Number(b.key === undefined) || a.lastUsed - b.lastUsed);
  const victims: S[] = [];
  for (const s of idle) {
    if (free >= memoryMb) break;
    victims.push(s);
    free += s.memoryMb;
  }
  return free >= memoryMb ? victims : undefined;
}

/**
 * Where a request goes (OpenWhisk's ContainerPool.schedule, with swirl's order): a warm
 * container of its action; else a stem cell of its kind; else a new container when memory
 * allows, evicting idle ones if that makes room; else the queue. `mayCreate` is false for a
 * request that arrives while others wait: it may take a warm container of its own, not the
 * capacity an earlier request is waiting for.
 */
export function place<S extends SlotView>(slots: Iterable<S>, need: Need, budget: Budget, mayCreate: boolean): Placement<S> {
  const warm = warmFor(slots, need.key);
  if (warm) return { how: 'warm', slot: warm };
  if (!mayCreate) return QUEUE;
  const stem = stemFor(slots, need);
  if (stem) return { how: 'prewarm', slot: stem };
  const evict = victimsFor(slots, need.memoryMb, budget);
  if (!evict) return QUEUE;
  return evict.length === 0 ? COLD_NOW : { how: 'cold', evict };
}

/**
 * Whether a container whose pause grace (or idle timeout) just passed is paused (removed):
 * only a warm one with nothing in flight, never one an activation took meanwhile, never a
 * stem cell (which waits, running, for its first action).
 */
export function pauseDue(s: SlotView): boolean {
  return s.state === 'idle' && s.key !== undefined && s.inFlight === 0;
}

export function idleExpired(s: SlotView): boolean {
  return s.key !== undefined && s.inFlight === 0 && (s.state === 'idle' || frozenOrFreezing(s.state));
}

/** A stem cell configuration (PrewarmConfig's part the decision reads). */
export interface StemNeed {
  readonly kind: string;
  readonly memoryMb: number;
  readonly count: number;
}

/**
 * The stem cells to start now: for each configuration, as many as are missing to its count
 * (those starting count), while the budget's free memory allows, in configuration order.
 */
export function stemsToStart<P extends StemNeed>(slots: Iterable<SlotView>, prewarm: readonly P[], budget: Budget): P[] {
  const starts: P[] = [];
  let free = budget.memoryMb - memoryUsed(slots);
  for (const p of prewarm) {
    let have = 0;
    for (const s of slots) if (s.key === undefined && s.state !== 'removed' && s.kind === p.kind && s.memoryMb === p.memoryMb) have++;
    for (; have < p.count && free >= p.memoryMb; have++) {
      starts.push(p);
      free -= p.memoryMb;
    }
  }
  return starts;
}
