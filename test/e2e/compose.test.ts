import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import Dockerode from 'dockerode';
import { removeInvokerContainers, waitForStates } from '../support/cluster.ts';
import { clusterImages, invokeOnEveryInvoker, invokerOfHost, requireTool, runTool, waitHealthy } from '../support/deploy.ts';
import { freePort } from '../support/process.ts';
import { PROBE, type Target } from '../support/probe.ts';
import { call } from '../support/server.ts';

/** Invoker ids of this suite (the compose file's own are 0 and 1). */
const IDS = [210, 211];

/** What the compose files refuse to start without. */
const SECRETS = {
  COUCHDB_PASSWORD: randomBytes(12).toString('hex'),
  SWIRL_REDIS_PASSWORD: randomBytes(12).toString('hex'),
  SWIRL_OPS_TOKEN: randomBytes(12).toString('hex'),
  SWIRL_MASTER_KEY: randomBytes(32).toString('base64'),
  SWIRL_EMBEDDED_COUCHDB_PASSWORD: randomBytes(12).toString('hex'),
};

/**
 * docker-compose.yml, as CI can run it: validated by Debian's docker-compose, then its redis,
 * controller and two invokers brought up from the locally built images with the CI override
 * (embedded store, Redis bus: no CouchDB or Kafka image can be had), a smoke invoke through
 * both invokers, a drain through the controller, and down.
 */
