import { LRUCache } from 'lru-cache';
import type { EntityKind, EntityOf, Stored } from '../common/entities.ts';
import type { EntityStore, GetOptions } from '../common/store/entity-store.ts';

export interface EntityCacheOptions {
  /**
   * How long an entry is served without asking the store: the bound on staleness when an
   * invalidation from another controller is lost. 0 turns the cache off.
   */
  ttlMs: number;
  /** Entries kept at most (least recently used go first). Default 10,000. */
  maxEntries?: number;
  /** What the entries may hold in all, by the size of their code and parameters (bytes). Default 64 MiB. */
  maxBytes?: number;
  /** An entity larger than this is read from the store each time (an 8 MiB action, say). Default 1 MiB. */
  maxEntryBytes?: number;
}

interface Entry {
  value: Promise<unknown>;
  /** The entity, once read and kept. */
  entity?: unknown;
}

const KINDS: readonly EntityKind[] = ['action', 'package', 'trigger', 'rule'];

/**
 * Entities as the controller reads them — GETs of actions, packages, triggers and rules, and
 * what invoke, fire and web actions resolve — kept as OpenWhisk's controllers keep theirs.
 * Writes invalidate an entity at once here (see `CacheInvalidation`, which also tells the other
 * controllers over the bus); `ttlMs` bounds what a lost invalidation can leave stale.
 *
 * Entries are per kind, path, name and whether the action code is wanted, so a cached entity
 * is only ever what the store answers for that same read: entitlement is checked by the
 * callers as before, on every request. Concurrent reads of one entity share one store
 * request; failures (404s too) are not kept. An invalidation while a read is under way drops
 * that read's entry, so what it brings back is handed to the readers that asked before the
 * write, never to later ones. What a caller gets is shared: it must not change it.
 */
export class EntityCache implements Pick<EntityStore, 'get'> {
  private readonly entries: LRUCache<string, Entry> | undefined;
  private readonly maxEntryBytes: number;

  constructor(
    private readonly store: Pick<EntityStore, 'get'>,
    opts: EntityCacheOptions,
  ) {
    this.maxEntryBytes = opts.maxEntryBytes ?? 1024 * 1024;
    // ttlResolution: the clock is read at most this often (lru-cache sets a timer for each
    // fresh read, a timer per request under load otherwise); 5% of the TTL, at most 100 ms
    if (opts.ttlMs > 0) this.entries = new LRUCache({ max: opts.maxEntries ?? 10_000, maxSize: opts.maxBytes ?? 64 * 1024 * 1024, ttl: opts.ttlMs, ttlResolution: Math.max(1, Math.min(100, Math.floor(opts.ttlMs / 20))) });
  }

  get<K extends EntityKind>(kind: K, path: string, name: string, opts: GetOptions = {}): Promise<Stored<EntityOf[K]>> {
    const code = opts.code !== false;
    if (!this.entries) return this.store.get(kind, path, name, { code });
    const key = keyOf(kind, code, path, name);
    const hit = this.entries.get(key);
    if (hit) return hit.value as Promise<Stored<EntityOf[K]>>;
    const entry: Entry = { value: this.store.get(kind, path, name, { code }) };
    const entries = this.entries;
    entries.set(key, entry, { size: 1 });
    entry.value.then(
      (entity: unknown) => {
        if (entries.peek(key) !== entry) return; // invalidated meanwhile
        const size = sizeOf(entity as Stored);
        if (size > this.maxEntryBytes) {
          entries.delete(key);
          return;
        }
        entry.entity = entity;
        entries.set(key, entry, { size, noUpdateTTL: true });
      },
      () => {
        if (entries.peek(key) === entry) entries.delete(key);
      },
    );
    return entry.value as Promise<Stored<EntityOf[K]>>;
  }

  /**
   * What `get` would give when it is cached and read already, at once; else undefined (ask
   * `get`). The invoke path's common case then makes no promise: each one costs while
   * AsyncLocalStorage carries the log context (Node 20).
   */
  cached<K extends EntityKind>(kind: K, path: string, name: string, opts: GetOptions = {}): Stored<EntityOf[K]> | undefined {
    return this.entries?.get(keyOf(kind, opts.code !== false, path, name))?.entity as Stored<EntityOf[K]> | undefined;
  }

  /** Forget what is cached of the entity at `path` (`ns` or `ns/pkg`) and `name`, of any kind. */
  invalidate(path: string, name: string): void {
    if (!this.entries) return;
    for (const kind of KINDS) for (const code of [true, false]) this.entries.delete(keyOf(kind, code, path, name));
  }

  /** Entries held now (for tests and metrics). */
  get size(): number {
    return this.entries?.size ?? 0;
  }
}

const keyOf = (kind: EntityKind, code: boolean, path: string, name: string): string => `${kind}|${code ? 'c' : '-'}|${path}/${name}`;

/** Roughly what an entity holds: its code and parameters, and a kilobyte for the rest. */
function sizeOf(e: Stored): number {
  const code = (e as { exec?: { code?: unknown } }).exec?.code;
  const params = (e as { parameters?: unknown }).parameters;
  return 1024 + (typeof code === 'string' ? code.length : 0) + (Array.isArray(params) && params.length ? JSON.stringify(params).length : 0);
}
