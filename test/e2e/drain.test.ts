import { expect } from 'chai';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGuestKey } from '../../common/guest-key.ts';
import { sleep } from '../support/api.ts';
import { clusterEnv, createAdmin, recordOf, removeInvokerContainers, startControllerProcess, startInvokerProcess, waitForStates } from '../support/cluster.ts';
import { freePort, type Spawned } from '../support/process.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { call, type Reply } from '../support/server.ts';
import { type EmbeddedStore, startEmbeddedStore } from '../support/store-fixtures.ts';

/** Invoker ids of this suite (other suites use 0, 100, 101). */
const IDS = [200, 201];
const ACTIONS = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'];
const OPS_TOKEN = 'drain-test-ops-token-0123456789';

/**
 * Operations of a running cluster (controller + two invokers on the Redis bus, Docker
 * containers): /ping and /ready, draining an invoker under load through the controller's
 * admin route and taking it back, and SIGTERM of an invoker and of the controller while
 * activations are in flight.
 */
describe('cluster operations: ready, drain, enable, SIGTERM', function () {
  this.timeout(180_000);
  let store: EmbeddedStore;
  let redis: TestRedis;
  let streams: Redis;
  let dataDir: string;
  let env: Record<string, string>;
  let base: string;
  let api: string;
  let key: string;
  let adminKey: string;
  const procs: Spawned[] = [];
  const invokers = new Map<number, Spawned>();

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'swirl-drain-'));
    store = await startEmbeddedStore();
    redis = await startRedis();
    streams = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    env = { ...clusterEnv({ couchdbUrl: store.couch.url, redisUrl: redis.url, bus: 'redis', dataDir }), SWIRL_OPS_TOKEN: OPS_TOKEN };
    const port = await freePort();
    const controller = startControllerProcess(env, port);
    procs.push(controller);
    for (const id of IDS) {
      const p = startInvokerProcess({ ...env, SWIRL_HOST: '127.0.0.1' }, id);
      invokers.set(id, p);
      procs.push(p);
    }
    await controller.waitFor(/guest key: /, 60_000);
    key = readGuestKey(dataDir)!;
    for (const p of invokers.values()) await p.waitFor(/is up/, 90_000);
    base = `http://127.0.0.1:${port}`;
    api = `${base}/api/v1`;
    adminKey = await createAdmin(env, 'drainops');
    await waitForStates(base, IDS, 'up');
    for (const n of ACTIONS) {
      const r = await call('PUT', `${api}/namespaces/_/actions/${n}`, {
        auth: key,
        body: { exec: { kind: 'nodejs:20', code: 'async function main(p) { await new Promise(r => setTimeout(r, p.ms || 0)); return { host: require("os").hostname(), n: p.n } }' }, limits: { memory: 128 } },
      });
      expect(r.status).to.equal(200);
    }
  });
  after(async () => {
    for (const p of procs) p.killGroup('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await removeInvokerContainers(IDS);
    streams?.disconnect();
    await redis?.cleanup();
    await store?.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const invokersView = async () => (await call('GET', `${api}/invokers`, { auth: adminKey })).body as { id: number; state: string; inFlight: number; url?: string }[];
  const opsUrl = async (id: number) => (await invokersView()).find((i) => i.id === id)!.url!;
  const published = (id: number) => streams.xlen(`swirl:bus:invoker${id}`);

  /**
   * A bounded load: an invoke every `everyMs` (round-robin over the actions, every third one
   * blocking) until `stop()` or `max` invokes. Each resolves with its activation id.
   */
  const load = (everyMs: number, max: number) => {
    const sent: Promise<{ id: string; reply: Reply }>[] = [];
    let stopped = false;
    const done = (async () => {
      for (let n = 0; n < max && !stopped; n++) {
        const blocking = n % 3 === 0;
        const name = ACTIONS[n % ACTIONS.length]!;
        sent.push(
          call('POST', `${api}/namespaces/_/actions/${name}${blocking ? '?blocking=true' : ''}`, { auth: key, body: { n, ms: 400 } }).then((reply) => {
            expect(reply.status, JSON.stringify(reply.body)).to.be.oneOf(blocking ? [200, 202] : [202]);
            return { id: reply.body.activationId as string, reply };
          }),
        );
        await sleep(everyMs);
      }
    })();
    return {
      stop: () => (stopped = true),
      /** Every invoke's answer, once the loop ended. */
      settled: async () => {
        await done;
        return Promise.all(sent);
      },
    };
  };

  /** Every activation has a successful record: none was lost. */
  const expectRecords = async (ids: string[]) => {
    for (const id of ids) {
      const rec = await recordOf(api, key, id, 60_000);
      expect(rec, `record of ${id}`).to.not.equal(undefined);
      expect(rec.response.status, JSON.stringify(rec.response)).to.equal('success');
    }
  };

  it('GET /ping and /ready on the controller and on each invoker, without authentication', async () => {
    const ping = await call('GET', `${base}/ping`);
    expect([ping.status, ping.body]).to.deep.equal([200, 'pong']);
    const ready = await call('GET', `${base}/ready`);
    expect(ready.status).to.equal(200);
    expect(ready.body).to.deep.equal({ ready: true, checks: { store: 'ok', bus: 'ok', health: 'ok' } });
    for (const id of IDS) {
      const url = await opsUrl(id);
      expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await call('GET', `${url}/ping`)).body).to.equal('pong');
      expect((await call('GET', `${url}/ready`)).body).to.deep.equal({ ready: true, checks: { store: 'ok', bus: 'ok', health: 'ok' } });
    }
  });

  it('the drain endpoints are for operators: the controller refuses others, the invoker wants the ops token', async () => {
    const r = await call('POST', `${api}/invokers/${IDS[0]}/disable`, { auth: key });
    expect(r.status).to.equal(403);
    expect(r.body.error).to.be.a('string');
    expect(r.body.code).to.equal(r.headers.get('x-request-id'));
    expect((await call('POST', `${api}/invokers/9999/disable`, { auth: adminKey })).status).to.equal(404);
    const direct = await call('POST', `${await opsUrl(IDS[0]!)}/disable`);
    expect(direct.status).to.equal(401);
    expect(direct.body).to.have.keys('error', 'code');
    await waitForStates(base, IDS, 'up', 1_000);
  });

  it('drain under load: no activation is lost, the balancer stops sending to the drained invoker, which ends offline and comes back when enabled', async () => {
    const [drained, other] = IDS as [number, number];
    const traffic = load(40, 150);
    await sleep(1_000);
    const before = await published(drained);
    expect(before, 'the load reached the invoker before its drain').to.be.greaterThan(0);

    const disable = await call('POST', `${api}/invokers/${drained}/disable`, { auth: adminKey });
    expect(disable.status, JSON.stringify(disable.body)).to.equal(202);
    expect(disable.body).to.include({ invoker: drained, state: 'draining' });
    // the controller sees the drain within a poll of the health store; from then on nothing more is published to it
    await waitForStates(base, [drained], 'draining', 5_000).catch(() => waitForStates(base, [drained], 'offline', 100));
    await sleep(200); // invokes already past the scheduler when the state changed
    const atDrain = await published(drained);
    const otherAtDrain = await published(other);
    await sleep(2_000);
    traffic.stop();
    const answers = await traffic.settled();
    expect(await published(drained), 'activations published to the draining invoker').to.equal(atDrain);
    expect(await published(other), 'the load went on to the other invoker').to.be.greaterThan(otherAtDrain);

    await expectRecords(answers.map((a) => a.id));
    await waitForStates(base, [drained], 'offline', 30_000);
    expect((await invokersView()).find((i) => i.id === drained)!.inFlight).to.equal(0);
    const url = await opsUrl(drained);
    const notReady = await call('GET', `${url}/ready`);
    expect(notReady.status).to.equal(503);
    expect(notReady.body.error).to.equal('The invoker is disabled.');
    expect((await call('POST', `${api}/invokers/${drained}/disable`, { auth: adminKey })).body).to.include({ state: 'disabled' });

    const enable = await call('POST', `${api}/invokers/${drained}/enable`, { auth: adminKey });
    expect(enable.status, JSON.stringify(enable.body)).to.equal(200);
    expect(enable.body).to.include({ invoker: drained, state: 'up' });
    await waitForStates(base, IDS, 'up', 10_000);
    const again = await published(drained);
    const more = load(30, 24);
    await expectRecords((await more.settled()).map((a) => a.id));
    expect(await published(drained), 'work is sent to the enabled invoker again').to.be.greaterThan(again);
  });

  it('SIGTERM of an invoker under load: it finishes what it runs and exits 0; every activation ends with a record', async () => {
    const victim = IDS[1]!;
    const traffic = load(40, 60);
    await sleep(1_200);
    invokers.get(victim)!.kill('SIGTERM');
    const code = await Promise.race([invokers.get(victim)!.exited, sleep(30_000).then(() => 'still running')]);
    expect(code, invokers.get(victim)!.stderr().slice(-2000)).to.equal(0);
    const answers = await traffic.settled();
    await expectRecords(answers.map((a) => a.id));
    await waitForStates(base, [victim], 'offline', 10_000);
  });

  it('SIGTERM of a controller: blocking invokes in flight are answered, then it exits 0', async () => {
    const port = await freePort();
    const second = startControllerProcess(env, port, 1);
    procs.push(second);
    await second.waitFor(/guest key: /, 60_000);
    const api2 = `http://127.0.0.1:${port}/api/v1`;
    await waitForStates(`http://127.0.0.1:${port}`, [IDS[0]!], 'up');
    const inFlight = Array.from({ length: 4 }, (_, n) => call('POST', `${api2}/namespaces/_/actions/${ACTIONS[n]}?blocking=true&result=true`, { auth: key, body: { n, ms: 1_500 } }));
    await sleep(500);
    second.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => [a.status, a.body.n])).to.deep.equal([0, 1, 2, 3].map((n) => [200, n]));
    expect(await Promise.race([second.exited, sleep(20_000).then(() => 'still running')])).to.equal(0);
    await call('GET', `${api2}/namespaces`, { auth: key }).then(
      () => expect.fail('the stopped controller still answers'),
      () => undefined,
    );
  });

  it('GET /ready answers 503 naming what is unreachable while Redis is down, and 200 again when it is back', async () => {
    await redis.stop();
    try {
      const down = await call('GET', `${base}/ready`);
      expect(down.status).to.equal(503);
      expect(down.body).to.deep.include({ error: 'Not ready: bus, health unreachable.', checks: { store: 'ok', bus: 'unreachable', health: 'unreachable' } });
      expect(down.body.code).to.equal(down.headers.get('x-request-id'));
    } finally {
      await redis.start();
    }
    const deadline = Date.now() + 20_000;
    while ((await call('GET', `${base}/ready`)).status !== 200) {
      if (Date.now() > deadline) expect.fail('not ready 20 s after Redis came back');
      await sleep(200);
    }
  });
});
