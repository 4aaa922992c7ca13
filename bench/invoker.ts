/**
 * The invoker core on the docker and sandbox factories side by side: what a cold start
 * costs (raw Docker, the runtime alone, the pool without and with stem cells), what the
 * pool adds to a warm /run, warm throughput at 32 clients, and what an idle runtime
 * container holds in memory.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import type { ActivationRecord } from '../common/activation.ts';
import { silentLogger } from '../common/logger.ts';
import { DockerContainerFactory } from '../invoker/factory/docker.ts';
import { freePort, waitForPort } from '../invoker/factory/ports.ts';
import { SandboxContainerFactory, sandboxSupport } from '../invoker/factory/sandbox.ts';
import { SandboxNetwork } from '../invoker/factory/sandbox-net.ts';
import { Invoker, type InvokerConfig } from '../invoker/invoker.ts';
import { ProxyClient } from '../invoker/proxy-client.ts';
import { ensureBundle } from '../runtimes/build.ts';
import { ensureImages, runtimeImage } from '../runtimes/index.ts';
import type { ContainerFactory } from '../common/container.ts';
import { testAction, testJob } from '../test/support/invoker-fixtures.ts';
import { concurrent, now, pct, rows, sampled } from './table.ts';

const NODE = 'nodejs:20';
const CODE = 'function main(p) { return { ok: true } }';
const COLD_SAMPLES = 15;
const WARM_SAMPLES = 1000;
const WARM_CLIENTS = 32;
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
async function timeRun(inv: Invoker, rev: string, action = testAction(CODE)): Promise<{ ms: number; record: ActivationRecord }> {
  let answered = 0;
  const t0 = now();
  const record = await inv.run(testJob(action, {}, { rev }), () => (answered = now()));
  return { ms: answered - t0, record };
}

/** A stdio action compiled from C (echoes its parameters): the binary, base64, or undefined where no gcc is installed. */
function compiledStdioAction(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'swirl-bench-c-'));
  try {
    writeFileSync(join(dir, 'echo.c'), '#include <stdio.h>\nint main(void) { char l[65536]; if (fgets(l, sizeof l, stdin)) fputs(l, stdout); return 0; }\n');
    execFileSync('gcc', ['-O2', '-o', join(dir, 'echo'), join(dir, 'echo.c')], { stdio: 'ignore' });
    return readFileSync(join(dir, 'echo')).toString('base64');
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

  // the runtime's own start-up, for the cold starts below: `node proxy.mjs` on this host to listening
  const proxy = await ensureBundle('nodejs');
  const own: number[] = [];
  for (let i = 0; i < COLD_SAMPLES; i++) own.push(await runtimeAlone(proxy));
  const ownP50 = sampled('nodejs runtime alone: node proxy.mjs → listening', own).p50!;

  // 2-4. the pool on each factory, side by side
  const stateDir = mkdtempSync(join(tmpdir(), 'swirl-bench-'));
  const factories: Record<'docker' | 'sandbox', () => ContainerFactory> = {
    docker: () => new DockerContainerFactory(docker, { invokerId: '77', log: silentLogger, network: BENCH_NETWORK }),
    sandbox: () =>
      new SandboxContainerFactory({ invokerId: '77', log: silentLogger, stateDir, installation: 'swirl-bench', network: new SandboxNetwork({ installation: 'swirl-bench', outbound: true, log: silentLogger, stateDir: join(stateDir, 'net') }) }),
  };
  const figures: Record<string, { cold: number; warm32: number }> = {};
  for (const [name, factory] of Object.entries(factories)) {
    if (name === 'sandbox' && sandboxSupport().length) {
      rows.push({ what: `sandbox: not measured, this host lacks ${sandboxSupport().join('; ')}`, n: 0, unit: '' });
      continue;
    }
    figures[name] = await poolFigures(name, factory, image, client, { own: ownP50, raw: rawRow.p50!, proxy }, figures.docker);
  }
  rmSync(stateDir, { recursive: true, force: true });

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
    rows.push({ what: `idle warm ${kind} Docker container memory`, n: 1, rate: (stats.memory_stats.usage - cache) / 1024 / 1024, unit: 'MiB' });
    await c.remove({ force: true });
  }
  client.close();
}

