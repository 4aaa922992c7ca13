import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { expect } from 'chai';
import Dockerode from 'dockerode';
import { silentLogger } from '../../common/logger.ts';
import { selfProcess } from '../../common/process-identity.ts';
import { ensureActionsNetwork } from '../../invoker/factory/network.ts';
import { type SandboxNetns, SandboxNetwork } from '../../invoker/factory/sandbox-net.ts';
import { installationTag, parseNetnsName } from '../../invoker/factory/sandbox-net-plan.ts';
import { runtimeImage } from '../../runtimes/index.ts';
import { TEST_NETWORK } from '../support/invoker-fixtures.ts';
import { type OutsideHost, startOutsideHost } from '../support/netns.ts';

/**
 * Sandbox networks on real namespaces, veth pairs and iptables (needs root): what a
 * sandbox reaches, and what it must never reach, tried from inside by a TCP probe run with
 * `nsenter --net=<netns> node`. Every refusal has a
 * control: the same target answers from where it should.
 */
const INSTALLATION = 'swirl-test-sandbox-net';
const CLOSED = 'swirl-test-sandbox-net-closed';
const docker = new Dockerode();

/** What each TCP target gave from inside the namespace: connected, timeout (1.5 s), or an error code. */
const PROBE = `
const net = require('node:net');
const tcp = (t) => new Promise((ok) => {
  const s = net.connect({ host: t.host, port: t.port });
  const done = (o) => { s.destroy(); ok(o); };
  s.setTimeout(1500, () => done('timeout'));
  s.once('connect', () => done('connected'));
  s.once('error', (e) => done(e.code));
});
const targets = JSON.parse(process.argv[1]);
Promise.all(Object.entries(targets).map(async ([name, t]) => [name, await tcp(t)])).then((r) => console.log(JSON.stringify(Object.fromEntries(r))));`;

interface Target {
  host: string;
  port: number;
}

function probeFrom(netns: string, targets: Record<string, Target>): Promise<Record<string, string>> {
  return new Promise((ok, fail) =>
    execFile('nsenter', [`--net=${netns}`, process.execPath, '-e', PROBE, JSON.stringify(targets)], { timeout: 15_000 }, (err, out, stderr) =>
      err ? fail(new Error(`${err.message}: ${stderr}`)) : ok(JSON.parse(out) as Record<string, string>),
    ),
  );
}

/** A TCP server inside the namespace on <address>:8080 that greets with its name. */
async function serveIn(net: SandboxNetns, name: string): Promise<ChildProcess> {
  const code = `require('node:net').createServer((s) => s.on('error', () => {}).end('${name}\\n')).listen(8080, '${net.address}', () => console.log('listening'))`;
  const child = spawn('nsenter', [`--net=${net.netns}`, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ok, fail) => {
    child.stdout!.once('data', () => ok());
    child.once('exit', (c) => fail(new Error(`the server in ${name} exited with ${c}`)));
  });
  return child;
}

/** The greeting of a TCP server, from this host. */
function greeting(host: string, port: number): Promise<string> {
  return new Promise((ok, fail) => {
    const s = connect({ host, port });
    let got = '';
    s.setTimeout(2000, () => s.destroy(new Error('timeout')));
    s.on('data', (d) => (got += d.toString('utf8')));
    s.once('end', () => ok(got.trim()));
    s.once('error', fail);
  });
}

function listen(host: string, greeting: string): Promise<Server> {
  return new Promise((ok) => {
    const s = createServer((sock) => sock.on('error', () => undefined).end(`${greeting}\n`));
    s.listen(0, host, () => ok(s));
  });
}

const portOf = (s: Server) => (s.address() as { port: number }).port;
const hostAddresses = (): string[] =>
  Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === 'IPv4' && !i.internal)
    .map((i) => i!.address);
/** The host end of a sandbox's pair: the link holding its gateway address. */
const linkOf = (gateway: string): string | undefined =>
  (JSON.parse(execFileSync('ip', ['-j', '-4', 'addr', 'show']).toString()) as Array<{ ifname: string; addr_info: Array<{ local: string }> }>).find((l) => l.addr_info.some((a) => a.local === gateway))?.ifname;
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

