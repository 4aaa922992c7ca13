import { expect } from 'chai';
import type { RuleResult } from '../../controller/triggers.ts';
import { expectError, sleep } from '../support/api.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { storedRecord } from '../support/records.ts';
import { call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { expectConforms } from '../support/openapi.ts';

const factory = factoryNames()[0]!;

/**
 * Firing triggers through their rules on the whole standalone path (controller, memory
 * bus, invoker, real containers, embedded store): 202/204 as OpenWhisk answers, the
 * actions' activations caused by the trigger's, and the trigger's record that tells what
 * became of each rule.
 */
describe(`triggers and rules: firing (${factory} containers)`, function () {
  this.timeout(60_000);
  let s: TestStack;
  let auth: string;
  const api = (path: string) => `${s.api}/namespaces/_${path}`;
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await call(method, api(path), { auth, body });
    expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).to.equal(200);
    return r.body;
  };
  const trigger = (name: string, params: Record<string, unknown> = {}) =>
    ok('PUT', `/triggers/${name}?overwrite=true`, { parameters: Object.entries(params).map(([key, value]) => ({ key, value })) });
  const rule = (name: string, t: string, action: string) => ok('PUT', `/rules/${name}`, { trigger: t, action });
  const fire = (name: string, payload?: unknown, key = auth) => call('POST', api(`/triggers/${name}`), { auth: key, body: payload });
  const setStatus = (name: string, status: string) => call('POST', api(`/rules/${name}`), { auth, body: { status } });
  /** Wait until an activation's record is stored (fires and non-blocking invokes store it a little later). */
  const record = (id: string) => storedRecord(api(`/activations/${id}`), auth);
  /** The trigger's record, its log lines parsed, in rule order. */
  const fired = async (id: string) => {
    const rec = await record(id);
    expectConforms('Activation', rec);
    const lines = (rec.logs as string[]).map((l) => JSON.parse(l) as RuleResult).sort((a, b) => a.rule.localeCompare(b.rule));
    return { rec, lines };
  };

  before(async () => {
    s = await startTestStack(factory, { SWIRL_INVOKER_MEMORY_MB: '1024' });
    auth = s.guestKey;
    await ok('PUT', '/actions/echo', { exec: { kind: 'nodejs:20', code: 'function main(p) { return p }' } });
  });
  after(() => s?.destroy());

  it('a trigger without an active rule: 204 with no body and no record; a missing trigger is 404', async () => {
    await trigger('idle');
    const r = await fire('idle', { x: 1 });
    expect(r.status).to.equal(204);
    expect(r.body).to.equal('');
    expect((await call('GET', api('/activations?name=idle'), { auth })).body).to.deep.equal([]);
    expectError(await fire('nope'), 404, 'The requested resource does not exist.');
  });

  it('an active rule: 202 {activationId}; the action gets the trigger parameters under the payload, caused by the trigger activation', async () => {
    await trigger('t1', { a: 'trigger', b: 'trigger' });
    await rule('r1', 't1', 'echo');
    const r = await fire('t1', { b: 'payload', c: 'payload' });
    expect(r.status).to.equal(202);
    expectConforms('ActivationId', r.body);
    expect(Object.keys(r.body)).to.deep.equal(['activationId']);
    expect(r.headers.get('x-openwhisk-activation-id')).to.equal(r.body.activationId);

    const { rec, lines } = await fired(r.body.activationId);
    expect(rec).to.include({ name: 't1', namespace: 'guest', activationId: r.body.activationId });
    expect(rec.response).to.deep.equal({ status: 'success', statusCode: 0, success: true, result: { a: 'trigger', b: 'payload', c: 'payload' } });
    expect(lines).to.have.length(1);
    expect(lines[0]).to.deep.include({ statusCode: 0, success: true, rule: 'guest/r1', action: 'guest/echo' });

    const action = await record(lines[0]!.activationId!);
    expect(action.name).to.equal('echo');
    expect(action.cause).to.equal(r.body.activationId);
    expect(action.response.result).to.deep.equal({ a: 'trigger', b: 'payload', c: 'payload' });
  });

  it('a disabled rule is not fired; its status shows on the rule and on the trigger; enabling it fires again', async () => {
    await trigger('t2');
    await rule('r2', 't2', 'echo');
    const off = await setStatus('r2', 'inactive');
    expect(off.status).to.equal(200);
    expect(off.body.status).to.equal('inactive');
    expect((await ok('GET', '/rules/r2')).status).to.equal('inactive');
    const t = await ok('GET', '/triggers/t2');
    expectConforms('Trigger', t);
    expect(t.rules).to.deep.equal({ 'guest/r2': { action: { path: 'guest', name: 'echo' }, status: 'inactive' } });
    expect((await fire('t2')).status).to.equal(204);

    // an inactive rule beside an active one is reported in the trigger's record, not run
    await rule('r2b', 't2', 'echo');
    const both = await fire('t2');
    expect(both.status).to.equal(202);
    const { lines } = await fired(both.body.activationId);
    expect(lines.map((l) => [l.rule, l.success])).to.deep.equal([
      ['guest/r2', false],
      ['guest/r2b', true],
    ]);
    expect(lines[0]).to.deep.include({ statusCode: 1, error: "Rule 'guest/r2' is inactive, action 'guest/echo' was not activated." });

    const on = await setStatus('r2', 'active');
    expect(on.status).to.equal(200);
    expect((await ok('GET', '/rules/r2')).status).to.equal('active');
    expect((await ok('GET', '/triggers/t2')).rules['guest/r2'].status).to.equal('active');
    // setting the status it already has is fine
    expect((await setStatus('r2', 'active')).status).to.equal(200);
    const again = await fire('t2');
    expect(again.status).to.equal(202);
    expect((await fired(again.body.activationId)).lines.every((l) => l.success)).to.equal(true);
  });

  it('two rules run two activations: one to an action in a package, one through a binding with its parameters', async () => {
    await ok('PUT', '/packages/tools', { parameters: [{ key: 'from', value: 'package' }] });
    await ok('PUT', '/actions/tools/echo', { exec: { kind: 'nodejs:20', code: 'function main(p) { return p }' } });
    await ok('PUT', '/packages/bound', { binding: { name: 'tools' }, parameters: [{ key: 'from', value: 'binding' }] });
    await trigger('t3');
    await rule('r3pkg', 't3', 'tools/echo');
    await rule('r3bind', '/_/t3', '/_/bound/echo');
    const r = await fire('t3', { n: 3 });
    expect(r.status).to.equal(202);
    const { lines } = await fired(r.body.activationId);
    expect(lines.map((l) => [l.rule, l.action, l.success])).to.deep.equal([
      ['guest/r3bind', 'guest/bound/echo', true],
      ['guest/r3pkg', 'guest/tools/echo', true],
    ]);
    const [viaBinding, viaPackage] = await Promise.all(lines.map((l) => record(l.activationId!)));
    expect(viaBinding.response.result).to.deep.equal({ from: 'binding', n: 3 });
    expect(viaBinding.annotations).to.deep.include({ key: 'binding', value: 'guest/bound' });
    expect(viaPackage.response.result).to.deep.equal({ from: 'package', n: 3 });
    expect(new Set([viaBinding.cause, viaPackage.cause])).to.deep.equal(new Set([r.body.activationId]));
  });

  it('a rule whose action was deleted stays, and firing logs an error line for it while the other rule runs', async () => {
    await ok('PUT', '/actions/doomed', { exec: { kind: 'nodejs:20', code: 'function main(p) { return p }' } });
    await trigger('t4');
    await rule('r4gone', 't4', 'doomed');
    await rule('r4ok', 't4', 'echo');
    await ok('DELETE', '/actions/doomed');
    expect((await ok('GET', '/rules/r4gone')).action).to.deep.equal({ path: 'guest', name: 'doomed' });
    const r = await fire('t4');
    expect(r.status).to.equal(202);
    const { lines } = await fired(r.body.activationId);
    expect(lines).to.have.length(2);
    expect(lines[0]).to.deep.equal({ statusCode: 1, success: false, error: 'The requested resource does not exist.', rule: 'guest/r4gone', action: 'guest/doomed' });
    expect(lines[1]).to.deep.include({ success: true, rule: 'guest/r4ok' });
  });

  it('fires per minute: the fire over the namespace limit is a 429 naming it', async () => {
    // fixed one-minute windows: start well inside one
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 5_000) await sleep(left + 20);
    const key = await s.createUser('firey');
    const subject = (await s.opened.store.getSubject('firey'))!;
    const { _rev, ...rest } = subject;
    await s.opened.store.putSubject({ ...rest, namespaces: rest.namespaces.map((n) => ({ ...n, limits: { firesPerMinute: 2 } })) }, _rev);
    expect((await call('PUT', `${s.api}/namespaces/_/triggers/tick`, { auth: key, body: {} })).status).to.equal(200);
    for (let i = 0; i < 2; i++) expect((await fire('tick', {}, key)).status).to.equal(204);
    expectError(await fire('tick', {}, key), 429, 'Too many requests in the last minute (count: 3, allowed: 2).');
    // the guest's fires are counted apart
    expect((await fire('idle')).status).to.equal(204);
  });

  it('rejects: another namespace’s trigger or rule (403), a payload or status that is not right (400), a rule whose trigger is gone (404)', async () => {
    const other = await s.createUser('mallory');
    expectError(await call('POST', `${s.api}/namespaces/guest/triggers/t1`, { auth: other, body: {} }), 403);
    expectError(await call('POST', `${s.api}/namespaces/guest/rules/r1`, { auth: other, body: { status: 'inactive' } }), 403);
    expectError(await fire('t1', [1, 2]), 400, /malformed/);
    expectError(await fire('t1', 'text'), 400, /malformed/);
    for (const body of [{ status: 'activating' }, { status: 1 }, {}, undefined]) expectError(await call('POST', api('/rules/r1'), { auth, body }), 400, /status/);
    expectError(await setStatus('nope', 'active'), 404);
    await trigger('t5');
    await rule('r5', 't5', 'echo');
    await ok('DELETE', '/triggers/t5');
    expectError(await setStatus('r5', 'active'), 404, 'Only rules with existing triggers can be activated.');
  });
});
