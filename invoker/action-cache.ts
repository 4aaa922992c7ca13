import type { Action, Stored } from '../common/entities.ts';
import type { EntityStore } from '../common/store/entity-store.ts';

interface Entry {
  rev: string;
  action: Promise<Stored<Action>>;
  /** The action, once read. */
  read?: Stored<Action>;
}

/**
 * Actions by path, name and revision, as the invoker needs them for every activation.
 * Activation messages carry the revision the controller saw, so a cached entry of the same
 * revision is always right; another revision is read from the store again. Concurrent
 * look-ups of one action share one read.
 */
export class ActionCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly store: Pick<EntityStore, 'get'>,
    private readonly maxEntries = 2_000,
  ) {}

  get(path: string, name: string, rev: string): Promise<Stored<Action>> {
    const key = `${path}/${name}`;
    const hit = this.hit(key, rev);
    if (hit) return hit.action;
    const action = this.store.get('action', path, name);
    const entry: Entry = { rev, action };
    this.entries.delete(key);
    this.entries.set(key, entry);
    // a failed read is not remembered; a read that found a newer revision is kept under it
    action.then(
      (a) => {
        entry.read = a;
        if (this.entries.get(key) === entry) entry.rev = a._rev;
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return action;
  }

  /**
   * The action, when a read of this revision has already completed; else undefined (ask `get`).
   * The invoker takes nearly every action from here, without awaiting a promise: on Node 20
   * each await pays for the hooks of the AsyncLocalStorage that carries the log context.
   */
  cached(path: string, name: string, rev: string): Stored<Action> | undefined {
    return this.hit(`${path}/${name}`, rev)?.read;
  }

  /** The entry of this revision, made the most recently used (last, for eviction). */
  private hit(key: string, rev: string): Entry | undefined {
    const hit = this.entries.get(key);
    if (!hit || hit.rev !== rev) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit;
  }
}
