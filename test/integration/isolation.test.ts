import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { expect } from 'chai';
import Dockerode from 'dockerode';
import type { ContainerFactory } from '../../common/container.ts';
import { silentLogger } from '../../common/logger.ts';
import { installationTag, linkName, parseNetnsName } from '../../invoker/factory/sandbox-net-plan.ts';
import { Invoker } from '../../invoker/invoker.ts';
import { factoryNames, makeFactory, TEST_SANDBOX_INSTALLATION, testAction, testJob } from '../support/invoker-fixtures.ts';
import { type OutsideHost, startOutsideHost } from '../support/netns.ts';
import { sleep } from '../support/api.ts';
import { PROBE, type Target } from '../support/probe.ts';
import { storedRecord } from '../support/records.ts';
import { call } from '../support/server.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/**
 * Attacks from inside an action, on real Docker containers and sandboxes, as a tenant would run them
 * against another tenant and against the host (issue: tenant isolation). The probe action
 * (test/support/probe.ts) tries what it is given and reports what happened.
 */
const STEAL = 'function main(p) { return { stolen: p } }';
const docker = new Dockerode();

/** The addresses of this host that are not loopback (what a container could aim at besides its gateway). */
const hostAddresses = (): string[] =>
  Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === 'IPv4' && !i.internal)
    .map((i) => i!.address);

/** What differs between the factories the attacks run on. */
interface Isolated {
  /** How an action names this host. */
  hostName: string;
  /** Each container of the invoker (made by this process), by id, with its address. */
  containersOf(invokerId: string): Promise<Array<{ id: string; ip: string }>>;
  /** A factory whose actions reach nothing beyond this host. */
  closed(): Promise<ContainerFactory>;
}

const FACTORIES: Record<'docker' | 'sandbox', Isolated> = {
  docker: {
    hostName: 'host.docker.internal',
    async containersOf(invokerId) {
      const list = await docker.listContainers({ filters: { label: [`swirl.invoker=${invokerId}`] } });
      return list.map((c) => ({ id: c.Id, ip: Object.values(c.NetworkSettings.Networks)[0]!.IPAddress }));
    },
    closed: () => makeFactory('docker', undefined, { network: 'swirl-test-actions-closed', outbound: false }),
  },
  sandbox: {
    hostName: 'host.swirl.internal',
    // this process's network namespaces of the test installation (stem cells, warm ones and those made ahead), by the address of their sandbox end
    async containersOf() {
      const tag = installationTag(TEST_SANDBOX_INSTALLATION);
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      const mine = readdirSync('/run/netns')
        .map((name) => ({ name, ns: parseNetnsName(tag, name, boot) }))
        .filter((n) => n.ns && n.ns.owner.split(':')[3] === String(process.pid));
      return mine.map(({ name, ns }) => {
        const addr = JSON.parse(execFileSync('ip', ['-j', '-4', 'addr', 'show', 'dev', linkName(tag, ns!.index)], { encoding: 'utf8' }))[0].addr_info[0].local as string;
        const octets = addr.split('.').map(Number);
        octets[3]! += 1;
        return { id: `sbx${ns!.index}-${name}`, ip: octets.join('.') };
      });
    },
    closed: () => makeFactory('sandbox', undefined, { installation: `${TEST_SANDBOX_INSTALLATION}-closed`, outbound: false }),
  },
};

function listenOnAllInterfaces(): Promise<Server> {
  return new Promise((ok) => {
    const s = createServer((sock) => sock.on('error', () => undefined).end('a host service\n'));
    s.listen(0, '0.0.0.0', () => ok(s));
  });
}

