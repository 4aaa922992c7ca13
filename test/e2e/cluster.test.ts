import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGuestKey } from '../../common/guest-key.ts';
import type { MessageBus } from '../../common/bus.ts';
import { RedisBus } from '../../common/bus/redis.ts';
import { silentLogger } from '../../common/logger.ts';
import { sleep } from '../support/api.ts';
import { startKafkaFixture } from '../support/kafka-fixture.ts';
import { clusterEnv, createAdmin, recordOf as recordOfActivation, removeInvokerContainers, startControllerProcess, startInvokerProcess, waitForStates } from '../support/cluster.ts';
import { freePort, run, type Spawned } from '../support/process.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { call } from '../support/server.ts';
import { type EmbeddedStore, startEmbeddedStore } from '../support/store-fixtures.ts';

/** Invoker ids of this suite: distinct from a developer's standalone (0), whose containers an invoker 0 would remove. */
const IDS = [100, 101];

interface Cluster {
  api: string;
  /** A second controller (id 1) in front of the same invokers. */
  api2: string;
  key: string;
  adminKey: string;
  controller: Spawned;
  controller2: Spawned;
  invokers: Map<number, Spawned>;
  /** What the controller's /ready answered before any invoker was started. */
  readyWithoutInvokers: { status: number; body: any };
  /** The settings the processes were started with (the admin command's too). */
  env: Record<string, string>;
}

/**
 * The cluster path with real processes: one controller (`npm run controller`) and two
 * invokers (`npm run invoker -- --id N`) on Redis (health, throttles) and a message bus —
 * Redis streams, or Kafka through the Kafka-wire-protocol test broker — with the embedded
 * CouchDB-API store serving as CouchDB, and Docker containers for the actions.
 */
