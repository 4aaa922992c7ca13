/**
 * The invoker core on the docker factory: what a cold start costs (raw Docker, the pool
 * without and with stem cells), what the pool adds to a warm /run, and what an idle
 * runtime container holds in memory.
 */
import Dockerode from 'dockerode';
import type { ActivationRecord } from '../common/activation.ts';
import { silentLogger } from '../common/logger.ts';
import { DockerContainerFactory } from '../invoker/factory/docker.ts';
import { waitForPort } from '../invoker/factory/ports.ts';
import { Invoker, type InvokerConfig } from '../invoker/invoker.ts';
import { ProxyClient } from '../invoker/proxy-client.ts';
import { ensureImages, runtimeImage } from '../runtimes/index.ts';
import { testAction, testJob } from '../test/support/invoker-fixtures.ts';
import { now, pct, rows, sampled } from './table.ts';

const NODE = 'nodejs:20';
const CODE = 'function main(p) { return { ok: true } }';
const COLD_SAMPLES = 15;
const WARM_SAMPLES = 1000;
/** The benchmarks' actions network (the factory creates it, with its firewall). */
const BENCH_NETWORK = 'swirl-bench-actions';
const nullStore = { putActivations: async (_: ActivationRecord[]) => [] };

const config = (over: Partial<InvokerConfig>): InvokerConfig => ({
  containerFactory: 'docker',
  invokerId: '77',
  containerPidsLimit: 512,
  dataDir: '/tmp',
  invokerMemoryMb: 16 * 1024,
  prewarm: [],
  pauseGraceMs: 3_600_000,
  idleContainerTimeoutMs: 3_600_000,
  ...over,
});

/** Run through the invoker; resolves with the time until the result was known (what a blocking caller waits for). */
async function timeRun(inv: Invoker, rev: string): Promise<{ ms: number; record: ActivationRecord }> {
  let answered = 0;
  const t0 = now();
  const record = await inv.run(testJob(testAction(CODE), {}, { rev }), () => (answered = now()));
  return { ms: answered - t0, record };
}

export async function benchInvoker(): Promise<void> {
  const docker = new Dockerode();
  await docker.ping();
  await ensureImages(docker);
  const image = runtimeImage(NODE);
  const client = new ProxyClient();

  // 1. raw Docker: create + start + wait for the port + /init + first /run, no pool
  const raw: number[] = [];
  for (let i = 0; i < COLD_SAMPLES; i++) {
    const t0 = now();
    const c = await docker.createContainer({ Image: image, Labels: { 'swirl.invoker': 'bench-raw' }, HostConfig: { Memory: 256 * 1024 * 1024 } });
    await c.start();
    const ip = (await c.inspect()).NetworkSettings.Networks.bridge!.IPAddress;
    await waitForPort(ip, 8080, 10_000);
    await client.post(`${ip}:8080`, '/init', { value: { name: 'a', main: 'main', code: CODE, binary: false, env: {} } }, 10_000);
    await client.post(`${ip}:8080`, '/run', { value: {}, deadline: String(Date.now() + 60_000) }, 10_000);
    raw.push(now() - t0);
    await c.remove({ force: true });
  }
  const rawRow = sampled('docker: raw create+start+/init+first /run', raw);

  // 2. cold start through the pool, no stem cells: a new revision each time
  let inv = await Invoker.start(config({}), nullStore, silentLogger, { factory: new DockerContainerFactory(docker, { invokerId: '77', log: silentLogger, network: BENCH_NETWORK }) });
  const cold: number[] = [];
  for (let i = 0; i < COLD_SAMPLES; i++) cold.push((await timeRun(inv, `cold-${i}`)).ms);
  const coldP50 = pct(cold, 50);
  sampled('pool: cold start, no stem cell', cold, { target: `≤ 1.2 × raw (${(coldP50 / rawRow.p50!).toFixed(2)} ×)` });
  await inv.close();

  // 3. cold start from a stem cell (wait for it to be replenished between samples)
  inv = await Invoker.start(config({ prewarm: [{ kind: NODE, memory: 256, count: 1 }] }), nullStore, silentLogger, {
    factory: new DockerContainerFactory(docker, { invokerId: '77', log: silentLogger, network: BENCH_NETWORK }),
  });
  const stem: number[] = [];
  for (let i = 0; i < COLD_SAMPLES; i++) {
    while (inv.stats().prewarm < 1) await new Promise((r) => setTimeout(r, 20));
    stem.push((await timeRun(inv, `stem-${i}`)).ms);
  }
  sampled('pool: cold start from a stem cell', stem, { target: 'p50 ≤ 10 ms' });
  await inv.close();

  // 4. warm: through the pool vs a direct /run to the same container, interleaved
  inv = await Invoker.start(config({}), nullStore, silentLogger, { factory: new DockerContainerFactory(docker, { invokerId: '77', log: silentLogger, network: BENCH_NETWORK }) });
  await timeRun(inv, 'warm');
  const { address, token } = await inv.pool.acquire({ key: 'guest|guest/hello|warm', kind: NODE, image, memoryMb: 256, concurrency: 1, name: 'x' }).then((l) => {
    inv.pool.release(l);
    return l.container;
  });
  const viaPool: number[] = [];
  const direct: number[] = [];
  const body = { value: {}, namespace: 'guest', action_name: '/guest/hello', activation_id: 'a'.repeat(32), transaction_id: 't', deadline: String(Date.now() + 60_000) };
  for (let i = 0; i < WARM_SAMPLES; i++) {
    viaPool.push((await timeRun(inv, 'warm')).ms);
    const t0 = now();
    await client.post(address, '/run', body, 10_000, undefined, token);
    direct.push(now() - t0);
  }
  sampled('warm /run: direct HTTP to the container', direct);
  const poolRow = sampled('warm /run: through pool and runner', viaPool);
  rows.push({ what: 'warm /run: pool overhead (p50 difference)', n: WARM_SAMPLES, p50: poolRow.p50! - pct(direct, 50), unit: 'ms', target: 'p50 ≤ 0.2 ms' });

  // 5. memory of an idle warm runtime container (cgroup usage without page cache)
  for (const [kind, code] of [
    [NODE, CODE],
    ['python:3', 'def main(args):\n    return {}\n'],
  ] as const) {
    const c = await docker.createContainer({ Image: runtimeImage(kind), Labels: { 'swirl.invoker': 'bench-raw' }, HostConfig: { Memory: 256 * 1024 * 1024 } });
    await c.start();
    const ip = (await c.inspect()).NetworkSettings.Networks.bridge!.IPAddress;
    await waitForPort(ip, 8080, 10_000);
    await client.post(`${ip}:8080`, '/init', { value: { name: 'a', main: 'main', code, binary: false, env: {} } }, 10_000);
    await client.post(`${ip}:8080`, '/run', { value: {}, deadline: String(Date.now() + 60_000) }, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const stats = (await c.stats({ stream: false })) as { memory_stats: { usage: number; stats?: Record<string, number> } };
    const cache = stats.memory_stats.stats?.cache ?? stats.memory_stats.stats?.inactive_file ?? 0;
    rows.push({ what: `idle warm ${kind} container memory`, n: 1, rate: (stats.memory_stats.usage - cache) / 1024 / 1024, unit: 'MiB' });
    await c.remove({ force: true });
  }
  await inv.close();
  client.close();
}
