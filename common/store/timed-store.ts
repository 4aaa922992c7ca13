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
  const wrapped = new Map<PropertyKey, unknown>();
  const wrap = (operation: string, fn: (...args: unknown[]) => unknown) =>
    function (this: unknown, ...args: unknown[]) {
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
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'close') return value;
      let fn = wrapped.get(prop);
      if (!fn) wrapped.set(prop, (fn = wrap(prop, value as (...args: unknown[]) => unknown)));
      return fn;
    },
  });
  timed.add(proxy);
  return proxy;
}
