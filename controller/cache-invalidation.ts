import { z } from 'zod';
import { type Consumer, type MessageBus, Topics } from '../common/bus.ts';
import { parseJson } from '../common/json.ts';
import { SUBJECTS_PATH } from '../common/messages.ts';
import type { Logger } from '../common/logger.ts';
import type { EntityStore } from '../common/store/entity-store.ts';
import type { EntityCache } from './entity-cache.ts';

/** OpenWhisk's CacheInvalidationMessage: the entity written, and the controller that wrote it. */
const invalidationMessage = z.object({ key: z.object({ path: z.string().max(1024), name: z.string().max(256) }), instanceId: z.string().max(256) });
type InvalidationMessage = z.infer<typeof invalidationMessage>;

export interface CacheInvalidationOptions {
  bus: MessageBus;
  controllerId: string;
  cache: Pick<EntityCache, 'invalidate'>;
  log: Logger;
}

/**
 * Keeps the entity caches of all controllers in step, as OpenWhisk's RemoteCacheInvalidation
 * does: an entity written through `writingThrough(store)` is forgotten by this controller's
 * cache at once and announced on the `cacheInvalidation` topic, which every controller reads
 * in a consumer group of its own (so each gets every message) and which makes the others
 * forget it too; a controller ignores its own announcements. An announcement that cannot be
 * posted (bus down) is logged; the cache's time limit then bounds how long the others may
 * serve the old entity.
 */
export class CacheInvalidation {
  private consumer: Consumer | undefined;
  /** Told when users or their keys changed (SUBJECTS_PATH). */
  private onSubjects: (() => void) | undefined;

  private constructor(private readonly opts: CacheInvalidationOptions) {}

  static async start(opts: CacheInvalidationOptions): Promise<CacheInvalidation> {
    const ci = new CacheInvalidation(opts);
    const topic = Topics.cacheInvalidation;
    await opts.bus.ensureTopics([topic]);
    ci.consumer = await opts.bus.subscribe({
      topic,
      group: `${topic}-controller${opts.controllerId}`,
      consumerId: `controller${opts.controllerId}`,
      maxInFlight: 100,
      handler: async (msg) => ci.received(msg.value),
    });
    return ci;
  }

  /** The store, with entity writes and deletes invalidating the caches (each also when it fails: its outcome may be unknown). */
  writingThrough(store: EntityStore): EntityStore {
    const put: EntityStore['put'] = async (kind, entity, rev) => {
      try {
        return await store.put(kind, entity, rev);
      } finally {
        this.changed(entity.namespace, entity.name);
      }
    };
    const del: EntityStore['delete'] = async (path, name, rev) => {
      try {
        await store.delete(path, name, rev);
      } finally {
        this.changed(path, name);
      }
    };
    // every other method is the store's own, bound once (a store call is on every request's path)
    const bound = new Map<PropertyKey, unknown>([
      ['put', put],
      ['delete', del],
    ]);
    return new Proxy(store, {
      get(target, prop) {
        const known = bound.get(prop);
        if (known !== undefined) return known;
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        const fn = (value as (...a: unknown[]) => unknown).bind(target);
        bound.set(prop, fn);
        return fn;
      },
    });
  }

  /** The entity at `path` and `name` changed: forget it here, and tell the other controllers. */
  changed(path: string, name: string): void {
    this.opts.cache.invalidate(path, name);
    const message: InvalidationMessage = { key: { path, name }, instanceId: this.opts.controllerId };
    this.opts.bus.produce(Topics.cacheInvalidation, [JSON.stringify(message)]).catch((e: unknown) => {
      this.opts.log.warn({ err: e, path, name }, 'could not tell the other controllers that an entity changed; their caches expire it');
    });
  }

  private received(value: Buffer): void {
    let m: InvalidationMessage;
    try {
      m = invalidationMessage.parse(parseJson(value));
    } catch (e) {
      this.opts.log.error({ err: e }, 'dropping a message that is not a cache invalidation');
      return;
    }
    if (m.key.path === SUBJECTS_PATH) this.onSubjects?.();
    else if (m.instanceId !== this.opts.controllerId) this.opts.cache.invalidate(m.key.path, m.key.name);
  }

  /** Call `fn` when the admin command says users or their keys changed. */
  whenSubjectsChange(fn: () => void): void {
    this.onSubjects = fn;
  }

  async close(): Promise<void> {
    await this.consumer?.close();
  }
}
