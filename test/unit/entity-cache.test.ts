import { expect } from 'chai';
import type { EntityKind, Stored } from '../../common/entities.ts';
import { NotFoundError } from '../../common/errors.ts';
import { MemoryBus } from '../../common/bus/memory.ts';
import { Topics } from '../../common/bus.ts';
import { silentLogger } from '../../common/logger.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import { CacheInvalidation } from '../../controller/cache-invalidation.ts';
import { EntityCache } from '../../controller/entity-cache.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A store double: one version number per path/name, counting reads; `hold` delays the next reads until released. */
class CountingStore implements Pick<EntityStore, 'get'> {
  versions = new Map<string, number>();
  reads = 0;
  code = 'x';
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  hold(): void {
    this.gate = new Promise((ok) => (this.open = ok));
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }
  async get(kind: EntityKind, path: string, name: string, opts: { code?: boolean } = {}): Promise<never> {
    this.reads += 1;
    const version = this.versions.get(`${path}/${name}`);
    if (this.gate) await this.gate;
    if (version === undefined) throw new NotFoundError('The requested resource does not exist.');
    return { entityType: kind, namespace: path, name, version: `0.0.${version}`, _rev: `${version}-a`, exec: opts.code === false ? { kind: 'nodejs:20' } : { kind: 'nodejs:20', code: this.code } } as never;
  }
}

const version = async (p: Promise<Stored>) => (await p).version;

describe('entity cache', () => {
  it('serves repeated reads from memory, per kind, path, name and code; concurrent reads share one store request', async () => {
    const store = new CountingStore();
    store.versions.set('ns/a', 1);
    const cache = new EntityCache(store, { ttlMs: 60_000 });
    const all = await Promise.all(Array.from({ length: 10 }, () => cache.get('action', 'ns', 'a')));
    expect(new Set(all).size).to.equal(1);
    expect(store.reads).to.equal(1);
    await cache.get('action', 'ns', 'a');
    expect(store.reads).to.equal(1);
    expect((await cache.get('action', 'ns', 'a', { code: false })).exec).to.deep.equal({ kind: 'nodejs:20' });
    expect(store.reads, 'without code: another entry').to.equal(2);
    store.versions.set('other/a', 7);
    expect(await version(cache.get('action', 'other', 'a')), 'another namespace: its own entry').to.equal('0.0.7');
  });

  it('invalidate forgets every variant; a read under way when it comes is not kept for later readers', async () => {
    const store = new CountingStore();
    store.versions.set('ns/a', 1);
    const cache = new EntityCache(store, { ttlMs: 60_000 });
    await cache.get('action', 'ns', 'a');
    await cache.get('action', 'ns', 'a', { code: false });
    store.versions.set('ns/a', 2);
    cache.invalidate('ns', 'a');
    expect(await version(cache.get('action', 'ns', 'a'))).to.equal('0.0.2');
    expect(await version(cache.get('action', 'ns', 'a', { code: false }))).to.equal('0.0.2');

    store.versions.set('ns/b', 1);
    store.hold();
    const before = cache.get('action', 'ns', 'b'); // a read of the old state, under way
    store.versions.set('ns/b', 2);
    cache.invalidate('ns', 'b'); // ... when a write lands
    store.release();
    expect(await version(before), 'the reader that asked before the write').to.equal('0.0.1');
    expect(await version(cache.get('action', 'ns', 'b')), 'a later read asks the store again').to.equal('0.0.2');
  });

  it('keeps no failures (a missing entity is asked for again) and nothing with ttl 0', async () => {
    const store = new CountingStore();
    const cache = new EntityCache(store, { ttlMs: 60_000 });
    for (let i = 0; i < 2; i++) await cache.get('action', 'ns', 'gone').catch(() => undefined);
    expect(store.reads).to.equal(2);
    store.versions.set('ns/gone', 1);
    expect(await version(cache.get('action', 'ns', 'gone'))).to.equal('0.0.1');
    const off = new EntityCache(store, { ttlMs: 0 });
    store.reads = 0;
    await off.get('action', 'ns', 'gone');
    await off.get('action', 'ns', 'gone');
    expect([store.reads, off.size]).to.deep.equal([2, 0]);
  });

  it('the time limit bounds staleness when an invalidation is lost', async () => {
    const store = new CountingStore();
    store.versions.set('ns/a', 1);
    const cache = new EntityCache(store, { ttlMs: 300 });
    await cache.get('action', 'ns', 'a');
    store.versions.set('ns/a', 2); // written elsewhere, and nobody told this cache
    expect(await version(cache.get('action', 'ns', 'a'))).to.equal('0.0.1');
    await sleep(350);
    expect(await version(cache.get('action', 'ns', 'a'))).to.equal('0.0.2');
  });

  it('an entity larger than the entry limit is read from the store each time', async () => {
    const store = new CountingStore();
    store.versions.set('ns/big', 1);
    store.code = 'x'.repeat(4096);
    const cache = new EntityCache(store, { ttlMs: 60_000, maxEntryBytes: 2048 });
    await cache.get('action', 'ns', 'big');
    await cache.get('action', 'ns', 'big');
    expect(store.reads).to.equal(2);
    await cache.get('action', 'ns', 'big', { code: false });
    await cache.get('action', 'ns', 'big', { code: false });
    expect(store.reads, 'without its code it fits').to.equal(3);
  });
});

describe('cache invalidation over the bus', () => {
  it('a write through one controller\'s store invalidates its cache at once and the others\' by message; its own messages and garbage are ignored', async () => {
    const bus = new MemoryBus({ log: silentLogger });
    const invalidated: { a: string[]; b: string[] } = { a: [], b: [] };
    const cacheOf = (id: 'a' | 'b') => ({ invalidate: (path: string, name: string) => void invalidated[id].push(`${path}/${name}`) });
    const a = await CacheInvalidation.start({ bus, controllerId: 'a', cache: cacheOf('a'), log: silentLogger });
    const b = await CacheInvalidation.start({ bus, controllerId: 'b', cache: cacheOf('b'), log: silentLogger });
    const writes: string[] = [];
    const raw = {
      put: async (_k: unknown, e: { namespace: string; name: string }) => void writes.push(`put ${e.namespace}/${e.name}`),
      delete: async (path: string, name: string) => {
        writes.push(`delete ${path}/${name}`);
        throw new NotFoundError('gone');
      },
      count: async () => 42,
    } as unknown as EntityStore;
    const store = a.writingThrough(raw);
    await store.put('action', { namespace: 'ns/pkg', name: 'x' } as never);
    expect(invalidated.a, 'at once, here').to.deep.equal(['ns/pkg/x']);
    await store.delete('ns', 'y', '1-a').catch(() => undefined);
    expect(await store.count('action', { namespace: 'ns' }), 'other methods are the store\'s').to.equal(42);
    await bus.produce(Topics.cacheInvalidation, ['not json', JSON.stringify({ key: { path: 1 } })]);
    for (let i = 0; i < 100 && invalidated.b.length < 2; i++) await sleep(5);
    await sleep(20);
    expect(writes).to.deep.equal(['put ns/pkg/x', 'delete ns/y']);
    expect(invalidated.b, 'the other controller, by message (a failed delete too)').to.deep.equal(['ns/pkg/x', 'ns/y']);
    expect(invalidated.a, 'not twice by its own message').to.deep.equal(['ns/pkg/x', 'ns/y']);
    await a.close();
    await b.close();
    await bus.close();
  });
});
