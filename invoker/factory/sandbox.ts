import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import { type Container, type ContainerFactory, type ContainerSpec, ImageUnavailableError, type LogSegment, PROXY_READY_FD_ENV, PROXY_TOKEN_ENV } from '../../common/container.ts';
import type { Logger } from '../../common/logger.ts';
import { processState, selfProcess } from '../../common/process-identity.ts';
import { RUNTIME_KINDS, RUNTIME_PORT } from '../../runtimes/index.ts';
import { type RuntimeRoot, runtimeRoot } from '../../runtimes/images/sandbox-rootfs.ts';
import { type Cgroup, type CgroupLimits, CgroupTree } from './cgroups.ts';
import { ChildOutput } from './child-output.ts';
import { cpuShares, reachFromContainer, RUNTIME_USER } from './docker.ts';
import { waitForPort } from './ports.ts';
import type { SandboxNetwork } from './sandbox-net.ts';

/** What the sandbox factory needs of the per-sandbox network. */
export type SandboxNetworking = Pick<SandboxNetwork, 'init' | 'attach' | 'close' | 'resolvConf'>;

export interface SandboxFactoryOptions {
  invokerId: string;
  log: Logger;
  /** Where the runtimes' root filesystems are kept (under the data dir). */
  stateDir: string;
  /** Which installation this invoker belongs to (select.ts): its sandboxes' cgroups are grouped under `swirl-<installation>`. */
  installation: string;
  network: SandboxNetworking;
  /** Most processes a sandbox may run. */
  pidsLimit?: number;
  /** Memory of all action containers together (MB): an action's CPU share is its part of it, as in OpenWhisk. */
  invokerMemoryMb?: number;
  /** Size of each sandbox's /tmp, a tmpfs (MB; also counted against the action's memory). */
  tmpMb?: number;
  /** The API's URL as the invoker's host knows it; a loopback address is rewritten to reach the host from a sandbox. */
  apiHost?: string;
  startTimeoutMs?: number;
  /** Progress of making the runtimes' root filesystems (a first start takes seconds). */
  onProgress?: (line: string) => void;
  /** The programs used (defaults: Debian's paths); tests point them elsewhere. */
  bwrap?: string;
  cgroupRoot?: string;
}

const TOOLS = { nsenter: '/usr/bin/nsenter', setpriv: '/usr/bin/setpriv', unshare: '/usr/bin/unshare', mount: '/bin/mount', bash: '/bin/bash' };
/** The Debian package of each tool, for the start-up error. */
const PACKAGES: Record<keyof typeof TOOLS, string> = { nsenter: 'util-linux', setpriv: 'util-linux', unshare: 'util-linux', mount: 'mount', bash: 'bash' };
/**
 * Where the sandbox's root filesystem is bind-mounted, in a mount namespace of the sandbox's
 * own, for bubblewrap to mount as `/`: bubblewrap runs as the runtime user, to whom the data
 * dir (readable by swirl's user alone) is closed. Any directory of the host's does.
 */
const ROOT_MOUNT = '/mnt';
/** How a sandbox names this host (its /etc/hosts maps it to the host's end of the sandbox's veth pair), as Docker's host.docker.internal. */
const HOST_NAME = 'host.swirl.internal';
/** The fds bubblewrap reads the sandbox's /etc/hosts and /etc/resolv.conf from. */
const HOSTS_FD = 3;
const RESOLV_FD = 4;
/** bubblewrap blocks on this fd (--block-fd) with the sandbox made, until the invoker lets the runtime start. */
const GO_FD = 5;
/** The runtime says on this fd when it listens (PROXY_READY_FD_ENV). */
const READY_FD = 6;
/** Shapes kept started ahead (kind, /tmp size, environment: a cold container's and a stem cell's differ). */
const AHEAD_SHAPES = 4;

/** A sandbox started ahead: let go, it runs its runtime. */
interface Start {
  container: SandboxContainer;
  cgroup: Cgroup;
  /** The sandbox's address. */
  host: string;
  /** Resolves when the runtime says it listens. */
  ready: Promise<void>;
  go: () => void;
}

