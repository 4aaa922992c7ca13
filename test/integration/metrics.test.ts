import { expect } from 'chai';
import { type Consumer, Topics } from '../../common/bus.ts';
import { newCredentials } from '../../common/credentials.ts';
import { expectError } from '../support/api.ts';
import { factoryNames } from '../support/invoker-fixtures.ts';
import { parseExposition, type Sample, valueOf } from '../support/metrics.ts';
import { call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const factory = factoryNames()[0]!;
const OPS_TOKEN = 'metrics-test-ops-token-0123456789';
const MiB = 1024 * 1024;
const INVOKE_ROUTE = '/api/v1/namespaces/:ns/actions/:name';

/**
 * GET /metrics of a controller and an invoker sharing one registry (as standalone), after
 * real activations in real containers: counters, histogram counts, container starts, pool
 * gauges that follow the containers, and the activation events on the bus's `events` topic.
 */
describe(`metrics and activation events (${factory} containers)`, function () {
  this.timeout(90_000);
  let s: TestStack;
  let auth: string;
  let consumer: Consumer;
  const events: any[] = [];
  const ids: string[] = [];
  const scrape = async (): Promise<Sample[]> => {
    const r = await call('GET', `${s.url}/metrics`, { auth: `Bearer ${OPS_TOKEN}` });
    expect(r.status).to.equal(200);
    return parseExposition(r.body as string);
  };
  const invoke = async (params: Record<string, unknown>, status: number) => {
    const r = await call('POST', `${s.api}/namespaces/_/actions/hello?blocking=true`, { auth, body: params });
    expect(r.status, JSON.stringify(r.body)).to.equal(status);
    ids.push(r.body.activationId);
    return r.body;
  };
  const containers = (m: Sample[]) => ['warm', 'paused', 'busy'].reduce((n, state) => n + valueOf(m, 'swirl_pool_containers', { state }), 0);
  const until = async <T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await get();
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    s = await startTestStack(factory, {
      SWIRL_INVOKER_MEMORY_MB: '1024',
      SWIRL_USER_EVENTS: 'on',
      SWIRL_OPS_TOKEN: OPS_TOKEN,
      // idle containers go soon: the pool gauges must fall back when they do
      SWIRL_IDLE_CONTAINER_TIMEOUT_MS: '2000',
    });
    auth = s.guestKey;
    consumer = await s.infra.bus.subscribe({
      topic: Topics.events,
      group: 'metrics-test',
      consumerId: 'metrics-test',
      maxInFlight: 100,
      handler: async (m) => void events.push(JSON.parse(m.value.toString())),
    });
    const r = await call('PUT', `${s.api}/namespaces/_/actions/hello?overwrite=true`, {
      auth,
      body: { exec: { kind: 'nodejs:20', code: 'function main(p) { return p.fail ? { error: "asked to" } : { hi: p.name } }' } },
    });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
  });
  after(async () => {
    await consumer?.close();
    await s?.destroy();
  });

  it('a stranger cannot read /metrics: 401 without credentials, 403 with a user’s key; the ops token and an admin’s key can', async () => {
    expectError(await call('GET', `${s.url}/metrics`), 401);
    expectError(await call('GET', `${s.url}/metrics`, { auth: 'Bearer not-the-ops-token-not-at-all' }), 401);
    expectError(await call('GET', `${s.url}/metrics`, { auth }), 403);
    const admin = newCredentials('operator');
    await s.opened.store.putSubject({ subject: 'operator', namespaces: [admin.creds], admin: true });
    const r = await call('GET', `${s.url}/metrics`, { auth: admin.auth });
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    const m = parseExposition(r.body as string);
    expect(valueOf(m, 'process_cpu_user_seconds_total')).to.be.greaterThan(0);
    expect(valueOf(m, 'swirl_invoker_health', { invoker: 'invoker0', state: 'up' })).to.equal(1);
    expect(valueOf(m, 'swirl_invoker_health', { invoker: 'invoker0', state: 'offline' })).to.equal(0);
    expect(valueOf(m, 'swirl_invoker_state', { state: 'up' })).to.equal(1);
    // what was refused is counted too, by route pattern and status
    expect(valueOf(m, 'swirl_http_requests_total', { method: 'GET', route: '/metrics', status: '403' })).to.equal(1);
  });

  it('after real activations: activations by status, one histogram observation each, one cold start then warm ones, the bus lag', async () => {
    const before = await scrape();
    expect(containers(before)).to.equal(0);
    await invoke({ name: 'a' }, 200);
    await invoke({ name: 'b' }, 200);
    await invoke({ name: 'c' }, 200);
    await invoke({ fail: true }, 502);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
    const action = { namespace: 'guest', action: 'guest/hello', kind: 'nodejs:20' };
    expect(delta('swirl_activations_total', { ...action, status: 'success' })).to.equal(3);
    expect(delta('swirl_activations_total', { ...action, status: 'application_error' })).to.equal(1);
    const kind = { kind: 'nodejs:20' };
    for (const h of ['wait', 'run', 'end_to_end']) expect(delta(`swirl_activation_${h}_seconds_count`, kind), h).to.equal(4);
    expect(delta('swirl_activation_init_seconds_count', kind)).to.equal(1);
    expect(delta('swirl_activation_init_seconds_sum', kind)).to.be.greaterThan(0);
    expect(delta('swirl_container_starts_total', { start: 'cold' })).to.equal(1);
    expect(delta('swirl_container_starts_total', { start: 'warm' }) + delta('swirl_container_starts_total', { start: 'paused' })).to.equal(3);
    expect(delta('swirl_container_starts_total', { start: 'prewarm' })).to.equal(0);
    expect(delta('swirl_bus_lag_seconds_count', { topic: Topics.invoker(0) })).to.equal(4);
    expect(delta('swirl_http_requests_total', { method: 'POST', route: INVOKE_ROUTE, status: '200' })).to.equal(3);
    expect(delta('swirl_http_requests_total', { method: 'POST', route: INVOKE_ROUTE, status: '502' })).to.equal(1);
    expect(delta('swirl_http_request_duration_seconds_count', { method: 'POST', route: INVOKE_ROUTE })).to.equal(4);
    // the action was written through the timed store
    expect(valueOf(after, 'swirl_store_request_duration_seconds_count', { operation: 'put', outcome: 'ok' })).to.be.greaterThan(0);
  });

  it('pool gauges follow the container: one held (256 MiB) while warm, none once the idle timeout removed it, one again on the next cold start', async () => {
    let m = await scrape();
    expect(containers(m)).to.equal(1);
    expect(valueOf(m, 'swirl_pool_memory_used_bytes')).to.equal(256 * MiB);
    expect(valueOf(m, 'swirl_pool_memory_free_bytes')).to.equal(768 * MiB);
    // idle past the pause grace: paused
    await until('the container paused', scrape, (x) => valueOf(x, 'swirl_pool_containers', { state: 'paused' }) === 1);
    m = await until('the idle container removed', scrape, (x) => containers(x) === 0);
    expect(valueOf(m, 'swirl_pool_memory_used_bytes')).to.equal(0);
    expect(valueOf(m, 'swirl_pool_memory_free_bytes')).to.equal(1024 * MiB);
    const cold = valueOf(m, 'swirl_container_starts_total', { start: 'cold' });
    await invoke({ name: 'd' }, 200);
    m = await scrape();
    expect(containers(m)).to.equal(1);
    expect(valueOf(m, 'swirl_pool_memory_used_bytes')).to.equal(256 * MiB);
    expect(valueOf(m, 'swirl_container_starts_total', { start: 'cold' })).to.equal(cold + 1);
  });

  it('one activation event per activation on the events topic, in OpenWhisk’s format', async () => {
    await until('an event for every activation', async () => events.length, (n) => n >= ids.length);
    await new Promise((r) => setTimeout(r, 200));
    expect(events.map((e) => e.body.activationId)).to.have.members(ids);
    for (const e of events) {
      expect(e).to.deep.include({ eventType: 'Activation', source: 'invoker0', namespace: 'guest', subject: s.guest.subject, userId: s.guest.uuid });
      expect(e.timestamp).to.be.a('number');
      expect(e.body).to.include({ name: 'guest/hello', kind: 'nodejs:20', memory: 256, conductor: false });
      for (const t of ['duration', 'waitTime', 'initTime', 'size']) expect(e.body[t], t).to.be.a('number').and.at.least(0);
    }
    const byId = new Map(events.map((e) => [e.body.activationId, e.body]));
    expect(ids.map((id) => byId.get(id).statusCode)).to.deep.equal([0, 0, 0, 1, 0]);
    // the first and the last ran in a new container: they have an init time, the warm ones none
    expect(ids.map((id) => byId.get(id).initTime > 0)).to.deep.equal([true, false, false, false, true]);
  });

  it('a throttled invoke is counted by the limit it hit', async () => {
    const limited = newCredentials('limited');
    await s.opened.store.putSubject({ subject: 'limited', namespaces: [{ ...limited.creds, limits: { invocationsPerMinute: 1 } }] });
    const put = await call('PUT', `${s.api}/namespaces/_/actions/noop`, { auth: limited.auth, body: { exec: { kind: 'nodejs:20', code: 'function main() { return {} }' } } });
    expect(put.status).to.equal(200);
    const before = valueOf(await scrape(), 'swirl_throttle_rejections_total', { limit: 'invocationsPerMinute' });
    expect((await call('POST', `${s.api}/namespaces/_/actions/noop`, { auth: limited.auth })).status).to.equal(202);
    expectError(await call('POST', `${s.api}/namespaces/_/actions/noop`, { auth: limited.auth }), 429);
    const m = await scrape();
    expect(valueOf(m, 'swirl_throttle_rejections_total', { limit: 'invocationsPerMinute' })).to.equal(before + 1);
    expect(valueOf(m, 'swirl_http_requests_total', { method: 'POST', route: INVOKE_ROUTE, status: '429' })).to.equal(1);
  });
});
