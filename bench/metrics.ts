/**
 * What the metrics add to each activation, measured in this process without the noise of
 * containers: the work the invoke path does per activation (the invoker's counter and four
 * histograms, the start counter, the bus lag, the controller's HTTP counter and histogram,
 * a timed store call), in µs of CPU, next to the CPU swirl spends per blocking activation
 * (`npm run bench -- invoke`, about 1 ms); and one scrape with 1,000 action series.
 */
import type { ActivationRecord } from '../common/activation.ts';
import type { ActivationMessage } from '../common/messages.ts';
import { createRegistry } from '../common/metrics.ts';
import { timedStore } from '../common/store/timed-store.ts';
import { ControllerMetrics } from '../controller/metrics.ts';
import { InvokerMetrics } from '../invoker/metrics.ts';
import { now, rows } from './table.ts';

const N = 200_000;

const message: ActivationMessage = { activationId: 'a'.repeat(32), transactionId: 't', controllerId: '0', blocking: true, namespace: 'guest', subject: 'guest', action: { path: 'guest', name: 'noop', rev: '1' }, params: {}, receivedAt: Date.now() };
const record: ActivationRecord = {
  activationId: 'a'.repeat(32), namespace: 'guest', name: 'noop', subject: 'guest', version: '0.0.1', publish: false, start: Date.now(), end: Date.now() + 1, duration: 1,
  annotations: [{ key: 'path', value: 'guest/noop' }, { key: 'kind', value: 'nodejs:20' }, { key: 'limits', value: { memory: 256 } }, { key: 'waitTime', value: 2 }],
  logs: [], response: { status: 'success', statusCode: 0, success: true, result: {} },
};

/** µs of CPU per iteration of `fn` (user + system), over N iterations. */
async function cpuPerCall(fn: () => unknown): Promise<number> {
  for (let i = 0; i < 10_000; i++) await fn();
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / N;
}

export async function benchMetrics(): Promise<void> {
  const registry = createRegistry();
  const invoker = new InvokerMetrics(registry);
  const controller = new ControllerMetrics(registry);
  const store = timedStore({ ping: async () => true, get: async () => record }, registry);
  const ctx = { method: 'POST', status: 200, _matchedRoute: '/api/v1/namespaces/:ns/actions/:name' };
  const next = async () => undefined;
  const bare = { get: async () => record };

  const perActivation = await cpuPerCall(async () => {
    invoker.delivered('invoker0', message.receivedAt);
    invoker.started('warm');
    invoker.activation(record, message);
    controller.answered(ctx, 0.002);
    await next();
    await store.get();
  });
  const baseline = await cpuPerCall(async () => {
    await next();
    await bare.get();
  });
  const added = perActivation - baseline;
  rows.push({ what: 'metrics: CPU added per activation (invoker, controller, one store call)', n: N, rate: Number(added.toFixed(2)), unit: 'µs', target: '≤ 30 µs (3% of ~1 ms CPU per activation)' });

  for (let i = 0; i < 1_000; i++) invoker.activation(record, { ...message, action: { ...message.action, name: `a${i}` } });
  const t = now();
  const text = await registry.metrics();
  rows.push({ what: `metrics: one scrape with 1,000 action series (${Math.round(text.length / 1024)} KiB)`, n: 1, p50: Number((now() - t).toFixed(1)), unit: 'ms' });
}
