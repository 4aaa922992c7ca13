import { expect } from 'chai';
import openwhisk from 'openwhisk';
import { wrongKey } from '../support/api.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

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
    // shown encrypted, as OpenWhisk with parameter encryption shows them
    expect(pkg.parameters?.[0]).to.include({ key: 'greeting', encryption: 'aes-256' });
    expect(s.reveal(pkg as never)).to.deep.equal([{ key: 'greeting', value: 'hi' }]);
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
    const bad = openwhisk({ apihost: s.url, api_key: wrongKey(s.guestKey), namespace: '_' });
    try {
      await bad.actions.list();
      expect.fail('expected a 401');
    } catch (e) {
      expect((e as { statusCode?: number }).statusCode).to.equal(401);
    }
  });
});

/** The client driving the programming model with real activations: bindings, sequences, trigger fires, rule switches. */
describe(`the openwhisk npm client, with an invoker (${factoryNames()[0]!} containers)`, function () {
  this.timeout(60_000);
  let s: TestStack;
  let ow: ReturnType<typeof openwhisk>;

  before(async function () {
    s = await startTestStack(factoryNames()[0]!, { SWIRL_INVOKER_MEMORY_MB: '1024' });
    ow = openwhisk({ apihost: s.url, api_key: s.guestKey, namespace: '_' });
  });
  after(async function () {
    await s?.destroy();
  });

  /** Poll the activations of an action until `n` are stored (or give up after 10 s). */
  const activationsOf = async (name: string, n: number) => {
    for (let i = 0; i < 200; i++) {
      const list = (await ow.activations.list({ name, docs: true } as never)) as unknown as Array<{ cause?: string; response: { result: { got?: number } } }>;
      if (list.length >= n) return list;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`fewer than ${n} activations of ${name}`);
  };

  it('invokes through a binding of /whisk.system/utils and runs a sequence of its actions', async function () {
    await ow.packages.create({ name: 'u', package: { binding: { namespace: 'whisk.system', name: 'utils' }, parameters: [{ key: 'num', value: 2 }] } });
    const head = await ow.actions.invoke({ name: 'u/head', params: { lines: ['a', 'b', 'c'] }, blocking: true, result: true });
    expect(head).to.deep.equal({ lines: ['a', 'b'], num: 2 });
    await ow.actions.create({ name: 'top', action: { exec: { kind: 'sequence', components: ['/whisk.system/utils/split', '/whisk.system/utils/sort', '/_/u/head'] } } as never });
    const top = await ow.actions.invoke({ name: 'top', params: { payload: 'z\ny\nx' }, blocking: true, result: true });
    expect(top).to.deep.equal({ lines: ['x', 'y'], num: 2 });
  });

  it('fires a trigger: the rule runs its action until the rule is disabled', async function () {
    await ow.actions.create({ name: 'seen', action: 'function main(p) { return { got: p.n } }' });
    await ow.triggers.create({ name: 'bell', trigger: { parameters: [{ key: 'n', value: 0 }] } });
    await ow.rules.create({ name: 'ring', trigger: 'bell', action: 'seen' });
    const fired = await ow.triggers.invoke({ name: 'bell', params: { n: 1 } });
    expect(fired.activationId).to.match(/^[0-9a-f]{32}$/);
    const [first] = await activationsOf('seen', 1);
    expect(first!.response.result).to.deep.equal({ got: 1 });
    expect(first!.cause).to.equal(fired.activationId);

    await ow.rules.disable({ name: 'ring' });
    expect((await ow.rules.get({ name: 'ring' })).status).to.equal('inactive');
    await ow.triggers.invoke({ name: 'bell', params: { n: 2 } });
    await ow.rules.enable({ name: 'ring' });
    await ow.triggers.invoke({ name: 'bell', params: { n: 3 } });
    const all = await activationsOf('seen', 2);
    expect(all.map((a) => a.response.result.got).sort()).to.deep.equal([1, 3]);
  });
});
