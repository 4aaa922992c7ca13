import { expect } from 'chai';
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

  it('controllers starting together on a fresh store agree on one guest key', async () => {
    const config = { guestNamespace: 'guest', guestKey: undefined };
    const guests = await Promise.all([ensureGuest(store.store, config), ensureGuest(store.store, config), ensureGuest(store.store, config)]);
    const keys = new Set(guests.map((g) => `${g.uuid}:${g.key}`));
    expect(keys.size).to.equal(1);
    const stored = (await store.store.getSubject('guest'))!.namespaces[0]!;
    expect(`${stored.uuid}:${stored.key}`).to.equal([...keys][0]);
  });
});
