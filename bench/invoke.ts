/**
 * The whole invoke path on a warm noop action, with real processes: `npm start`
 * (standalone, on its durable local bus and, for comparison, on the memory bus), and a
 * controller plus one invoker on the Redis bus and on the Kafka test broker. Per setup:
 * sequential blocking invokes against the floor (a direct /run to the same warm container),
 * blocking throughput at 32 concurrent clients next to the direct /run throughput at 32
 * clients (the ratio is the share of what the bare container serves that swirl delivers),
 * CPU per activation of each process on the path (controller, invoker, dockerd, containerd
 * and its shims, the container), non-blocking accepts/s and their ratio to the blocking
 * rate, and RSS. The targets are issue 16's goals: printed, never asserted.
 */
import { randomBytes } from 'node:crypto';
import Dockerode from 'dockerode';
import { Agent, request } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROXY_TOKEN_ENV } from '../common/container.ts';
import { freePort, run, type Spawned } from '../test/support/process.ts';
import { startRedis } from '../test/support/redis.ts';
import { startEmbeddedStore } from '../test/support/store-fixtures.ts';
import { now, pct, rows } from './table.ts';

const SEQUENTIAL = 1_000;
const CLIENTS = 32;
const BLOCKING_TOTAL = 6_000;
const NONBLOCKING_TOTAL = 8_000;
export const INVOKER_ID = 150;

const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS * 2 });

