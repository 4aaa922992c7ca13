import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../common/logger.ts';
import { processState, selfProcess } from '../../common/process-identity.ts';
import { directShell, onPath } from './host-shell.ts';
import {
  addressesOf,
  blockCidr,
  blockMetric,
  chooseBlock,
  installationTag,
  linkIndex,
  linkName,
  netnsName,
  parseNetnsName,
  sandboxFirewallScript,
  sandboxResolvConf,
  SLOTS,
} from './sandbox-net-plan.ts';

export interface SandboxNetworkOptions {
  installation: string;
  outbound: boolean;
  log: Logger;
  stateDir: string;
  /** TCP ports of this host sandboxes may connect to: the API's, so that actions can call swirl (default none). */
  apiPorts?: number[];
  /** Namespaces kept ready, made in the background, so that attach() does not wait for the kernel (default 2). */
  ready?: number;
}

/** One sandbox's namespace, as attach() hands it out. */
export interface SandboxNetns {
  /** A path usable as `nsenter --net=<netns>`. */
  netns: string;
  /** The sandbox's IPv4 address (its proxy listens on <address>:8080 inside). */
  address: string;
  /** The host's end of the pair: where the sandbox reaches the API (`http://<gateway>:<port>`). */
  gateway: string;
  release(): Promise<void>;
}

interface Slot {
  index: number;
  name: string;
  link: string;
  host: string;
  sandbox: string;
}

const NETNS_DIR = '/run/netns';

