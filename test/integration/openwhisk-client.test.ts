import { expect } from 'chai';
import openwhisk from 'openwhisk';
import { startTestServer, type TestServer } from '../support/server.ts';

/** The official `openwhisk` npm client, unchanged, against swirl. */
describe('the openwhisk npm client', function () {
  let s: TestServer;
  let ow: ReturnType<typeof openwhisk>;

  before(async function () {
    s = await startTestServer();
    ow = openwhisk({ apihost: s.url, api_key: s.guestKey, namespace: '_' });
  });
  after(async function () {
    await s?.destroy();
  });

  it('creates, reads, lists, updates and deletes actions', async function () {
    const created = await ow.actions.create({ name: 'hello', action: 'function main(p) { return { hi: p.name } }', kind: 'nodejs:20' });
    expect(created.name).to.equal('hello');
    expect(created.version).to.equal('0.0.1');
    const got = await ow.actions.get({ name: 'hello' });
    expect((got.exec as { code?: string }).code).to.contain('function main');
    // an update may carry only what changes (the client's typings insist on exec; the API does not)
    const updated = await ow.actions.update({ name: 'hello', action: { limits: { memory: 512 } } as never });
    expect(updated.version).to.equal('0.0.2');
    expect(updated.limits?.memory).to.equal(512);
    const list = await ow.actions.list();
    expect(list.map((a) => a.name)).to.include('hello');
    await ow.actions.delete({ name: 'hello' });
    try {
      await ow.actions.get({ name: 'hello' });
      expect.fail('the action should be gone');
    } catch (e) {
      expect((e as { statusCode?: number }).statusCode).to.equal(404);
    }
  });

  it('creates actions in a package, triggers and rules', async function () {
    await ow.packages.create({ name: 'tools', package: { parameters: [{ key: 'greeting', value: 'hi' }] } });
    await ow.actions.create({ name: 'tools/echo', action: 'function main(p) { return p }' });
    await ow.triggers.create({ name: 'tick' });
    const rule = await ow.rules.create({ name: 'on-tick', trigger: 'tick', action: 'tools/echo' });
    expect(rule.name).to.equal('on-tick');
    expect(rule.status).to.equal('active');
    expect(rule.action).to.deep.equal({ name: 'echo', path: 'guest/tools' });
    const pkg = await ow.packages.get({ name: 'tools' });
    expect(pkg.parameters).to.deep.equal([{ key: 'greeting', value: 'hi' }]);
    expect((await ow.triggers.list()).map((t) => t.name)).to.deep.equal(['tick']);
    expect((await ow.rules.list()).map((r) => r.name)).to.deep.equal(['on-tick']);
  });

  it('reports errors with the server message', async function () {
    try {
      await ow.triggers.get({ name: 'nope' });
      expect.fail('expected a 404');
    } catch (e) {
      const err = e as { statusCode?: number; message?: string };
      expect(err.statusCode).to.equal(404);
      expect(err.message).to.contain('The requested resource does not exist.');
    }
  });

  it('is refused with a wrong key', async function () {
    const bad = openwhisk({ apihost: s.url, api_key: s.guestKey.replace(/.$/, 'x'), namespace: '_' });
    try {
      await bad.actions.list();
      expect.fail('expected a 401');
    } catch (e) {
      expect((e as { statusCode?: number }).statusCode).to.equal(401);
    }
  });
});
