import { expect } from 'chai';
import type { Summary } from '../../controller/activation-summary.ts';
import { MAX_STREAMS_PER_NAMESPACE } from '../../controller/routes/activation-stream.ts';
import { expectError, sleep } from '../support/api.ts';
import { expectConforms } from '../support/openapi.ts';
import { newCredentials } from '../../common/credentials.ts';
import { silentLogger } from '../../common/logger.ts';
import { startController } from '../../controller/server.ts';
import { swirlInProcess } from '../support/cli.ts';
import { call } from '../support/server.ts';
import { openStream, type OpenStream } from '../support/sse.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/**
 * The activation stream (server-sent events of a namespace's new records), the dashboard's
 * summary and the operators' invoker list, on a controller and an invoker with real action
 * processes (the stream reads the store, whatever ran the action), two tenants and an operator.
 */
describe('dashboard API: activation stream, summary, invoker list', function () {
  this.timeout(60_000);
  let s: TestStack;
  let guest: string;
  let alice: string;
  const api = (ns: string, path: string) => `${s.api}/namespaces/${ns}${path}`;
  const streamOf = (auth: string, ns = '_', query = '') => openStream(api(ns, `/activations/stream${query}`), auth);
  const put = async (auth: string, name: string, code: string) => {
    const r = await call('PUT', api('_', `/actions/${name}?overwrite=true`), { auth, body: { exec: { kind: 'nodejs:20', code } } });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
  };
  const invoke = async (auth: string, name: string, params: Record<string, unknown> = {}, blocking = true): Promise<string> => {
    const r = await call('POST', api('_', `/actions/${name}?blocking=${blocking}`), { auth, body: params });
    expect(r.status, JSON.stringify(r.body)).to.be.oneOf([200, 202, 502]);
    return (r.body as { activationId: string }).activationId;
  };
  const open: OpenStream[] = [];
  const track = (o: OpenStream): OpenStream => (open.push(o), o);

  before(async () => {
    s = await startTestStack('process', { SWIRL_INVOKER_MEMORY_MB: '1024' });
    guest = s.guestKey;
    alice = await s.createUser('alice');
    await put(guest, 'hello', 'function main(p) { console.log("hello " + p.name); return { greeting: "hello " + p.name } }');
    await put(guest, 'fails', 'function main() { return { error: "no" } }');
    await put(alice, 'hello', 'function main(p) { return { mine: p.name } }');
  });
  afterEach(() => open.splice(0).forEach((o) => o.close()));
  after(() => s?.destroy());

  it('carries each new activation of the namespace once, whole (result, logs), blocking or not, as an Activation', async () => {
    const st = track(await streamOf(guest));
    expect(st.status).to.equal(200);
    const blocking = await invoke(guest, 'hello', { name: 'ann' });
    const async = await invoke(guest, 'hello', { name: 'bo' }, false);
    const a = await st.next((r) => r.activationId === blocking);
    const b = await st.next((r) => r.activationId === async);
    expectConforms('Activation', a);
    expect(a.response.result).to.deep.equal({ greeting: 'hello ann' });
    expect(a.logs.join('\n')).to.match(/hello ann/);
    expect(b.response.result).to.deep.equal({ greeting: 'hello bo' });
    await sleep(2500); // two more reads of the store
    expect(st.records.filter((r) => r.activationId === blocking)).to.have.length(1);
  });

  it("a stream on another controller of the same store carries the activations this one published (records, not this controller's completions)", async () => {
    const other = await startController({ ...s.config, controllerId: '1', port: 0 }, s.opened.store, s.infra, silentLogger);
    try {
      const st = track(await openStream(`${other.url}/api/v1/namespaces/_/activations/stream`, guest));
      expect(st.status).to.equal(200);
      const id = await invoke(guest, 'hello', { name: 'across' });
      expect((await st.next((r) => r.activationId === id)).response.result).to.deep.equal({ greeting: 'hello across' });
    } finally {
      open.splice(0).forEach((o) => o.close());
      await other.close();
    }
  });

  it('starts from the moment it opens: activations stored before are not carried', async () => {
    const before = await invoke(guest, 'hello', { name: 'old' });
    await sleep(300);
    const st = track(await streamOf(guest));
    const after = await invoke(guest, 'hello', { name: 'new' });
    await st.next((r) => r.activationId === after);
    expect(st.records.map((r) => r.activationId)).not.to.include(before);
  });

  it("another tenant's stream never carries them, and carries that tenant's own; another namespace's stream is refused", async () => {
    const mine = track(await streamOf(guest));
    const theirs = track(await streamOf(alice));
    const ids = [await invoke(guest, 'hello', { name: 'secret' }), await invoke(guest, 'fails'), await invoke(guest, 'hello', { name: 'x' }, false)];
    const own = await invoke(alice, 'hello', { name: 'al' });
    for (const id of ids) await mine.next((r) => r.activationId === id);
    const alices = await theirs.next((r) => r.activationId === own);
    expect(alices.namespace).to.equal('alice');
    await sleep(2500); // past two more reads
    expect(theirs.records.map((r) => r.namespace)).to.deep.equal(['alice']);
    expect(JSON.stringify(theirs.records)).not.to.match(/secret/);
    expect(mine.records.map((r) => r.activationId)).not.to.include(own);

    const refused = await call('GET', api('guest', '/activations/stream'), { auth: alice });
    expectError(refused, 403);
    expectError(await call('GET', api('_', '/activations/stream')), 401);
  });

  it('?name= carries only that action', async () => {
    const st = track(await streamOf(guest, '_', '?name=fails'));
    await invoke(guest, 'hello', { name: 'not this' });
    const failed = await invoke(guest, 'fails');
    const r = await st.next((x) => x.activationId === failed);
    expect(r.response.status).to.equal('application error');
    await sleep(1500);
    expect(st.records.map((x) => x.name)).to.deep.equal(['fails']);
    expectError(await call('GET', api('_', '/activations/stream?name=a/b/c'), { auth: guest }), 400);
  });

  it(`a namespace holds at most ${MAX_STREAMS_PER_NAMESPACE} streams per controller: then 429; closing one frees its place`, async () => {
    for (let i = 0; i < MAX_STREAMS_PER_NAMESPACE; i++) expect(track(await streamOf(guest)).status).to.equal(200);
    expectError(await call('GET', api('_', '/activations/stream'), { auth: guest }), 429, /at most 10/);
    // alice is not held back by guest's streams
    expect(track(await streamOf(alice)).status).to.equal(200);
    open.shift()!.close();
    await sleep(200);
    expect(track(await streamOf(guest)).status).to.equal(200);
  });

  it('`swirl activation poll` follows the stream: each new activation\'s logs once, none from before; with --since-seconds the earlier ones first', async () => {
    const env = { __OW_API_HOST: s.url, __OW_API_KEY: guest };
    const before = await invoke(guest, 'hello', { name: 'earlier' });
    await sleep(200);
    const polling = swirlInProcess(['activation', 'poll', '--exit', '5', '-v'], env);
    await sleep(1500);
    const id = await invoke(guest, 'hello', { name: 'polled' });
    const r = await polling;
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain(`Activation: 'hello' (${id})`).and.to.match(/stdout: hello polled/);
    expect(r.stdout.match(new RegExp(id, 'g'))).to.have.length(1);
    expect(r.stdout).not.to.contain(before);
    // one request: the stream (no list polled every 2 s)
    expect(r.stderr.match(/^REQUEST:/gm)).to.have.length(1);
    expect(r.stderr).to.contain('/activations/stream');

    const since = await swirlInProcess(['activation', 'poll', 'hello', '--exit', '2', '--since-seconds', '60'], env);
    expect(since.stdout.indexOf(before)).to.be.greaterThan(0).and.lessThan(since.stdout.indexOf(id));
  });

  it('`swirl invoker list` shows operators each invoker: state, running, queued, containers by state, memory; --json the API\'s objects; others get 403', async () => {
    const { creds, auth: ops } = newCredentials('ops');
    await s.opened.store.putSubject({ subject: 'ops', namespaces: [creds], admin: true });
    await invoke(guest, 'hello', { name: 'warm' });
    await sleep(2200); // a heartbeat that counts its warm container
    const env = (key: string) => ({ __OW_API_HOST: s.url, __OW_API_KEY: key });
    const table = await swirlInProcess(['invoker', 'list'], env(ops));
    expect(table.code, table.stderr).to.equal(0);
    const [header, row, ...rest] = table.stdout.trimEnd().split('\n');
    expect(header).to.match(/^Invoker\s+State\s+Running\s+Queued\s+In flight\s+Containers\s+Pool\s+Memory used\/total\s+Last heartbeat$/);
    expect(rest).to.deep.equal([]);
    const m = /^invoker0\s+up\s+0\s+0\s+\d+\s+(\d+)\s+0 stem, (\d+) warm, (\d+) paused, 0 busy\s+\d+\/1024 MB\s+\d+(ms|\.?\d*s) ago$/.exec(row!);
    expect(m, row).to.not.equal(null);
    const [containers, warm, paused] = m!.slice(1, 4).map(Number);
    expect(containers).to.be.at.least(1).and.equal(warm! + paused!);
    const json = await swirlInProcess(['invoker', 'list', '--json'], env(ops));
    const [only, ...others] = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(others).to.deep.equal([]);
    expectConforms('Invoker', only);
    expect(only).to.include({ id: 0, name: 'invoker0', state: 'up', memoryMb: 1024, queued: 0, containers });
    // (the actions have the default 256 MB)
    expect(only!.pool).to.deep.equal({ prewarm: 0, idle: warm, paused, busy: 0, starting: 0, memoryUsedMb: 256 * containers! });
    const refused = await swirlInProcess(['invoker', 'list'], env(guest));
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.match(/^error: Unable to get the list of invokers: .*not authorized/i);
  });

  it('`swirl invoker containers 0` shows operators each container with the action it serves and the namespace invoking it; --json conforms; unknown invokers are 404, others get 403', async () => {
    const { creds, auth: ops } = newCredentials('ops2');
    await s.opened.store.putSubject({ subject: 'ops2', namespaces: [creds], admin: true });
    await invoke(guest, 'hello', { name: 'listed' });
    await invoke(alice, 'hello', { name: 'listed' });
    await sleep(2200); // a heartbeat that lists them
    const env = (key: string) => ({ __OW_API_HOST: s.url, __OW_API_KEY: key });
    const table = await swirlInProcess(['invoker', 'containers', 'invoker0'], env(ops));
    expect(table.code, table.stderr).to.equal(0);
    const [header, ...rows] = table.stdout.trimEnd().split('\n');
    expect(header).to.match(/^Container\s+State\s+Kind\s+Started as\s+In flight\s+Memory\s+Last used\s+Action$/);
    const actions = rows.map((r) => / (\/\S+)$/.exec(r)?.[1]);
    expect(actions).to.include.members(['/guest/hello', '/alice/hello']);
    for (const r of rows) expect(r).to.match(/^\S{1,12}\s+(idle|paused|pausing|busy)\s+nodejs:20\s+cold\s+\d+\s+256 MB\s+\S+ ago\s+\//);
    const json = JSON.parse((await swirlInProcess(['invoker', 'containers', '0', '--json'], env(ops))).stdout) as Array<Record<string, unknown>>;
    for (const c of json) expectConforms('InvokerContainer', c);
    expect(json.map((c) => c.action)).to.deep.include({ namespace: 'alice', name: 'alice/hello' });
    const unknown = await call('GET', `${s.api}/invokers/invoker7/containers`, { auth: ops });
    expect(unknown.status).to.equal(404);
    expect((unknown.body as { error: string }).error).to.equal('The invoker invoker7 is not known.');
    const refused = await swirlInProcess(['invoker', 'containers', '0'], env(alice));
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.match(/^error: Unable to get the containers of invoker 0: .*not authorized/i);
  });

  it('summary: per action count, errors, error rate, p50/p99 in buckets; only the caller’s namespace; bad windows are 400', async () => {
    const since = Date.now() - 1;
    await invoke(guest, 'hello', { name: 'one' });
    await invoke(guest, 'hello', { name: 'two' });
    await invoke(guest, 'fails');
    await sleep(300); // records stored
    const r = await call('GET', api('_', `/dashboard/summary?since=${since}&buckets=4`), { auth: guest });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expectConforms('ActivationSummary', r.body);
    const byName = Object.fromEntries((r.body as Summary).actions.map((a) => [a.name, a]));
    expect(Object.keys(byName)).to.have.members(['hello', 'fails']);
    expect(byName.hello).to.include({ count: 2, errors: 0, errorRate: 0 });
    expect(byName.fails).to.include({ count: 1, errors: 1, errorRate: 1 });
    expect(byName.hello!.p50).to.be.a('number').and.at.most(byName.hello!.p99!);
    expect(byName.hello!.buckets).to.have.length(4);
    expect(byName.hello!.buckets.reduce((n, b) => n + b.count, 0)).to.equal(2);

    const theirs = await call('GET', api('_', `/dashboard/summary?since=${since}`), { auth: alice });
    expect(theirs.body.actions.map((a: { name: string }) => a.name)).not.to.include('fails');
    expectError(await call('GET', api('guest', '/dashboard/summary'), { auth: alice }), 403);
    expectError(await call('GET', api('_', '/dashboard/summary?buckets=0'), { auth: guest }), 400, /buckets/);
    expectError(await call('GET', api('_', '/dashboard/summary?since=x'), { auth: guest }), 400, /since/);
    expectError(await call('GET', api('_', '/dashboard/summary?since=10&upto=5'), { auth: guest }), 400, /later/);
  });
});