/** The runtime's own start-up: `node proxy.mjs` on this host, until it listens (ms). */
async function runtimeAlone(proxy: string): Promise<number> {
  const port = await freePort();
  const t0 = now();
  const child = spawn(process.execPath, [proxy], { env: { PORT: String(port), HOST: '127.0.0.1', PATH: process.env.PATH }, stdio: 'ignore' });
  await waitForPort('127.0.0.1', port, 10_000);
  const ms = now() - t0;
  child.kill('SIGKILL');
  return ms;
}

/** A bench sandbox's memory (its cgroup's usage without page cache), in bytes. */
function sandboxMemory(id: string): number {
  const name = id.replace(/^sandbox-/, '');
  const v1 = join('/sys/fs/cgroup/memory/swirl-swirl-bench', name);
  if (existsSync(v1)) {
    const inactive = Number(/^total_inactive_file (\d+)/m.exec(readFileSync(join(v1, 'memory.stat'), 'utf8'))?.[1] ?? 0);
    return Number(readFileSync(join(v1, 'memory.usage_in_bytes'), 'utf8')) - inactive;
  }
  const v2 = join('/sys/fs/cgroup/swirl-swirl-bench', name);
  const inactive = Number(/^inactive_file (\d+)/m.exec(readFileSync(join(v2, 'memory.stat'), 'utf8'))?.[1] ?? 0);
  return Number(readFileSync(join(v2, 'memory.current'), 'utf8')) - inactive;
}

