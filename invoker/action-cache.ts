import type { Action, Stored } from '../common/entities.ts';
import type { EntityStore } from '../common/store/entity-store.ts';

/**
 * Actions by path, name and revision, as the invoker needs them for every activation.
 * Activation messages carry the revision the controller saw, so a cached entry of the same
 * revision is always right; another revision is read from the store again. Concurrent
 * look-ups of one action share one read.
 */
export class ActionCache {
  private readonly entries = new Map<string, { rev: string; action: Promise<Stored<Action>> }>();

  constructor(
    private readonly store: Pick<EntityStore, 'get'>,
    private readonly maxEntries = 2_000,
  ) {}

  get(path: string, name: string, rev: string): Promise<Stored<Action>> {
    const key = `${path}/${name}`;
    const hit = this.entries.get(key);
    if (hit && hit.rev === rev) {
      // most recently used last, for eviction
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.action;
    }
    const action = this.store.get('action', path, name);
    const entry = { rev, action };
    this.entries.delete(key);
    this.entries.set(key, entry);
    // a failed read is not remembered; a read that found a newer revision is kept under it
    action.then(
      (a) => {
        if (this.entries.get(key) === entry) entry.rev = a._rev;
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return action;
  }
}
