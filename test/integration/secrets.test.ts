import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import nano from 'nano';
import { keyDigest, newCredentials } from '../../common/credentials.ts';
import { expectOk, wrongKey } from '../support/api.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const factory = factoryNames()[0]!;

/**
 * Secrets at rest through the whole standalone path (embedded store, controller, invoker,
 * real containers): what a copy of the store holds, what an action with provide-api-key
 * gets, and which credentials stop working when a user goes or gets a new key.
 */
describe(`secrets at rest (${factory} containers)`, function () {
  this.timeout(60_000);
  let s: TestStack;
  let alice: string;
  const url = (path: string) => `${s.api}/namespaces/_${path}`;
  /** Every document of every database, as a copy of the store holds them. */
  const dump = async (): Promise<string> => {
    const server = nano(s.opened.url);
    const docs = await Promise.all(['subjects', 'whisks', 'activations', 'feeds'].map((db) => server.use(db).list({ include_docs: true })));
    return JSON.stringify(docs);
  };
  /** Give alice's namespace a new key, as `swirl admin user key alice` does. */
  const newKeyFor = async (name: string): Promise<string> => {
    const subject = (await s.opened.store.getSubject(name))!;
    const { _rev, ...body } = subject;
    const { creds, auth } = newCredentials(name, undefined, subject.namespaces[0]!.uuid);
    await s.opened.store.putSubject({ ...body, namespaces: [creds] }, _rev);
    return auth;
  };

  before(async () => {
    // no identity cache: a change to a user holds at once
    s = await startTestStack(factory, { SWIRL_AUTH_CACHE_MS: '0', SWIRL_INVOKER_MEMORY_MB: '1024' });
    alice = await s.createUser('alice');
  });
  after(() => s?.destroy());

  it('a copy of the store reveals no secret parameter, key or server secret; invocations still get the parameters in plain', async () => {
    const secret = `hunter2-${Date.now()}`;
    await expectOk(call('PUT', url('/packages/vault'), { auth: alice, body: { parameters: [{ key: 'dbPassword', value: secret }] } }));
    await expectOk(call('PUT', url('/actions/vault/use'), { auth: alice, body: { exec: { kind: 'nodejs:20', code: 'function main(p) { return { got: p.dbPassword, token: p.apiToken.length } }' }, parameters: [{ key: 'apiToken', value: `${secret}-token` }] } }));
    await expectOk(call('PUT', url('/triggers/tick'), { auth: alice, body: { parameters: [{ key: 'webhookSecret', value: `${secret}-hook` }] } }));
    const result = await expectOk(call('POST', url('/actions/vault/use?blocking=true&result=true'), { auth: alice, body: {} }));
    expect(result).to.deep.equal({ got: secret, token: `${secret}-token`.length });

    const copy = await dump();
    expect(copy).to.contain('"encryption":"aes-256"');
    for (const what of [secret, alice.split(':')[1]!, s.guestKey.split(':')[1]!]) expect(copy).to.not.contain(what);
    // the token secret is not in it either: whatever a stranger takes from the secret's document signs no token
    const doc = (await nano(s.opened.url).use<{ sealed?: string; value?: string }>('subjects').get('swirl:secret:jwt')) as { sealed?: string; value?: string };
    expect(doc).to.have.property('sealed').and.not.have.property('value');
    const forged = jwt.sign({ ns: 'guest', uid: s.guest.uuid, kd: keyDigest(s.guest.keyHash) }, doc.sealed!, { subject: 'guest', issuer: 'swirl', expiresIn: 60 });
    expect((await call('GET', `${s.api}/namespaces`, { auth: `Bearer ${forged}` })).status).to.equal(401);
    // (the same claims signed with the secret itself, which only the master key opens, are accepted)
    const real = await s.opened.store.secret('jwt', () => 'not made');
    const signed = jwt.sign({ ns: 'guest', uid: s.guest.uuid, kd: keyDigest(s.guest.keyHash) }, real, { subject: 'guest', issuer: 'swirl', expiresIn: 60 });
    expect((await call('GET', `${s.api}/namespaces`, { auth: `Bearer ${signed}` })).status).to.equal(200);
  });

  it('provide-api-key: the action gets a key of its own that acts as its namespace, until the key is replaced or the user deleted', async () => {
    const code = 'function main() { return { key: process.env.__OW_API_KEY || null } }';
    await expectOk(call('PUT', url('/actions/keyed'), { auth: alice, body: { exec: { kind: 'nodejs:20', code }, annotations: [{ key: 'provide-api-key', value: true }] } }));
    await expectOk(call('PUT', url('/actions/unkeyed'), { auth: alice, body: { exec: { kind: 'nodejs:20', code } } }));
    expect((await expectOk(call('POST', url('/actions/unkeyed?blocking=true&result=true'), { auth: alice, body: {} }))).key).to.equal(null);
    const { key } = await expectOk(call('POST', url('/actions/keyed?blocking=true&result=true'), { auth: alice, body: {} }));
    expect(key).to.match(/^[0-9a-f-]{36}:[0-9a-f]{64}$/).and.not.equal(alice);
    expect(key.split(':')[0], 'the namespace uuid').to.equal(alice.split(':')[0]);
    // it is what the openwhisk client in an action sends: Basic uuid:key
    expect(await expectOk(call('GET', `${s.api}/namespaces`, { auth: key }))).to.deep.equal(['alice']);
    // one character changed (the last, to another hex digit): refused
    expect((await call('GET', `${s.api}/namespaces`, { auth: wrongKey(key) })).status).to.equal(401);
    // long-lived: the same key every time
    expect((await expectOk(call('POST', url('/actions/keyed?blocking=true&result=true'), { auth: alice, body: {} }))).key).to.equal(key);

    const fresh = await newKeyFor('alice');
    expect((await call('GET', `${s.api}/namespaces`, { auth: key })).status, 'a new key for the namespace ends it').to.equal(401);
    const next = (await expectOk(call('POST', url('/actions/keyed?blocking=true&result=true'), { auth: fresh, body: {} }))).key;
    expect(next).to.not.equal(key);
    expect(await expectOk(call('GET', `${s.api}/namespaces`, { auth: next }))).to.deep.equal(['alice']);
    await s.opened.store.deleteSubject('alice');
    expect((await call('GET', `${s.api}/namespaces`, { auth: next })).status, 'deleting the user ends it').to.equal(401);
    alice = await s.createUser('alice');
  });

  it('tokens die with their user: deleted and created again under the same name, the old token is 401; so after a new key', async () => {
    const bob = await s.createUser('bob');
    const { token } = await expectOk(call('POST', `${s.api}/token`, { auth: bob }));
    expect(await expectOk(call('GET', `${s.api}/namespaces`, { auth: `Bearer ${token}` }))).to.deep.equal(['bob']);
    await s.opened.store.deleteSubject('bob');
    const again = await s.createUser('bob');
    expect((await call('GET', `${s.api}/namespaces`, { auth: `Bearer ${token}` })).status).to.equal(401);
    const { token: second } = await expectOk(call('POST', `${s.api}/token`, { auth: again }));
    expect(await expectOk(call('GET', `${s.api}/namespaces`, { auth: `Bearer ${second}` }))).to.deep.equal(['bob']);
    await newKeyFor('bob');
    expect((await call('GET', `${s.api}/namespaces`, { auth: `Bearer ${second}` })).status).to.equal(401);
  });
});