for (const bus of ['redis', 'kafka'] as const) {
  describe(`cluster: controller and two invokers on the ${bus} bus`, function () {
    this.timeout(180_000);
    let store: EmbeddedStore;
    let redis: TestRedis;
    let kafka: { brokers: string[]; cleanup(): Promise<void> } | undefined;
    let cluster: Cluster;
    let dataDir: string;

    const startCluster = async (): Promise<Cluster> => {
      const port = await freePort();
      const env: Record<string, string> = {
        ...clusterEnv({ couchdbUrl: store.couch.url, redisUrl: redis.url, bus, dataDir }),
        ...(kafka ? { SWIRL_KAFKA_BROKERS: kafka.brokers.join(',') } : {}),
        SWIRL_CONTROLLER_COUNT: '2',
        // identities verified stay cached a minute: only the admin command's announcement makes a key change felt sooner
        SWIRL_AUTH_CACHE_MS: '60000',
      };
      const controller = startControllerProcess(env, port);
      const port2 = await freePort();
      const controller2 = startControllerProcess(env, port2, 1);
      // whichever controller made the guest key printed it once; both keep it in the data directory they share
      await controller.waitFor(/guest key: /, 60_000);
      await controller2.waitFor(/guest key: /, 60_000);
      // up, its store, bus and health store answering, but no invoker yet: it cannot place work
      const readyWithoutInvokers = await call('GET', `http://127.0.0.1:${port}/ready`);
      const invokers = new Map(IDS.map((id) => [id, startInvokerProcess(env, id)] as const));
      const key = readGuestKey(dataDir);
      for (const p of invokers.values()) await p.waitFor(/is up/, 90_000);
      const api = `http://127.0.0.1:${port}/api/v1`;
      const adminKey = await createAdmin(env, `ops${bus}`);
      // both invokers up, as the controller sees them
      await waitForStates(`http://127.0.0.1:${port}`, IDS, 'up', 10_000);
      return {
        api,
        api2: `http://127.0.0.1:${port2}/api/v1`,
        key: key!,
        adminKey,
        controller,
        controller2,
        invokers,
        readyWithoutInvokers,
        env,
      };
    };

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'swirl-cluster-'));
      store = await startEmbeddedStore();
      redis = await startRedis();
      if (bus === 'kafka') kafka = await startKafkaFixture();
      cluster = await startCluster();
    });
    after(async () => {
      for (const p of [cluster?.controller, cluster?.controller2, ...(cluster?.invokers.values() ?? [])]) p?.killGroup('SIGKILL');
      await removeInvokerContainers(IDS);
      await kafka?.cleanup();
      await redis?.cleanup();
      await store?.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });

    const put = (name: string, code: string) => call('PUT', `${cluster.api}/namespaces/_/actions/${name}?overwrite=true`, { auth: cluster.key, body: { exec: { kind: 'nodejs:20', code } } });
    const invoke = (name: string, query: string, body: unknown = {}) => call('POST', `${cluster.api}/namespaces/_/actions/${name}${query}`, { auth: cluster.key, body });
    const recordOf = (id: string, ms: number) => recordOfActivation(cluster.api, cluster.key, id, ms);

    it('/ready is 503 until an invoker is up in the controller\'s load balancer, then 200', async () => {
      expect(cluster.readyWithoutInvokers.status).to.equal(503);
      expect(cluster.readyWithoutInvokers.body).to.deep.include({ error: 'Not ready: No invokers available.', checks: { store: 'ok', bus: 'ok', health: 'ok' } });
      const now = await call('GET', `${cluster.api.replace(/\/api\/v1$/, '')}/ready`);
      expect([now.status, now.body]).to.deep.equal([200, { ready: true, checks: { store: 'ok', bus: 'ok', health: 'ok' } }]);
    });

    it('invokes blocking and non-blocking through the invokers', async () => {
      expect((await put('hello', 'function main(p) { return { greeting: "hello " + p.name } }')).status).to.equal(200);
      const blocking = await invoke('hello', '?blocking=true&result=true', { name: 'ann' });
      expect(blocking.status).to.equal(200);
      expect(blocking.body).to.deep.equal({ greeting: 'hello ann' });
      const async = await invoke('hello', '', { name: 'bob' });
      expect(async.status).to.equal(202);
      const rec = await recordOf(async.body.activationId, 20_000);
      expect(rec?.response.result).to.deep.equal({ greeting: 'hello bob' });
      const invokers = await call('GET', `${cluster.api}/invokers`, { auth: cluster.adminKey });
      expect(invokers.status).to.equal(200);
      expect(invokers.body.map((i: { id: number; state: string }) => [i.id, i.state])).to.deep.equal(IDS.map((id) => [id, 'up']));
      expect((await call('GET', `${cluster.api}/invokers`, { auth: cluster.key })).status, 'not for ordinary users').to.equal(403);
    });

    it('the invokers heartbeat on the health topic of the bus, for anyone watching', async () => {
      const log = silentLogger;
      const watcherBus: MessageBus =
        bus === 'redis' ? new RedisBus({ url: redis.url, log }) : new (await import('../../common/bus/kafka.ts')).KafkaBus({ brokers: kafka!.brokers, clientId: 'watcher', log });
      if (watcherBus instanceof RedisBus) await watcherBus.ready();
      const beats: { id: number; status: string }[] = [];
      const watcher = await watcherBus.subscribe({ topic: 'health', group: `watcher${bus}`, consumerId: 'w', maxInFlight: 100, handler: async (m) => void beats.push(JSON.parse(m.value.toString())) });
      try {
        for (let i = 0; i < 200 && !IDS.every((id) => beats.some((b) => b.id === id)); i++) await sleep(50);
      } finally {
        await watcher.close();
        await watcherBus.close();
      }
      for (const id of IDS) expect(beats.find((b) => b.id === id), `a heartbeat of invoker${id}`).to.deep.include({ status: 'up' });
    });

    it('the admin command tells every controller: a replaced key and a deleted user\'s key are refused at once on both, though identities stay cached a minute', async () => {
      const admin = async (...args: string[]) => {
        const p = run('node', ['--import', 'tsx', 'cli/admin.ts', 'user', ...args], cluster.env);
        expect(await p.exited, p.stderr()).to.equal(0);
        return p.stdout().trim();
      };
      const name = `rotate${bus}`;
      const old = await admin('create', name);
      const list = (api: string, auth: string) => call('GET', `${api}/namespaces`, { auth }).then((r) => r.status);
      // both controllers have verified (and cached) the key
      expect([await list(cluster.api, old), await list(cluster.api2, old)]).to.deep.equal([200, 200]);
      const fresh = await admin('key', name);
      const refusedOnBoth = async (auth: string) => {
        for (let i = 0; i < 60; i++) {
          if ((await list(cluster.api, auth)) === 401 && (await list(cluster.api2, auth)) === 401) return true;
          await sleep(50);
        }
        return false;
      };
      expect(await refusedOnBoth(old), 'the old key, within 3 s').to.equal(true);
      expect([await list(cluster.api, fresh), await list(cluster.api2, fresh)]).to.deep.equal([200, 200]);
      await admin('delete', name);
      expect(await refusedOnBoth(fresh), 'a deleted user\'s key, within 3 s').to.equal(true);
    });

    it('two controllers in front of the same invokers: each caller gets the result of its own activation', async () => {
      expect((await put('echo', 'function main(p) { return { n: p.n } }')).status).to.equal(200);
      const through = (api: string, n: number) => call('POST', `${api}/namespaces/_/actions/echo?blocking=true&result=true`, { auth: cluster.key, body: { n } });
      const answers = await Promise.all(Array.from({ length: 20 }, (_, n) => through(n % 2 ? cluster.api2 : cluster.api, n)));
      expect(answers.map((a) => a.status)).to.deep.equal(Array(20).fill(200));
      expect(answers.map((a) => a.body.n)).to.deep.equal(Array.from({ length: 20 }, (_, n) => n));
      const states = (await call('GET', `${cluster.api2.replace(/\/api\/v1$/, '')}/invokers`)).body;
      expect(states).to.deep.equal(Object.fromEntries(IDS.map((id) => [`invoker${id}`, 'up'])));
    });

    it('kill -9 of an invoker with activations in flight: every activation ends with a record and every blocking caller gets an answer', async () => {
      // several actions, so that sharding puts work on both invokers
      const names = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5'];
      for (const n of names) expect((await put(n, 'async function main(p) { await new Promise(r => setTimeout(r, 2500)); return { n: p.n } }')).status).to.equal(200);
      const blocking = names.flatMap((n, i) => [invoke(n, '?blocking=true', { n: i }), invoke(n, '?blocking=true', { n: i + 100 })]);
      const accepted = await Promise.all(names.map((n, i) => invoke(n, '', { n: i + 1000 })));
      for (const a of accepted) expect(a.status).to.equal(202);

      // the invoker with the most work in flight dies hard
      await sleep(800);
      const load = (await call('GET', `${cluster.api}/invokers`, { auth: cluster.adminKey })).body as { id: number; inFlight: number }[];
      const victim = [...load].sort((a, b) => b.inFlight - a.inFlight)[0]!;
      expect(victim.inFlight, JSON.stringify(load)).to.be.greaterThan(0);
      cluster.invokers.get(victim.id)!.killGroup('SIGKILL');
      await cluster.invokers.get(victim.id)!.exited;

      const answers = await Promise.all(blocking);
      for (const a of answers) {
        expect(a.status, JSON.stringify(a.body).slice(0, 300)).to.be.oneOf([200, 202]);
        if (a.status === 200) expect(a.body.response.success).to.equal(true);
      }
      const ids = [...answers.map((a) => a.body.activationId as string), ...accepted.map((a) => a.body.activationId as string)];
      for (const id of ids) {
        const rec = await recordOf(id, 60_000);
        expect(rec, `record of ${id}`).to.not.equal(undefined);
        expect(rec.response.status).to.equal('success');
      }
      const states = (await call('GET', `${cluster.api}/invokers`, { auth: cluster.adminKey })).body as { id: number; state: string }[];
      expect(states.find((s) => s.id === victim.id)?.state).to.equal('offline');
      // the survivor takes new work for every action
      for (const n of names) expect((await invoke(n, '?blocking=true&result=true', { n: 7 })).body).to.deep.equal({ n: 7 });
    });
  });
}

describe('cluster: start-up refuses an exposed invoker', function () {
  this.timeout(60_000);

  it('an invoker whose operations endpoints listen on every interface needs an ops token, and says so', async () => {
    const env = clusterEnv({ couchdbUrl: 'http://127.0.0.1:1', redisUrl: 'redis://127.0.0.1:1', bus: 'redis', dataDir: tmpdir() });
    delete env.SWIRL_OPS_TOKEN;
    const invoker = startInvokerProcess({ ...env, SWIRL_HOST: '0.0.0.0' }, 102);
    expect(await invoker.exited).to.equal(2);
    expect(invoker.stderr()).to.match(/SWIRL_OPS_TOKEN: required when the invoker's operations endpoints listen beyond loopback \(SWIRL_HOST=0\.0\.0\.0\)/);
  });
});