describe('sandbox network: a namespace per sandbox, on real veth pairs and iptables', function () {
  this.timeout(60_000);
  const stateDir = mkdtempSync(join(tmpdir(), 'swirl-sbx-net-'));
  let open: SandboxNetwork;
  let closed: SandboxNetwork;
  let api: Server;
  let a: SandboxNetns;
  let b: SandboxNetns;
  let shut: SandboxNetns;
  const servers: ChildProcess[] = [];

  before(async () => {
    api = await listen('0.0.0.0', 'the API');
    open = new SandboxNetwork({ installation: INSTALLATION, outbound: true, log: silentLogger, stateDir: join(stateDir, 'open'), apiPorts: [portOf(api)] });
    closed = new SandboxNetwork({ installation: CLOSED, outbound: false, log: silentLogger, stateDir: join(stateDir, 'closed'), apiPorts: [portOf(api)] });
    await open.init();
    await closed.init();
    [a, b, shut] = await Promise.all([open.attach('a'), open.attach('b'), closed.attach('shut')]);
    for (const [net, name] of [[a, 'sandbox a'], [b, 'sandbox b'], [shut, 'sandbox shut']] as const) servers.push(await serveIn(net, name));
  });
  after(async () => {
    for (const s of servers) s.kill('SIGKILL');
    api?.close();
    await open?.close();
    await closed?.close();
  });

  it("refuses to start, saying what is missing, where the host has no 'ip' or iptables", async () => {
    const path = process.env.PATH;
    process.env.PATH = mkdtempSync(join(tmpdir(), 'swirl-empty-path-'));
    try {
      const net = new SandboxNetwork({ installation: INSTALLATION, outbound: true, log: silentLogger, stateDir: join(stateDir, 'nopath') });
      const err = await net.init().then(() => undefined, (e: Error) => e);
      expect(err?.message).to.match(/sandbox networking needs 'ip' .*not on PATH/);
    } finally {
      process.env.PATH = path;
    }
  });

  it("gives each sandbox its own address, where the host reaches the sandbox's server on port 8080", async () => {
    expect(new Set([a.address, b.address, shut.address]).size).to.equal(3);
    expect(await greeting(a.address, 8080)).to.equal('sandbox a');
    expect(await greeting(b.address, 8080)).to.equal('sandbox b');
    expect(await greeting(shut.address, 8080)).to.equal('sandbox shut');
  });

  it('never reaches another sandbox, of its installation or of another', async () => {
    const from = await probeFrom(a.netns, { b: { host: b.address, port: 8080 }, shut: { host: shut.address, port: 8080 }, own: { host: a.address, port: 8080 } });
    expect(from.own).to.equal('connected');
    expect(from.b).to.be.oneOf(['timeout', 'ECONNREFUSED', 'EHOSTUNREACH']);
    expect(from.shut).to.be.oneOf(['timeout', 'ECONNREFUSED', 'EHOSTUNREACH']);
    const back = await probeFrom(shut.netns, { a: { host: a.address, port: 8080 }, b: { host: b.address, port: 8080 } });
    expect(back.a).to.be.oneOf(['timeout', 'ECONNREFUSED', 'EHOSTUNREACH']);
    expect(back.b).to.be.oneOf(['timeout', 'ECONNREFUSED', 'EHOSTUNREACH']);
  });

  it("reaches none of the host's services, on loopback or on its addresses, but the API's port", async () => {
    const local = await listen('127.0.0.1', 'a loopback service');
    const everywhere = await listen('0.0.0.0', 'a host service');
    try {
      // controls: both answer on this host
      expect(await greeting('127.0.0.1', portOf(local))).to.equal('a loopback service');
      const targets: Record<string, Target> = { loopback: { host: '127.0.0.1', port: portOf(local) }, 'gateway service': { host: a.gateway, port: portOf(everywhere) } };
      for (const h of hostAddresses()) {
        expect(await greeting(h, portOf(everywhere))).to.equal('a host service');
        targets[`service on ${h}`] = { host: h, port: portOf(everywhere) };
        targets[`API on ${h}`] = { host: h, port: portOf(api) };
      }
      targets['API on gateway'] = { host: a.gateway, port: portOf(api) };
      const got = await probeFrom(a.netns, targets);
      for (const [name, result] of Object.entries(got)) {
        if (name.startsWith('API')) expect(result, name).to.equal('connected');
        else expect(result, name).to.be.oneOf(['ECONNREFUSED', 'timeout', 'EHOSTUNREACH']);
      }
    } finally {
      local.close();
      everywhere.close();
    }
  });

  it("reaches no Docker container on swirl's actions network, nor does such a container reach a sandbox", async function () {
    const network = await ensureActionsNetwork(docker, TEST_NETWORK);
    // a container that serves on 8080 and probes the sandboxes (and itself, the control) from its side
    const targets = { a: { host: a.address, port: 8080 }, shut: { host: shut.address, port: 8080 }, itself: { host: '127.0.0.1', port: 8080 } };
    const container = await docker.createContainer({
      Image: runtimeImage('nodejs:20'),
      Entrypoint: ['node', '-e', `require('node:net').createServer((s) => s.on('error', () => {}).end('a container\\n')).listen(8080, () => {\n${PROBE}\n})`, JSON.stringify(targets)],
      Tty: true,
      Labels: { 'swirl.test': 'sandbox-net' },
      HostConfig: { NetworkMode: network.name },
    });
    try {
      await container.start();
      const ip = ((await container.inspect()).NetworkSettings.Networks[network.name] as { IPAddress: string }).IPAddress;
      let answer = '';
      for (let i = 0; i < 50 && answer === ''; i++) answer = await greeting(ip, 8080).catch(() => new Promise<string>((r) => setTimeout(() => r(''), 100)));
      expect(answer).to.equal('a container'); // the control: this host reaches it
      const got = await probeFrom(a.netns, { container: { host: ip, port: 8080 } });
      expect(got.container).to.be.oneOf(['timeout', 'ECONNREFUSED', 'EHOSTUNREACH']);
      // the container's output is its probe's JSON line, which docker-modem hands back parsed
      let from: Record<string, string> | undefined;
      for (let i = 0; i < 50 && !from; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const logs = (await container.logs({ stdout: true })) as unknown;
        if (!Buffer.isBuffer(logs)) from = logs as Record<string, string>;
      }
      expect(from?.itself).to.equal('connected');
      expect(from!.a).to.be.oneOf(['timeout', 'ECONNREFUSED', 'EHOSTUNREACH']);
      expect(from!.shut).to.be.oneOf(['timeout', 'ECONNREFUSED', 'EHOSTUNREACH']);
    } finally {
      await container.remove({ force: true });
    }
  });

  describe('beyond this host', () => {
    let outside: OutsideHost;
    before(async () => {
      outside = await startOutsideHost();
      // the outside host has no way back to sandbox addresses: only the host's NAT brings its answers home
      // (its namespace is named by test/support/netns.ts after this process and its address)
      const ns = `swirl-out-${process.pid % 1000}x${(Number(outside.ip.split('.')[3]) - 2) / 4}`;
      execFileSync('ip', ['-n', ns, 'route', 'add', 'unreachable', '100.64.0.0/10']);
    });
    after(() => outside?.close());

    it("reaches an outside host through the host's NAT when outbound, and nothing outside when outbound is off", async () => {
      const target = { outside: { host: outside.ip, port: outside.port } };
      expect((await probeFrom(a.netns, target)).outside).to.equal('connected');
      expect((await probeFrom(shut.netns, target)).outside).to.be.oneOf(['timeout', 'EHOSTUNREACH']);
    });
  });

  it('gives the sandbox a resolv.conf without host-loopback nameservers, and none when outbound is off', () => {
    expect(readFileSync(open.resolvConf, 'utf8')).not.to.match(/nameserver\s+127\./);
    expect(readFileSync(closed.resolvConf, 'utf8')).not.to.match(/nameserver/);
  });

  it('removes the namespace and both ends of its pair on release, and all of them on close', async () => {
    const own = new SandboxNetwork({ installation: INSTALLATION, outbound: true, log: silentLogger, stateDir: join(stateDir, 'own'), ready: 1 });
    await own.init();
    const [x, y] = [await own.attach('x'), await own.attach('y')];
    const [lx, ly] = [linkOf(x.gateway)!, linkOf(y.gateway)!];
    expect([existsSync(x.netns), existsSync(y.netns), linkExists(lx), linkExists(ly)]).to.deep.equal([true, true, true, true]);
    await x.release();
    expect([existsSync(x.netns), linkExists(lx)]).to.deep.equal([false, false]);
    await own.close();
    expect([existsSync(y.netns), linkExists(ly)]).to.deep.equal([false, false]);
    // nothing of this instance's is left, ahead-made namespaces included; the other instances' remain
    expect(existsSync(a.netns) && existsSync(shut.netns)).to.equal(true);
  });

  it("removes at init a dead invoker's namespaces of the same installation, and nothing of a live one's or another installation's", async () => {
    const orphans = async (installation: string) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/sandbox-net-child.ts', installation, join(stateDir, 'child'), '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const line = await new Promise<string>((ok, fail) => {
        child.stdout!.once('data', (d: Buffer) => ok(d.toString('utf8')));
        child.once('exit', (c) => fail(new Error(`the child exited with ${c}`)));
      });
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      return (JSON.parse(line) as Array<{ netns: string; gateway: string }>).map((n) => ({ ...n, link: linkOf(n.gateway)! }));
    };
    const ours = await orphans(INSTALLATION);
    const theirs = await orphans(CLOSED);
    for (const n of [...ours, ...theirs]) expect([existsSync(n.netns), linkExists(n.link)]).to.deep.equal([true, true]);
    const successor = new SandboxNetwork({ installation: INSTALLATION, outbound: true, log: silentLogger, stateDir: join(stateDir, 'successor'), ready: 0 });
    await successor.init();
    try {
      for (const n of ours) expect([existsSync(n.netns), linkExists(n.link)]).to.deep.equal([false, false]);
      for (const n of theirs) expect([existsSync(n.netns), linkExists(n.link)]).to.deep.equal([true, true]);
      // the live instance of the same installation keeps its namespace, and it still works
      expect(existsSync(a.netns)).to.equal(true);
      expect(await greeting(a.address, 8080)).to.equal('sandbox a');
    } finally {
      await successor.close();
      const other = new SandboxNetwork({ installation: CLOSED, outbound: false, log: silentLogger, stateDir: join(stateDir, 'other'), ready: 0 });
      await other.init();
      await other.close();
      for (const n of theirs) expect(existsSync(n.netns)).to.equal(false);
    }
  });

  it("keeps a live invoker's host end when a dead one left a namespace, never linked, at the same address", async () => {
    // a dead invoker (this pid, another start time) that died between making a namespace and its pair, at a's index
    const tag = installationTag(INSTALLATION);
    const { index } = parseNetnsName(tag, basename(a.netns), 'boot')!;
    const [, , pidns] = selfProcess().split(':');
    const ghost = `swirl-sbx-${tag}-${index}-${pidns}.${process.pid}.1`;
    execFileSync('ip', ['netns', 'add', ghost]);
    const successor = new SandboxNetwork({ installation: INSTALLATION, outbound: true, log: silentLogger, stateDir: join(stateDir, 'successor'), ready: 0 });
    try {
      await successor.init();
      expect(existsSync(`/run/netns/${ghost}`)).to.equal(false);
      expect(await greeting(a.address, 8080)).to.equal('sandbox a');
    } finally {
      await successor.close();
      if (existsSync(`/run/netns/${ghost}`)) execFileSync('ip', ['netns', 'del', ghost]);
    }
  });
});
