import { expect } from 'chai';
import { expectError, expectOk, sleep } from '../support/api.ts';
import { storedRecord } from '../support/records.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { expectConforms } from '../support/openapi.ts';

const factory = factoryNames()[0]!;

type Rec = { activationId: string; name: string; duration: number; logs: string[]; cause?: string; annotations: { key: string; value: unknown }[]; response: any };
const ann = (r: Rec, key: string) => r.annotations.find((a) => a.key === key)?.value;

/**
 * Sequences on the whole standalone path (controller, memory bus, invoker, real
 * containers): components run in order on the previous result, through packages and
 * bindings and /whisk.system/utils, an `{error}` stops the chain, the sequence's record
 * lists its components' activations, and PUT rejects what OpenWhisk rejects.
 */
describe(`sequences (${factory} containers)`, function () {
  this.timeout(60_000);
  let s: TestStack;
  let auth: string;
  const api = (path: string) => `${s.api}/namespaces/_${path}`;
  const action = (name: string, code: string, extra: object = {}) =>
    expectOk(call('PUT', api(`/actions/${name}?overwrite=true`), { auth, body: { exec: { kind: 'nodejs:20', code }, ...extra } }));
  const sequence = (name: string, components: string[]) => call('PUT', api(`/actions/${name}?overwrite=true`), { auth, body: { exec: { kind: 'sequence', components } } });
  const invoke = (name: string, query = '', body: unknown = {}) => call('POST', api(`/actions/${name}${query}`), { auth, body });
  const record = (id: string): Promise<Rec> => storedRecord(api(`/activations/${id}`), auth);

  before(async () => {
    // one concurrent invocation: a sequence that held a slot while its components run would be refused its components
    s = await startTestStack(factory, { SWIRL_INVOKER_MEMORY_MB: '1024', SWIRL_LIMIT_CONCURRENT_INVOKES: '1', SWIRL_LIMIT_INVOKES_PER_MINUTE: '1000' });
    auth = s.guestKey;
    // a binding of the shared utils, and a package of our own whose parameter feeds its action
    await expectOk(call('PUT', api('/packages/myutils'), { auth, body: { binding: { namespace: 'whisk.system', name: 'utils' } } }));
    await expectOk(call('PUT', api('/packages/text'), { auth, body: { parameters: [{ key: 'n', value: 2 }] } }));
    await action('text/top', 'function main(p) { return { top: p.lines.slice(0, p.n), from: p.length } }');
    await expectOk(sequence('words', ['/whisk.system/utils/split', 'myutils/sort', 'text/top']));
  });
  after(() => s?.destroy());

  it('runs split → sort → top through /whisk.system, a binding and a package, each component on the previous result (one concurrent invocation allowed)', async () => {
    const r = await invoke('words', '?blocking=true', { payload: 'pear\napple\nfig' });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expectConforms('Activation', r.body);
    expect(r.body.response).to.deep.equal({ status: 'success', statusCode: 0, success: true, result: { top: ['apple', 'fig'], from: 3 } });
    const seq = r.body as Rec;
    expect(seq.logs).to.have.length(3);
    const [split, sort, top] = await Promise.all(seq.logs.map(record));
    expect(split!.response.result).to.deep.equal({ lines: ['pear', 'apple', 'fig'], payload: 'pear\napple\nfig' });
    expect(sort!.response.result).to.deep.equal({ lines: ['apple', 'fig', 'pear'], length: 3 });
    expect(top!.response.result).to.deep.equal({ top: ['apple', 'fig'], from: 3 });
    expect(ann(sort!, 'binding')).to.equal('guest/myutils');
    for (const c of [split!, sort!, top!]) {
      expect(c.cause, c.name).to.equal(seq.activationId);
      expect(ann(c, 'causedBy'), c.name).to.equal('sequence');
    }
    // the sequence's own record: kind, topmost, and the time its components ran
    expect(ann(seq, 'kind')).to.equal('sequence');
    expect(ann(seq, 'topmost')).to.equal(true);
    expect(ann(seq, 'path')).to.equal('guest/words');
    expect(ann(seq, 'limits')).to.include({ timeout: 60_000, memory: 256 });
    expect(ann(seq, 'waitTime')).to.be.a('number');
    expect(seq).to.not.have.property('cause');
    expect(seq.duration).to.equal(split!.duration + sort!.duration + top!.duration);
    const stored = await record(seq.activationId);
    expect(stored.logs).to.deep.equal(seq.logs);
  });

  it('result=true gives only the last result; a non-blocking invoke is a 202 and the record appears', async () => {
    const only = await invoke('words', '?blocking=true&result=true', { payload: 'b\na' });
    expect(only.status).to.equal(200);
    expect(only.body).to.deep.equal({ top: ['a', 'b'], from: 2 });

    const r = await invoke('words', '', { payload: 'z\ny\nx' });
    expect(r.status).to.equal(202);
    expect(Object.keys(r.body)).to.deep.equal(['activationId']);
    const rec = await record(r.body.activationId);
    expectConforms('Activation', rec);
    expect(rec.response.result).to.deep.equal({ top: ['x', 'y'], from: 3 });
    expect(rec.logs).to.have.length(3);
  });

  it('an {error} result stops the chain: 502, the error is the sequence result, the next component never runs', async () => {
    await action('one', 'function main(p) { return { n: 1 } }');
    await action('bad', 'function main(p) { return { error: "no good after " + p.n } }');
    await action('never', 'function main(p) { return { n: 3 } }');
    await expectOk(sequence('shorted', ['one', 'bad', 'never']));

    const r = await invoke('shorted', '?blocking=true');
    expect(r.status).to.equal(502);
    expect(r.body.response).to.deep.equal({ status: 'application error', statusCode: 1, success: false, result: { error: 'no good after 1' } });
    expect(r.body.logs).to.have.length(2);
    const result = await invoke('shorted', '?blocking=true&result=true');
    expect(result.status).to.equal(502);
    expect(result.body).to.deep.equal({ error: 'no good after 1' });

    // the sequence's record is written after every component that ran reported
    await record(r.body.activationId);
    const ran = await call('GET', api('/activations?name=never&count=true'), { auth });
    expect(ran.body).to.deep.equal({ activations: 0 });
  });

  it('a sequence in a sequence: the inner one is a component with cause and causedBy, topmost only on the outer', async () => {
    await expectOk(sequence('inner', ['/whisk.system/utils/split', '/whisk.system/utils/sort']));
    await expectOk(sequence('outer', ['inner', '/whisk.system/utils/head']));
    const r = await invoke('outer', '?blocking=true', { payload: 'q\np' });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body.response.result).to.deep.equal({ lines: ['p'], num: 1 });
    const outer = r.body as Rec;
    expect(outer.logs).to.have.length(2);
    const inner = await record(outer.logs[0]!);
    expect(inner.name).to.equal('inner');
    expect(inner.cause).to.equal(outer.activationId);
    expect(ann(inner, 'causedBy')).to.equal('sequence');
    expect(ann(inner, 'topmost')).to.equal(false);
    expect(ann(outer, 'topmost')).to.equal(true);
    expect(inner.logs).to.have.length(2);
    const innerComponents = await Promise.all(inner.logs.map(record));
    for (const c of innerComponents) expect(c.cause).to.equal(inner.activationId);
    const head = await record(outer.logs[1]!);
    expect(outer.duration).to.equal(inner.duration + head.duration);
    expect(inner.duration).to.equal(innerComponents[0]!.duration + innerComponents[1]!.duration);
  });

  it('blocking past the wait: 202 with the activation id while the sequence goes on, and its record is written', async () => {
    await action('slow', 'async function main(p) { await new Promise(r => setTimeout(r, 1200)); return { slept: true } }');
    await expectOk(sequence('slowseq', ['/whisk.system/utils/echo', 'slow']));
    const t0 = Date.now();
    const r = await invoke('slowseq', '?blocking=true&timeout=300');
    expect(r.status).to.equal(202);
    expect(Date.now() - t0).to.be.lessThan(1100);
    expect(Object.keys(r.body)).to.deep.equal(['activationId']);
    const rec = await record(r.body.activationId);
    expect(rec.response.result).to.deep.equal({ slept: true });
    expect(rec.logs).to.have.length(2);
  });

  it('a component deleted after the sequence was made: 502 with "Sequence component does not exist."', async () => {
    await action('doomed', 'function main(p) { return p }');
    await expectOk(sequence('orphaned', ['/whisk.system/utils/echo', 'doomed']));
    await expectOk(call('DELETE', api('/actions/doomed'), { auth }));
    const r = await invoke('orphaned', '?blocking=true');
    expect(r.status).to.equal(502);
    expect(r.body.response).to.deep.equal({ status: 'application error', statusCode: 1, success: false, result: { error: 'Sequence component does not exist.' } });
    expect(r.body.logs).to.have.length(1);
  });

  it('throttles: the sequence takes one invocation of the per-minute rate, and each component one more', async () => {
    // rate windows are epoch minutes: start well inside one
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 5_000) await sleep(left + 20);
    const counted = await s.createUser('counted');
    const { _rev, ...subject } = (await s.opened.store.getSubject('counted'))!;
    await s.opened.store.putSubject({ ...subject, namespaces: subject.namespaces.map((n) => ({ ...n, limits: { invocationsPerMinute: 3 } })) }, _rev);
    const url = `${s.api}/namespaces/counted/actions/pair`;
    await expectOk(call('PUT', url, { auth: counted, body: { exec: { kind: 'sequence', components: ['/whisk.system/utils/echo', '/whisk.system/utils/echo'] } } }));
    expect((await call('POST', `${url}?blocking=true`, { auth: counted, body: {} })).status).to.equal(200);
    expectError(await call('POST', `${url}?blocking=true`, { auth: counted, body: {} }), 429, 'Too many requests in the last minute (count: 4, allowed: 3).');
  });

  describe('PUT', () => {
    it('rejects a missing component, and a component the caller may not invoke', async () => {
      expectError(await sequence('broken', ['/whisk.system/utils/echo', 'nothere']), 400, 'Sequence component does not exist.');
      expectError(await sequence('broken', ['text/nothere']), 400, 'Sequence component does not exist.');
      const alice = await s.createUser('alice');
      await expectOk(call('PUT', `${s.api}/namespaces/alice/actions/secret`, { auth: alice, body: { exec: { kind: 'nodejs:20', code: 'function main() { return {} }' } } }));
      expectError(await sequence('stolen', ['/alice/secret']), 403);
      expect((await call('GET', api('/actions/broken'), { auth })).status).to.equal(404);
    });

    it('rejects cycles: an action turned into a sequence of itself, and one closed through another sequence', async () => {
      await action('loop', 'function main(p) { return p }');
      expectError(await sequence('loop', ['loop']), 400, 'Sequence may not refer to itself.');
      expect((await call('GET', api('/actions/loop'), { auth })).body.exec.kind).to.equal('nodejs:20');

      await expectOk(sequence('s1', ['one']));
      await expectOk(sequence('s2', ['/whisk.system/utils/echo', 's1']));
      expectError(await sequence('s1', ['s2']), 400, 'Sequence may not refer to itself.');
      // through a binding of our own package too
      await expectOk(call('PUT', api('/packages/textalias'), { auth, body: { binding: { namespace: '_', name: 'text' } } }));
      await expectOk(sequence('text/s3', ['s2']));
      expectError(await sequence('s1', ['textalias/s3']), 400, 'Sequence may not refer to itself.');
    });

    it('rejects more than 50 atomic actions, nested sequences counted', async () => {
      const echo = '/whisk.system/utils/echo';
      expectError(await sequence('long', Array(51).fill(echo)), 400, 'Too many actions in the sequence.');
      await expectOk(sequence('half', Array(25).fill(echo)));
      await expectOk(sequence('fifty', ['half', 'half']));
      expectError(await sequence('toolong', ['half', 'half', echo]), 400, 'Too many actions in the sequence.');
      expectError(await sequence('toolong', ['fifty', echo]), 400, 'Too many actions in the sequence.');
    });
  });
});
