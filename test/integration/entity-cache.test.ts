import { expect } from 'chai';
import { loadConfig } from '../../common/config.ts';
import { type Infra, openInfra } from '../../common/infra.ts';
import { silentLogger } from '../../common/logger.ts';
import { type RunningController, startController } from '../../controller/server.ts';
import { Invoker } from '../../invoker/invoker.ts';
import { InvokerService } from '../../invoker/service.ts';
import { sleep } from '../support/api.ts';
import { type KafkaFixture, startKafkaFixture } from '../support/kafka-fixture.ts';
import { makeFactory } from '../support/invoker-fixtures.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { call, startTestServer, type TestServer } from '../support/server.ts';
import { waitUntilUp } from '../support/stack.ts';

/**
 * The stated bound: a write on one controller is seen by the others within BOUND_MS — the
 * invalidation travels over the bus (measured: a few ms on Redis, up to the consumer's fetch
 * wait on Kafka). The cache's own time limit (60 s here, 5 s by default) is the backstop for a
 * lost message, so these cases would fail without the bus.
 */
const BOUND_MS = 1_000;
const CACHE_MS = '60000';

for (const bus of ['redis', 'kafka'] as const) {
  describe(`entity cache across two controllers on the ${bus} bus (process containers)`, function () {
    this.timeout(120_000);
    let redis: TestRedis;
    let kafka: KafkaFixture | undefined;
    let a: TestServer;
    let b: { controller: RunningController; infra: Infra; api: string };
    let invoker: { service: InvokerService; invoker: Invoker };
    let guest: string;

    before(async () => {
      redis = await startRedis();
      if (bus === 'kafka') kafka = await startKafkaFixture();
      const env = {
        SWIRL_BUS: bus,
        SWIRL_REDIS_URL: redis.url,
        ...(kafka ? { SWIRL_KAFKA_BROKERS: kafka.brokers.join(',') } : {}),
        SWIRL_CONTROLLER_COUNT: '2',
        SWIRL_ENTITY_CACHE_MS: CACHE_MS,
        SWIRL_PREWARM: '[]',
      };
      // controller 0 on a fresh embedded store; controller 1 in front of the same store, bus and Redis
      a = await startTestServer({ ...env, SWIRL_CONTROLLER_ID: '0' });
      const configB = loadConfig({ SWIRL_PORT: '0', SWIRL_HOST: '127.0.0.1', SWIRL_DATA_DIR: a.dataDir, SWIRL_LOG_LEVEL: 'silent', ...env, SWIRL_CONTROLLER_ID: '1' });
      const infraB = await openInfra(configB, silentLogger, 'test-b');
      const controller = await startController(configB, a.opened.store, infraB, silentLogger);
      b = { controller, infra: infraB, api: `${controller.url}/api/v1` };
      const inv = await Invoker.start(a.config, a.opened.store, silentLogger, { factory: await makeFactory('process'), apiHost: a.url });
      const service = await InvokerService.start({ id: 0, bus: a.infra.bus, health: a.infra.health, store: a.opened.store, invoker: inv, log: silentLogger });
      invoker = { service, invoker: inv };
      await waitUntilUp(a.url, 0, 30_000);
      await waitUntilUp(controller.url, 0, 30_000);
      guest = a.guestKey;
      // the first invalidation gets through (kafka: once controller 1 has joined its group)
      await putAction(a.api, guest, 'warmup', 'function main() { return { v: 0 } }');
      await getAction(b.api, guest, 'warmup');
      await putAction(a.api, guest, 'warmup', 'function main() { return { v: 1 } }');
      await seenWithin(60_000, async () => (await getAction(b.api, guest, 'warmup')).body.version === '0.0.2');
    });
    after(async () => {
      await invoker?.service.close();
      await invoker?.invoker.close();
      await b?.controller.close();
      await b?.infra.close();
      await a?.destroy();
      await kafka?.cleanup();
      await redis?.cleanup();
    });

    it(`a PUT on one controller is seen by a GET and an invoke on the other within ${BOUND_MS} ms`, async () => {
      await putAction(a.api, guest, 'greet', 'function main() { return { v: 1 } }');
      // controller 1 reads it (and so caches it) for a GET and for an invoke
      expect((await getAction(b.api, guest, 'greet')).body.version).to.equal('0.0.1');
      expect(await invoke(b.api, guest, 'greet')).to.deep.equal({ status: 200, body: { v: 1 } });
      await putAction(a.api, guest, 'greet', 'function main() { return { v: 2 } }');
      const took = await seenWithin(BOUND_MS, async () => (await getAction(b.api, guest, 'greet')).body.exec?.code?.includes('v: 2'));
      await seenWithin(BOUND_MS - took, async () => (await invoke(b.api, guest, 'greet')).body?.v === 2);
      // and it stays so (no stale entry comes back)
      await sleep(200);
      expect((await getAction(b.api, guest, 'greet')).body.version).to.equal('0.0.2');
      expect(await invoke(b.api, guest, 'greet')).to.deep.equal({ status: 200, body: { v: 2 } });
    });

    it(`a DELETE on one controller is a 404 on the other for a GET and an invoke within ${BOUND_MS} ms, and stays one`, async () => {
      await putAction(a.api, guest, 'doomed', 'function main() { return { alive: true } }');
      expect((await getAction(b.api, guest, 'doomed')).status).to.equal(200);
      expect((await invoke(b.api, guest, 'doomed')).status).to.equal(200);
      expect((await call('DELETE', `${a.api}/namespaces/_/actions/doomed`, { auth: guest })).status).to.equal(200);
      const took = await seenWithin(BOUND_MS, async () => (await getAction(b.api, guest, 'doomed')).status === 404);
      await seenWithin(BOUND_MS - took, async () => (await invoke(b.api, guest, 'doomed')).status === 404);
      await sleep(200);
      expect((await getAction(b.api, guest, 'doomed')).status).to.equal(404);
      expect((await invoke(b.api, guest, 'doomed')).status).to.equal(404);
    });

    it('a trigger and rule written on one controller fire on the other; a deleted trigger stops firing there', async () => {
      await putAction(a.api, guest, 'fired', 'function main(p) { return p }');
      expect((await call('PUT', `${a.api}/namespaces/_/triggers/t`, { auth: guest, body: {} })).status).to.equal(200);
      expect((await call('POST', `${b.api}/namespaces/_/triggers/t`, { auth: guest, body: {} })).status, 'no rule yet (cached so on controller 1)').to.equal(204);
      expect((await call('PUT', `${a.api}/namespaces/_/rules/r`, { auth: guest, body: { trigger: 't', action: 'fired' } })).status).to.equal(200);
      await seenWithin(BOUND_MS, async () => (await call('POST', `${b.api}/namespaces/_/triggers/t`, { auth: guest, body: {} })).status === 202);
      expect((await call('GET', `${b.api}/namespaces/_/rules/r`, { auth: guest })).body.status).to.equal('active');
      expect((await call('DELETE', `${a.api}/namespaces/_/triggers/t`, { auth: guest })).status).to.equal(200);
      await seenWithin(BOUND_MS, async () => (await call('GET', `${b.api}/namespaces/_/rules/r`, { auth: guest })).body.status === 'inactive');
      expect((await call('POST', `${b.api}/namespaces/_/triggers/t`, { auth: guest, body: {} })).status).to.equal(404);
    });

    it('the cache does not leak across namespaces: each sees its own action of one name, and another\'s private one stays 403', async () => {
      const alice = await a.createUser('alice');
      const bob = await a.createUser('bob');
      await putAction(a.api, alice, 'same', 'function main() { return { who: "alice" } }');
      await putAction(a.api, bob, 'same', 'function main() { return { who: "bob" } }');
      for (let i = 0; i < 2; i++) {
        // the second round is served from controller 1's cache
        expect((await getAction(b.api, alice, 'same')).body).to.include({ namespace: 'alice' });
        expect((await getAction(b.api, bob, 'same')).body).to.include({ namespace: 'bob' });
        expect(await invoke(b.api, alice, 'same')).to.deep.equal({ status: 200, body: { who: 'alice' } });
        expect(await invoke(b.api, bob, 'same')).to.deep.equal({ status: 200, body: { who: 'bob' } });
        expect((await call('GET', `${b.api}/namespaces/bob/actions/same`, { auth: alice })).status).to.equal(403);
        expect((await call('POST', `${b.api}/namespaces/bob/actions/same?blocking=true`, { auth: alice, body: {} })).status).to.equal(403);
      }
    });
  });
}

const putAction = async (api: string, auth: string, name: string, code: string) => {
  const r = await call('PUT', `${api}/namespaces/_/actions/${name}?overwrite=true`, { auth, body: { exec: { kind: 'nodejs:20', code } } });
  expect(r.status, JSON.stringify(r.body)).to.equal(200);
};
const getAction = (api: string, auth: string, name: string) => call('GET', `${api}/namespaces/_/actions/${name}`, { auth });
const invoke = async (api: string, auth: string, name: string) => {
  const r = await call('POST', `${api}/namespaces/_/actions/${name}?blocking=true&result=true`, { auth, body: {} });
  return { status: r.status, body: r.body };
};

/** Poll until `seen` holds, within `ms` (else fail); how long it took. */
async function seenWithin(ms: number, seen: () => Promise<boolean | undefined>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await seen()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`not seen within ${ms} ms`);
    await sleep(5);
  }
}
