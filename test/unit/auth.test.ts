import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { ForbiddenError, UnauthorizedError } from '../../common/errors.ts';
import type { Subject } from '../../common/identity.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import { sameSecret } from '../../common/credentials.ts';
import { Authenticator } from '../../controller/auth.ts';

const SECRET = 'x'.repeat(48);
const alice: Subject = { subject: 'alice', namespaces: [{ name: 'alice', uuid: '11111111-1111-1111-1111-111111111111', key: 'k'.repeat(64) }] };

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

describe('Authenticator', () => {
  const ns = alice.namespaces[0]!;

  it('accepts Basic uuid:key with any case of the scheme', async () => {
    const auth = new Authenticator(fakeStore([alice]).store, SECRET, { cacheMs: 0, tokenTtlSeconds: 3600 });
    for (const scheme of ['Basic', 'basic', 'BASIC']) {
      const id = await auth.authenticate(basic(ns.uuid, ns.key).replace('Basic', scheme));
      expect(id).to.include({ subject: 'alice', namespace: 'alice', uuid: ns.uuid });
    }
  });

  it('rejects wrong keys, unknown uuids, missing and malformed headers', async () => {
    const auth = new Authenticator(fakeStore([alice]).store, SECRET, { cacheMs: 0, tokenTtlSeconds: 3600 });
    await reject(auth.authenticate(basic(ns.uuid, 'wrong')), UnauthorizedError);
    await reject(auth.authenticate(basic('22222222-2222-2222-2222-222222222222', ns.key)), UnauthorizedError);
    await reject(auth.authenticate(undefined), UnauthorizedError);
    await reject(auth.authenticate('Basic'), UnauthorizedError);
    await reject(auth.authenticate('Basic !!!'), UnauthorizedError);
    await reject(auth.authenticate('Digest abc'), UnauthorizedError);
  });

  it('caches verified identities for the configured time', async () => {
    const f = fakeStore([alice]);
    const auth = new Authenticator(f.store, SECRET, { cacheMs: 60_000, tokenTtlSeconds: 3600 });
    await auth.authenticate(basic(ns.uuid, ns.key));
    await auth.authenticate(basic(ns.uuid, ns.key));
    expect(f.calls.byUuid).to.equal(1);
    // a wrong key is still refused from the cache
    await reject(auth.authenticate(basic(ns.uuid, 'nope')), UnauthorizedError);
    auth.invalidate();
    await auth.authenticate(basic(ns.uuid, ns.key));
    expect(f.calls.byUuid).to.equal(2);
  });

  it('issues tokens scoped to the namespace, only to key holders', async () => {
    const f = fakeStore([alice]);
    const auth = new Authenticator(f.store, SECRET, { cacheMs: 0, tokenTtlSeconds: 600 });
    const id = await auth.authenticate(basic(ns.uuid, ns.key));
    const t = auth.issue(id, true, 99_999);
    expect(t.expires_in).to.equal(600);
    expect(t.namespace).to.equal('alice');
    const viaToken = await auth.authenticate(`bearer ${t.token}`);
    expect(viaToken.namespace).to.equal('alice');
    expect(() => auth.issue(viaToken, false)).to.throw(ForbiddenError);
  });

  it('refuses expired, foreign-signed and revoked tokens', async () => {
    const f = fakeStore([alice]);
    const auth = new Authenticator(f.store, SECRET, { cacheMs: 0, tokenTtlSeconds: 600 });
    const expired = jwt.sign({ ns: 'alice' }, SECRET, { subject: 'alice', issuer: 'swirl', expiresIn: -10 });
    await reject(auth.authenticate(`Bearer ${expired}`), UnauthorizedError);
    const forged = jwt.sign({ ns: 'alice' }, 'y'.repeat(48), { subject: 'alice', issuer: 'swirl', expiresIn: 60 });
    await reject(auth.authenticate(`Bearer ${forged}`), UnauthorizedError);
    const none = jwt.sign({ ns: 'alice', sub: 'alice', iss: 'swirl' }, '', { algorithm: 'none' });
    await reject(auth.authenticate(`Bearer ${none}`), UnauthorizedError);
    const good = auth.issue(await auth.authenticate(basic(ns.uuid, ns.key)), true).token;
    f.subjects.length = 0; // the user is deleted
    await reject(auth.authenticate(`Bearer ${good}`), UnauthorizedError);
  });

  it('compares secrets of different lengths without throwing', () => {
    expect(sameSecret('a', 'a')).to.equal(true);
    expect(sameSecret('a', 'ab')).to.equal(false);
  });
});
