import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { ForbiddenError, UnauthorizedError } from '../../common/errors.ts';
import type { Subject } from '../../common/identity.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import { hashKey, keyMatches, newCredentials, newKey, sameSecret } from '../../common/credentials.ts';
import { ActionKeys } from '../../controller/action-keys.ts';
import { Authenticator } from '../../controller/auth.ts';

const SECRET = 'x'.repeat(48);
const KEY = newKey();
const alice: Subject = { subject: 'alice', namespaces: [{ name: 'alice', uuid: '11111111-1111-1111-1111-111111111111', keyHash: hashKey(KEY) }] };
const actionKeys = new ActionKeys('a'.repeat(48));
const authenticator = (store: EntityStore, opts: { cacheMs: number; tokenTtlSeconds: number }) => new Authenticator(store, SECRET, actionKeys, opts);

/** A subjects-only store double that counts lookups. */
function fakeStore(subjects: Subject[]) {
  const calls = { byUuid: 0 };
  const store = {
    async subjectByUuid(uuid: string) {
      calls.byUuid++;
      const s = subjects.find((x) => x.namespaces.some((n) => n.uuid === uuid));
      return s ? { subject: s, namespace: s.namespaces.find((n) => n.uuid === uuid)!.name } : undefined;
    },
    async getSubject(name: string) {
      const s = subjects.find((x) => x.subject === name);
      return s ? { ...s, _rev: '1' } : undefined;
    },
  } as unknown as EntityStore;
  return { store, calls, subjects };
}

const basic = (uuid: string, key: string) => 'Basic ' + Buffer.from(`${uuid}:${key}`).toString('base64');
const reject = async (p: Promise<unknown>, cls: new (...a: never[]) => Error) => {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(cls);
    return;
  }
  expect.fail('expected a rejection');
};

describe('key hashes', () => {
  it('are salted: one key hashes differently each time, and each hash matches only that key', () => {
    const key = newKey();
    const [a, b] = [hashKey(key), hashKey(key)];
    expect(a).to.not.equal(b);
    expect(a).to.match(/^sha256\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).to.not.contain(key);
    expect(keyMatches(key, a) && keyMatches(key, b)).to.equal(true);
    expect(keyMatches(key.slice(0, -1), a)).to.equal(false);
    expect(keyMatches(key, 'md5$salt$hash')).to.equal(false);
    expect(keyMatches(key, '')).to.equal(false);
  });

  it('newCredentials hashes a given uuid:key and returns it to be shown once', () => {
    const given = `22222222-2222-2222-2222-222222222222:${newKey()}`;
    const { creds, auth } = newCredentials('bob', given);
    expect(auth).to.equal(given);
    expect(creds).to.have.keys(['name', 'uuid', 'keyHash']);
    expect(creds.uuid).to.equal('22222222-2222-2222-2222-222222222222');
    expect(keyMatches(given.split(':')[1]!, creds.keyHash)).to.equal(true);
  });
});