for (const name of (['docker', 'sandbox'] as const).filter((n) => factoryNames().includes(n))) {
  const { hostName, containersOf, closed } = FACTORIES[name];
  describe(`tenant isolation on ${name === 'docker' ? 'Docker' : 'sandboxes'}: attacks from inside an action`, function () {
    this.timeout(180_000);
    const invokerId = String(5000 + Math.floor(Math.random() * 999));
    let stack: TestStack;
    let alice: string;
    let hostService: Server;
    let outside: OutsideHost;
    const actionUrl = (name: string) => `${stack.api}/namespaces/_/actions/${name}?blocking=true&result=true`;

    before(async () => {
      // the API on every interface, as npm start serves it, so that actions can call it; victims' containers stay unpaused
      stack = await startTestStack(name, { SWIRL_HOST: '0.0.0.0', SWIRL_PREWARM: '[{"kind":"nodejs:20","memory":256,"count":2}]', SWIRL_PAUSE_GRACE_MS: '600000' }, { invokerId });
      alice = await stack.createUser('alice');
      hostService = await listenOnAllInterfaces();
      outside = await startOutsideHost();
      const secret = { exec: { kind: 'nodejs:20', code: 'function main(p) { return { length: p.secret.length } }' }, parameters: [{ key: 'secret', value: 'alice-s3cr3t' }] };
      expect((await call('PUT', `${stack.api}/namespaces/_/actions/secret`, { auth: alice, body: secret })).status).to.equal(200);
      expect((await call('POST', actionUrl('secret'), { auth: alice, body: {} })).body).to.deep.equal({ length: 12 });
      expect((await call('PUT', `${stack.api}/namespaces/_/actions/probe`, { auth: stack.guestKey, body: { exec: { kind: 'nodejs:20', code: PROBE } } })).status).to.equal(200);
    });
    after(async () => {
      hostService?.close();
      await outside?.close();
      await stack?.destroy();
    });

    it("reaches no other container: neither /init on an idle stem cell nor /run in another tenant's warm container", async () => {
      // alice's warm container and two stem cells (the probe will run in one of them)
      while (stack.invoker.stats().prewarm < 2) await sleep(20);
      const containers = await containersOf(invokerId);
      // (a sandbox network also keeps namespaces made ahead, with nothing in them yet)
      if (name === 'docker') expect(containers.length).to.equal(3);
      else expect(containers.length).to.be.at.least(3);
      const targets: Record<string, Target> = {};
      for (const c of containers) {
        targets[`init ${c.id.slice(0, 12)}`] = { host: c.ip, port: 8080, path: '/init', body: { value: { name: 'x', main: 'main', code: STEAL, binary: false } } };
        targets[`run ${c.id.slice(0, 12)}`] = { host: c.ip, port: 8080, path: '/run', body: { value: {}, namespace: 'guest', api_key: 'forged' } };
      }
      const res = await call('POST', actionUrl('probe'), { auth: stack.guestKey, body: { targets } });
      expect(res.status).to.equal(200);
      const outcomes = Object.entries(res.body as Record<string, string>).filter(([, o]) => o !== 'self');
      expect(outcomes.length, 'every other container was tried').to.be.at.least(4);
      for (const [target, outcome] of outcomes) expect(outcome, target).to.be.oneOf(['timeout', 'EHOSTUNREACH', 'ECONNREFUSED']);

      // the victim's action still runs its own code, with its own parameters, and its records are its own
      const again = await call('POST', `${stack.api}/namespaces/_/actions/secret?blocking=true`, { auth: alice, body: {} });
      expect(again.body.response.result).to.deep.equal({ length: 12 });
      await storedRecord(`${stack.api}/namespaces/_/activations/${again.body.activationId}`, alice);
      const records = await call<Array<{ name: string; response: { success: boolean; result: unknown } }>>('GET', `${stack.api}/namespaces/_/activations?docs=true`, { auth: alice });
      expect(records.body.map((r) => r.name)).to.deep.equal(['secret', 'secret']);
      for (const r of records.body) expect(r.response).to.deep.include({ success: true, result: { length: 12 } });
    });

    it("reaches the API and the outside network, and none of this host's other ports", async () => {
      const couchPort = Number(new URL(stack.opened.url).port);
      const port = (hostService.address() as { port: number }).port;
      const targets: Record<string, Target> = { outside: { host: outside.ip, port: outside.port }, [`${hostName} (host service)`]: { host: hostName, port }, [`${hostName} (the store)`]: { host: hostName, port: couchPort } };
      for (const addr of hostAddresses()) targets[`${addr} (host service)`] = { host: addr, port };
      const res = await call('POST', actionUrl('probe'), { auth: stack.guestKey, body: { targets, api: true } });
      expect(res.status).to.equal(200);
      const { api, outside: out, ...host } = res.body as Record<string, string>;
      expect(api, 'actions call swirl').to.equal('answered 200');
      expect(out, 'outbound traffic is on by default').to.equal('connected');
      expect(Object.keys(host).length).to.be.at.least(3);
      for (const [target, outcome] of Object.entries(host)) expect(outcome, target).to.equal('ECONNREFUSED');
    });

    it('runs as an unprivileged user without capabilities, cannot write its image, and cannot fill the disk', async () => {
      const code = `
  const fs = require('node:fs');
  function main() {
    const capEff = /CapEff:\\s*(\\w+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1];
    let image;
    try { fs.writeFileSync('/proxy/evil.js', 'x'); image = 'written'; } catch (e) { image = e.code; }
    let mb = 0, full;
    const chunk = Buffer.alloc(1 << 20, 1);
    try { const fd = fs.openSync('/tmp/fill', 'w'); for (; mb < 300; mb++) fs.writeSync(fd, chunk); fs.closeSync(fd); } catch (e) { full = e.code; }
    fs.rmSync('/tmp/fill', { force: true });
    return { uid: process.getuid(), capEff, image, mb, full };
  }`;
      await call('PUT', `${stack.api}/namespaces/_/actions/harden`, { auth: stack.guestKey, body: { exec: { kind: 'nodejs:20', code } } });
      const res = await call('POST', actionUrl('harden'), { auth: stack.guestKey, body: {} });
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ uid: 10001, capEff: '0000000000000000', image: 'EROFS', mb: 128, full: 'ENOSPC' });
    });

    it('reaches nothing beyond this host when outbound traffic is off', async () => {
      const factory = await closed();
      const invoker = await Invoker.start({ ...stack.config, prewarm: [] }, stack.opened.store, silentLogger, { factory });
      try {
        const port = (hostService.address() as { port: number }).port;
        const targets = { outside: { host: outside.ip, port: outside.port }, host: { host: hostName, port } };
        const record = await invoker.run(testJob(testAction(PROBE, { name: 'probe' }), { targets }));
        expect(record.response.result).to.deep.equal({ outside: 'timeout', host: 'ECONNREFUSED' });
      } finally {
        await invoker.close();
      }
    });
  });
}
