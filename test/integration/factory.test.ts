import { spawn } from 'node:child_process';
import { expect } from 'chai';
import Dockerode from 'dockerode';
import { type Container, type ContainerFactory, ImageUnavailableError, PROXY_TOKEN_ENV } from '../../common/container.ts';
import { silentLogger } from '../../common/logger.ts';
import { DockerContainerFactory, LABEL_INVOKER, LABEL_OWNER, RUNTIME_USER } from '../../invoker/factory/docker.ts';
import { ProcessContainerFactory } from '../../invoker/factory/process.ts';
import { ProxyClient, ProxyRequestError } from '../../invoker/proxy-client.ts';
import { localProxy, runtimeImage } from '../../runtimes/index.ts';
import { type FactoryName, factoryNames, makeFactory, processStateDir, TEST_NETWORK } from '../support/invoker-fixtures.ts';

/**
 * One conformance suite for every ContainerFactory: what the pool relies on must behave
 * the same with Docker containers and with local processes.
 */
const NODE = 'nodejs:20';
const spec = (over: Partial<Parameters<ContainerFactory['create']>[0]> = {}) => ({ kind: NODE, image: runtimeImage(NODE), memoryMb: 256, name: 'conformance', ...over });
const init = (client: ProxyClient, c: Container, code: string) => client.post(c.address, '/init', { value: { name: 'a', main: 'main', code, binary: false, env: {} } }, 10_000, undefined, c.token);
const run = (client: ProxyClient, c: Container, value: unknown = {}, timeoutMs = 10_000) =>
  client.post(c.address, '/run', { value, namespace: 'guest', action_name: '/guest/a', activation_id: 'a'.repeat(32), transaction_id: 't', deadline: String(Date.now() + 60_000) }, timeoutMs, undefined, c.token);

for (const name of factoryNames()) {
  describe(`container factory conformance: ${name}`, function () {
    this.timeout(60_000);
    let factory: ContainerFactory;
    const client = new ProxyClient();

    before(async () => {
      factory = await makeFactory(name);
      await factory.init();
    });
    after(async () => {
      await factory?.close();
      client.close();
    });

    it('starts a container whose proxy serves /init and /run on its address', async () => {
      const c = await factory.create(spec());
      expect(c.address).to.match(/^[\d.]+:\d+$/);
      expect((await init(client, c, 'function main(p) { return { hello: p.name } }')).status).to.equal(200);
      const res = await run(client, c, { name: 'swirl' });
      expect(res.status).to.equal(200);
      expect(JSON.parse(res.body)).to.deep.equal({ hello: 'swirl' });
      await c.destroy();
    });

    it("passes the spec's environment to the container", async () => {
      const c = await factory.create(spec({ env: { SWIRL_TEST_VALUE: 'from-spec' } }));
      await init(client, c, 'function main() { return { v: process.env.SWIRL_TEST_VALUE } }');
      expect(JSON.parse((await run(client, c)).body)).to.deep.equal({ v: 'from-spec' });
      await c.destroy();
    });

    it("returns each activation's stdout and stderr lines, cut at the end marker", async () => {
      const c = await factory.create(spec());
      await init(client, c, 'function main(p) { console.log("out " + p.n); console.error("err " + p.n); return {} }');
      await run(client, c, { n: 1 });
      await run(client, c, { n: 2 });
      const first = await c.logs(1024 * 1024, 5_000);
      const second = await c.logs(1024 * 1024, 5_000);
      expect(first.complete).to.equal(true);
      expect(first.lines.map((l) => l.replace(/^\S+ /, '')).sort()).to.deep.equal(['stderr: err 1', 'stdout: out 1']);
      expect(second.lines.map((l) => l.replace(/^\S+ /, '')).sort()).to.deep.equal(['stderr: err 2', 'stdout: out 2']);
      expect(first.lines[0]).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z (stdout|stderr): /);
      await c.destroy();
    });

    it('pauses a container (requests wait) and resumes it (they complete)', async () => {
      const c = await factory.create(spec());
      await init(client, c, 'function main() { return { ok: true } }');
      await c.pause();
      let settled = false;
      const pending = run(client, c).then((r) => ((settled = true), r));
      await new Promise((r) => setTimeout(r, 300));
      expect(settled, 'no answer while paused').to.equal(false);
      await c.resume();
      const res = await pending;
      expect(JSON.parse(res.body)).to.deep.equal({ ok: true });
      await c.destroy();
    });

    it('reports a container that dies: the request fails and `exited` resolves', async () => {
      const c = await factory.create(spec());
      await init(client, c, 'function main() { process.exit(3) }');
      let error: unknown;
      await client.post(c.address, '/run', { value: {}, deadline: String(Date.now() + 10_000) }, 10_000, c.exited, c.token).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(ProxyRequestError);
      expect((error as ProxyRequestError).timedOut).to.equal(false);
      await c.exited;
      await c.destroy();
    });

    it('destroys a container: it stops answering, and destroying twice is harmless', async () => {
      const c = await factory.create(spec());
      await c.destroy();
      await c.exited;
      await c.destroy();
      let error: unknown;
      await init(client, c, 'function main() { return {} }').catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(ProxyRequestError);
    });

    it('removes the containers of an invoker that died when the next one starts, and no live one', async () => {
      const id = String(9000 + Math.floor(Math.random() * 999));
      const orphan = await orphanOf(name, id);
      const live = await factory.create(spec());
      const restarted = await makeFactory(name, id);
      await restarted.init();
      let error: unknown;
      await client.post(orphan.address, '/init', { value: { name: 'a', main: 'main', code: 'function main() { return {} }', binary: false, env: {} } }, 5_000, undefined, orphan.token).catch((e: unknown) => (error = e));
      expect(error, 'the orphan is gone').to.be.instanceOf(ProxyRequestError);
      expect((await init(client, live, 'function main() { return { alive: true } }')).status, 'a live invoker keeps its containers').to.equal(200);
      await Promise.all([restarted.close(), live.destroy()]);
    });

    it('runs python and stdio runtimes too', async () => {
      const py = await factory.create(spec({ kind: 'python:3', image: runtimeImage('python:3') }));
      await client.post(py.address, '/init', { value: { name: 'p', main: 'main', code: 'def main(args):\n    return {"py": args.get("x")}\n', binary: false, env: {} } }, 10_000, undefined, py.token);
      expect(JSON.parse((await run(client, py, { x: 7 })).body)).to.deep.equal({ py: 7 });
      const sh = await factory.create(spec({ kind: 'stdio', image: runtimeImage('stdio') }));
      await client.post(sh.address, '/init', { value: { name: 's', main: 'main', code: '#!/bin/sh\nread line\necho "{\\"got\\": $line}"\n', binary: false, env: {} } }, 10_000, undefined, sh.token);
      expect(JSON.parse((await run(client, sh, { y: 1 })).body)).to.deep.equal({ got: { y: 1 } });
      await Promise.all([py.destroy(), sh.destroy()]);
    });
  });
}

