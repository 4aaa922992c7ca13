import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Dockerode from 'dockerode';
import { removeInvokerContainers, waitForStates } from '../support/cluster.ts';
import { clusterImages, invokeOnEveryInvoker, requireTool, runTool } from '../support/deploy.ts';
import { freePort } from '../support/process.ts';
import { call } from '../support/server.ts';

/** Invoker ids of this suite. */
const IDS = [220, 221];

/** The secrets deploy.yml refuses to run without (this deploy uses the embedded store, so no CouchDB password). */
const SECRETS = {
  swirl_ops_token: randomBytes(12).toString('hex'),
  swirl_redis_password: randomBytes(12).toString('hex'),
  swirl_embedded_couchdb_password: randomBytes(12).toString('hex'),
  swirl_master_key: randomBytes(32).toString('base64'),
};
const ANSIBLE = resolve('ansible');

/**
 * ansible/: syntax of the playbooks with both inventories, then a real deploy on this
 * machine (connection local) of redis, a controller and two invokers from the locally built
 * images, with the embedded store and the Redis bus (no CouchDB or Kafka image can be had
 * in CI), a smoke invoke through both invokers, and teardown.yml.
 */
describe('ansible: deploy.yml and teardown.yml', function () {
  this.timeout(300_000);
  const prefix = `swirlans${process.pid}`;
  let dir: string;
  let port: number;
  let guestKey: string;
  const playbook = (book: string, args: string[] = []) =>
    runTool('ansible-playbook', ['-i', join(dir, 'hosts.yml'), '-e', `@${join(dir, 'vars.json')}`, join(ANSIBLE, book), ...args], { env: { ANSIBLE_CONFIG: join(ANSIBLE, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1' }, ms: 240_000 });

  before(async function () {
    await requireTool(this, 'ansible-playbook', ['--version'], "Debian's ansible");
    await requireTool(this, '/usr/bin/python3', ['-c', 'import docker'], "Debian's python3-docker");
    await clusterImages();
    dir = mkdtempSync(join(tmpdir(), 'swirl-ansible-'));
    port = await freePort();
    guestKey = `${randomUUID()}:${randomBytes(24).toString('hex')}`;
    // this machine, in the groups CI can deploy (no couchdb, no kafka)
    writeFileSync(
      join(dir, 'hosts.yml'),
      JSON.stringify({
        all: {
          vars: { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3' },
          children: { redis: { hosts: { localhost: null } }, controllers: { hosts: { localhost: { swirl_controller_id: 0 } } }, invokers: { hosts: { localhost: { swirl_invoker_ids: IDS } } }, couchdb: { hosts: {} }, kafka: { hosts: {} } },
        },
      }),
    );
    writeFileSync(
      join(dir, 'vars.json'),
      JSON.stringify({
        swirl_prefix: prefix,
        swirl_config_dir: join(dir, 'etc'),
        swirl_store: 'embedded',
        swirl_bus: 'redis',
        swirl_redis_image: 'swirl/redis:0.1.0',
        swirl_redis_persist: false,
        swirl_api_bind: '127.0.0.1',
        swirl_api_port: port,
        swirl_guest_key: guestKey,
        swirl_prewarm: [],
        ...SECRETS,
      }),
    );
  });
  after(async () => {
    if (!dir) return;
    await playbook('teardown.yml', ['-e', 'swirl_remove_volumes=true']);
    // whatever a failed run left
    await removeInvokerContainers(IDS);
    const docker = new Dockerode();
    for (const c of await docker.listContainers({ all: true, filters: { name: [prefix] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    await docker.getNetwork(prefix).remove().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the playbooks pass --syntax-check with both inventories', async () => {
    for (const inventory of ['single', 'multi']) {
      const r = await runTool('ansible-playbook', ['--syntax-check', '-i', join(ANSIBLE, 'inventories', inventory, 'hosts.yml'), join(ANSIBLE, 'deploy.yml'), join(ANSIBLE, 'teardown.yml')], { env: { ANSIBLE_CONFIG: join(ANSIBLE, 'ansible.cfg') } });
      expect(r.code, r.stdout + r.stderr).to.equal(0);
    }
  });

  it('deploy.yml refuses to run while a secret it needs is empty, naming it', async () => {
    for (const name of Object.keys(SECRETS)) {
      const r = await playbook('deploy.yml', ['-e', `${name}=`]);
      expect(r.code, name).to.not.equal(0);
      expect(r.stdout, name).to.contain(`set ${name}`);
    }
    expect(await new Dockerode().listContainers({ all: true, filters: { name: [prefix] } }), 'nothing deployed').to.deep.equal([]);
  });

  it('deploys redis, a controller and two invokers locally; an invoke runs on each invoker; teardown removes it all', async () => {
    const deploy = await playbook('deploy.yml');
    expect(deploy.code, deploy.stdout.slice(-4000) + deploy.stderr.slice(-2000)).to.equal(0);
    expect(deploy.stdout).to.match(/failed=0/);
    const base = `http://127.0.0.1:${port}`;
    expect((await call('GET', `${base}/ready`)).status).to.equal(200);
    await waitForStates(base, IDS, 'up', 30_000);
    // the guest key from group_vars reached the controller through the templated configuration
    await invokeOnEveryInvoker(`${base}/api/v1`, guestKey, IDS);
    // the templated configuration holds the secrets: only its container's user reads it
    for (const f of readdirSync(join(dir, 'etc'))) expect(statSync(join(dir, 'etc', f)).mode & 0o777, f).to.equal(0o600);
    expect(statSync(join(dir, 'etc')).mode & 0o777).to.equal(0o700);
    // Redis answers only with its password: a client on the network (where the action containers are) without it is refused
    const redisCli = (args: string[]) => runTool('docker', ['run', '--rm', '--network', prefix, '--entrypoint', 'redis-cli', 'swirl/redis:0.1.0', '-h', `${prefix}-redis`, ...args]);
    const refused = await redisCli(['get', 'anything']);
    expect(refused.stdout + refused.stderr).to.contain('NOAUTH Authentication required');
    expect((await redisCli(['-a', SECRETS.swirl_redis_password, '--no-auth-warning', 'ping'])).stdout.trim()).to.equal('PONG');

    const again = await playbook('deploy.yml');
    expect(again.code, again.stdout.slice(-4000)).to.equal(0);
    expect(again.stdout, 'a second deploy changes nothing').to.match(/localhost\s*: ok=\d+\s+changed=0/);

    const teardown = await playbook('teardown.yml', ['-e', 'swirl_remove_volumes=true']);
    expect(teardown.code, teardown.stdout.slice(-4000)).to.equal(0);
    const docker = new Dockerode();
    expect(await docker.listContainers({ all: true, filters: { name: [prefix] } })).to.deep.equal([]);
    // (one label per query: several labels in one filter must all match)
    for (const id of IDS) expect(await docker.listContainers({ all: true, filters: { label: [`swirl.invoker=${id}`] } }), `invoker ${id}'s containers`).to.deep.equal([]);
    expect(await docker.listNetworks({ filters: { name: [`${prefix}-actions`] } }), 'the actions network').to.deep.equal([]);
  });
});