/** One HTTP request on a kept-alive connection; resolves with the status and body text. */
export function http(method: string, url: string, body: string | undefined, auth?: string): Promise<{ status: number; text: string }> {
  return new Promise((ok, fail) => {
    const authorization = auth?.startsWith('Bearer ') ? auth : auth && 'Basic ' + Buffer.from(auth).toString('base64');
    const req = request(url, { method, agent, headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode!, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', (e) => fail(new Error(`${method} ${url}: ${e.message}`)));
    req.end(body);
  });
}

export interface Setup {
  name: string;
  api: string;
  key: string;
  controller: Spawned;
  /** A cluster's invoker process (standalone: in the controller's). */
  invoker?: Spawned;
  /** Share of the direct /run throughput the blocking throughput should reach. */
  ratioGoal: number;
  /** Standalone's data directory (where the admin command finds its store). */
  dataDir?: string;
  stop(): Promise<void>;
}

export const common = (dataDir: string): Record<string, string> => ({
  SWIRL_DATA_DIR: dataDir,
  // warn keeps the figures about the invoke path; info (the default of a server) adds its request and activation lines
  SWIRL_LOG_LEVEL: process.env.SWIRL_BENCH_LOG_LEVEL ?? 'warn',
  SWIRL_PREWARM: '[]',
  SWIRL_CONTAINER_FACTORY: 'docker',
  SWIRL_DOCKER_NETWORK: 'swirl-bench-actions',
  SWIRL_INVOKER_ID: String(INVOKER_ID),
  SWIRL_LIMIT_INVOKES_PER_MINUTE: '10000000',
  SWIRL_LIMIT_CONCURRENT_INVOKES: '100000',
  SWIRL_HOST: '127.0.0.1',
  // the direct /run loads reach the warm container while swirl sees it idle: unpaused, so they
  // measure the container (under swirl's own load it is never idle long enough to pause)
  SWIRL_PAUSE_GRACE_MS: '3600000',
});

export async function standalone(env: Record<string, string> = {}): Promise<Setup> {
  const dataDir = mkdtempSync(join(tmpdir(), 'swirl-bench-'));
  const port = await freePort();
  const controller = run('node', ['build/artifact.js', 'run', 'standalone'], { ...common(dataDir), ...env, SWIRL_PORT: String(port) });
  const [, key] = await controller.waitFor(/guest key: (\S+)/, 120_000);
  return {
    name: env.SWIRL_BUS === 'memory' ? 'standalone (memory bus)' : 'standalone (local bus: lmdb, synced)',
    api: `http://127.0.0.1:${port}/api/v1`,
    key: key!,
    controller,
    ratioGoal: 0.5,
    dataDir,
    async stop() {
      controller.kill('SIGTERM');
      await controller.exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function cluster(bus: 'redis' | 'kafka'): Promise<Setup> {
  const dataDir = mkdtempSync(join(tmpdir(), 'swirl-bench-'));
  const store = await startEmbeddedStore();
  const redis = await startRedis();
  const kafka = bus === 'kafka' ? await (await import('../test/support/kafka-fixture.ts')).startKafkaFixture() : undefined;
  const port = await freePort();
  const env = { ...common(dataDir), SWIRL_COUCHDB_URL: store.couch.url, SWIRL_MASTER_KEY: randomBytes(32).toString('base64'), SWIRL_REDIS_URL: redis.url, SWIRL_BUS: bus, ...(kafka ? { SWIRL_KAFKA_BROKERS: kafka.brokers.join(',') } : {}) };
  const controller = run('node', ['build/artifact.js', 'run', 'controller'], { ...env, SWIRL_PORT: String(port) });
  const invoker = run('node', ['build/artifact.js', 'run', 'invoker'], env);
  const [, key] = await controller.waitFor(/guest key: (\S+)/, 60_000);
  await invoker.waitFor(/is up/, 120_000);
  return {
    name: bus === 'redis' ? 'cluster, Redis bus' : 'cluster, Kafka test broker',
    api: `http://127.0.0.1:${port}/api/v1`,
    key: key!,
    controller,
    invoker,
    ratioGoal: bus === 'redis' ? 0.35 : 0.25,
    async stop() {
      for (const p of [controller, invoker]) p.kill('SIGTERM');
      await Promise.all([controller.exited, invoker.exited]);
      await kafka?.cleanup();
      await redis.cleanup();
      await store.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The warm container's address and secret (the only container of the bench invoker; its environment holds the secret). */
async function warmContainer(docker: Dockerode): Promise<{ address: string; auth: string }> {
  const [c] = await docker.listContainers({ filters: { label: [`swirl.invoker=${INVOKER_ID}`] } });
  if (!c) throw new Error('no warm container found');
  const info = await docker.getContainer(c.Id).inspect();
  const token = info.Config.Env.find((e) => e.startsWith(`${PROXY_TOKEN_ENV}=`))?.slice(PROXY_TOKEN_ENV.length + 1);
  return { address: `${Object.values(info.NetworkSettings.Networks)[0]!.IPAddress}:8080`, auth: `Bearer ${token}` };
}

async function measure(setup: Setup, docker: Dockerode): Promise<void> {
  const { api, key, name } = setup;
  const invokeUrl = `${api}/namespaces/_/actions/noop`;
  // idle: started and ready, before any request
  const idleRss = rssMiB(setup.controller.child.pid!);
  // concurrency CLIENTS: like the direct floor, one warm container serves all the clients at once
  // (with concurrency 1 swirl would need 32 containers, more than the invoker's memory holds)
  const created = await http('PUT', invokeUrl, JSON.stringify({ exec: { kind: 'nodejs:20', code: 'function main() { return {} }' }, limits: { memory: 128, concurrency: CLIENTS } }), key);
  if (created.status !== 200) throw new Error(`could not create the action: ${created.text}`);
  // wait for the invoker to be up, then warm one container
  for (let i = 0; ; i++) {
    const r = await http('POST', `${invokeUrl}?blocking=true`, '{}', key);
    if (r.status === 200) break;
    if (i > 300) throw new Error(`invoke does not work: ${r.status} ${r.text}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
  const { address, auth } = await warmContainer(docker);
  const runBody = JSON.stringify({ value: {}, namespace: 'guest', action_name: '/guest/noop', activation_id: 'a'.repeat(32), transaction_id: 't', deadline: String(Date.now() + 3_600_000) });

  // sequential: blocking invoke and direct /run interleaved, so both see the same machine state
  const full: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    let t0 = now();
    const r = await http('POST', `${invokeUrl}?blocking=true`, '{}', key);
    full.push(now() - t0);
    if (r.status !== 200) throw new Error(`invoke failed: ${r.status} ${r.text}`);
    t0 = now();
    await http('POST', `http://${address}/run`, runBody, auth);
    floor.push(now() - t0);
  }
  rows.push({ what: `${name}: direct /run to the warm container (floor)`, n: SEQUENTIAL, p50: pct(floor, 50), p99: pct(floor, 99), unit: 'ms' });
  rows.push({ what: `${name}: blocking invoke`, n: SEQUENTIAL, p50: pct(full, 50), p99: pct(full, 99), unit: 'ms' });
  rows.push({ what: `${name}: overhead over the floor (p50)`, n: SEQUENTIAL, p50: pct(full, 50) - pct(floor, 50), unit: 'ms', target: 'p50 ≤ 0.5 ms' });

  /** `total` requests from CLIENTS clients; records a row and resolves with the rate. */
  const load = async (what: string, total: number, url: string, body: string, auth: string, expect: number, target: string): Promise<number> => {
    const times: number[] = [];
    let next = 0;
    let failed = 0;
    const t0 = now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < total) {
          next++;
          const s = now();
          const r = await http('POST', url, body, auth);
          times.push(now() - s);
          if (r.status !== expect) failed++;
        }
      }),
    );
    const rate = total / ((now() - t0) / 1000);
    rows.push({ what: `${name}: ${what}${failed ? ` (${failed} failed)` : ''}`, n: total, p50: pct(times, 50), p99: pct(times, 99), rate, unit: 'req/s', target });
    return rate;
  };
  const warmRss = rssMiB(setup.controller.child.pid!);
  const direct = await load(`direct /run, ${CLIENTS} clients (floor)`, BLOCKING_TOTAL, `http://${address}/run`, runBody, auth, 200, '');
  const processes = await pathProcesses(setup, docker, address);
  const before = cpuTicks(processes);
  const blocking = await load(`blocking, ${CLIENTS} clients`, BLOCKING_TOTAL, `${invokeUrl}?blocking=true`, '{}', key, 200, '');
  const after = cpuTicks(processes);
  rows.push({ what: `${name}: blocking share of direct /run throughput`, n: BLOCKING_TOTAL, rate: blocking / direct, unit: '×', target: `≥ ${setup.ratioGoal}` });
  for (const [proc, ticks] of Object.entries(after)) {
    rows.push({ what: `${name}: CPU per blocking activation, ${proc}`, n: BLOCKING_TOTAL, rate: ((ticks - before[proc]!) * TICK_MS) / BLOCKING_TOTAL, unit: 'ms' });
  }
  const accepts = await load(`non-blocking accepts, ${CLIENTS} clients`, NONBLOCKING_TOTAL, invokeUrl, '{}', key, 202, '');
  rows.push({ what: `${name}: non-blocking accepts over the blocking rate`, n: NONBLOCKING_TOTAL, rate: accepts / blocking, unit: '×', target: '≥ 3' });

  const standaloneSetup = !setup.invoker;
  rows.push({ what: `${name}: ${standaloneSetup ? 'swirl' : 'controller'} RSS idle (started, no request yet)`, n: 1, rate: idleRss, unit: 'MiB', target: standaloneSetup ? '≤ 100 (controller and invoker in one process)' : '' });
  rows.push({ what: `${name}: ${standaloneSetup ? 'swirl' : 'controller'} RSS after ${SEQUENTIAL} sequential invokes`, n: 1, rate: warmRss, unit: 'MiB' });
  rows.push({ what: `${name}: ${standaloneSetup ? 'swirl' : 'controller'} RSS after the load`, n: 1, rate: rssMiB(setup.controller.child.pid!), unit: 'MiB' });
  if (setup.invoker) rows.push({ what: `${name}: invoker RSS after the load`, n: 1, rate: rssMiB(setup.invoker.child.pid!), unit: 'MiB' });
}

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Linux's clock tick (USER_HZ), in ms: /proc/<pid>/stat counts CPU time in these. */
const TICK_MS = 10;

/** user + system CPU ticks of a process (fields 14 and 15 of /proc/<pid>/stat), 0 when it is gone. */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Every process as [pid, command name, process group]. */
function allProcesses(): Array<{ pid: number; comm: string; pgrp: number }> {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
        return [{ pid: Number(d), comm, pgrp }];
      } catch {
        return [];
      }
    });
}

/** The processes on the invoke path, by role: each role's pids (a process group, Docker's daemons, the container's processes). */
async function pathProcesses(setup: Setup, docker: Dockerode, address: string): Promise<Record<string, number[]>> {
  const procs = allProcesses();
  const group = (pid: number) => procs.filter((p) => p.pgrp === pid).map((p) => p.pid);
  const byName = (re: RegExp) => procs.filter((p) => re.test(p.comm)).map((p) => p.pid);
  const ip = address.split(':')[0];
  const [c] = (await docker.listContainers({ filters: { label: [`swirl.invoker=${INVOKER_ID}`] } })).filter((x) => Object.values(x.NetworkSettings.Networks).some((n) => n.IPAddress === ip));
  const root = c ? (await docker.getContainer(c.Id).inspect()).State.Pid : 0;
  const container = procs.filter((p) => p.pid === root || p.pgrp === root).map((p) => p.pid);
  return {
    [setup.invoker ? 'controller' : 'swirl (controller and invoker)']: group(setup.controller.child.pid!),
    ...(setup.invoker ? { invoker: group(setup.invoker.child.pid!) } : {}),
    dockerd: byName(/^dockerd$/),
    'containerd and shims': byName(/^containerd/),
    'the container': container,
  };
}

const cpuTicks = (roles: Record<string, number[]>): Record<string, number> => Object.fromEntries(Object.entries(roles).map(([role, pids]) => [role, pids.reduce((sum, pid) => sum + processTicks(pid), 0)]));

export async function benchInvoke(): Promise<void> {
  const docker = new Dockerode();
  await docker.ping();
  const only = process.env.SWIRL_BENCH_SETUPS?.split(',');
  const setups = { standalone, 'standalone-memory': () => standalone({ SWIRL_BUS: 'memory' }), redis: () => cluster('redis'), kafka: () => cluster('kafka') };
  for (const [key, make] of Object.entries(setups)) {
    if (only && !only.includes(key)) continue;
    const setup = await make();
    try {
      await measure(setup, docker);
    } finally {
      // SIGTERM: the invoker finishes the non-blocking backlog before it exits
      await setup.stop();
      const left = await docker.listContainers({ all: true, filters: { label: [`swirl.invoker=${INVOKER_ID}`] } });
      await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    }
  }
  agent.destroy();
}
