/**
 * Invoker health (OpenWhisk's InvokerSupervision). Invokers publish heartbeats that expire;
 * controllers read them and derive each invoker's state:
 * - `up`: heartbeating and answering;
 * - `unhealthy`: heartbeating, but it says it cannot run actions (its own test action or
 *   container creation fails), or its recent activations end in system errors;
 * - `unresponsive`: heartbeating, but activations sent to it get no completion in time;
 * - `offline`: no heartbeat within the TTL (taken out within 10 s; its unacknowledged work
 *   is taken over by another invoker);
 * - `draining`: it finishes what it has and takes nothing new.
 * Only `up` invokers receive work.
 *
 * Implementations: redis (keys with TTL), memory (standalone). One conformance suite.
 */
export type InvokerState = 'up' | 'unhealthy' | 'unresponsive' | 'offline' | 'draining';

/** What an invoker says of itself, every heartbeat. */
/** A container of an invoker as its heartbeat lists it (`GET /api/v1/invokers/{id}/containers`). */
export interface InvokerContainer {
  id: string;
  kind: string;
  /** The pool's state of it: starting, prewarmed, initializing, busy, idle, pausing, paused, resuming, retiring. */
  state: string;
  /** Started as a stem cell (prewarm) or for an action (cold). */
  origin: 'prewarm' | 'cold';
  /** The action it serves: the invoking namespace and the action's path; none for a stem cell not yet taken. */
  action?: { namespace: string; name: string };
  memoryMb: number;
  inFlight: number;
  lastUsed: number;
}

/** The most containers a heartbeat lists (the most recently used); `containers` counts them all. */
export const HEARTBEAT_CONTAINERS = 100;

export interface InvokerHeartbeat {
  id: number;
  status: 'up' | 'unhealthy' | 'draining';
  /** Memory for action containers (MB): the balancer's slots for this invoker. */
  memoryMb: number;
  /** Activations running and waiting in its pool. */
  running: number;
  queued: number;
  containers: number;
  /** Its containers by state (stem cells, warm idle, paused, busy, starting) and the memory they hold (MB); absent from an older invoker. */
  pool?: { prewarm: number; idle: number; paused: number; busy: number; starting: number; memoryUsedMb: number };
  /** Its containers, the most recently used first, at most HEARTBEAT_CONTAINERS (absent from an older invoker, and from the `health` topic). */
  containerList?: InvokerContainer[];
  startedAt: number;
  /** Epoch ms of this heartbeat. */
  at: number;
  /** Where its operations endpoints answer, when it has them. */
  url?: string;
}

export interface KnownInvoker {
  heartbeat: InvokerHeartbeat;
  /** False once the last heartbeat is older than its TTL. */
  live: boolean;
}

export interface HealthStore {
  readonly name: 'redis' | 'memory';
  /** Publish a heartbeat; the invoker counts as live until `ttlMs` after it. */
  beat(heartbeat: InvokerHeartbeat, ttlMs: number): Promise<void>;
  /** Every invoker that ever beat (until forgotten), by id, with its last heartbeat. */
  invokers(): Promise<KnownInvoker[]>;
  /** Forget an invoker that will not come back. */
  forget(id: number): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