describe('docker compose: the cluster of docker-compose.yml', function () {
  this.timeout(300_000);
  const project = `swirlci${process.pid}`;
  const docker = new Dockerode();
  let env: Record<string, string>;
  let port: number;
  const compose = (args: string[], ms?: number) => runTool('docker-compose', ['-p', project, '-f', 'docker-compose.yml', '-f', 'deploy/compose.ci.yml', ...args], { env, ms });
  const up = async (services: string[]) => {
    const r = await compose(['up', '-d', '--no-deps', ...services]);
    expect(r.code, r.stderr).to.equal(0);
    for (const s of services) await waitHealthy(`${project}_${s}_1`);
  };

  before(async function () {
    await requireTool(this, 'docker-compose', ['version'], "Debian's docker-compose");
    await clusterImages();
    port = await freePort();
    // the API published on every interface (as by default), so that actions reach it through the host's gateway
    env = { SWIRL_NETWORK: `${project}-net`, SWIRL_PUBLISH: String(port), SWIRL_INVOKER0_ID: String(IDS[0]), SWIRL_INVOKER1_ID: String(IDS[1]), ...SECRETS };
  });
  after(async () => {
    if (!env) return;
    // the invokers remove their action containers as they stop; then whatever is left, then the project (its network)
    await compose(['stop', '-t', '30', 'invoker0', 'invoker1'], 60_000);
    await removeInvokerContainers(IDS);
    const down = await compose(['down', '-v', '--remove-orphans', '-t', '10'], 120_000);
    if (down.code !== 0) console.warn(down.stderr);
    // the invokers' own network, which compose does not know
    await new Dockerode().getNetwork(`${project}-net-actions`).remove().catch(() => undefined);
  });

  it('docker-compose.yml is valid, alone and with the CI override; without its secrets it refuses, naming each', async () => {
    for (const files of [['-f', 'docker-compose.yml'], ['-f', 'docker-compose.yml', '-f', 'deploy/compose.ci.yml']]) {
      const r = await runTool('docker-compose', [...files, 'config', '-q'], { env });
      expect(r.code, r.stderr).to.equal(0);
    }
    const services = (await runTool('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services'], { env })).stdout.trim().split('\n').sort();
    expect(services).to.deep.equal(['controller', 'couchdb', 'invoker0', 'invoker1', 'kafka', 'redis']);
    // no known default stands in for a secret that is not set
    for (const name of Object.keys(SECRETS)) {
      const files = name === 'SWIRL_EMBEDDED_COUCHDB_PASSWORD' ? ['-f', 'docker-compose.yml', '-f', 'deploy/compose.ci.yml'] : ['-f', 'docker-compose.yml'];
      const r = await runTool('docker-compose', [...files, 'config', '-q'], { env: { ...env, [name]: '' } });
      expect(r.code, name).to.not.equal(0);
      expect(r.stderr, name).to.contain(`set ${name}`);
    }
  });

  it('redis, the controller and two invokers come up healthy; an invoke runs through each invoker; an invoker drains through the controller', async () => {
    await up(['redis']);
    // the controller is healthy (its /ready) once it can place work, so it comes up with its
    // invokers, which wait for its embedded store
    await up(['controller', 'invoker0', 'invoker1']);
    const base = `http://127.0.0.1:${port}`;
    const api = `${base}/api/v1`;
    // as the README says: the guest key is in the controller's log
    const logs = await compose(['logs', '--no-color', 'controller']);
    const key = /guest key: (\S+)/.exec(logs.stdout)?.[1];
    expect(key, logs.stdout.slice(-2000)).to.match(/^[0-9a-f-]{36}:\w+$/);
    // shown once, and kept where the README says
    expect((await compose(['exec', '-T', 'controller', 'cat', '/var/lib/swirl/guest.key'])).stdout.trim()).to.equal(key);
    const admin = await compose(['exec', '-T', 'controller', 'node', 'dist/admin.js', 'user', 'create', 'ops', '--admin']);
    expect(admin.code, admin.stderr).to.equal(0);
    const adminKey = admin.stdout.trim();
    await waitForStates(base, IDS, 'up', 30_000);
    expect((await call('GET', `${base}/ready`)).status).to.equal(200);

    await invokeOnEveryInvoker(api, key!, IDS);

    // Redis answers only with its password: a client on the project network (where the action containers are) without it is refused
    const redisCli = (args: string[]) => runTool('docker', ['run', '--rm', '--network', env.SWIRL_NETWORK!, '--entrypoint', 'redis-cli', 'swirl/redis:0.1.0', '-h', 'redis', ...args]);
    const refused = await redisCli(['get', 'anything']);
    expect(refused.stdout + refused.stderr).to.contain('NOAUTH Authentication required');
    expect((await redisCli(['-a', SECRETS.SWIRL_REDIS_PASSWORD, '--no-auth-warning', 'ping'])).stdout.trim()).to.equal('PONG');

    // the controller reaches the invokers' operations endpoints by their compose names, with the token
    const disable = await call('POST', `${api}/invokers/${IDS[0]}/disable`, { auth: adminKey });
    expect(disable.status, JSON.stringify(disable.body)).to.be.oneOf([200, 202]);
    await waitForStates(base, [IDS[0]!], 'offline', 20_000);
    const other = await call('POST', `${api}/namespaces/_/actions/s0?blocking=true&result=true`, { auth: key!, body: { n: 99 } });
    expect(await invokerOfHost(other.body.host)).to.equal(String(IDS[1]));
    expect((await call('POST', `${api}/invokers/${IDS[0]}/enable`, { auth: adminKey })).status).to.equal(200);
    await waitForStates(base, IDS, 'up', 20_000);

    // an action reaches the API, and none of the cluster's services nor the other actions
    expect((await call('PUT', `${api}/namespaces/_/actions/probe`, { auth: key!, body: { exec: { kind: 'nodejs:20', code: PROBE } } })).status).to.equal(200);
    const targets: Record<string, Target> = {};
    const addressOf = async (service: string) => Object.values((await docker.getContainer(`${project}_${service}_1`).inspect()).NetworkSettings.Networks)[0]!.IPAddress;
    targets['redis :6379'] = { host: await addressOf('redis'), port: 6379 };
    targets['the store :5984'] = { host: await addressOf('controller'), port: 5984 };
    targets['the controller itself :3233'] = { host: await addressOf('controller'), port: 3233 };
    for (const i of [0, 1]) targets[`invoker${i} ops :3234`] = { host: await addressOf(`invoker${i}`), port: 3234 };
    const actions = (await Promise.all(IDS.map((id) => docker.listContainers({ filters: { label: [`swirl.invoker=${id}`] } })))).flat();
    for (const c of actions) {
      targets[`action ${c.Id.slice(0, 12)} /run`] = { host: Object.values(c.NetworkSettings.Networks)[0]!.IPAddress, port: 8080, path: '/run', body: { value: {} } };
    }
    const probe = await call('POST', `${api}/namespaces/_/actions/probe?blocking=true&result=true`, { auth: key!, body: { targets, api: true } });
    expect(probe.status, JSON.stringify(probe.body)).to.equal(200);
    const { api: viaApi, ...outcomes } = probe.body as Record<string, string>;
    expect(viaApi, 'actions call swirl').to.equal('answered 200');
    const tried = Object.entries(outcomes).filter(([, o]) => o !== 'self');
    expect(tried.length, `the services and at least one other action: ${JSON.stringify(probe.body)}`).to.be.at.least(6);
    for (const [target, outcome] of tried) expect(outcome, target).to.be.oneOf(['timeout', 'ECONNREFUSED', 'EHOSTUNREACH']);
  });
});