/** What a sandbox started ahead must share with the spec it is taken for (its memory limits are set when taken). */
const startShape = (spec: ContainerSpec, tmpMb: number): string => JSON.stringify([spec.kind, tmpMb, Object.entries(spec.env ?? {}).sort()]);
const DEFAULT_BWRAP = '/usr/bin/bwrap';
const DEFAULT_CGROUPS = '/sys/fs/cgroup';

const executable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * What this host lacks to run sandboxes (empty when it has it all): bubblewrap, the tools
 * that start it (util-linux's nsenter, setpriv and unshare, mount, bash), a mount point,
 * root (to make cgroups and network namespaces), and the cgroup controllers.
 */
export function sandboxSupport(opts: Pick<SandboxFactoryOptions, 'bwrap' | 'cgroupRoot'> = {}): string[] {
  const missing: string[] = [];
  const bwrap = opts.bwrap ?? DEFAULT_BWRAP;
  if (!executable(bwrap)) missing.push(`bubblewrap (${bwrap}; Debian: apt-get install bubblewrap)`);
  for (const [name, path] of Object.entries(TOOLS)) if (!executable(path)) missing.push(`${name} (${path}; Debian: ${PACKAGES[name as keyof typeof TOOLS]})`);
  if (!statSync(ROOT_MOUNT, { throwIfNoEntry: false })?.isDirectory()) missing.push(`a directory ${ROOT_MOUNT} (the mount point of each sandbox's root filesystem, in the sandbox's own mount namespace)`);
  if (process.getuid?.() !== 0) missing.push('root (the invoker makes cgroups and network namespaces)');
  missing.push(...new CgroupTree(opts.cgroupRoot ?? DEFAULT_CGROUPS, 'swirl').missing());
  return missing;
}

/** A sandbox cgroup's name tells its maker: `<pid namespace>.<pid>.<start time>.<seq>` (common/process-identity.ts). */
const selfTag = (): string => selfProcess().split(':').slice(2).join('.');
/** Sandboxes made by this process, over every factory in it: two factories in one process (two invokers, tests) never share a name, so never a cgroup. */
let made = 0;
const makerOf = (name: string, boot: string): string | undefined => {
  const parts = name.split('.');
  return parts.length === 4 ? `process:${boot}:${parts.slice(0, 3).join(':')}` : undefined;
};

/**
 * Runtime containers as bubblewrap sandboxes, with no daemon in the path. Each runs the
 * kind's runtime on the root filesystem its image is built from (read-only), in its own
 * mount, pid, ipc, uts, cgroup and user namespaces and the network namespace the network
 * gives it, as the runtime user with no capabilities, a size-capped /tmp, and a cgroup
 * with the action's memory (swap included), pids and CPU limits, frozen to pause it.
 * Blackbox (Docker) images are not supported. Cgroups are grouped per installation:
 * a dead invoker's are removed at init, nothing of a live one or another installation.
 * The next sandbox of each shape is started ahead, up to the point where its runtime would
 * run (startAhead): a create then waits for the runtime's boot alone.
 */
export class SandboxContainerFactory implements ContainerFactory {
  readonly name = 'sandbox';
  readonly apiHost: string | undefined;
  private readonly live = new Set<SandboxContainer>();
  private readonly cgroups: CgroupTree;
  private readonly roots = new Map<string, Promise<RuntimeRoot>>();
  private readonly tag = selfTag();
  private readonly bwrap: string;
  private ready = false;
  private closed = false;
  private resolv: string | undefined;
  /** Sandboxes started ahead (blocked before their runtime starts), by shape (startShape); undefined where the start failed. */
  private readonly ahead = new Map<string, Promise<Start | undefined>>();

  constructor(private readonly opts: SandboxFactoryOptions) {
    this.apiHost = opts.apiHost ? reachFromContainer(opts.apiHost, HOST_NAME) : undefined;
    this.bwrap = opts.bwrap ?? DEFAULT_BWRAP;
    this.cgroups = new CgroupTree(opts.cgroupRoot ?? DEFAULT_CGROUPS, `swirl-${opts.installation}`);
  }

  async init(): Promise<void> {
    const missing = sandboxSupport(this.opts);
    if (missing.length) throw new Error(`the sandbox container factory cannot run on this host: missing ${missing.join('; ')}`);
    this.checkUserNamespaces();
    this.cgroups.prepare();
    await this.removeLeftovers();
    await this.opts.network.init();
    for (const kind of RUNTIME_KINDS) await this.root(kind);
    this.ready = true;
  }

  /** bubblewrap runs unprivileged, in a user namespace of its own: the kernel must allow that. */
  private checkUserNamespaces(): void {
    const probe = spawnSync(TOOLS.setpriv, [...dropTo(RUNTIME_USER), this.bwrap, '--unshare-all', '--ro-bind', '/', '/', '--', '/bin/true'], { encoding: 'utf8', timeout: 10_000 });
    if (probe.status !== 0) throw new Error(`the sandbox container factory cannot run on this host: bubblewrap cannot make a user namespace as an unprivileged user (${(probe.stderr || probe.error?.message || `exit ${probe.status}`).trim()}); allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)`);
  }

  /** Kill and remove the sandboxes of this installation's invokers that are gone (their network namespaces the network removes). */
  private async removeLeftovers(): Promise<void> {
    const boot = selfProcess().split(':')[1]!;
    const gone = this.cgroups.children().filter((name) => {
      const maker = makerOf(name, boot);
      return maker && !name.startsWith(`${this.tag}.`) && processState(maker) === 'dead';
    });
    await Promise.all(
      gone.map(async (name) => {
        try {
          const cgroup = this.cgroups.existing(name);
          await cgroup.kill();
          cgroup.remove();
          this.opts.log.info({ cgroup: name, installation: this.opts.installation }, 'removed a sandbox left by an invoker of this installation that is gone');
        } catch (e) {
          this.opts.log.warn({ cgroup: name, err: e }, 'could not remove a leftover sandbox');
        }
      }),
    );
  }

  /** A kind's root filesystem, made once (init makes every kind's). */
  private root(kind: string): Promise<RuntimeRoot> {
    let pending = this.roots.get(kind);
    if (!pending) {
      const progress = this.opts.onProgress ?? ((line: string) => this.opts.log.info({ sandbox: line }, 'sandbox root filesystem'));
      pending = runtimeRoot(kind, join(this.opts.stateDir, 'rootfs'), progress);
      pending.catch(() => this.roots.delete(kind));
      this.roots.set(kind, pending);
    }
    return pending;
  }

  async create(spec: ContainerSpec): Promise<Container> {
    if (!this.ready) throw new Error('the sandbox container factory is not initialized');
    if (spec.kind === 'blackbox') throw new ImageUnavailableError(spec.image, 'Docker images need a Docker daemon, and this invoker runs actions in sandboxes (SWIRL_CONTAINER_FACTORY=sandbox), which run swirl\'s own runtimes only.');
    const root = await this.root(spec.kind);
    const shape = startShape(spec, this.tmpMb(spec));
    const start = (await this.takeAhead(shape)) ?? (await this.start(spec, root));
    this.startAhead(shape, spec, root);
    try {
      // the action's own limits before its runtime runs (a start made ahead was limited for the spec it was made for)
      start.cgroup.limit(this.limits(spec));
    } catch (e) {
      await start.container.destroy();
      throw e;
    }
    start.container.spec = spec;
    start.go();
    this.live.add(start.container);
    try {
      await waitForPort(start.host, RUNTIME_PORT, this.opts.startTimeoutMs ?? 10_000, start.container.exited, start.ready);
    } catch (e) {
      await start.container.destroy();
      throw new Error(`could not start the ${spec.kind} runtime in a sandbox: ${(e as Error).message}${start.container.startupOutput()}`, { cause: e });
    }
    return start.container;
  }

  private tmpMb(spec: ContainerSpec): number {
    return Math.min(this.opts.tmpMb ?? 128, spec.memoryMb);
  }

  private limits(spec: ContainerSpec): CgroupLimits {
    return { memoryMb: spec.memoryMb, pidsLimit: this.opts.pidsLimit ?? 512, cpuShares: cpuShares(spec.memoryMb, this.opts.invokerMemoryMb ?? 2048) };
  }

  /**
   * A sandbox brought up to the point where bubblewrap would run the runtime: its cgroup
   * (joined), network namespace, mount namespace with the root filesystem, and every
   * namespace of bubblewrap's made, bubblewrap blocked on its go fd. Nothing of a tenant's
   * is in it yet: its runtime has not started.
   */
  private async start(spec: ContainerSpec, root: RuntimeRoot): Promise<Start> {
    const name = `${this.tag}.${++made}`;
    const cgroup = this.cgroups.create(name, this.limits(spec));
    let net: Awaited<ReturnType<SandboxNetworking['attach']>> | undefined;
    try {
      net = await this.opts.network.attach(name);
    } catch (e) {
      cgroup.remove();
      throw e;
    }
    const token = randomBytes(24).toString('base64url');
    const env = { ...root.env, ...(this.apiHost ? { __OW_API_HOST: this.apiHost } : {}), ...spec.env, [PROXY_TOKEN_ENV]: token, [PROXY_READY_FD_ENV]: String(READY_FD), HOME: '/tmp', PORT: String(RUNTIME_PORT), HOST: '0.0.0.0' };
    const child = spawn(TOOLS.unshare, [...prepare(cgroup, root.dir), TOOLS.nsenter, `--net=${net.netns}`, '--', TOOLS.setpriv, ...dropTo(RUNTIME_USER), ...bwrapArgs(this.bwrap, this.tmpMb(spec), cgroup), ...root.cmd], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
      env,
    });
    // the data fds are sockets to Node: one the sandbox closes early (it reads them once) must not raise an uncaught error here
    for (const fd of [HOSTS_FD, RESOLV_FD, GO_FD]) input(child, fd).on('error', () => undefined);
    input(child, HOSTS_FD).end(`127.0.0.1\tlocalhost\n::1\tlocalhost\n${net.gateway}\t${HOST_NAME}\n`);
    input(child, RESOLV_FD).end(this.resolvConf());
    const container = new SandboxContainer(child, spec, `sandbox-${name}`, `${net.address}:${RUNTIME_PORT}`, token, cgroup, net.release, () => this.live.delete(container));
    const said = (child.stdio as unknown as Readable[])[READY_FD]!;
    said.on('error', () => undefined);
    const ready = new Promise<void>((ok) => said.once('data', () => ok()));
    // its outer processes (bubblewrap's) keep the fd open: read no more of it than its first line
    void ready.then(() => said.destroy());
    return { container, cgroup, host: net.address, ready, go: () => input(child, GO_FD).end('g') };
  }

  /**
   * Start the next sandbox of this shape ahead (one per shape, for the few shapes last
   * used): its start overlaps this one's runtime booting, which keeps one core busy, and
   * mostly waits on the kernel (namespaces, cgroup moves).
   */
  private startAhead(shape: string, spec: ContainerSpec, root: RuntimeRoot): void {
    if (this.closed || this.ahead.has(shape)) return;
    const pending = this.start(spec, root).catch((e: Error) => {
      this.opts.log.warn({ err: e, kind: spec.kind }, 'could not start a sandbox ahead');
      return undefined;
    });
    this.ahead.set(shape, pending);
    for (const [old, made] of [...this.ahead].slice(0, -AHEAD_SHAPES)) {
      this.ahead.delete(old);
      void made.then((s) => s?.container.destroy());
    }
  }

  /** The sandbox started ahead for this shape, when there is one still alive (waiting for it when it is under way). */
  private async takeAhead(shape: string): Promise<Start | undefined> {
    const pending = this.ahead.get(shape);
    this.ahead.delete(shape);
    const start = await pending;
    if (!start?.container.gone) return start;
    // died while it waited (killed from outside): it gives back its cgroup and network
    await start.container.destroy();
    return undefined;
  }

  /** The network's resolv.conf (read once: it is written at the network's init). */
  private resolvConf(): string {
    this.resolv ??= readFileSync(this.opts.network.resolvConf, 'utf8');
    return this.resolv;
  }

  async close(): Promise<void> {
    this.closed = true;
    const ahead = await Promise.all(this.ahead.values());
    this.ahead.clear();
    await Promise.all([...this.live, ...ahead.flatMap((s) => (s ? [s.container] : []))].map((c) => c.destroy()));
    await this.opts.network.close();
    if (this.ready) this.cgroups.removeIfEmpty();
  }
}

