import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Consumer, Topics } from '../../common/bus.ts';
import { RedisBus } from '../../common/bus/redis.ts';
import { readGuestKey } from '../../common/guest-key.ts';
import { silentLogger } from '../../common/logger.ts';
import { expectError, sleep } from '../support/api.ts';
import { clusterEnv, removeInvokerContainers, startControllerProcess, startInvokerProcess, waitForStates } from '../support/cluster.ts';
import { parseExposition, type Sample, valueOf } from '../support/metrics.ts';
import { freePort, type Spawned } from '../support/process.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { call } from '../support/server.ts';
import { type EmbeddedStore, startEmbeddedStore } from '../support/store-fixtures.ts';

const ID = 120;

/**
 * Metrics and activation events of a cluster's separate processes: the controller's
 * /metrics has its own metrics (HTTP, invoker health), the invoker's operations port has the
 * activations and its pool, each behind the ops token; the invoker's events travel over the
 * Redis bus to a consumer in another process.
 */
describe('cluster: metrics of the controller and of the invoker, events over the Redis bus', function () {
  this.timeout(180_000);
  let store: EmbeddedStore;
  let redis: TestRedis;
  let dataDir: string;
  let env: Record<string, string>;
  let controller: Spawned | undefined;
  let invoker: Spawned | undefined;
  let base: string;
  let ops: string;
  let key: string;
  let watcherBus: RedisBus | undefined;
  let watcher: Consumer | undefined;
  const events: any[] = [];
  const scrape = async (url: string): Promise<Sample[]> => {
    const r = await call('GET', `${url}/metrics`, { auth: `Bearer ${env.SWIRL_OPS_TOKEN}` });
    expect(r.status, String(r.body)).to.equal(200);
    return parseExposition(r.body as string);
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'swirl-cluster-metrics-'));
    store = await startEmbeddedStore();
    redis = await startRedis();
    env = { ...clusterEnv({ couchdbUrl: store.couch.url, redisUrl: redis.url, bus: 'redis', dataDir }), SWIRL_USER_EVENTS: 'on' };
    watcherBus = new RedisBus({ url: redis.url, log: silentLogger });
    await watcherBus.ready();
    await watcherBus.ensureTopics([Topics.events]);
    watcher = await watcherBus.subscribe({ topic: Topics.events, group: 'event-watcher', consumerId: 'w', maxInFlight: 100, handler: async (m) => void events.push(JSON.parse(m.value.toString())) });
    const port = await freePort();
    controller = startControllerProcess(env, port);
    await controller.waitFor(/guest key: /, 60_000);
    base = `http://127.0.0.1:${port}`;
    invoker = startInvokerProcess({ ...env, SWIRL_INVOKER_PORT: String(await freePort()) }, ID);
    [, ops] = (await invoker.waitFor(/ops: (\S+)/, 90_000)) as [string, string];
    await waitForStates(base, [ID], 'up');
    key = readGuestKey(dataDir)!;
  });
  after(async () => {
    await watcher?.close();
    await watcherBus?.close();
    for (const p of [controller, invoker]) p?.killGroup('SIGKILL');
    await removeInvokerContainers([ID]);
    await redis?.cleanup();
    await store?.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('each process serves its own metrics behind the ops token; the invoker counts the activation and its container; its event reaches a consumer over Redis', async () => {
    expectError(await call('GET', `${ops}/metrics`), 401);
    expectError(await call('GET', `${base}/metrics`, { auth: key }), 403);
    const put = await call('PUT', `${base}/api/v1/namespaces/_/actions/hello`, { auth: key, body: { exec: { kind: 'nodejs:20', code: 'function main() { return { hi: 1 } }' } } });
    expect(put.status).to.equal(200);
    const r = await call('POST', `${base}/api/v1/namespaces/_/actions/hello?blocking=true`, { auth: key });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);

    const inv = await scrape(ops);
    expect(valueOf(inv, 'swirl_activations_total', { namespace: 'guest', action: 'guest/hello', kind: 'nodejs:20', status: 'success' })).to.equal(1);
    expect(valueOf(inv, 'swirl_container_starts_total', { start: 'cold' })).to.equal(1);
    expect(valueOf(inv, 'swirl_bus_lag_seconds_count', { topic: Topics.invoker(ID) })).to.equal(1);
    expect(['warm', 'paused', 'busy'].reduce((n, state) => n + valueOf(inv, 'swirl_pool_containers', { state }), 0)).to.equal(1);
    expect(valueOf(inv, 'swirl_invoker_state', { state: 'up' })).to.equal(1);
    expect(valueOf(inv, 'process_resident_memory_bytes')).to.be.greaterThan(0);
    // the invoker reads the action from the store itself
    expect(valueOf(inv, 'swirl_store_request_duration_seconds_count', { operation: 'get', outcome: 'ok' })).to.be.at.least(1);
    // no controller metrics on the invoker, no invoker metrics on the controller
    expect(inv.some((s) => s.name.startsWith('swirl_http_'))).to.equal(false);
    const ctl = await scrape(base);
    expect(ctl.some((s) => s.name === 'swirl_activations_total' || s.name === 'swirl_pool_containers')).to.equal(false);
    expect(valueOf(ctl, 'swirl_invoker_health', { invoker: `invoker${ID}`, state: 'up' })).to.equal(1);
    expect(valueOf(ctl, 'swirl_http_requests_total', { method: 'POST', route: '/api/v1/namespaces/:ns/actions/:name', status: '200' })).to.equal(1);

    for (let i = 0; i < 100 && events.length === 0; i++) await sleep(100);
    expect(events).to.have.length(1);
    expect(events[0]).to.deep.include({ eventType: 'Activation', source: `invoker${ID}`, namespace: 'guest' });
    expect(events[0].body).to.deep.include({ activationId: r.body.activationId, name: 'guest/hello', statusCode: 0, kind: 'nodejs:20', memory: 256 });
    expect(events[0].body.initTime).to.be.greaterThan(0);
  });
});
