import { expect } from 'chai';
import { expectError } from '../support/api.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { storedRecord } from '../support/records.ts';
import { call, startTestServer } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { expectAllConform, expectConforms } from '../support/openapi.ts';

const factory = factoryNames()[0]!;

/**
 * The invoke and activations API on the whole standalone path: controller, load balancer,
 * memory bus, invoker and real containers (Docker in CI), on the embedded store. Status
 * codes and bodies as OpenWhisk documents them, responses checked against swirl's OpenAPI document.
 */
describe(`invoke and activations API (${factory} containers)`, function () {
  this.timeout(60_000);
  let s: TestStack;
  let auth: string;
  const api = (path: string) => `${s.api}/namespaces/_${path}`;
  const put = async (name: string, code: string, extra: Record<string, unknown> = {}) => {
    const r = await call('PUT', api(`/actions/${name}?overwrite=true`), { auth, body: { exec: { kind: 'nodejs:20', code }, ...extra } });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
  };
  const invoke = (name: string, query = '', body: unknown = {}) => call('POST', api(`/actions/${name}${query}`), { auth, body });
  /** Wait until the activation's record is readable (non-blocking invokes store it a little later). */
  const record = (id: string) => storedRecord(api(`/activations/${id}`), auth);

  before(async () => {
    s = await startTestStack(factory, { SWIRL_INVOKER_MEMORY_MB: '1024', SWIRL_BLOCKING_TIMEOUT_MS: '20000' });
    auth = s.guestKey;
    await put('hello', 'function main(p) { console.log("hello " + p.name); return { greeting: "hello " + p.name } }');
  });
  after(() => s?.destroy());

  it('blocking: 200 with the activation record, its result and annotations; result=true gives the result only', async () => {
    const r = await invoke('hello', '?blocking=true', { name: 'ann' });
    expect(r.status).to.equal(200);
    expectConforms('Activation', r.body);
    expect(r.body.response).to.deep.equal({ status: 'success', statusCode: 0, success: true, result: { greeting: 'hello ann' } });
    expect(r.body.activationId).to.match(/^[0-9a-f]{32}$/);
    expect(r.body.namespace).to.equal('guest');
    expect(r.body.name).to.equal('hello');
    expect(r.body.annotations.map((a: { key: string }) => a.key)).to.include.members(['path', 'kind', 'limits', 'waitTime']);

    const only = await invoke('hello', '?blocking=true&result=true', { name: 'bob' });
    expect(only.status).to.equal(200);
    expect(only.body).to.deep.equal({ greeting: 'hello bob' });
  });

  it('non-blocking: 202 with the activation id; the record, its logs and result can be read afterwards', async () => {
    const r = await invoke('hello', '', { name: 'cy' });
    expect(r.status).to.equal(202);
    expectConforms('ActivationId', r.body);
    const rec = await record(r.body.activationId);
    expectConforms('Activation', rec);
    expect(rec.response.result).to.deep.equal({ greeting: 'hello cy' });
    const logs = await call('GET', api(`/activations/${r.body.activationId}/logs`), { auth });
    expect(logs.status).to.equal(200);
    expectConforms('ActivationLogs', logs.body);
    expect(logs.body.logs).to.have.length(1);
    expect(logs.body.logs[0]).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z stdout: hello cy$/);
    const result = await call('GET', api(`/activations/${r.body.activationId}/result`), { auth });
    expect(result.status).to.equal(200);
    expectConforms('ActivationResult', result.body);
    expect(result.body).to.deep.include({ status: 'success', success: true, result: { greeting: 'hello cy' } });
  });

  it('an application error ({error}) and a developer error (thrown) are 502 with the record; result=true gives the error', async () => {
    await put('fails', 'function main(p) { if (p.how === "throw") throw new Error("boom"); return { error: "bad input" } }');
    const app = await invoke('fails', '?blocking=true');
    expect(app.status).to.equal(502);
    expect(app.body.response).to.deep.equal({ status: 'application error', statusCode: 1, success: false, result: { error: 'bad input' } });
    const appResult = await invoke('fails', '?blocking=true&result=true');
    expect(appResult.status).to.equal(502);
    expect(appResult.body).to.deep.equal({ error: 'bad input' });
    const dev = await invoke('fails', '?blocking=true', { how: 'throw' });
    expect(dev.status).to.equal(502);
    expect(dev.body.response).to.deep.include({ status: 'action developer error', statusCode: 2, success: false });
  });

  it('an internal error (no container can be had for the action) is 500 with the record', async () => {
    // the invoker's budget (1024 MB) is below this action's memory: the pool cannot place it
    await call('PUT', api('/actions/huge?overwrite=true'), { auth, body: { exec: { kind: 'nodejs:20', code: 'function main() { return {} }' }, limits: { memory: 512 } } });
    const small = await startTestStack(factory, { SWIRL_INVOKER_MEMORY_MB: '256' });
    try {
      await call('PUT', `${small.api}/namespaces/_/actions/huge`, { auth: small.guestKey, body: { exec: { kind: 'nodejs:20', code: 'function main() { return {} }' }, limits: { memory: 512 } } });
      const r = await call('POST', `${small.api}/namespaces/_/actions/huge?blocking=true`, { auth: small.guestKey, body: {} });
      expect(r.status).to.equal(500);
      expect(r.body.response).to.deep.equal({ status: 'whisk internal error', statusCode: 3, success: false, result: { error: 'Failed to provision a container for the action.' } });
    } finally {
      await small.destroy();
    }
  });

  it('blocking past the wait (?timeout=): 202 with the activation id, and the record comes later', async () => {
    await put('slow', 'async function main() { await new Promise(r => setTimeout(r, 1500)); return { done: true } }');
    const t0 = Date.now();
    const r = await invoke('slow', '?blocking=true&timeout=300');
    expect(r.status).to.equal(202);
    expect(Date.now() - t0).to.be.lessThan(1400);
    expect(Object.keys(r.body)).to.deep.equal(['activationId']);
    const rec = await record(r.body.activationId);
    expect(rec.response.result).to.deep.equal({ done: true });
  });

  it('parameters: package < action < request', async () => {
    const pkg = await call('PUT', api('/packages/tools?overwrite=true'), { auth, body: { parameters: [{ key: 'a', value: 'pkg' }, { key: 'b', value: 'pkg' }, { key: 'c', value: 'pkg' }] } });
    expect(pkg.status).to.equal(200);
    const act = await call('PUT', api('/actions/tools/params?overwrite=true'), {
      auth,
      body: { exec: { kind: 'nodejs:20', code: 'function main(p) { return p }' }, parameters: [{ key: 'b', value: 'action' }, { key: 'c', value: 'action' }] },
    });
    expect(act.status).to.equal(200);
    const r = await invoke('tools/params', '?blocking=true&result=true', { c: 'request' });
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal({ a: 'pkg', b: 'action', c: 'request' });
  });

  it('rejects what cannot be invoked: a missing action (404), a body that is not an object (400), a bad timeout (400)', async () => {
    expectError(await invoke('nope', '?blocking=true'), 404, 'The requested resource does not exist.');
    expectError(await call('POST', api('/actions/hello'), { auth, body: [1, 2] }), 400, /malformed/);
    expectError(await call('POST', api('/actions/hello'), { auth, raw: '{"a":', headers: { 'content-type': 'application/json' } }), 400);
    expectError(await invoke('hello', '?blocking=true&timeout=soon'), 400, /timeout/);
    expectError(await call('POST', `${s.api}/namespaces/_/actions/hello`, { body: {} }), 401);
  });

  it('lists activations newest first, by name, in a time range, paged, as docs, and counts them', async () => {
    await put('counted', 'function main(p) { return { n: p.n } }');
    const since = Date.now();
    const ids: string[] = [];
    for (let n = 0; n < 4; n++) ids.push((await invoke('counted', '?blocking=true', { n })).body.activationId);
    // a blocking caller gets the result before the record is stored: wait for the last one
    await record(ids[3]!);
    const list = await call('GET', api('/activations?name=counted'), { auth });
    expect(list.status).to.equal(200);
    expectAllConform('ActivationBrief', list.body);
    expect(list.body.map((a: { activationId: string }) => a.activationId)).to.deep.equal([...ids].reverse());
    expect(list.body[0]).to.not.have.property('logs');

    const paged = await call('GET', api('/activations?name=counted&limit=2&skip=1'), { auth });
    expect(paged.body.map((a: { activationId: string }) => a.activationId)).to.deep.equal([ids[2], ids[1]]);
    const docs = await call('GET', api('/activations?name=counted&limit=1&docs=true'), { auth });
    expect(docs.body[0].response.result).to.deep.equal({ n: 3 });
    const count = await call('GET', api(`/activations?name=counted&count=true&since=${since}`), { auth });
    expect(count.body).to.deep.equal({ activations: 4 });
    const none = await call('GET', api(`/activations?name=counted&upto=${since - 1}`), { auth });
    expect(none.body).to.deep.equal([]);
    expectError(await call('GET', api('/activations?limit=500'), { auth }), 400);
    expectError(await call('GET', api('/activations?since=yesterday'), { auth }), 400);
  });

  it('activations are namespace-scoped: unknown and foreign ids are 404, a malformed id is 400', async () => {
    const mine = (await invoke('hello', '?blocking=true', { name: 'x' })).body.activationId as string;
    const other = await s.createUser('otheruser');
    expectError(await call('GET', `${s.api}/namespaces/_/activations/${mine}`, { auth: other }), 404);
    expectError(await call('GET', `${s.api}/namespaces/_/activations/${mine}/logs`, { auth: other }), 404);
    expectError(await call('GET', `${s.api}/namespaces/guest/activations/${mine}`, { auth: other }), 403);
    expectError(await call('GET', api(`/activations/${'0'.repeat(32)}`), { auth }), 404);
    expectError(await call('GET', api('/activations/not-an-id'), { auth }), 400);
    const theirs = await call('GET', `${s.api}/namespaces/_/activations`, { auth: other });
    expect(theirs.body).to.deep.equal([]);
  });

  it('answers 503 "No invokers available." when no invoker is up', async () => {
    const lonely = await startTestServer();
    try {
      await call('PUT', `${lonely.api}/namespaces/_/actions/a`, { auth: lonely.guestKey, body: { exec: { kind: 'nodejs:20', code: 'function main() { return {} }' } } });
      expectError(await call('POST', `${lonely.api}/namespaces/_/actions/a?blocking=true`, { auth: lonely.guestKey, body: {} }), 503, 'No invokers available.');
    } finally {
      await lonely.destroy();
    }
  });
});
