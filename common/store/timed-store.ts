import { histogram, type Registry } from '../metrics.ts';
import type { EntityStore } from './entity-store.ts';

const timed = new WeakSet<object>();

/**
 * The store, with the time of each call observed in `swirl_store_request_duration_seconds`
 * by operation (the method's name) and outcome (`ok` or `error`). A store already timed is
 * returned as it is, so standalone's one store, shared by controller and invoker, is timed
 * once.
 */
export function timedStore<S extends Pick<EntityStore, 'ping'>>(store: S, registry: Registry): S {
  if (timed.has(store)) return store;
  const seconds = histogram(registry, 'swirl_store_request_duration_seconds', 'Time of entity store calls by operation and outcome', ['operation', 'outcome']);
  const wrap = (operation: string, fn: (...args: unknown[]) => unknown) =>
    function (...args: unknown[]) {
      const end = seconds.startTimer({ operation });
      const out = fn.apply(store, args);
      if (!(out instanceof Promise)) return out;
      return out.then(
        (v: unknown) => (end({ outcome: 'ok' }), v),
        (e: unknown) => {
          end({ outcome: 'error' });
          throw e;
        },
      );
    };
  // each method wrapped once (close bound, untimed), on an object whose prototype is the store
  // (its other properties read through): no trap on every call as a Proxy would have
  const timedStore = Object.create(store) as S;
  for (let o: object | null = store; o && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const name of Object.getOwnPropertyNames(o)) {
      const value = (store as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof value !== 'function' || Object.prototype.hasOwnProperty.call(timedStore, name)) continue;
      const fn = value as (...args: unknown[]) => unknown;
      Object.defineProperty(timedStore, name, { value: name === 'close' ? fn.bind(store) : wrap(name, fn), writable: true, configurable: true });
    }
  }
  timed.add(timedStore);
  return timedStore;
}