describe('Authenticator', () => {
  const ns = alice.namespaces[0]!;
  // each test may change the subjects of its store: start from alice as she was
  beforeEach(() => {
    alice.namespaces = [{ name: 'alice', uuid: '11111111-1111-1111-1111-111111111111', keyHash: hashKey(KEY) }];
  });

  it('accepts Basic uuid:key with any case of the scheme', async () => {
    const auth = authenticator(fakeStore([alice]).store, { cacheMs: 0, tokenTtlSeconds: 3600 });
    for (const scheme of ['Basic', 'basic', 'BASIC']) {
      const id = await auth.authenticate(basic(ns.uuid, KEY).replace('Basic', scheme));
      expect(id).to.include({ subject: 'alice', namespace: 'alice', uuid: ns.uuid });
    }
  });

  it('rejects wrong keys, unknown uuids, missing and malformed headers', async () => {
    const auth = authenticator(fakeStore([alice]).store, { cacheMs: 0, tokenTtlSeconds: 3600 });
    await reject(auth.authenticate(basic(ns.uuid, 'wrong')), UnauthorizedError);
    await reject(auth.authenticate(basic('22222222-2222-2222-2222-222222222222', KEY)), UnauthorizedError);
    await reject(auth.authenticate(undefined), UnauthorizedError);
    await reject(auth.authenticate('Basic'), UnauthorizedError);
    await reject(auth.authenticate('Basic !!!'), UnauthorizedError);
    await reject(auth.authenticate('Digest abc'), UnauthorizedError);
  });

  it('caches verified identities for the configured time', async () => {
    const f = fakeStore([alice]);
    const auth = authenticator(f.store, { cacheMs: 60_000, tokenTtlSeconds: 3600 });
    await auth.authenticate(basic(ns.uuid, KEY));
    await auth.authenticate(basic(ns.uuid, KEY));
    expect(f.calls.byUuid).to.equal(1);
    // a wrong key is still refused from the cache
    await reject(auth.authenticate(basic(ns.uuid, 'nope')), UnauthorizedError);
    auth.invalidate();
    await auth.authenticate(basic(ns.uuid, KEY));
    expect(f.calls.byUuid).to.equal(2);
  });

  it('a verified key is taken as verified for the cache time only: a key replaced in the store stops working within it', async () => {
    const auth = authenticator(fakeStore([alice]).store, { cacheMs: 40, tokenTtlSeconds: 3600 });
    expect(await auth.authenticate(basic(ns.uuid, KEY))).to.include({ subject: 'alice' });
    alice.namespaces = [{ ...ns, keyHash: hashKey('another key entirely') }];
    expect(await auth.authenticate(basic(ns.uuid, KEY)), 'within the bound').to.include({ subject: 'alice' });
    await new Promise((ok) => setTimeout(ok, 60));
    await reject(auth.authenticate(basic(ns.uuid, KEY)), UnauthorizedError);
  });

  it('issues tokens scoped to the namespace, only to key holders', async () => {
    const f = fakeStore([alice]);
    const auth = authenticator(f.store, { cacheMs: 0, tokenTtlSeconds: 600 });
    const id = await auth.authenticate(basic(ns.uuid, KEY));
    const t = auth.issue(id, true, 99_999);
    expect(t.expires_in).to.equal(600);
    expect(t.namespace).to.equal('alice');
    const viaToken = await auth.authenticate(`bearer ${t.token}`);
    expect(viaToken.namespace).to.equal('alice');
    expect(() => auth.issue(viaToken, false)).to.throw(ForbiddenError);
  });

  it('refuses expired, foreign-signed and revoked tokens', async () => {
    const f = fakeStore([alice]);
    const auth = authenticator(f.store, { cacheMs: 0, tokenTtlSeconds: 600 });
    const expired = jwt.sign({ ns: 'alice' }, SECRET, { subject: 'alice', issuer: 'swirl', expiresIn: -10 });
    await reject(auth.authenticate(`Bearer ${expired}`), UnauthorizedError);
    const forged = jwt.sign({ ns: 'alice' }, 'y'.repeat(48), { subject: 'alice', issuer: 'swirl', expiresIn: 60 });
    await reject(auth.authenticate(`Bearer ${forged}`), UnauthorizedError);
    const none = jwt.sign({ ns: 'alice', sub: 'alice', iss: 'swirl' }, '', { algorithm: 'none' });
    await reject(auth.authenticate(`Bearer ${none}`), UnauthorizedError);
    const good = auth.issue(await auth.authenticate(basic(ns.uuid, KEY)), true).token;
    f.subjects.length = 0; // the user is deleted
    await reject(auth.authenticate(`Bearer ${good}`), UnauthorizedError);
  });

  it('tokens die with the key: a user deleted and created again under the same name, or given a new key, makes older tokens 401', async () => {
    const f = fakeStore([alice]);
    const auth = authenticator(f.store, { cacheMs: 0, tokenTtlSeconds: 600 });
    const before = auth.issue(await auth.authenticate(basic(ns.uuid, KEY)), true).token;
    expect((await auth.authenticate(`Bearer ${before}`)).namespace).to.equal('alice');
    // deleted, and created again with the same name (a new uuid and key)
    const { creds, auth: again } = newCredentials('alice');
    f.subjects[0] = { subject: 'alice', namespaces: [creds] };
    await reject(auth.authenticate(`Bearer ${before}`), UnauthorizedError);
    const [uuid, key] = again.split(':') as [string, string];
    const fresh = auth.issue(await auth.authenticate(basic(uuid, key)), true).token;
    expect((await auth.authenticate(`Bearer ${fresh}`)).uuid).to.equal(uuid);
    // a new key for the same uuid
    f.subjects[0] = { subject: 'alice', namespaces: [{ ...creds, keyHash: hashKey(newKey()) }] };
    await reject(auth.authenticate(`Bearer ${fresh}`), UnauthorizedError);
    await reject(auth.authenticate(basic(uuid, key)), UnauthorizedError);
    // a token made without those claims (before this version) is refused too
    const old = jwt.sign({ ns: 'alice' }, SECRET, { subject: 'alice', issuer: 'swirl', expiresIn: 60 });
    await reject(auth.authenticate(`Bearer ${old}`), UnauthorizedError);
  });

  it('accepts the action key of a namespace as that namespace, until its key changes', async () => {
    const f = fakeStore([alice]);
    const auth = authenticator(f.store, { cacheMs: 0, tokenTtlSeconds: 600 });
    const identity = await auth.authenticate(basic(ns.uuid, KEY));
    const actionKey = actionKeys.keyFor(identity);
    expect(actionKey).to.match(/^11111111-1111-1111-1111-111111111111:[0-9a-f]{64}$/);
    const [uuid, key] = actionKey.split(':') as [string, string];
    expect(await auth.authenticate(basic(uuid, key))).to.deep.equal(identity);
    // another server secret makes other keys
    expect(new ActionKeys('b'.repeat(48)).keyFor(identity)).to.not.equal(actionKey);
    alice.namespaces = [{ ...alice.namespaces[0]!, keyHash: hashKey(newKey()) }];
    await reject(auth.authenticate(basic(uuid, key)), UnauthorizedError);
  });

  it('identities carry the key hash, never the key', async () => {
    const auth = authenticator(fakeStore([alice]).store, { cacheMs: 0, tokenTtlSeconds: 600 });
    const id = await auth.authenticate(basic(ns.uuid, KEY));
    expect(JSON.stringify(id)).to.not.contain(KEY);
    expect(keyMatches(KEY, id.keyHash)).to.equal(true);
  });

  it('compares secrets of different lengths without throwing', () => {
    expect(sameSecret('a', 'a')).to.equal(true);
    expect(sameSecret('a', 'ab')).to.equal(false);
  });
});