/** The pipe the invoker writes to at a sandbox's fd. */
const input = (child: ChildProcess, fd: number): Writable => (child.stdio as unknown as Writable[])[fd]!;

/** setpriv's arguments that make the rest run as `uid:gid` with no supplementary groups and no capabilities. */
const dropTo = (user: string): string[] => {
  const [uid, gid] = user.split(':');
  return [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=-all', '--'];
};

/**
 * A mount namespace of the sandbox's own, where a shell closes every fd the invoker was
 * started with (bubblewrap passes on what it is given: only stdio, the data, go and ready fds go in),
 * writes its pid into the cgroup (every hierarchy: the sandbox is limited before it runs
 * anything), bind-mounts the root filesystem at ROOT_MOUNT and execs the rest. (bash: dash
 * closes no fd above 9. The cgroup paths are the tree's own, checked names: nothing to
 * quote; the root's path is an argument.)
 */
function prepare(cgroup: Cgroup, rootDir: string): string[] {
  const close = `for fd in /proc/$$/fd/*; do n=\${fd##*/}; if [ "$n" -gt ${READY_FD} ]; then eval "exec $n>&-"; fi; done`;
  const writes = cgroup.procsFiles().map((f) => `echo $$ > ${f}`).join(' && ');
  const script = `root=$1; shift; ${close}; ${writes} && ${TOOLS.mount} --bind "$root" ${ROOT_MOUNT} && exec "$@"`;
  return ['--mount', '--propagation', 'private', '--', TOOLS.bash, '-c', script, 'sandbox', rootDir];
}

/** bubblewrap: the runtime's root read-only, private /proc, /dev and size-capped /tmp, its memory cgroup read-only, every namespace but the network's (given), no capabilities. */
function bwrapArgs(bwrap: string, tmpMb: number, cgroup: Cgroup): string[] {
  const memory = cgroup.memoryView();
  return [
    bwrap,
    '--ro-bind', ROOT_MOUNT, '/',
    '--ro-bind-data', String(HOSTS_FD), '/etc/hosts',
    '--ro-bind-data', String(RESOLV_FD), '/etc/resolv.conf',
    // its own memory cgroup, read-only, where the runtime sees its limit (as in a Docker container): Node sizes its heap by it
    '--ro-bind', memory.dir, memory.at,
    '--proc', '/proc',
    '--dev', '/dev',
    '--size', String(tmpMb * 1024 * 1024),
    '--perms', '1777',
    '--tmpfs', '/tmp',
    '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--hostname', 'sandbox',
    '--die-with-parent',
    '--new-session',
    '--cap-drop', 'ALL',
    '--chdir', '/tmp',
    '--block-fd', String(GO_FD),
    '--',
  ];
}

class SandboxContainer implements Container {
  readonly exited: Promise<void>;
  /** Its processes are gone. */
  gone = false;
  readonly inlineLogs: boolean;
  private readonly output: ChildOutput;
  private removal: Promise<void> | undefined;

  constructor(
    private readonly child: ChildProcess,
    /** The spec it runs for (a sandbox started ahead takes the spec of the create that takes it). */
    public spec: ContainerSpec,
    readonly id: string,
    readonly address: string,
    readonly token: string,
    private readonly cgroup: Cgroup,
    private readonly releaseNetwork: () => Promise<void>,
    private readonly onGone: () => void,
  ) {
    this.output = new ChildOutput(child, spec.kind, () => undefined);
    this.exited = this.output.exited;
    void this.exited.then(() => (this.gone = true));
    this.inlineLogs = this.output.inlineLogs;
  }

  pause(): Promise<void> {
    return this.cgroup.freeze();
  }

  async resume(): Promise<void> {
    this.cgroup.thaw();
  }

  /** Kill every process of the sandbox, then remove its cgroup and network namespace; idempotent. */
  destroy(): Promise<void> {
    this.removal ??= (async () => {
      try {
        // bubblewrap itself (or the shell before it) too: it may not have joined the cgroup yet
        this.child.kill('SIGKILL');
        await this.cgroup.kill();
        await this.exited;
        this.cgroup.remove();
      } finally {
        this.onGone();
        await this.releaseNetwork();
      }
    })();
    return this.removal;
  }

  logs(limitBytes: number, waitMs: number): Promise<LogSegment> {
    return this.output.logs(limitBytes, waitMs);
  }

  logsAtOnce(limitBytes: number, waitMs: number): LogSegment | undefined {
    return this.output.logsAtOnce(limitBytes, waitMs);
  }

  startupOutput(): string {
    return this.output.text();
  }
}
