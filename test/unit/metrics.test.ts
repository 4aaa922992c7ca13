import { expect } from 'chai';
import type { ActivationRecord } from '../../common/activation.ts';
import { Topics } from '../../common/bus.ts';
import { silentLogger } from '../../common/logger.ts';
import type { ActivationMessage } from '../../common/messages.ts';
import { BoundedLabels, counter, createRegistry, histogram, OTHER } from '../../common/metrics.ts';
import { timedStore } from '../../common/store/timed-store.ts';
import { MemoryThrottleStore } from '../../common/throttle/memory.ts';
import { ControllerMetrics } from '../../controller/metrics.ts';
import { Throttler } from '../../loadbalancer/throttles.ts';
import { InvokerMetrics } from '../../invoker/metrics.ts';
import { startInvokerOps } from '../../invoker/ops.ts';
import { UserEvents } from '../../invoker/user-events.ts';
import { parseExposition, valueOf } from '../support/metrics.ts';

const scrape = async (registry: ReturnType<typeof createRegistry>) => parseExposition(await registry.metrics());

const message = (over: Partial<ActivationMessage> = {}): ActivationMessage => ({
  activationId: 'a'.repeat(32),
  transactionId: 'tid',
  controllerId: '0',
  blocking: true,
  namespace: 'guest',
  subject: 'guest-subject',
  userId: 'c0ffee00-0000-4000-8000-000000000000',
  action: { path: 'guest/pkg', name: 'hello', rev: '1-x' },
  params: {},
  receivedAt: 1_000,
  ...over,
});

const record = (statusCode: 0 | 1 | 2 | 3, over: { initTime?: number; causedBy?: string } = {}): ActivationRecord => ({
  activationId: 'a'.repeat(32),
  namespace: 'guest',
  name: 'hello',
  subject: 'guest-subject',
  version: '0.0.1',
  publish: false,
  start: 1_200,
  end: 1_500,
  duration: 300,
  annotations: [
    { key: 'path', value: 'guest/pkg/hello' },
    { key: 'kind', value: 'nodejs:20' },
    { key: 'limits', value: { timeout: 60_000, memory: 256, logs: 10, concurrency: 1 } },
    { key: 'waitTime', value: 200 },
    ...(over.initTime ? [{ key: 'initTime', value: over.initTime }] : []),
    ...(over.causedBy ? [{ key: 'causedBy', value: over.causedBy }] : []),
  ],
  logs: [],
  response: { status: (['success', 'application error', 'action developer error', 'whisk internal error'] as const)[statusCode], statusCode, success: statusCode === 0, result: { ok: 'yes' } },
});

