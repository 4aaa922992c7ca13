import { expect } from 'chai';
import { expectError, sleep } from '../support/api.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const factory = factoryNames()[0]!;

/** Rate limits count in fixed one-minute windows (epoch minutes): start a counting test well inside one. */
async function freshMinute(needMs = 10_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await sleep(left + 20);
}

/** Per-namespace throttles on the invoke path: 429 naming the limit, defaults from config, overrides kept with the identity. */
describe(`throttles on the invoke path (${factory} containers)`, function () {
  this.timeout(60_000);
  let s: TestStack;
  const invoke = (auth: string, name: string, query = '') => call('POST', `${s.api}/namespaces/_/actions/${name}${query}`, { auth, body: {} });
  const create = (auth: string, name: string, code: string) => call('PUT', `${s.api}/namespaces/_/actions/${name}`, { auth, body: { exec: { kind: 'nodejs:20', code } } });

  before(async () => {
    s = await startTestStack(factory, { SWIRL_LIMIT_INVOKES_PER_MINUTE: '3', SWIRL_LIMIT_CONCURRENT_INVOKES: '1', SWIRL_AUTH_CACHE_MS: '0' });
  });
  after(() => s?.destroy());

  it('invocations per minute: the one over the limit is a 429 that names it', async () => {
    await freshMinute();
    const auth = await s.createUser('ratey');
    expect((await create(auth, 'quick', 'function main() { return {} }')).status).to.equal(200);
    for (let i = 0; i < 3; i++) expect((await invoke(auth, 'quick', '?blocking=true')).status).to.equal(200);
    expectError(await invoke(auth, 'quick', '?blocking=true'), 429, 'Too many requests in the last minute (count: 4, allowed: 3).');
    // another namespace has its own count
    const other = await s.createUser('calm');
    expect((await create(other, 'quick', 'function main() { return {} }')).status).to.equal(200);
    expect((await invoke(other, 'quick', '?blocking=true')).status).to.equal(200);
  });

  it('concurrent invocations: a second one while the first runs is a 429; the slot is free once it completes', async () => {
    const auth = await s.createUser('busy');
    expect((await create(auth, 'slow', 'async function main() { await new Promise(r => setTimeout(r, 800)); return {} }')).status).to.equal(200);
    const first = await invoke(auth, 'slow');
    expect(first.status).to.equal(202);
    expectError(await invoke(auth, 'slow'), 429, 'Too many concurrent requests in flight (count: 1, allowed: 1).');
    // the rejected one neither runs nor holds a slot: once the first completes, the next is admitted
    for (let i = 0; i < 100; i++) {
      await sleep(50);
      const list = await call('GET', `${s.api}/namespaces/_/activations`, { auth });
      if (list.body.length === 1) break;
    }
    // the slot is freed when the completion reaches the controller, a moment after the record is stored
    let third = await invoke(auth, 'slow', '?blocking=true');
    for (let i = 0; i < 40 && third.status === 429; i++) {
      await sleep(50);
      third = await invoke(auth, 'slow', '?blocking=true');
    }
    expect(third.status).to.equal(200);
    // two activations ran, the refused ones left no record (the last record lands a moment after its result)
    let count = (await call('GET', `${s.api}/namespaces/_/activations?count=true`, { auth })).body;
    for (let i = 0; i < 40 && count.activations < 2; i++) {
      await sleep(50);
      count = (await call('GET', `${s.api}/namespaces/_/activations?count=true`, { auth })).body;
    }
    await sleep(200);
    expect((await call('GET', `${s.api}/namespaces/_/activations?count=true`, { auth })).body).to.deep.equal({ activations: 2 });
  });

  it('limits kept with the namespace win over the defaults', async () => {
    await freshMinute();
    const auth = await s.createUser('special');
    const subject = (await s.opened.store.getSubject('special'))!;
    const { _rev, ...body } = subject;
    await s.opened.store.putSubject({ ...body, namespaces: body.namespaces.map((n) => ({ ...n, limits: { invocationsPerMinute: 5, concurrentInvocations: 10 } })) }, _rev);
    expect((await create(auth, 'quick', 'function main() { return {} }')).status).to.equal(200);
    for (let i = 0; i < 5; i++) expect((await invoke(auth, 'quick', '?blocking=true')).status, `invoke ${i + 1}`).to.equal(200);
    expectError(await invoke(auth, 'quick', '?blocking=true'), 429, 'Too many requests in the last minute (count: 6, allowed: 5).');
  });
});
