import { expect } from 'chai';
import { silentLogger } from '../../common/logger.ts';
import { CacheInvalidation } from '../../controller/cache-invalidation.ts';
import { SYSTEM_PACKAGES } from '../../controller/system/index.ts';
import { ensureSystemPackages, SYSTEM_NAMESPACE } from '../../controller/system/packages.ts';
import { expectError, expectOk, sleep } from '../support/api.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { storedRecord } from '../support/records.ts';
import { call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { expectConforms } from '../support/openapi.ts';

const factory = factoryNames()[0]!;

/**
 * Packages as users share them: parameters that feed their actions, bindings that layer
 * their own parameters on top (also of another namespace's published package), published
 * packages readable and invokable from other namespaces while private ones stay invisible,
 * and the read-only `/whisk.system` namespace every user can call.
 */
describe(`packages, bindings and /whisk.system (${factory} containers)`, function () {
  this.timeout(60_000);
  let s: TestStack;
  let guest: string;
  let alice: string;
  const url = (ns: string, path: string) => `${s.api}/namespaces/${ns}${path}`;
  /** An action that returns its parameters. */
  const echo = { exec: { kind: 'nodejs:20', code: 'function main(p) { return p }' } };

  before(async () => {
    s = await startTestStack(factory, { SWIRL_INVOKER_MEMORY_MB: '1024' });
    guest = s.guestKey;
    alice = await s.createUser('alice');
    // alice shares one package and keeps another to herself
    await expectOk(call('PUT', url('alice', '/packages/shared'), { auth: alice, body: { publish: true, parameters: [{ key: 'from', value: 'shared' }, { key: 'region', value: 'eu' }] } }));
    await expectOk(call('PUT', url('alice', '/actions/shared/show'), { auth: alice, body: echo }));
    await expectOk(call('PUT', url('alice', '/packages/private'), { auth: alice, body: { parameters: [{ key: 'secret', value: 's3' }] } }));
    await expectOk(call('PUT', url('alice', '/actions/private/show'), { auth: alice, body: echo }));
    await expectOk(call('PUT', url('alice', '/actions/loose'), { auth: alice, body: { ...echo, publish: true } }));
  });
  after(() => s?.destroy());

  it('parameters layer package < binding < action < request', async () => {
    await expectOk(call('PUT', url('_', '/packages/base'), { auth: guest, body: { parameters: [{ key: 'a', value: 'pkg' }, { key: 'b', value: 'pkg' }, { key: 'c', value: 'pkg' }, { key: 'd', value: 'pkg' }] } }));
    await expectOk(call('PUT', url('_', '/actions/base/show'), { auth: guest, body: { ...echo, parameters: [{ key: 'c', value: 'action' }, { key: 'd', value: 'action' }] } }));
    await expectOk(call('PUT', url('_', '/packages/mine'), { auth: guest, body: { binding: { namespace: '_', name: 'base' }, parameters: [{ key: 'b', value: 'binding' }, { key: 'c', value: 'binding' }] } }));

    const direct = await expectOk(call('POST', url('_', '/actions/base/show?blocking=true&result=true'), { auth: guest, body: {} }));
    expect(direct).to.deep.equal({ a: 'pkg', b: 'pkg', c: 'action', d: 'action' });
    const viaBinding = await expectOk(call('POST', url('_', '/actions/mine/show?blocking=true&result=true'), { auth: guest, body: { d: 'request' } }));
    expect(viaBinding).to.deep.equal({ a: 'pkg', b: 'binding', c: 'action', d: 'request' });
  });

  it('an activation through a binding runs the bound action and names the binding in its record', async () => {
    const r = await call('POST', url('_', '/actions/mine/show?blocking=true'), { auth: guest, body: {} });
    expect(r.status).to.equal(200);
    expectConforms('Activation', r.body);
    const ann = Object.fromEntries(r.body.annotations.map((a: { key: string; value: unknown }) => [a.key, a.value]));
    expect(ann.path).to.equal('guest/base/show');
    expect(ann.binding).to.equal('guest/mine');
    expect(r.body.namespace).to.equal('guest');
  });

  it('a binding shows the bound package’s actions and the merged parameters; its actions list and read through it', async () => {
    const got = await expectOk(call('GET', url('_', '/packages/mine'), { auth: guest }));
    expectConforms('Package', got);
    expect(got.binding).to.deep.equal({ namespace: 'guest', name: 'base' });
    expect(got.actions.map((a: { name: string }) => a.name)).to.deep.equal(['show']);
    expect(Object.fromEntries(s.reveal(got).map((p) => [p.key, p.value]))).to.deep.equal({ a: 'pkg', b: 'binding', c: 'binding', d: 'pkg' });
    const listed = await expectOk(call('GET', url('_', '/actions/mine/'), { auth: guest }));
    expect(listed.map((a: { name: string; namespace: string }) => `${a.namespace}/${a.name}`)).to.deep.equal(['guest/base/show']);
    const action = await expectOk(call('GET', url('_', '/actions/mine/show'), { auth: guest }));
    expect(action.exec.code).to.equal(echo.exec.code);
    // listing the namespace's packages includes the binding
    const pkgs = await expectOk(call('GET', url('_', '/packages'), { auth: guest }));
    expect(pkgs.map((p: { name: string }) => p.name)).to.include.members(['base', 'mine']);
  });

  it('another namespace’s published package is readable and invokable, also through a binding to it', async () => {
    const pkg = await expectOk(call('GET', url('alice', '/packages/shared'), { auth: guest }));
    expect(pkg.actions.map((a: { name: string }) => a.name)).to.deep.equal(['show']);
    // its parameters are shown sealed, as OpenWhisk shows encrypted parameters: reading them reveals nothing,
    // and a sealed value copied into an entity of one's own is refused rather than opened there
    expect(pkg.parameters.map((p: { key: string; encryption: string }) => [p.key, p.encryption])).to.deep.equal([['from', 'aes-256'], ['region', 'aes-256']]);
    expect(JSON.stringify(pkg.parameters)).to.not.contain('shared').and.not.contain('"eu"');
    const copied = await call('PUT', url('_', '/actions/copycat'), { auth: guest, body: { ...echo, parameters: pkg.parameters } });
    expectError(copied, 400, "The parameter 'from' is encrypted for another entity or with another key: send its value instead.");
    await expectOk(call('GET', url('alice', '/actions/shared/show'), { auth: guest }));
    const direct = await expectOk(call('POST', url('alice', '/actions/shared/show?blocking=true&result=true'), { auth: guest, body: { x: 1 } }));
    expect(direct).to.deep.equal({ from: 'shared', region: 'eu', x: 1 });

    await expectOk(call('PUT', url('_', '/packages/alices'), { auth: guest, body: { binding: { namespace: 'alice', name: 'shared' }, parameters: [{ key: 'region', value: 'us' }] } }));
    const r = await call('POST', url('_', '/actions/alices/show?blocking=true'), { auth: guest, body: {} });
    expect(r.status).to.equal(200);
    expect(r.body.response.result).to.deep.equal({ from: 'shared', region: 'us' });
    // the activation is the caller's, not alice's
    expect(r.body.namespace).to.equal('guest');
    // (the blocking answer comes before the record is stored)
    await storedRecord(url('_', `/activations/${r.body.activationId}`), guest);
    expectError(await call('GET', url('alice', `/activations/${r.body.activationId}`), { auth: guest }), 403);
  });

  it('a private package of another namespace is invisible: listing omits it, reads, invokes and bindings fail as for a missing one', async () => {
    const pkgs = await expectOk(call('GET', url('alice', '/packages'), { auth: guest }));
    expect(pkgs.map((p: { name: string }) => p.name)).to.deep.equal(['shared']);
    for (const path of ['/packages/private', '/packages/no-such', '/actions/private/show', '/actions/no-such/show', '/actions/private/']) {
      expectError(await call('GET', url('alice', path), { auth: guest }), 403);
    }
    const privateInvoke = await call('POST', url('alice', '/actions/private/show?blocking=true'), { auth: guest, body: {} });
    const missingInvoke = await call('POST', url('alice', '/actions/no-such/show?blocking=true'), { auth: guest, body: {} });
    expectError(privateInvoke, 403);
    expectError(missingInvoke, 403);
    expect(privateInvoke.body.error.replace('private', 'X')).to.equal(missingInvoke.body.error.replace('no-such', 'X'));
    // an action outside any package is never shared, published or not
    expectError(await call('POST', url('alice', '/actions/loose?blocking=true'), { auth: guest, body: {} }), 403);
    expectError(await call('PUT', url('_', '/packages/sneaky'), { auth: guest, body: { binding: { namespace: 'alice', name: 'private' } } }), 400);
  });

  it('a binding stops working when the package it binds is unpublished', async () => {
    await expectOk(call('PUT', url('alice', '/packages/temp'), { auth: alice, body: { publish: true } }));
    await expectOk(call('PUT', url('alice', '/actions/temp/show'), { auth: alice, body: echo }));
    await expectOk(call('PUT', url('_', '/packages/tempb'), { auth: guest, body: { binding: { namespace: 'alice', name: 'temp' } } }));
    await expectOk(call('POST', url('_', '/actions/tempb/show?blocking=true'), { auth: guest, body: {} }));
    await expectOk(call('PUT', url('alice', '/packages/temp?overwrite=true'), { auth: alice, body: { publish: false } }));
    expectError(await call('POST', url('_', '/actions/tempb/show?blocking=true'), { auth: guest, body: {} }), 403);
    expectError(await call('GET', url('_', '/packages/tempb'), { auth: guest }), 403);
  });

  it('/whisk.system/utils is there for every namespace, and read-only', async () => {
    for (const key of [guest, alice]) {
      const pkgs = await expectOk(call('GET', url(SYSTEM_NAMESPACE, '/packages'), { auth: key }));
      expect(pkgs.map((p: { name: string }) => p.name)).to.include('utils');
      const utils = await expectOk(call('GET', url(SYSTEM_NAMESPACE, '/packages/utils'), { auth: key }));
      expect(utils.actions.map((a: { name: string }) => a.name)).to.include.members(['echo', 'sort', 'head', 'cat', 'split', 'date']);
    }
    const echoed = await expectOk(call('POST', url(SYSTEM_NAMESPACE, '/actions/utils/echo?blocking=true&result=true'), { auth: alice, body: { hi: 'there' } }));
    expect(echoed).to.deep.equal({ hi: 'there' });
    const split = await expectOk(call('POST', url(SYSTEM_NAMESPACE, '/actions/utils/split?blocking=true&result=true'), { auth: guest, body: { payload: 'c\nb\na' } }));
    expect(split.lines).to.deep.equal(['c', 'b', 'a']);
    const sorted = await expectOk(call('POST', url(SYSTEM_NAMESPACE, '/actions/utils/sort?blocking=true&result=true'), { auth: guest, body: { lines: split.lines } }));
    expect(sorted).to.deep.equal({ lines: ['a', 'b', 'c'], length: 3 });
    const head = await expectOk(call('POST', url(SYSTEM_NAMESPACE, '/actions/utils/head?blocking=true&result=true'), { auth: guest, body: { lines: sorted.lines, num: 2 } }));
    expect(head).to.deep.equal({ lines: ['a', 'b'], num: 2 });
    const cat = await expectOk(call('POST', url(SYSTEM_NAMESPACE, '/actions/utils/cat?blocking=true&result=true'), { auth: guest, body: { lines: head.lines } }));
    expect(cat.payload).to.equal('a\nb');
    const date = await expectOk(call('POST', url(SYSTEM_NAMESPACE, '/actions/utils/date?blocking=true&result=true'), { auth: guest, body: {} }));
    expect(Math.abs(Date.parse(date.date) - Date.now())).to.be.below(60_000);

    expectError(await call('PUT', url(SYSTEM_NAMESPACE, '/actions/utils/echo?overwrite=true'), { auth: guest, body: echo }), 403);
    expectError(await call('DELETE', url(SYSTEM_NAMESPACE, '/packages/utils'), { auth: guest }), 403);
    expectError(await call('PUT', url(SYSTEM_NAMESPACE, '/packages/mine'), { auth: guest, body: {} }), 403);
    // a binding to it works like any other: its parameters reach the actions (they have no defaults that would win)
    await expectOk(call('PUT', url('_', '/packages/myutils'), { auth: guest, body: { binding: { namespace: SYSTEM_NAMESPACE, name: 'utils' }, parameters: [{ key: 'num', value: 3 }] } }));
    const three = await expectOk(call('POST', url('_', '/actions/myutils/head?blocking=true&result=true'), { auth: guest, body: { lines: ['w', 'x', 'y', 'z'] } }));
    expect(three).to.deep.equal({ lines: ['w', 'x', 'y'], num: 3 });
  });

  it('installing the system packages again changes nothing; a changed definition is updated with a new version', async () => {
    const before = await expectOk(call('GET', url(SYSTEM_NAMESPACE, '/actions/utils/echo'), { auth: guest }));
    await ensureSystemPackages(s.opened.store, SYSTEM_PACKAGES, silentLogger);
    const same = await expectOk(call('GET', url(SYSTEM_NAMESPACE, '/actions/utils/echo'), { auth: guest }));
    expect(same).to.deep.equal(before);
    await sleep(2);
    const changed = SYSTEM_PACKAGES.map((p) => (p.name === 'utils' ? { ...p, actions: p.actions.map((a) => (a.name === 'echo' ? { ...a, description: 'changed' } : a)) } : p));
    // as a newer controller starting beside this one installs them: its writes tell this controller's cache
    const upgraded = await CacheInvalidation.start({ bus: s.infra.bus, controllerId: 'upgraded', cache: { invalidate: () => undefined }, log: silentLogger });
    await ensureSystemPackages(upgraded.writingThrough(s.opened.store), changed, silentLogger);
    await upgraded.close();
    let after = await expectOk(call('GET', url(SYSTEM_NAMESPACE, '/actions/utils/echo'), { auth: guest }));
    for (let i = 0; i < 100 && after.version === '0.0.1'; i++) {
      await sleep(10);
      after = await expectOk(call('GET', url(SYSTEM_NAMESPACE, '/actions/utils/echo'), { auth: guest }));
    }
    expect(after.version).to.equal('0.0.2');
    expect(after.annotations.find((a: { key: string }) => a.key === 'description').value).to.equal('changed');
  });
});