/** Cold starts without and from a stem cell, warm /run against a direct one, and warm throughput at 32 clients, through the invoker on one factory. */
async function poolFigures(name: string, factory: () => ContainerFactory, image: string, client: ProxyClient, ref: { own: number; raw: number; proxy: string }, docker?: { cold: number; warm32: number }): Promise<{ cold: number; warm32: number }> {
  // cold start through the pool, no stem cells: a new revision each time
  // on a shared machine the load moves within a minute: the sandbox's reference, the runtime alone, is sampled between its cold starts
  let inv = await Invoker.start(config({}), nullStore, silentLogger, { factory: factory() });
  const cold: number[] = [];
  const alone: number[] = [];
  for (let i = 0; i < COLD_SAMPLES; i++) {
    if (name === 'sandbox') {
      // what the last cold start set going in the background (the next sandbox started ahead) is done first: the reference runs alone
      await new Promise((r) => setTimeout(r, 200));
      alone.push(await runtimeAlone(ref.proxy));
    }
    cold.push((await timeRun(inv, `cold-${i}`)).ms);
  }
  const coldP50 = pct(cold, 50);
  const vsDocker = docker ? `; ≥ 2× faster than docker (${(docker.cold / coldP50).toFixed(1)} ×)` : '';
  const own = name === 'sandbox' ? sampled('nodejs runtime alone, sampled between the sandbox cold starts below', alone).p50! : ref.own;
  sampled(`${name}: cold start, no stem cell`, cold, { target: name === 'sandbox' ? `≤ runtime alone + 15 ms (+${(coldP50 - own).toFixed(0)} ms)${vsDocker}` : `≤ 1.2 × raw (${(coldP50 / ref.raw).toFixed(2)} ×)` });
  await inv.close();

  // cold start from a stem cell (wait for it to be replenished between samples)
  inv = await Invoker.start(config({ prewarm: [{ kind: NODE, memory: 256, count: 1 }] }), nullStore, silentLogger, { factory: factory() });
  const stem: number[] = [];
  for (let i = 0; i < COLD_SAMPLES; i++) {
    while (inv.stats().prewarm < 1) await new Promise((r) => setTimeout(r, 20));
    stem.push((await timeRun(inv, `stem-${i}`)).ms);
  }
  sampled(`${name}: cold start from a stem cell`, stem, { target: name === 'sandbox' ? 'p50 ≤ 5 ms' : 'p50 ≤ 10 ms' });
  await inv.close();

  // a stdio C program cold: a stdio stem cell takes the binary (/init) and runs it once (/run forks it)
  const binary = compiledStdioAction();
  if (binary === undefined) rows.push({ what: `${name}: stdio C program cold, not measured: no gcc on this host`, n: 0, unit: '' });
  else {
    inv = await Invoker.start(config({ prewarm: [{ kind: 'stdio', memory: 256, count: 1 }] }), nullStore, silentLogger, { factory: factory() });
    const c: number[] = [];
    const action = testAction(binary, { kind: 'stdio', binary: true, name: 'echo' });
    for (let i = 0; i < COLD_SAMPLES; i++) {
      while (inv.stats().prewarm < 1) await new Promise((r) => setTimeout(r, 20));
      const { ms, record } = await timeRun(inv, `c-${i}`, action);
      if (!record.response.success) throw new Error(`the C program failed: ${JSON.stringify(record.response.result)}`);
      c.push(ms);
    }
    sampled(`${name}: stdio C program cold (a stdio stem cell: /init + first /run)`, c, { target: name === 'sandbox' ? 'p50 ≤ 15 ms' : undefined });
    await inv.close();
  }

  // warm: through the pool vs a direct /run to the same container, interleaved
  inv = await Invoker.start(config({}), nullStore, silentLogger, { factory: factory() });
  await timeRun(inv, 'warm');
  const { address, token, id } = await inv.pool.acquire({ key: 'guest|guest/hello|warm', kind: NODE, image, memoryMb: 256, concurrency: 1, name: 'x' }).then((l) => {
    inv.pool.release(l);
    return l.container;
  });
  if (name === 'sandbox') rows.push({ what: `idle warm ${NODE} sandbox memory`, n: 1, rate: sandboxMemory(id) / 1024 / 1024, unit: 'MiB' });
  const viaPool: number[] = [];
  const direct: number[] = [];
  const body = { value: {}, namespace: 'guest', action_name: '/guest/hello', activation_id: 'a'.repeat(32), transaction_id: 't', deadline: String(Date.now() + 60_000) };
  for (let i = 0; i < WARM_SAMPLES; i++) {
    viaPool.push((await timeRun(inv, 'warm')).ms);
    const t0 = now();
    await client.post(address, '/run', body, 10_000, undefined, token);
    direct.push(now() - t0);
  }
  sampled(`${name}: warm /run, direct HTTP to the container`, direct);
  const poolRow = sampled(`${name}: warm /run, through pool and runner`, viaPool);
  rows.push({ what: `${name}: warm /run, pool overhead (p50 difference)`, n: WARM_SAMPLES, p50: poolRow.p50! - pct(direct, 50), unit: 'ms', target: 'p50 ≤ 0.2 ms' });

  // warm throughput at 32 clients through the invoker (its containers made first)
  await Promise.all(Array.from({ length: WARM_CLIENTS }, () => timeRun(inv, 'warm32')));
  const cpu0 = process.cpuUsage();
  await concurrent(`${name}: warm, ${WARM_CLIENTS} clients through the invoker`, WARM_SAMPLES * 2, WARM_CLIENTS, () => timeRun(inv, 'warm32'));
  const warm32 = rows[rows.length - 1]!;
  if (docker) warm32.target = `≥ 1.5 × docker (${(warm32.rate! / docker.warm32).toFixed(2)} ×)`;
  // where that goes: the invoker's own CPU per activation (this process: pool, runner, HTTP client, records), against the same 32 containers driven directly
  const cpu = process.cpuUsage(cpu0);
  rows.push({ what: `${name}: invoker CPU per activation at ${WARM_CLIENTS} clients (user + system)`, n: WARM_SAMPLES * 2, p50: (cpu.user + cpu.system) / 1000 / (WARM_SAMPLES * 2), unit: 'ms' });
  await directThroughput(name, inv, image, client);
  await inv.close();
  return { cold: coldP50, warm32: warm32.rate! };
}

/** /run at 32 clients straight to the 32 warm containers of the throughput figure, one request per container at a time: what the containers serve without swirl's path. */
async function directThroughput(name: string, inv: Invoker, image: string, client: ProxyClient): Promise<void> {
  const leases = await Promise.all(Array.from({ length: WARM_CLIENTS }, () => inv.pool.acquire({ key: 'guest|guest/hello|warm32', kind: NODE, image, memoryMb: 256, concurrency: 1, name: 'x' })));
  for (const l of leases) inv.pool.release(l);
  const free = leases.filter((l) => l.start !== 'cold').map((l) => l.container);
  const body = { value: {}, namespace: 'guest', action_name: '/guest/hello', activation_id: 'a'.repeat(32), transaction_id: 't', deadline: String(Date.now() + 600_000) };
  await concurrent(`${name}: warm, ${WARM_CLIENTS} clients, direct HTTP to those containers (no swirl path)`, WARM_SAMPLES * 2, Math.min(WARM_CLIENTS, free.length), async () => {
    const c = free.pop()!;
    try {
      await client.post(c.address, '/run', body, 10_000, undefined, c.token, 1024 * 1024);
    } finally {
      free.push(c);
    }
  });
}
