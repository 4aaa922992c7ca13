/**
 * Counters behind the per-namespace throttles (invocations per minute, concurrent
 * invocations, trigger fires per minute), shared by every controller: redis in a cluster,
 * memory in standalone. One conformance suite.
 */
/**
 * A result at hand or to come: a store in process memory answers at once, so the invoke path
 * makes no promise for it (each costs while AsyncLocalStorage carries the log context).
 */
export type Awaitable<T> = T | Promise<T>;

export interface ThrottleStore {
  readonly name: 'redis' | 'memory';
  /** Count one event under `key` in the current minute (fixed windows); the count so far in that minute, this one included. */
  hit(key: string, now?: number): Awaitable<number>;
  /**
   * Hold one of at most `max` slots under `key` for `id` until `expiresAt` (epoch ms; a lost
   * release cannot leak the slot forever). Returns the number of slots held, this one
   * included when taken, and whether it was taken.
   */
  acquire(key: string, id: string, max: number, expiresAt: number): Awaitable<{ taken: boolean; held: number }>;
  release(key: string, id: string): Awaitable<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