describe('metrics', () => {
  it('one registry holds the controller’s and the invoker’s metrics (standalone) and Node’s process metrics, each once', async () => {
    const registry = createRegistry();
    new ControllerMetrics(registry);
    new InvokerMetrics(registry);
    // a second of either role on the same registry takes the metrics already there instead of failing
    new InvokerMetrics(registry);
    timedStore({ ping: async () => true }, registry);
    const text = await registry.metrics();
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(types).size).to.equal(types.length);
    for (const name of ['swirl_activations_total', 'swirl_http_requests_total', 'swirl_throttle_rejections_total', 'swirl_store_request_duration_seconds', 'process_cpu_user_seconds_total', 'nodejs_heap_size_total_bytes']) {
      expect(types.some((t) => t.startsWith(`# TYPE ${name} `)), name).to.equal(true);
    }
    expect(types.every((t) => /^# TYPE (swirl_|process_|nodejs_)/.test(t))).to.equal(true);
  });

  it('activations are counted by namespace, action, kind and status; times go to the histograms in seconds', async () => {
    const registry = createRegistry();
    const m = new InvokerMetrics(registry);
    m.activation(record(0, { initTime: 100 }), message());
    m.activation(record(0), message());
    m.activation(record(1), message());
    const s = await scrape(registry);
    const labels = { namespace: 'guest', action: 'guest/pkg/hello', kind: 'nodejs:20' };
    expect(valueOf(s, 'swirl_activations_total', { ...labels, status: 'success' })).to.equal(2);
    expect(valueOf(s, 'swirl_activations_total', { ...labels, status: 'application_error' })).to.equal(1);
    expect(valueOf(s, 'swirl_activation_wait_seconds_count', { kind: 'nodejs:20' })).to.equal(3);
    expect(valueOf(s, 'swirl_activation_wait_seconds_sum', { kind: 'nodejs:20' })).to.be.closeTo(0.6, 1e-9);
    // only the activation that initialized its container has an init time; run time is the duration without it
    expect(valueOf(s, 'swirl_activation_init_seconds_count', { kind: 'nodejs:20' })).to.equal(1);
    expect(valueOf(s, 'swirl_activation_run_seconds_sum', { kind: 'nodejs:20' })).to.be.closeTo(0.2 + 0.3 + 0.3, 1e-9);
    // end to end: from the controller's receivedAt (1000) to the record's end (1500)
    expect(valueOf(s, 'swirl_activation_end_to_end_seconds_sum', { kind: 'nodejs:20' })).to.be.closeTo(1.5, 1e-9);
    expect(valueOf(s, 'swirl_activation_end_to_end_seconds_bucket', { kind: 'nodejs:20', le: '0.5' })).to.equal(3);
    expect(valueOf(s, 'swirl_activation_end_to_end_seconds_bucket', { kind: 'nodejs:20', le: '0.25' })).to.equal(0);
  });

  it('an activation message without a usable receivedAt is still counted, its lag and end-to-end time left out or 0', async () => {
    const registry = createRegistry();
    const m = new InvokerMetrics(registry);
    const odd = message({ receivedAt: undefined as unknown as number });
    expect(() => m.delivered('invoker0', odd.receivedAt)).not.to.throw();
    expect(() => m.activation(record(0), odd)).not.to.throw();
    const s = await scrape(registry);
    expect(valueOf(s, 'swirl_activations_total', { status: 'success' })).to.equal(1);
    expect(valueOf(s, 'swirl_bus_lag_seconds_count', { topic: 'invoker0' })).to.equal(0);
    expect(valueOf(s, 'swirl_activation_end_to_end_seconds_sum', { kind: 'nodejs:20' })).to.equal(0);
  });

  it('namespaces and actions beyond the caps are counted under `other`', async () => {
    const bounded = new BoundedLabels(2, 3);
    expect(['a', 'b', 'c', 'a'].map((n) => bounded.namespace(n))).to.deep.equal(['a', 'b', OTHER, 'a']);
    const registry = createRegistry();
    const m = new InvokerMetrics(registry, { maxNamespaces: 1, maxActions: 1 });
    m.activation(record(0), message());
    m.activation(record(0), message({ namespace: 'stranger', action: { path: 'stranger', name: 'x', rev: '1' } }));
    m.activation(record(0), message({ action: { path: 'guest', name: 'y', rev: '1' } }));
    const s = await scrape(registry);
    expect(s.filter((x) => x.name === 'swirl_activations_total').map((x) => [x.labels.namespace, x.labels.action, x.value])).to.have.deep.members([
      ['guest', 'guest/pkg/hello', 1],
      [OTHER, OTHER, 1],
      ['guest', OTHER, 1],
    ]);
  });

  it('pool gauges are read from the pool when scraped: containers by state, memory in bytes, the queue', async () => {
    const registry = createRegistry();
    const stats = { containers: 4, busy: 1, idle: 1, paused: 1, prewarm: 1, starting: 0, memoryUsedMb: 512, queued: 3 };
    new InvokerMetrics(registry).watchPool({ stats: () => stats, memoryMb: 2048 });
    let s = await scrape(registry);
    expect(['prewarm', 'warm', 'paused', 'busy', 'starting'].map((state) => valueOf(s, 'swirl_pool_containers', { state }))).to.deep.equal([1, 1, 1, 1, 0]);
    expect(valueOf(s, 'swirl_pool_memory_used_bytes')).to.equal(512 * 1024 * 1024);
    expect(valueOf(s, 'swirl_pool_memory_free_bytes')).to.equal(1536 * 1024 * 1024);
    expect(valueOf(s, 'swirl_pool_queued_activations')).to.equal(3);
    Object.assign(stats, { busy: 0, paused: 2, memoryUsedMb: 256 });
    s = await scrape(registry);
    expect(valueOf(s, 'swirl_pool_containers', { state: 'paused' })).to.equal(2);
    expect(valueOf(s, 'swirl_pool_memory_free_bytes')).to.equal(1792 * 1024 * 1024);
  });

  it('throttle rejections are counted by the limit they hit', async () => {
    const registry = createRegistry();
    const metrics = new ControllerMetrics(registry);
    const store = new MemoryThrottleStore();
    const throttler = new Throttler(store, { invocationsPerMinute: 1, concurrentInvocations: 1, firesPerMinute: 0 }, metrics.rejected);
    await throttler.admitInvoke({ namespace: 'guest' }, 'a1', Date.now() + 60_000);
    await throttler.admitInvoke({ namespace: 'guest' }, 'a2', Date.now() + 60_000)?.catch(() => undefined);
    await throttler.admitFire({ namespace: 'guest' }).catch(() => undefined);
    await throttler.admitInvoke({ namespace: 'other', limits: { invocationsPerMinute: 10 } }, 'a3', Date.now() + 60_000);
    await throttler.admitInvoke({ namespace: 'other', limits: { invocationsPerMinute: 10 } }, 'a4', Date.now() + 60_000)?.catch(() => undefined);
    await store.close();
    const s = await scrape(registry);
    expect(valueOf(s, 'swirl_throttle_rejections_total', { limit: 'invocationsPerMinute' })).to.equal(1);
    expect(valueOf(s, 'swirl_throttle_rejections_total', { limit: 'firesPerMinute' })).to.equal(1);
    expect(valueOf(s, 'swirl_throttle_rejections_total', { limit: 'concurrentInvocations' })).to.equal(1);
  });

  it('store calls are timed by operation and outcome; a timed store is not timed twice', async () => {
    const registry = createRegistry();
    const store = { ping: async () => true, get: async (_name: string) => Promise.reject(new Error('nope')) };
    const timed = timedStore(store, registry);
    expect(timedStore(timed, registry)).to.equal(timed);
    expect(await timed.ping()).to.equal(true);
    await timed.get('x').catch(() => undefined);
    const s = await scrape(registry);
    expect(valueOf(s, 'swirl_store_request_duration_seconds_count', { operation: 'ping', outcome: 'ok' })).to.equal(1);
    expect(valueOf(s, 'swirl_store_request_duration_seconds_count', { operation: 'get', outcome: 'error' })).to.equal(1);
  });

  it('the invoker’s GET /metrics wants the operations token when one is set', async () => {
    const registry = createRegistry();
    new InvokerMetrics(registry).watchPool({ stats: () => ({ containers: 0, busy: 0, idle: 0, paused: 0, prewarm: 2, starting: 0, memoryUsedMb: 512, queued: 0 }), memoryMb: 1024 });
    const token = 'unit-test-ops-token-0123456789';
    const ops = await startInvokerOps({ host: '127.0.0.1', invokerPort: 0, opsToken: token }, {}, silentLogger, registry);
    try {
      const refused = await fetch(`${ops.url}/metrics`);
      expect(refused.status).to.equal(401);
      expect(((await refused.json()) as { code?: string }).code).to.be.a('string');
      expect((await fetch(`${ops.url}/metrics`, { headers: { authorization: 'Bearer not-the-token-at-all' } })).status).to.equal(401);
      const res = await fetch(`${ops.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
      expect(valueOf(parseExposition(await res.text()), 'swirl_pool_containers', { state: 'prewarm' })).to.equal(2);
    } finally {
      await ops.close();
    }
  });
});

describe('user events', () => {
  it('one event per activation in OpenWhisk’s format, sent in one produce on the events topic', async () => {
    const produced: { topic: string; values: string[] }[] = [];
    const bus = { ensureTopics: async () => undefined, produce: async (topic: string, values: (Buffer | string)[]) => void produced.push({ topic, values: values.map(String) }) };
    const events = await UserEvents.start(bus, 'invoker3', silentLogger);
    events.activation(record(0, { initTime: 120 }), message());
    events.activation(record(2, { causedBy: 'sequence' }), message({ activationId: 'b'.repeat(32) }));
    await events.flush();
    expect(produced).to.have.length(1);
    expect(produced[0]!.topic).to.equal(Topics.events);
    const [first, second] = produced[0]!.values.map((v) => JSON.parse(v));
    expect(first).to.deep.include({ source: 'invoker3', eventType: 'Activation', namespace: 'guest', subject: 'guest-subject', userId: 'c0ffee00-0000-4000-8000-000000000000' });
    expect(first.timestamp).to.be.a('number');
    expect(first.body).to.deep.equal({
      activationId: 'a'.repeat(32),
      name: 'guest/pkg/hello',
      statusCode: 0,
      duration: 300,
      waitTime: 200,
      initTime: 120,
      kind: 'nodejs:20',
      conductor: false,
      memory: 256,
      size: Buffer.byteLength('{"ok":"yes"}'),
    });
    expect(second.body).to.deep.include({ statusCode: 2, initTime: 0, causedBy: 'sequence' });
  });

  it('events the bus does not take are dropped, and the invoke path does not see it', async () => {
    const bus = { ensureTopics: async () => undefined, produce: async () => Promise.reject(new Error('bus down')) };
    const events = await UserEvents.start(bus, 'invoker0', silentLogger);
    expect(() => events.activation(record(0), message())).not.to.throw();
    await events.flush();
  });
});

describe('counters and histograms as scraped', () => {
  it('a histogram serves cumulative buckets up to +Inf, its sum and count per label values; what is not a number is not observed; a counter sums', async () => {
    const registry = createRegistry();
    const h = histogram(registry, 'swirl_test_seconds', 'test', ['kind']);
    for (const v of [0.0005, 0.003, 100, 1000, Number.NaN]) h.observe({ kind: 'a' }, v);
    h.observe({ kind: 'b' }, 0.02);
    const end = h.startTimer({ kind: 'b' });
    expect(end()).to.be.within(0, 1);
    const c = counter(registry, 'swirl_test_total', 'test', ['kind', 'status']);
    c.inc({ kind: 'a', status: 'success' });
    c.inc({ kind: 'a', status: 'success' }, 2);
    expect(histogram(registry, 'swirl_test_seconds', 'again', ['kind']), 'taken once by name').to.equal(h);
    const samples = parseExposition(await registry.metrics());
    const bucket = (le: string, kind = 'a') => valueOf(samples, 'swirl_test_seconds_bucket', { le, kind });
    expect([bucket('0.001'), bucket('0.005'), bucket('0.01'), bucket('60'), bucket('300'), bucket('+Inf')]).to.deep.equal([1, 2, 2, 2, 3, 4]);
    expect(valueOf(samples, 'swirl_test_seconds_sum', { kind: 'a' })).to.be.closeTo(1100.0035, 1e-9);
    expect(valueOf(samples, 'swirl_test_seconds_count', { kind: 'a' })).to.equal(4);
    expect(valueOf(samples, 'swirl_test_seconds_count', { kind: 'b' })).to.equal(2);
    expect(bucket('0.025', 'b')).to.equal(2);
    expect(valueOf(samples, 'swirl_test_total', { kind: 'a', status: 'success' })).to.equal(3);
  });
});
