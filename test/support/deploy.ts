import { execFile } from 'node:child_process';
import Dockerode from 'dockerode';
import { CLUSTER_IMAGES, clusterRecipe } from '../../runtimes/images/cluster.ts';
import { buildRecipes, ensureImages } from '../../runtimes/images/ensure.ts';
import { expect } from 'chai';
import { sleep } from './api.ts';
import { call } from './server.ts';

/** What the deployment tests (compose, ansible) share: commands, the images, waiting for containers. */

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to its end (bounded by `ms`), collecting its output; never throws for a non-zero exit. */
export function runTool(cmd: string, args: string[], opts: { env?: Record<string, string>; ms?: number } = {}): Promise<Ran> {
  return new Promise((ok) => {
    execFile(cmd, args, { env: { ...process.env, ...opts.env }, timeout: opts.ms ?? 300_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      ok({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === 1 && !stderr ? err.message : '') });
    });
  });
}

/** Fail (in CI) or skip (elsewhere) when a tool is missing: every tier is required in CI. */
export async function requireTool(ctx: Mocha.Context, cmd: string, args: string[], what: string): Promise<void> {
  const r = await runTool(cmd, args, { ms: 30_000 });
  if (r.code === 0) return;
  if (process.env.CI) throw new Error(`${what} is required in CI: ${cmd} ${args.join(' ')} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  console.warn(`      skipped: ${what} is missing (${cmd})`);
  ctx.skip();
}

/** The runtime images and the cluster's (controller, invoker, redis), built where missing or stale. */
export async function clusterImages(): Promise<void> {
  const docker = new Dockerode();
  await ensureImages(docker);
  await buildRecipes(docker, CLUSTER_IMAGES.map(clusterRecipe));
}

/** Wait until a container's health check says healthy; throws with its last log lines otherwise. */
export async function waitHealthy(name: string, ms = 90_000): Promise<void> {
  const docker = new Dockerode();
  const deadline = Date.now() + ms;
  for (;;) {
    const info = await docker.getContainer(name).inspect().catch(() => undefined);
    const status = info?.State.Health?.Status;
    if (status === 'healthy') return;
    if (Date.now() > deadline || (info && !info.State.Running && info.State.Restarting === false)) {
      const logs = info ? String(await docker.getContainer(name).logs({ stdout: true, stderr: true, tail: 30 })) : 'no such container';
      throw new Error(`${name} is not healthy (${status ?? 'no health status'}, running: ${info?.State.Running}):\n${logs}`);
    }
    await sleep(500);
  }
}

/** Which invoker's container an action ran in: its hostname is the container's short id. */
export async function invokerOfHost(hostname: string): Promise<string | undefined> {
  const info = await new Dockerode().getContainer(hostname).inspect().catch(() => undefined);
  return info?.Config.Labels?.['swirl.invoker'];
}

/**
 * The smoke test of a deployed cluster: actions that say where they ran, invoked (blocking)
 * until each of the invokers `ids` has run one; sharding spreads the actions over them.
 */
export async function invokeOnEveryInvoker(api: string, key: string, ids: number[]): Promise<void> {
  const names = ['s0', 's1', 's2', 's3', 's4', 's5'];
  for (const n of names) {
    const r = await call('PUT', `${api}/namespaces/_/actions/${n}?overwrite=true`, { auth: key, body: { exec: { kind: 'nodejs:20', code: 'function main(p) { return { host: require("os").hostname(), n: p.n } }' }, limits: { memory: 128 } } });
    expect(r.status).to.equal(200);
  }
  const ranOn = new Set<string>();
  for (let i = 0; i < 3 * names.length && ranOn.size < ids.length; i++) {
    const r = await call('POST', `${api}/namespaces/_/actions/${names[i % names.length]}?blocking=true&result=true`, { auth: key, body: { n: i } });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body.n).to.equal(i);
    const invoker = await invokerOfHost(r.body.host);
    if (invoker) ranOn.add(invoker);
  }
  expect([...ranOn].sort()).to.deep.equal(ids.map(String).sort());
}