/** A container left by an invoker process that was killed (SIGKILL: no clean-up). */
async function orphanOf(name: FactoryName, invokerId: string, network = TEST_NETWORK, installation?: string): Promise<{ id: string; address: string; token?: string }> {
  const maker = spawn(process.execPath, ['--import', 'tsx', 'test/support/orphan-maker.ts', name, invokerId, network, processStateDir(), ...(installation ? [installation] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((ok, fail) => {
    let out = '';
    maker.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) ok(out.split('\n')[0]!);
    });
    maker.once('exit', (code) => fail(new Error(`the orphan maker exited with ${code}`)));
  });
  const exited = new Promise((ok) => maker.once('exit', ok));
  maker.kill('SIGKILL');
  await exited;
  return JSON.parse(line) as { id: string; address: string; token?: string };
}

describe('container factory specifics', function () {
  this.timeout(60_000);

  if (factoryNames().includes('docker')) {
    it('docker: limits memory, pids and CPU share, drops every privilege, runs swirl runtimes unprivileged and read-only, and labels the owner', async () => {
      const factory = (await makeFactory('docker', '4242')) as DockerContainerFactory;
      try {
        await factory.init();
        const c = await factory.create(spec({ memoryMb: 128 }));
        const info = await new Dockerode().getContainer(c.id).inspect();
        expect(info.HostConfig.Memory).to.equal(128 * 1024 * 1024);
        expect(info.HostConfig.MemorySwap, 'no swap beyond the limit').to.equal(128 * 1024 * 1024);
        expect(info.HostConfig.CpuShares, 'OpenWhisk: 1024 / (2048 MB / 128 MB)').to.equal(64);
        expect(info.HostConfig.PidsLimit).to.be.a('number').greaterThan(0);
        expect(info.HostConfig.Privileged).to.equal(false);
        expect(info.HostConfig.CapDrop).to.deep.equal(['ALL']);
        expect(info.HostConfig.SecurityOpt).to.include('no-new-privileges');
        expect(info.HostConfig.ReadonlyRootfs).to.equal(true);
        expect(info.HostConfig.Tmpfs).to.deep.equal({ '/tmp': 'rw,exec,nosuid,nodev,size=128m,mode=1777' });
        expect(info.Config.User).to.equal(RUNTIME_USER);
        expect(info.Config.Labels[LABEL_INVOKER]).to.equal('4242');
        expect(info.Config.Labels[LABEL_OWNER]).to.match(/^process:/);
        expect(info.Config.Env.join(' '), 'the secret is in the environment the proxy removes at start').to.include(`${PROXY_TOKEN_ENV}=${c.token}`);
        expect(Object.keys(info.NetworkSettings.Networks)).to.deep.equal([TEST_NETWORK]);
        expect(c.address.startsWith(info.NetworkSettings.Networks[TEST_NETWORK]!.IPAddress + ':')).to.equal(true);
        expect(info.Name, 'no tenant in the name: containers on a network can resolve names').to.match(/^\/swirl_4242_\d+_\d+_nodejs-20$/);
      } finally {
        await factory.close();
      }
    });

    it('docker: /init and /run answer only the invoker that holds the container\'s secret', async () => {
      const factory = await makeFactory('docker', '4245');
      const client = new ProxyClient();
      try {
        await factory.init();
        const c = await factory.create(spec());
        const body = { value: { name: 'x', main: 'main', code: 'function main() { return { mine: true } }', binary: false, env: {} } };
        for (const token of [undefined, 'guessed', `${c.token}x`]) {
          const res = await client.post(c.address, '/init', body, 5_000, undefined, token);
          expect(res.status, `token ${token}`).to.equal(403);
          expect(JSON.parse(res.body)).to.deep.equal({ error: 'Forbidden: this container answers only the invoker that started it.' });
        }
        expect((await init(client, c, 'function main() { return { mine: true } }')).status).to.equal(200);
        expect((await client.post(c.address, '/run', { value: {} }, 5_000)).status).to.equal(403);
        expect(JSON.parse((await run(client, c)).body)).to.deep.equal({ mine: true });
        const logs = await c.logs(1024 * 1024, 2_000);
        expect(logs.lines, 'refused requests leave no log marker: one activation, one segment').to.deep.equal([]);
        expect(logs.complete).to.equal(true);
      } finally {
        client.close();
        await factory.close();
      }
    });

    it('docker: leftover clean-up keeps to its own actions network: a dead invoker elsewhere is another installation\'s business', async () => {
      const other = 'swirl-test-actions-b';
      const id = String(9000 + Math.floor(Math.random() * 999));
      const elsewhere = await orphanOf('docker', id, other);
      const factory = await makeFactory('docker', id);
      await factory.init();
      const docker = new Dockerode();
      try {
        expect((await docker.getContainer(elsewhere.id).inspect()).State.Running, 'same invoker id, other installation: untouched').to.equal(true);
      } finally {
        await docker.getContainer(elsewhere.id).remove({ force: true });
        await factory.close();
      }
    });

    it('docker: on one network, a dead invoker\'s container of another installation is left, one of this installation removed', async () => {
      const id = () => String(9000 + Math.floor(Math.random() * 999));
      const mine = `test-a-${id()}`;
      // (a network of its own: invokers of other test runs on this Docker host keep to theirs)
      const network = 'swirl-test-actions-b';
      const theirs = await orphanOf('docker', id(), network, `test-b-${id()}`);
      const ours = await orphanOf('docker', id(), network, mine);
      const factory = await makeFactory('docker', id(), { installation: mine, network });
      const docker = new Dockerode();
      try {
        await factory.init();
        expect((await docker.getContainer(theirs.id).inspect()).State.Running, 'another installation\'s, owner dead: untouched').to.equal(true);
        const gone = await docker.getContainer(ours.id).inspect().then(() => false, (e: { statusCode?: number }) => e.statusCode === 404);
        expect(gone, 'this installation\'s, owner dead: removed').to.equal(true);
      } finally {
        await docker.getContainer(theirs.id).remove({ force: true });
        await docker.getContainer(ours.id).remove({ force: true }).catch(() => undefined);
        await factory.close();
      }
    });

    it('docker: refuses a network whose containers can reach each other', async () => {
      const factory = new DockerContainerFactory(new Dockerode(), { invokerId: '4246', log: silentLogger, network: 'bridge' });
      let error: unknown;
      await factory.init().catch((e: unknown) => (error = e));
      expect((error as Error).message).to.match(/Docker network 'bridge' cannot hold action containers: its containers can reach each other/);
    });

    it('docker: a missing image that cannot be pulled is an ImageUnavailableError', async () => {
      const factory = new DockerContainerFactory(new Dockerode(), { invokerId: '4243', log: silentLogger, network: TEST_NETWORK, provideImage: async () => false });
      await factory.init();
      let error: unknown;
      await factory.create(spec({ kind: 'blackbox', image: 'swirl/no-such-image:never' })).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(ImageUnavailableError);
      expect((error as Error).message).to.equal("Failed to pull container image 'swirl/no-such-image:never'.");
    });
  }

  it('process: a blackbox image cannot run without Docker, and says so', async () => {
    const factory = new ProcessContainerFactory({ invokerId: '4244', launcher: localProxy, stateDir: processStateDir(), log: silentLogger });
    let error: unknown;
    await factory.create(spec({ kind: 'blackbox', image: 'user/image' })).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(ImageUnavailableError);
    expect((error as Error).message).to.match(/Docker images need a Docker daemon/);
  });
});
