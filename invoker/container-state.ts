/**
 * The life of one container in the pool, as one state and one transition function (as
 * OpenWhisk's ContainerProxy keeps it), instead of flags and counters read together.
 * `inFlight` is what the pool counts besides the state: the activations in the container,
 * or waiting at its init (an action whose concurrency limit is above 1).
 */
export type ContainerState =
  /** The factory is creating it: a stem cell (nothing in flight) or a cold start for activations. */
  | 'starting'
  /** A stem cell: started, no action yet. */
  | 'prewarmed'
  /** Its first activation sends /init; others for the same action wait until it is done. */
  | 'initializing'
  /** Warm, with activations in flight. */
  | 'busy'
  /** Warm, nothing in flight, running. */
  | 'idle'
  /** Warm, nothing in flight, a pause queued or under way. */
  | 'pausing'
  /** Frozen. */
  | 'paused'
  /** Taken while pausing or paused: its activations start once the resume is done. */
  | 'resuming'
  /** Takes no more activations (its last one failed); removed once those in it are done. */
  | 'retiring'
  /** Out of the pool; its container is destroyed. Every later event leaves it so. */
  | 'removed';

export type ContainerEvent =
  /** The factory created it. */
  | 'started'
  /** The factory failed to. */
  | 'start-failed'
  /** An activation took it (or waits at its init). */
  | 'leased'
  /** The first activation's /init answered: ok, or not (the container is being replaced). */
  | 'init-ok'
  | 'init-failed'
  /** An activation is done with it: keep it warm, retire it, or remove it now. */
  | 'released:keep'
  | 'released:retire'
  | 'released:destroy'
  /** An activation waiting at its init gave up (the init failed) and is placed again. */
  | 'left'
  /** The pause grace passed; then the pause succeeded or failed (it keeps running). */
  | 'pause'
  | 'pause-ok'
  | 'pause-failed'
  | 'resume-ok'
  | 'resume-failed'
  /** Idle for the idle timeout; taken out for another's memory; exited on its own; the pool closes. */
  | 'idle-timeout'
  | 'evicted'
  | 'crashed'
  | 'closed';

/** An event the state cannot take: the pool's bookkeeping is wrong (a bug), never a container's fault. */
export class ImpossibleTransitionError extends Error {
  constructor(
    readonly state: ContainerState,
    readonly event: ContainerEvent,
  ) {
    super(`container pool: '${event}' cannot happen to a container that is ${state}`);
    this.name = 'ImpossibleTransitionError';
  }
}

/** States an activation may still join (a warm container of its action, or one starting for it). */
const JOINABLE: ReadonlySet<ContainerState> = new Set(['starting', 'initializing', 'busy', 'idle', 'pausing', 'paused', 'resuming']);
/** States with nothing in flight that may be taken out for memory or idleness. */
const IDLE: ReadonlySet<ContainerState> = new Set(['idle', 'pausing', 'paused']);

/** Warm again after an activation left: busy while others remain, idle once none does. */
const warm = (inFlight: number): ContainerState => (inFlight > 0 ? 'busy' : 'idle');
const retiring = (inFlight: number): ContainerState => (inFlight > 0 ? 'retiring' : 'removed');

/**
 * The state after `event`, given what is in flight after it. Throws
 * ImpossibleTransitionError for an event the state cannot take.
 */
export function transition(state: ContainerState, event: ContainerEvent, inFlight: number): ContainerState {
  // nothing happens to a removed container: late reports (a release, a timer, an exit) find it gone
  if (state === 'removed') return state;
  switch (event) {
    case 'crashed':
    case 'closed':
    case 'released:destroy':
      return 'removed';
    case 'started':
      if (state === 'starting') return inFlight > 0 ? 'initializing' : 'prewarmed';
      break;
    case 'start-failed':
      if (state === 'starting') return 'removed';
      break;
    case 'leased':
      if (state === 'prewarmed') return 'initializing';
      if (state === 'idle') return 'busy';
      if (state === 'pausing' || state === 'paused') return 'resuming';
      if (JOINABLE.has(state)) return state;
      break;
    case 'init-ok':
      if (state === 'initializing') return 'busy';
      break;
    case 'init-failed':
      if (state === 'initializing') return 'retiring';
      break;
    case 'released:keep':
    case 'left':
      // a first activation may leave without reporting its init: the container stays, as a warm one
      if (state === 'initializing' || state === 'busy') return warm(inFlight);
      if (state === 'retiring') return retiring(inFlight);
      break;
    case 'released:retire':
      if (state === 'initializing' || state === 'busy' || state === 'retiring') return retiring(inFlight);
      break;
    case 'pause':
      if (state === 'idle') return 'pausing';
      break;
    case 'pause-ok':
      if (state === 'pausing') return 'paused';
      break;
    case 'pause-failed':
      // it keeps running: an idle container that is not paused
      if (state === 'pausing') return 'idle';
      break;
    case 'resume-ok':
      if (state === 'resuming') return 'busy';
      break;
    case 'resume-failed':
      if (state === 'resuming') return 'removed';
      break;
    case 'idle-timeout':
      if (IDLE.has(state)) return 'removed';
      break;
    case 'evicted':
      if (state === 'prewarmed' || IDLE.has(state)) return 'removed';
      break;
  }
  throw new ImpossibleTransitionError(state, event);
}

/** An activation of the container's action may be placed in it (if its concurrency allows). */
export const joinable = (state: ContainerState): boolean => JOINABLE.has(state);

/** Nothing in flight: it may be evicted (a stem cell too) or time out. */
export const evictable = (state: ContainerState): boolean => state === 'prewarmed' || IDLE.has(state);

/** A pause was asked for or done: what is placed in it now must be resumed first. */
export const frozenOrFreezing = (state: ContainerState): boolean => state === 'pausing' || state === 'paused';
