/**
 * Short leases shared by every controller, so that work all of them could do is done by
 * exactly one: e.g. the fire of one alarm tick (`alarm:<trigger>:<tick>`). A lease is taken
 * once and runs out by itself; nobody renews or releases it. Redis (`SET NX PX`) in a
 * cluster, memory in standalone. One conformance suite.
 */
export interface LeaseStore {
  readonly name: 'redis' | 'memory';
  /** Take `key` for `ttlMs` unless someone holds it: true when `owner` got it now. */
  take(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Who holds `key`, or undefined when nobody does (run out or never taken). */
  holder(key: string): Promise<string | undefined>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
