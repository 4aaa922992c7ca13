import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { keyMatches, newKey } from '../../common/credentials.ts';
import type { Subject } from '../../common/identity.ts';
import { silentLogger } from '../../common/logger.ts';
import { hashStoredKeys } from '../../controller/key-migration.ts';
import { readGuestKey } from '../../common/guest-key.ts';
import { ensureGuest } from '../../controller/bootstrap.ts';
import { type EmbeddedStore, startEmbeddedStore } from '../support/store-fixtures.ts';

/** What controllers do when they start: several may start at once on a fresh store. */
describe('controller start-up on a shared store', function () {
  this.timeout(30_000);
  let store: EmbeddedStore;
  before(async () => {
    store = await startEmbeddedStore();
  });
  after(() => store?.cleanup());

  it('controllers starting together on a fresh store agree on one guest key; only the one that made it shows it', async () => {
    const config = { guestNamespace: 'guest', guestKey: undefined, dataDir: store.dataDir };
    const guests = await Promise.all([ensureGuest(store.store, config), ensureGuest(store.store, config), ensureGuest(store.store, config)]);
    const issued = guests.flatMap((g) => (g.issued ? [g.issued] : []));
    expect(issued).to.have.length(1);
    expect(new Set(guests.map((g) => g.identity.keyHash)).size).to.equal(1);
    const stored = (await store.store.getSubject('guest'))!.namespaces[0]!;
    expect(issued[0]!.startsWith(`${stored.uuid}:`)).to.equal(true);
    expect(keyMatches(issued[0]!.slice(stored.uuid.length + 1), stored.keyHash)).to.equal(true);
    expect(readGuestKey(store.dataDir)).to.equal(issued[0]);
    // started again: nothing new is made or shown
    expect((await ensureGuest(store.store, config)).issued).to.equal(undefined);
  });

  it('keys stored in plain text by older versions are hashed at start, by controllers starting together, and keep working', async () => {
    const legacy = Array.from({ length: 5 }, (_, i) => ({ subject: `old${i}${process.pid}`, uuid: randomUUID(), key: newKey() }));
    for (const l of legacy) await store.store.putSubject({ subject: l.subject, namespaces: [{ name: l.subject, uuid: l.uuid, key: l.key }] } as unknown as Subject);
    const counts = await Promise.all([0, 1, 2].map(() => hashStoredKeys(store.store, silentLogger)));
    expect(counts.reduce((a, b) => a + b, 0), 'each subject hashed once').to.equal(legacy.length);
    expect(await hashStoredKeys(store.store, silentLogger), 'idempotent').to.equal(0);
    for (const l of legacy) {
      const [ns] = (await store.store.getSubject(l.subject))!.namespaces;
      expect(ns).to.not.have.property('key');
      expect(JSON.stringify(ns)).to.not.contain(l.key);
      expect(ns!.uuid).to.equal(l.uuid);
      expect(keyMatches(l.key, ns!.keyHash)).to.equal(true);
    }
  });
});