/** Runs `ip` (with `-batch -` and the commands on stdin when given) for its output; rejects with its complaint. */
function ip(args: string[], batch?: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn('ip', batch ? [...args, '-batch', '-'] : args, { stdio: [batch ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let [out, err] = ['', ''];
    child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.once('error', fail);
    child.once('close', (code) => (code === 0 ? ok(out) : fail(new Error(`ip ${args.join(' ')}: ${err.trim() || `exit ${code}`}`))));
    // ip may stop reading at a failed command: its exit status tells, not the pipe
    child.stdin?.on('error', () => undefined).end(`${batch?.join('\n')}\n`);
  });
}

const ipJson = async <T>(args: string[]): Promise<T> => JSON.parse((await ip(['-j', ...args])) || '[]') as T;

const read = (path: string) => readFile(path, 'utf8').catch(() => '');

/**
 * Each sandbox's network: its own namespace joined to the host by a veth pair, with its own
 * address on a /31 (sandbox-net-plan.ts). The host reaches the sandbox's proxy; the sandbox
 * reaches the API's ports on this host and, when `outbound`, the outside through the host's
 * NAT — never another sandbox (of any installation), the host's other ports or its
 * loopback, nor Docker's networks (host firewall rules, one set of chains per installation).
 *
 * Namespaces are named after the installation and their maker, so that init() removes what
 * a dead invoker of the same installation left and nothing of a live one's or another
 * installation's. An address is claimed by creating its host end (the kernel refuses a
 * second link of the same name), so several invokers of one installation share its block.
 */
export class SandboxNetwork {
  /** The resolv.conf to bind at /etc/resolv.conf in sandboxes (written by init()). */
  readonly resolvConf: string;
  private readonly tag: string;
  private readonly owner = selfProcess();
  private base = 0;
  private next = 0;
  private readonly live = new Map<number, Slot>();
  private readonly ready: Slot[] = [];
  private filling: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: SandboxNetworkOptions) {
    this.tag = installationTag(opts.installation);
    this.resolvConf = join(opts.stateDir, 'resolv.conf');
  }

  async init(): Promise<void> {
    for (const tool of ['ip', 'iptables', 'iptables-restore']) {
      if (!onPath(tool)) throw new Error(`sandbox networking needs '${tool}' (Debian: apt-get install iproute2 iptables), and it is not on PATH`);
    }
    if (process.getuid?.() !== 0) throw new Error('sandbox networking needs root (network namespaces, veth pairs and firewall rules)');
    const routes = await ipJson<Array<{ dst: string; dev?: string; type?: string; metric?: number }>>(['-4', 'route', 'show', 'table', 'all']);
    this.base = chooseBlock(this.tag, routes);
    await ip(['route', 'replace', 'unreachable', blockCidr(this.base), 'metric', String(blockMetric(this.tag))]);
    this.next = Math.floor(Math.random() * SLOTS);
    await this.removeLeftovers();
    const plan = { tag: this.tag, block: blockCidr(this.base), apiPorts: this.opts.apiPorts ?? [], outbound: this.opts.outbound };
    try {
      await directShell().run(sandboxFirewallScript(plan));
    } catch (e) {
      throw new Error(`cannot install the firewall around sandboxes: ${(e as Error).message}`, { cause: e });
    }
    if (this.opts.outbound) await writeFile('/proc/sys/net/ipv4/ip_forward', '1\n');
    await mkdir(this.opts.stateDir, { recursive: true });
    await writeFile(this.resolvConf, await this.resolvConfText());
    this.opts.log.info({ installation: this.opts.installation, ...plan }, 'sandbox network in place');
    this.fill();
  }

  async attach(id: string): Promise<SandboxNetns> {
    if (this.closed) throw new Error('the sandbox network is closed');
    if (this.base === 0) throw new Error('the sandbox network is not initialised: call init() first');
    const slot = this.ready.shift() ?? (await this.create());
    if (this.closed) {
      // closed while this one was being made: close() did not see it
      await this.destroy(slot);
      throw new Error('the sandbox network is closed');
    }
    this.live.set(slot.index, slot);
    this.fill();
    this.opts.log.debug({ sandbox: id, netns: slot.name, address: slot.sandbox }, 'sandbox network attached');
    let released: Promise<void> | undefined;
    return {
      netns: join(NETNS_DIR, slot.name),
      address: slot.sandbox,
      gateway: slot.host,
      release: () => (released ??= this.destroy(slot)),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.filling;
    const all = [...this.ready.splice(0), ...this.live.values()];
    await Promise.all(all.map((s) => this.destroy(s)));
  }

  /** Keeps `ready` namespaces made, one at a time in the background (from the next turn: spawning `ip` costs the caller milliseconds). */
  private fill(): void {
    if (this.filling || this.closed) return;
    const want = this.opts.ready ?? 2;
    const run = async () => {
      await new Promise((r) => setImmediate(r));
      while (!this.closed && this.ready.length < want) this.ready.push(await this.create());
    };
    this.filling = run()
      .catch((e: Error) => this.opts.log.warn({ err: e }, 'could not make a sandbox network namespace ahead'))
      .finally(() => (this.filling = undefined));
  }

  /** A namespace with its pair, addresses and route, at a free index of the installation's block. */
  private async create(): Promise<Slot> {
    for (let tries = 0; tries < 64; tries++) {
      const index = this.nextIndex();
      const { host, sandbox } = addressesOf(this.base, index);
      const slot = { index, name: netnsName(this.tag, index, this.owner), link: linkName(this.tag, index), host, sandbox };
      this.live.set(index, slot); // held while being made
      try {
        await ip([], [`netns add ${slot.name}`, `link add ${slot.link} type veth peer name eth0 netns ${slot.name}`, `link set ${slot.link} addrgenmode none`, `addr add ${host}/31 dev ${slot.link}`, `link set ${slot.link} up`]);
      } catch (e) {
        this.live.delete(index);
        // a host end of that name is there: another invoker of the installation holds the index
        const taken = /File exists/.test((e as Error).message);
        await this.remove(slot, !taken);
        if (taken) continue;
        throw e;
      }
      try {
        await ip(['-n', slot.name], ['link set lo up', 'link set eth0 addrgenmode none', `addr add ${sandbox}/31 dev eth0`, 'link set eth0 up', `route add default via ${host}`]);
        return slot;
      } catch (e) {
        await this.remove(slot, true);
        throw e;
      } finally {
        this.live.delete(index);
      }
    }
    throw new Error('no free sandbox address found in 64 tries');
  }

  private nextIndex(): number {
    for (let i = 0; i < SLOTS; i++) {
      const index = (this.next + i) % SLOTS;
      if (!this.live.has(index) && !this.ready.some((s) => s.index === index)) {
        this.next = (index + 1) % SLOTS;
        return index;
      }
    }
    throw new Error(`all ${SLOTS} sandbox addresses of this installation are in use`);
  }

  private async destroy(slot: Slot): Promise<void> {
    await this.remove(slot, true);
    this.live.delete(slot.index);
  }

  /** Removes a namespace and, when it is ours, the host end of its pair (which takes the other end along). */
  private async remove(slot: Pick<Slot, 'name' | 'link'>, withLink: boolean): Promise<void> {
    await ip(['-force'], [...(withLink ? [`link del ${slot.link}`] : []), ...(slot.name ? [`netns del ${slot.name}`] : [])]).catch((e: Error) => {
      if (!/Cannot find device|No such file/.test(e.message)) this.opts.log.warn({ err: e, netns: slot.name }, 'could not remove a sandbox network namespace');
    });
  }

  /**
   * Removes the namespaces of dead makers of this installation and host ends with no
   * namespace. Links are listed before namespaces: a live invoker makes the namespace
   * first, so every link seen then has its namespace by the time they are listed.
   */
  private async removeLeftovers(): Promise<void> {
    const links = (await ipJson<Array<{ ifname: string }>>(['link', 'show'])).map((l) => linkIndex(this.tag, l.ifname)).filter((i): i is number => i !== undefined);
    const boot = (await read('/proc/sys/kernel/random/boot_id')).trim();
    const names = await readdir(NETNS_DIR).catch(() => [] as string[]);
    const ours = names.flatMap((name) => {
      const ns = parseNetnsName(this.tag, name, boot);
      return ns ? [{ name, ...ns }] : [];
    });
    const dead = ours.filter((n) => processState(n.owner) === 'dead');
    const alive = new Set(ours.filter((n) => !dead.includes(n)).map((n) => n.index));
    // a dead maker's host end goes with its namespace, unless a live invoker holds that index now (the dead one never made its link)
    for (const n of dead) await this.remove({ name: n.name, link: linkName(this.tag, n.index) }, !alive.has(n.index));
    const named = new Set(ours.map((n) => n.index));
    const unnamed = links.filter((i) => !named.has(i));
    for (const index of unnamed) await this.remove({ name: '', link: linkName(this.tag, index) }, true);
    const removed = dead.length + unnamed.length;
    if (removed > 0) this.opts.log.info({ installation: this.opts.installation, removed }, 'removed sandbox network namespaces left by invokers of this installation that are gone');
  }

  private async resolvConfText(): Promise<string> {
    const text = sandboxResolvConf(await read('/etc/resolv.conf'), this.opts.outbound);
    // a local resolver (systemd-resolved's 127.0.0.53) names its upstream servers here
    if (this.opts.outbound && !/nameserver/.test(text)) return sandboxResolvConf(await read('/run/systemd/resolve/resolv.conf'), true);
    return text;
  }
}
