import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { type Container, type ContainerFactory, ImageUnavailableError } from '../../common/container.ts';
import { silentLogger } from '../../common/logger.ts';
import { privateDir } from '../../common/private-files.ts';
import { startTime } from '../../common/process-identity.ts';
import { SandboxContainerFactory } from '../../invoker/factory/sandbox.ts';
import { SandboxNetwork } from '../../invoker/factory/sandbox-net.ts';
import { ProxyClient } from '../../invoker/proxy-client.ts';
import { runtimeImage } from '../../runtimes/index.ts';
import { factoryNames, makeFactory, processStateDir, SANDBOX_ROOTS, TEST_SANDBOX_INSTALLATION } from '../support/invoker-fixtures.ts';

/**
 * What a sandbox holds an action to: its memory, processes and /tmp; nothing of the host's
 * files, processes or privileges. (The container-factory conformance suite covers the rest.)
 */
const NODE = 'nodejs:20';
const CGROUPS = '/sys/fs/cgroup';
const PIDS_LIMIT = 48;
const TMP_MB = 8;

describe('sandbox container factory: limits and isolation', function () {
  this.timeout(60_000);
  let factory: ContainerFactory;
  const client = new ProxyClient();

  before(async function () {
    if (!factoryNames().includes('sandbox')) this.skip();
    factory = await makeFactory('sandbox', undefined, { pidsLimit: PIDS_LIMIT, tmpMb: TMP_MB });
    await factory.init();
  });
  after(async () => {
    await factory?.close();
    client.close();
  });

  /** A nodejs sandbox running `code` once: its answer (status and parsed body) and the container. */
  async function runOnce(code: string, memoryMb = 256, timeoutMs = 20_000): Promise<{ status: number; body: any; c: Container }> {
    const c = await factory.create({ kind: NODE, image: runtimeImage(NODE), memoryMb, name: 'limits' });
    const init = await client.post(c.address, '/init', { value: { name: 'a', main: 'main', code, binary: false, env: {} } }, 10_000, undefined, c.token);
    expect(init.status, init.body).to.equal(200);
    const res = await client.post(c.address, '/run', { value: {}, deadline: String(Date.now() + timeoutMs) }, timeoutMs, c.exited, c.token);
    return { status: res.status, body: JSON.parse(res.body), c };
  }

  it('two factories in one process (two invokers of one installation) never share a sandbox name or cgroup: destroying one\'s leaves the other\'s serving', async () => {
    const other = await makeFactory('sandbox');
    await other.init();
    try {
      const mine = await runOnce('function main() { return { mine: true } }');
      const theirs = await other.create({ kind: NODE, image: runtimeImage(NODE), memoryMb: 256, name: 'theirs' });
      expect(theirs.id).to.not.equal(mine.c.id);
      await client.post(theirs.address, '/init', { value: { name: 'a', main: 'main', code: 'function main() { return { theirs: true } }', binary: false, env: {} } }, 10_000, undefined, theirs.token);
      await mine.c.destroy();
      const res = await client.post(theirs.address, '/run', { value: {}, deadline: String(Date.now() + 10_000) }, 10_000, theirs.exited, theirs.token);
      expect(JSON.parse(res.body)).to.deep.equal({ theirs: true });
    } finally {
      await other.close();
    }
  });

  it('kills an action that allocates past its memory limit (swap included)', async () => {
    const c = await factory.create({ kind: NODE, image: runtimeImage(NODE), memoryMb: 128, name: 'hog' });
    await client.post(c.address, '/init', { value: { name: 'a', main: 'main', code: 'function main() { const keep = []; for (let i = 0; i < 40; i++) keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); return { survived: keep.length } }', binary: false, env: {} } }, 10_000, undefined, c.token);
    let error: unknown;
    await client.post(c.address, '/run', { value: {}, deadline: String(Date.now() + 20_000) }, 20_000, c.exited, c.token).catch((e: unknown) => (error = e));
    expect(error, 'no answer: the sandbox was killed').to.be.instanceOf(Error);
    await c.exited;
    await c.destroy();
  });

  it('shows the runtime its memory limit, as a container does (Node sizes its heap by it)', async () => {
    const { body, c } = await runOnce('function main() { return { limit: process.constrainedMemory() } }', 128);
    expect(body.limit).to.equal(128 * 1024 * 1024);
    await c.destroy();
  });

  it('caps the processes of a sandbox (a fork bomb stops at the pids limit)', async () => {
    const { body, c } = await runOnce(`async function main() {
      const { spawn } = require('child_process');
      let started = 0, failed = 0;
      for (let i = 0; i < 200; i++) { const p = spawn('/bin/sleep', ['30']); p.on('spawn', () => started++); p.on('error', () => failed++); }
      await new Promise((r) => setTimeout(r, 2000));
      return { started, failed, procs: require('fs').readdirSync('/proc').filter((f) => /^\\d+$/.test(f)).length };
    }`);
    expect(body.failed, JSON.stringify(body)).to.be.greaterThan(0);
    expect(body.started).to.be.lessThan(PIDS_LIMIT);
    expect(body.procs).to.be.at.most(PIDS_LIMIT);
    await c.destroy();
  });

  it('gives a private /tmp of the configured size', async () => {
    const { body, c } = await runOnce(`function main() {
      const fs = require('fs');
      try { fs.writeFileSync('/tmp/big', Buffer.alloc(${2 * TMP_MB} * 1024 * 1024, 1)); return { wrote: true } }
      catch (e) { return { code: e.code, kept: fs.statSync('/tmp/big').size } }
    }`);
    expect(body.code).to.equal('ENOSPC');
    expect(body.kept).to.be.at.most(TMP_MB * 1024 * 1024);
    await c.destroy();
  });

  it('shows none of the host\'s files: no home folders, shadow file, checkout or data dir; a read-only root', async () => {
    const paths = ['/root', '/home', '/etc/shadow', process.cwd(), processStateDir(), SANDBOX_ROOTS, '/work', '/var/run/docker.sock', '/proc/1/root/etc/shadow'];
    const { body, c } = await runOnce(`function main() {
      const fs = require('fs');
      const seen = {};
      for (const p of ${JSON.stringify(paths)}) { try { seen[p] = fs.readdirSync(p).length + ' entries' } catch (e) { try { fs.readFileSync(p); seen[p] = 'readable' } catch (e2) { seen[p] = e2.code } } }
      let write; try { fs.writeFileSync('/proxy/x', 'x'); write = 'written' } catch (e) { write = e.code }
      return { seen, write, root: fs.readdirSync('/').sort() };
    }`);
    for (const p of paths) expect(body.seen[p], p).to.be.oneOf(['ENOENT', 'EACCES']);
    expect(body.write).to.equal('EROFS');
    expect(body.root).to.not.include.members(['home', 'work', 'var', 'srv', 'boot']);
    await c.destroy();
  });

  it('runs as the runtime user without any capability, and cannot gain one', async () => {
    const { body, c } = await runOnce(`function main() {
      const status = require('fs').readFileSync('/proc/self/status', 'utf8');
      const cap = (k) => new RegExp('^' + k + ':\\\\s*(\\\\w+)', 'm').exec(status)[1];
      try { process.setuid(0) } catch {}
      return { uid: process.getuid(), gid: process.getgid(), eff: cap('CapEff'), prm: cap('CapPrm'), bnd: cap('CapBnd'), nnp: /^NoNewPrivs:\\s*(\\d)/m.exec(status)[1], after: process.getuid() };
    }`);
    expect(body).to.deep.include({ uid: 10001, gid: 10001, eff: '0000000000000000', prm: '0000000000000000', bnd: '0000000000000000', nnp: '1', after: 10001 });
    await c.destroy();
  });

  it('sees its own processes only: the host\'s are invisible through /proc', async () => {
    const { body, c } = await runOnce(`function main() {
      const fs = require('fs');
      const pids = fs.readdirSync('/proc').filter((f) => /^\\d+$/.test(f));
      return { pids, commands: pids.map((p) => { try { return fs.readFileSync('/proc/' + p + '/cmdline', 'utf8').split('\\0')[0] } catch { return '?' } }), hostname: require('os').hostname() };
    }`);
    expect(body.pids.length, JSON.stringify(body)).to.be.at.most(3);
    expect(body.pids).to.not.include(String(process.pid));
    // the sandbox's init (bubblewrap) and the runtime
    for (const command of body.commands) expect(command.split('/').pop()).to.be.oneOf(['node', 'bwrap', '?']);
    expect(body.hostname).to.equal('sandbox');
    await c.destroy();
  });

  it('puts each sandbox in cgroups with its memory, pids and CPU limits', async function () {
    const c = await factory.create({ kind: NODE, image: runtimeImage(NODE), memoryMb: 128, name: 'cgroups' });
    const name = c.id.replace(/^sandbox-/, '');
    const group = `swirl-${TEST_SANDBOX_INSTALLATION}`;
    const v1 = existsSync(join(CGROUPS, 'memory'));
    if (v1) {
      expect(readFileSync(join(CGROUPS, 'memory', group, name, 'memory.limit_in_bytes'), 'utf8').trim()).to.equal(String(128 * 1024 * 1024));
      const memsw = join(CGROUPS, 'memory', group, name, 'memory.memsw.limit_in_bytes');
      if (existsSync(memsw)) expect(readFileSync(memsw, 'utf8').trim(), 'no swap beyond the limit').to.equal(String(128 * 1024 * 1024));
      expect(readFileSync(join(CGROUPS, 'pids', group, name, 'pids.max'), 'utf8').trim()).to.equal(String(PIDS_LIMIT));
      expect(readFileSync(join(CGROUPS, 'cpu', group, name, 'cpu.shares'), 'utf8').trim(), 'OpenWhisk: 1024 / (2048 MB / 128 MB)').to.equal('64');
      expect(readFileSync(join(CGROUPS, 'pids', group, name, 'cgroup.procs'), 'utf8').trim().split('\n').length).to.be.greaterThan(1);
    } else {
      expect(readFileSync(join(CGROUPS, group, name, 'memory.max'), 'utf8').trim()).to.equal(String(128 * 1024 * 1024));
      expect(readFileSync(join(CGROUPS, group, name, 'pids.max'), 'utf8').trim()).to.equal(String(PIDS_LIMIT));
    }
    await c.destroy();
    expect(existsSync(join(CGROUPS, v1 ? 'pids' : '', group, name)), 'removed with the sandbox').to.equal(false);
  });

  it('a sandbox started ahead takes the limits of the create that takes it, lowered or raised, before its runtime runs', async function () {
    const group = `swirl-${TEST_SANDBOX_INSTALLATION}`;
    const v1 = existsSync(join(CGROUPS, 'memory'));
    const limitOf = (c: Container, file: string) => readFileSync(v1 ? join(CGROUPS, 'memory', group, c.id.replace(/^sandbox-/, ''), file) : join(CGROUPS, group, c.id.replace(/^sandbox-/, ''), file), 'utf8').trim();
    const memory = v1 ? 'memory.limit_in_bytes' : 'memory.max';
    const first = await factory.create({ kind: NODE, image: runtimeImage(NODE), memoryMb: 256, name: 'ahead' });
    const sandboxes = () => readdirSync(v1 ? join(CGROUPS, 'memory', group) : join(CGROUPS, group), { withFileTypes: true }).filter((e) => e.isDirectory()).length;
    expect(sandboxes(), 'the next one was started ahead').to.be.greaterThan(1);
    for (const memoryMb of [128, 512]) {
      const c = await factory.create({ kind: NODE, image: runtimeImage(NODE), memoryMb, name: 'ahead' });
      expect(limitOf(c, memory)).to.equal(String(memoryMb * 1024 * 1024));
      if (v1 && existsSync(join(CGROUPS, 'memory', group, c.id.replace(/^sandbox-/, ''), 'memory.memsw.limit_in_bytes'))) expect(limitOf(c, 'memory.memsw.limit_in_bytes'), 'no swap beyond the limit').to.equal(String(memoryMb * 1024 * 1024));
      const init = await client.post(c.address, '/init', { value: { name: 'a', main: 'main', code: 'function main() { return { limit: process.constrainedMemory() } }', binary: false, env: {} } }, 10_000, undefined, c.token);
      expect(init.status).to.equal(200);
      const res = await client.post(c.address, '/run', { value: {}, deadline: String(Date.now() + 10_000) }, 10_000, c.exited, c.token);
      expect(JSON.parse(res.body), 'the runtime sees the limit it runs under').to.deep.equal({ limit: memoryMb * 1024 * 1024 });
      await c.destroy();
    }
    await first.destroy();
  });

  it("keeps running after the data dir's privacy pass (its root filesystems keep their modes)", async () => {
    privateDir(SANDBOX_ROOTS);
    const restarted = await makeFactory('sandbox');
    try {
      await restarted.init();
      const c = await restarted.create({ kind: NODE, image: runtimeImage(NODE), memoryMb: 128, name: 'after-privacy' });
      expect((await client.post(c.address, '/init', { value: { name: 'a', main: 'main', code: 'function main() { return { ok: 1 } }', binary: false, env: {} } }, 10_000, undefined, c.token)).status).to.equal(200);
      expect(statSync(SANDBOX_ROOTS).mode & 0o777, 'the data dir stays private').to.equal(0o700);
    } finally {
      await restarted.close();
    }
  });

  it('refuses Docker images (blackbox), saying why', async () => {
    let error: unknown;
    await factory.create({ kind: 'blackbox', image: 'user/image', memoryMb: 256, name: 'bb' }).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(ImageUnavailableError);
    expect((error as Error).message).to.match(/runs actions in sandboxes .* swirl's own runtimes only/);
  });

  it("removes a dead invoker's leftover cgroups of this installation at init, and no live invoker's", async () => {
    const group = `swirl-${TEST_SANDBOX_INSTALLATION}`;
    const v1 = existsSync(join(CGROUPS, 'memory'));
    const dirOf = (name: string) => (v1 ? join(CGROUPS, 'pids', group, name) : join(CGROUPS, group, name));
    const pidns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))![1];
    // a maker that is gone: a process that ran and exited
    const gone = spawn('/bin/true');
    const gonePid = gone.pid!;
    const goneStart = startTime(gonePid) ?? '1';
    await new Promise((r) => gone.once('exit', r));
    const dead = `${pidns}.${gonePid}.${goneStart}.7`;
    // a maker that runs (another invoker of the installation)
    const running = spawn('/bin/sleep', ['60']);
    const alive = `${pidns}.${running.pid}.${startTime(running.pid!)}.1`;
    for (const name of [dead, alive]) mkdirSync(dirOf(name), { recursive: true });
    const other = await makeFactory('sandbox', '4250');
    try {
      await other.init();
      expect(existsSync(dirOf(dead)), 'a dead maker\'s cgroup is removed').to.equal(false);
      expect(existsSync(dirOf(alive)), 'a live maker\'s cgroup is kept').to.equal(true);
    } finally {
      for (const name of [dead, alive]) if (existsSync(dirOf(name))) rmdirSync(dirOf(name));
      running.kill('SIGKILL');
      await other.close();
    }
  });

  it('fails at start-up naming what the host lacks: bubblewrap, cgroups', async () => {
    const network = new SandboxNetwork({ installation: 'swirl-test-missing', outbound: false, log: silentLogger, stateDir: join(processStateDir(), 'net-missing') });
    const make = (over: { bwrap?: string; cgroupRoot?: string }) => new SandboxContainerFactory({ invokerId: '4251', log: silentLogger, stateDir: processStateDir(), installation: 'swirl-test-missing', network, ...over });
    const failure = (f: SandboxContainerFactory) => f.init().then(() => 'started', (e: Error) => e.message);
    expect(await failure(make({ bwrap: '/nonexistent/bwrap' }))).to.match(/cannot run on this host: missing bubblewrap \(\/nonexistent\/bwrap; Debian: apt-get install bubblewrap\)/);
    expect(await failure(make({ cgroupRoot: '/nonexistent/cgroup' }))).to.match(/cannot run on this host: missing no cgroup filesystem at \/nonexistent\/cgroup/);
  });
});
