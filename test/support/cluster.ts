import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import Dockerode from 'dockerode';
import { sleep } from './api.ts';
import { TEST_NETWORK } from './invoker-fixtures.ts';
import { run, type Spawned } from './process.ts';
import { call } from './server.ts';

/** Real cluster processes for the e2e tier: `controller/main.ts`, `invoker/main.ts` and the admin command. */

/** The master key every controller of one test cluster shares. */
const MASTER_KEY = randomBytes(32).toString('base64');

/** The settings cluster tests share: a store (and its master key), Redis and a bus, Docker containers, throttles out of the way. */
export const clusterEnv = (o: { couchdbUrl: string; redisUrl: string; bus: string; dataDir: string }): Record<string, string> => ({
  SWIRL_COUCHDB_URL: o.couchdbUrl,
  SWIRL_MASTER_KEY: MASTER_KEY,
  SWIRL_REDIS_URL: o.redisUrl,
  SWIRL_BUS: o.bus,
  SWIRL_DATA_DIR: o.dataDir,
  SWIRL_LOG_LEVEL: 'warn',
  SWIRL_PREWARM: '[]',
  SWIRL_CONTAINER_FACTORY: 'docker',
  // one actions network for every test run (a data directory of its own would make one each time)
  SWIRL_DOCKER_NETWORK: TEST_NETWORK,
  // an invoker's operations endpoints on every interface need a token
  SWIRL_OPS_TOKEN: 'cluster-test-ops-token-0123',
  SWIRL_LIMIT_INVOKES_PER_MINUTE: '10000',
  SWIRL_LIMIT_CONCURRENT_INVOKES: '1000',
});

export const startControllerProcess = (env: Record<string, string>, port: number, id = 0): Spawned =>
  run('node', ['--import', 'tsx', 'controller/main.ts'], { ...env, SWIRL_PORT: String(port), SWIRL_HOST: '127.0.0.1', SWIRL_CONTROLLER_ID: String(id) });

export const startInvokerProcess = (env: Record<string, string>, id: number): Spawned => run('node', ['--import', 'tsx', 'invoker/main.ts', '--id', String(id)], env);

/** Create an operator (`user create NAME --admin`) on the store `env` names; its `uuid:key`. */
export async function createAdmin(env: Record<string, string>, name: string): Promise<string> {
  const admin = run('node', ['--import', 'tsx', 'cli/admin.ts', 'user', 'create', name, '--admin'], env);
  await admin.exited;
  const key = admin.stdout().trim();
  expect(key, admin.stderr()).to.match(/^[0-9a-f-]{36}:\w+$/);
  return key;
}

/** Wait until the controller at `base` (no /api/v1) reports every one of `ids` in `state`. */
export async function waitForStates(base: string, ids: number[], state: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const states = (await call('GET', `${base}/invokers`)).body;
    if (ids.every((id) => states[`invoker${id}`] === state)) return;
    if (Date.now() > deadline) throw new Error(`invokers ${ids.join(', ')} not ${state} after ${ms} ms: ${JSON.stringify(states)}`);
    await sleep(50);
  }
}

/** Remove the containers the invokers with these ids left behind. */
export async function removeInvokerContainers(ids: number[]): Promise<void> {
  const docker = new Dockerode();
  for (const id of ids) {
    const left = await docker.listContainers({ all: true, filters: { label: [`swirl.invoker=${id}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  }
}

/** Poll for an activation record (undefined after `ms`). */
export async function recordOf(api: string, key: string, id: string, ms: number): Promise<any> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await call('GET', `${api}/namespaces/_/activations/${id}`, { auth: key });
    if (r.status === 200) return r.body;
    if (Date.now() > deadline) return undefined;
    await sleep(100);
  }
}
