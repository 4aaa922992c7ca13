import type { EntityKind, EntityOf, Stored } from '../common/entities.ts';
import type { EntityStore } from '../common/store/entity-store.ts';

/**
 * Entities the invoke path reads on every request (actions without their code, packages),
 * kept for a short time, as OpenWhisk's controller caches them. This controller's own
 * writes invalidate at once; another controller's writes are seen within `ttlMs`.
 * Concurrent reads of one entity share one store request; failures are not cached.
 */
export class EntityCache {
  private readonly entries = new Map<string, { at: number; value: Promise<unknown> }>();

  constructor(
    private readonly store: Pick<EntityStore, 'get'>,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get<K extends 'action' | 'package'>(kind: K, path: string, name: string): Promise<Stored<EntityOf[K]>> {
    const key = `${kind}:${path}/${name}`;
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value as Promise<Stored<EntityOf[K]>>;
    const value: Promise<unknown> = this.store.get(kind as EntityKind, path, name, { code: false });
    const entry = { at: now, value };
    this.entries.set(key, entry);
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return value as Promise<Stored<EntityOf[K]>>;
  }

  /** Forget what is cached under a path and name (any kind): it was written or deleted. */
  invalidate(path: string, name: string): void {
    for (const kind of ['action', 'package']) this.entries.delete(`${kind}:${path}/${name}`);
  }

  /** Forget everything under a path (`ns/pkg`: a package's actions, when the package changes). */
  invalidatePath(path: string): void {
    for (const key of this.entries.keys()) if (key.slice(key.indexOf(':') + 1).startsWith(`${path}/`)) this.entries.delete(key);
  }
}
