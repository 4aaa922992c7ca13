/**
 * Bad input against `npm start` (standalone: controller and invoker in one process, Docker
 * containers): the controller's memory while 16 clients without credentials send 45 MB
 * bodies to a web action at once, and an action that prints 40 MB without a newline — how
 * long until its record is stored, and what another tenant's blocking invokes cost
 * meanwhile. Bounded: 16 uploads, one flood, blocking invokes only while the flood lasts.
 */
import Dockerode from 'dockerode';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { run } from '../test/support/process.ts';
import { http, standalone, type Setup } from './invoke.ts';
import { now, pct, rows } from './table.ts';

const UPLOADS = 16;
const UPLOAD_BYTES = 45 * 1024 * 1024;
const FLOOD_BYTES = 40 * 1024 * 1024;
// not the invoke bench's fixed id: this run's containers are its own to clean up
const INVOKER_ID = 2000 + Math.floor(Math.random() * 7000);

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** POST `body` without credentials; resolves with the status (0 when the connection broke before any answer). */
function upload(url: string, body: Buffer, agent: Agent): Promise<number> {
  return new Promise((ok) => {
    let status = 0;
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      status = res.statusCode ?? 0;
      res.resume();
      res.on('end', () => ok(status));
      res.on('error', () => ok(status));
    });
    // a server that refuses the body answers early and closes: the rest of the upload fails, the answer stands
    req.on('error', () => ok(status));
    req.end(body);
  });
}

async function until<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  return undefined;
}

async function uploads(setup: Setup, put: (path: string, body: unknown) => Promise<void>): Promise<void> {
  const pid = setup.controller.child.pid!;
  await put('/actions/web', { exec: { kind: 'nodejs:20', code: 'function main(p) { return { size: JSON.stringify(p).length } }' }, limits: { memory: 128 }, annotations: [{ key: 'web-export', value: true }] });
  const url = `${setup.api}/web/guest/default/web.json`;
  const warm = await until(async () => ((await http('POST', url, '{"a":1}')).status === 200 ? true : undefined), 60_000);
  if (!warm) throw new Error('the web action does not answer');
  const body = Buffer.from(JSON.stringify({ data: 'x'.repeat(UPLOAD_BYTES - 12) }));
  const before = rssMiB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20);
  const agent = new Agent({ keepAlive: false, maxSockets: UPLOADS });
  const t0 = now();
  const statuses = await Promise.all(Array.from({ length: UPLOADS }, () => upload(url, body, agent)));
  const ms = now() - t0;
  clearInterval(sampler);
  agent.destroy();
  const counts = Object.entries(statuses.reduce<Record<string, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {}))
    .map(([s, n]) => `${n}×${s}`)
    .join(' ');
  rows.push({ what: `input: controller RSS before ${UPLOADS} anonymous 45 MB web bodies`, n: 1, rate: before, unit: 'MiB' });
  rows.push({ what: `input: controller RSS peak while they are sent (${counts}, ${Math.round(ms)} ms)`, n: UPLOADS, rate: peak, unit: 'MiB', target: 'bounded' });
  const still = await http('POST', url, '{"a":1}');
  if (still.status !== 200) throw new Error(`the web action stopped answering: ${still.status} ${still.text}`);
}

async function flood(setup: Setup, put: (path: string, body: unknown) => Promise<void>, otherKey: string): Promise<void> {
  const other = `${setup.api}/namespaces/_/actions/noop?blocking=true`;
  const created = await http('PUT', `${setup.api}/namespaces/_/actions/noop`, JSON.stringify({ exec: { kind: 'nodejs:20', code: 'function main() { return {} }' }, limits: { memory: 128 } }), otherKey);
  if (created.status !== 200) throw new Error(`could not create the other tenant's action: ${created.text}`);
  await put('/actions/flood', { exec: { kind: 'nodejs:20', code: `function main() { process.stdout.write('x'.repeat(${FLOOD_BYTES})); return { ok: true } }` } });
  const blocking = async (): Promise<number> => {
    const t0 = now();
    const r = await http('POST', other, '{}', otherKey);
    if (r.status !== 200) throw new Error(`the other tenant's invoke failed: ${r.status} ${r.text}`);
    return now() - t0;
  };
  await blocking(); // the cold start is not what is measured
  const quiet: number[] = [];
  for (let i = 0; i < 50; i++) quiet.push(await blocking());
  rows.push({ what: "input: another tenant's blocking invoke, quiet", n: quiet.length, p50: pct(quiet, 50), p99: pct(quiet, 99), unit: 'ms' });

  const t0 = now();
  const started = await http('POST', `${setup.api}/namespaces/_/actions/flood`, '{}', setup.key);
  if (started.status !== 202) throw new Error(`flood: ${started.status} ${started.text}`);
  const id = (JSON.parse(started.text) as { activationId: string }).activationId;
  let stored = false;
  const during: number[] = [];
  const tenant = (async () => {
    while (!stored) during.push(await blocking());
  })();
  const record = await until(async () => {
    const r = await http('GET', `${setup.api}/namespaces/_/activations/${id}`, undefined, setup.key);
    return r.status === 200 ? (JSON.parse(r.text) as { logs: string[]; response: { status: string } }) : undefined;
  }, 180_000);
  const ms = now() - t0;
  stored = true;
  await tenant;
  if (!record) throw new Error('the flood record was not stored within 180 s');
  rows.push({ what: `input: ${FLOOD_BYTES / 1024 / 1024} MB without a newline, until the record is stored (${record.response.status}, ${record.logs.length} log lines)`, n: 1, p50: ms, unit: 'ms' });
  rows.push({ what: "input: another tenant's blocking invoke meanwhile", n: during.length, p50: pct(during, 50), p99: pct(during, 99), unit: 'ms' });
}

export async function benchInput(): Promise<void> {
  const docker = new Dockerode();
  await docker.ping();
  const setup = await standalone({ SWIRL_INVOKER_ID: String(INVOKER_ID), SWIRL_INVOKER_MEMORY_MB: '1024' });
  const put = async (path: string, body: unknown) => {
    const r = await http('PUT', `${setup.api}/namespaces/_${path}?overwrite=true`, JSON.stringify(body), setup.key);
    if (r.status !== 200) throw new Error(`PUT ${path}: ${r.status} ${r.text}`);
  };
  try {
    const admin = run('node', ['build/artifact.js', 'run', 'admin', 'user', 'create', 'other'], { SWIRL_DATA_DIR: setup.dataDir!, SWIRL_LOG_LEVEL: 'warn' });
    if ((await admin.exited) !== 0) throw new Error(`could not create a second user: ${admin.stderr()}`);
    const otherKey = admin.stdout().trim();
    await uploads(setup, put);
    await flood(setup, put, otherKey);
  } finally {
    await setup.stop();
    const left = await docker.listContainers({ all: true, filters: { label: [`swirl.invoker=${INVOKER_ID}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  }
}
