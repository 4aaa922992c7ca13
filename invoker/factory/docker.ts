import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type Dockerode from 'dockerode';
import { type Container, type ContainerFactory, type ContainerSpec, ImageUnavailableError, type LogSegment, PROXY_TOKEN_ENV, sentinelledLogs } from '../../common/container.ts';
import { isLoopback } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { runtimeImage, tryPull } from '../../runtimes/index.ts';
import { LogCollector } from '../log-collector.ts';
import { firewallScript } from './firewall.ts';
import { hostShell } from './host-shell.ts';
import { type ActionsNetwork, ensureActionsNetwork, ownBridges } from './network.ts';
import { ownerState, selfOwner } from './owner.ts';
import { waitForPort } from './ports.ts';

export const LABEL_INVOKER = 'swirl.invoker';
export const LABEL_KIND = 'swirl.kind';
/** The process that made the container (see owner.ts): its containers are leftovers once it is dead. */
export const LABEL_OWNER = 'swirl.owner';
/** The actions network the container is on. */
export const LABEL_NETWORK = 'swirl.network';
/** The installation (its store) the container belongs to: leftovers are removed only by invokers of the same one. */
export const LABEL_INSTALLATION = 'swirl.installation';
/** A container created for an action (ContainerSpec.action): the invoking namespace and the action's path (`ns/pkg/name`). */
export const LABEL_NAMESPACE = 'swirl.namespace';
export const LABEL_ACTION = 'swirl.action';
const RUNTIME_PORT = 8080;
const MiB = 1024 * 1024;
/** The unprivileged user swirl's own runtimes run as (the images say the same with USER). */
export const RUNTIME_USER = '10001:10001';
/** How the API host is named inside action containers: Docker maps it to the host's gateway address. */
const HOST_NAME = 'host.docker.internal';

export interface DockerFactoryOptions {
  invokerId: string;
  log: Logger;
  /**
   * Called when an image is missing: build it (a runtime image) and resolve true, or resolve
   * false when it cannot be had. (The user's blackbox image is pulled at each start.)
   */
  provideImage?: (image: string) => Promise<boolean>;
  /** Most processes a container may run (fork bombs stop here). */
  pidsLimit?: number;
  /** The actions network: created when missing; an existing one must keep its containers apart. */
  network: string;
  /**
   * Which installation this invoker belongs to (select.ts: its store); only the leftovers
   * of dead invokers of the same installation are removed. Default: the network's name.
   */
  installation?: string;
  startTimeoutMs?: number;
  /** The API's URL as the invoker's host knows it; a loopback address is rewritten to reach the host from a container. */
  apiHost?: string;
  /** Install the host firewall around the actions network (default true; false leaves it to the operator). */
  firewall?: boolean;
  /** Whether actions reach networks beyond this host (default true). */
  outbound?: boolean;
  /** Memory of all action containers together (MB): an action's CPU share is its part of it, as in OpenWhisk. */
  invokerMemoryMb?: number;
  /** Size of each container's /tmp, a tmpfs (MB; also counted against the action's memory). */
  tmpMb?: number;
}

/**
 * An action's CPU weight (`--cpu-shares`), as OpenWhisk computes it: 1024 divided by how
 * many containers of its memory size the invoker can hold, at least 2 (Docker's minimum).
 */
export const cpuShares = (memoryMb: number, invokerMemoryMb: number): number => Math.max(Math.floor(1024 / Math.max(1, Math.floor(invokerMemoryMb / memoryMb))), 2);

/** Whether an image must be pulled before each start (OpenWhisk: a `:latest` or untagged one, not one pinned by digest). */
export function pullRequired(image: string): boolean {
  if (image.includes('@')) return false;
  const name = image.slice(image.lastIndexOf('/') + 1);
  const colon = name.indexOf(':');
  return colon < 0 || name.slice(colon + 1) === 'latest';
}

/** The URL by which code in a container reaches `url` on the invoker's host (named `hostName` there). */
export function reachFromContainer(url: string, hostName = HOST_NAME): string {
  const u = new URL(url);
  // a loopback address, or every interface (a server's own URL may name it so)
  if (isLoopback(u.hostname) || u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = hostName;
  return u.toString().replace(/\/$/, '');
}

/** The TCP port of a URL (its scheme's default when it names none). */
export const portOf = (url: string): number => {
  const u = new URL(url);
  return Number(u.port || (u.protocol === 'https:' ? 443 : 80));
};

/**
 * Runtime containers on a Docker daemon (dockerode). Every container joins the actions
 * network, where containers cannot reach each other, behind a host firewall that keeps
 * them off the host's ports but the API's (firewall.ts). Each gets the action's memory
 * limit (no swap), a CPU share proportional to it, a pids limit, no capabilities, no new
 * privileges and a size-capped /tmp; swirl's own runtimes also run as an unprivileged user
 * on a read-only root filesystem and answer /init and /run only with the container's own
 * token. Labels name the invoker and the process that made the container, so that any
 * invoker of the same installation removes a dead one's leftovers, and nothing else.
 */
export class DockerContainerFactory implements ContainerFactory {
  readonly name = 'docker';
  readonly apiHost: string | undefined;
  private readonly live = new Set<DockerContainer>();
  private readonly owner = selfOwner();
  private readonly installation: string;
  private seq = 0;
  private network: ActionsNetwork | undefined;

  constructor(
    private readonly docker: Dockerode,
    private readonly opts: DockerFactoryOptions,
  ) {
    this.apiHost = opts.apiHost ? reachFromContainer(opts.apiHost) : undefined;
    this.installation = opts.installation ?? `network:${opts.network}`;
  }

  async init(): Promise<void> {
    await this.docker.ping();
    this.network = await ensureActionsNetwork(this.docker, this.opts.network);
    if (this.opts.firewall !== false) await this.installFirewall(this.network);
    else this.opts.log.warn({ network: this.network.name }, 'the host firewall is off (SWIRL_ACTION_FIREWALL=off): actions can reach every port this host listens on');
    await this.removeLeftovers();
  }

  private async installFirewall(network: ActionsNetwork): Promise<void> {
    const plan = {
      bridge: network.bridge,
      apiPorts: this.apiHost ? [portOf(this.apiHost)] : [],
      trusted: await ownBridges(this.docker, network.name),
      outbound: this.opts.outbound !== false,
    };
    const shell = hostShell(this.docker, runtimeImage('nodejs:20'));
    try {
      await shell.run(firewallScript(plan));
    } catch (e) {
      throw new Error(
        `cannot install the firewall that keeps actions off this host's ports (${shell.how}): ${(e as Error).message}. ` +
          'Run the invoker as root or with access to the Docker socket, or set SWIRL_ACTION_FIREWALL=off and keep such rules in place yourself (README, Security).',
        { cause: e },
      );
    }
    this.opts.log.info({ network: network.name, ...plan, via: shell.how }, 'actions network firewall in place');
  }

  /**
   * Remove what dead invokers of this installation left behind: containers labelled with
   * this installation whose maker is gone. A live owner's containers, another installation's
   * (dead or alive, whatever network they share) and unlabelled ones (an older swirl: whose
   * they are cannot be told) are never touched; the last are named in a warning.
   */
  private async removeLeftovers(): Promise<void> {
    const ours = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_INSTALLATION}=${this.installation}`] } });
    const states = new Map<string, Promise<string>>();
    await Promise.all(
      ours.map(async (c) => {
        const owner = c.Labels[LABEL_OWNER];
        if (!owner || owner === this.owner) return;
        if (!states.has(owner)) states.set(owner, ownerState(owner, this.docker));
        if ((await states.get(owner)) !== 'dead') return;
        await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
        this.opts.log.info({ container: c.Id.slice(0, 12), name: c.Names[0], owner, installation: this.installation }, 'removed a container left by an invoker of this installation that is gone');
      }),
    );
    const older = (await this.docker.listContainers({ all: true, filters: { label: [LABEL_INVOKER] } })).filter((c) => !c.Labels[LABEL_INSTALLATION]);
    if (older.length)
      this.opts.log.warn(
        { containers: older.map((c) => c.Names[0] ?? c.Id.slice(0, 12)) },
        `${older.length} container(s) made by an older swirl carry no installation label and are left alone; remove them once no older swirl runs: docker rm -f $(docker ps -aq --filter label=${LABEL_INVOKER})`,
      );
  }

  async create(spec: ContainerSpec): Promise<Container> {
    if (!this.network) throw new Error('the Docker container factory is not initialized');
    if (spec.kind === 'blackbox') await this.pullActionImage(spec.image);
    // the name tells nothing of the tenant: containers on one network can resolve each other's names
    const name = `swirl_${this.opts.invokerId}_${process.pid}_${++this.seq}_${spec.kind.replace(/[^\w.-]/g, '-')}`;
    const ownRuntime = spec.kind !== 'blackbox';
    const token = ownRuntime ? randomBytes(24).toString('base64url') : undefined;
    const tmpMb = Math.min(this.opts.tmpMb ?? 128, spec.memoryMb);
    const options: Dockerode.ContainerCreateOptions = {
      name,
      Image: spec.image,
      // the API host in the environment from the start, as OpenWhisk gives it (/init's env has it too)
      Env: Object.entries({ ...(this.apiHost ? { __OW_API_HOST: this.apiHost } : {}), ...spec.env, ...(token ? { [PROXY_TOKEN_ENV]: token, HOME: '/tmp' } : {}) }).map(([k, v]) => `${k}=${v}`),
      Labels: {
        [LABEL_INVOKER]: this.opts.invokerId,
        [LABEL_KIND]: spec.kind,
        [LABEL_OWNER]: this.owner,
        [LABEL_NETWORK]: this.opts.network,
        [LABEL_INSTALLATION]: this.installation,
        ...(spec.action ? { [LABEL_NAMESPACE]: spec.action.namespace, [LABEL_ACTION]: spec.action.name } : {}),
      },
      ...(ownRuntime ? { User: RUNTIME_USER } : {}),
      Tty: false,
      OpenStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      ExposedPorts: { [`${RUNTIME_PORT}/tcp`]: {} },
      HostConfig: {
        Memory: spec.memoryMb * MiB,
        MemorySwap: spec.memoryMb * MiB,
        CpuShares: cpuShares(spec.memoryMb, this.opts.invokerMemoryMb ?? 2048),
        PidsLimit: this.opts.pidsLimit ?? 512,
        Privileged: false,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        // swirl's runtimes write nothing but /tmp; an image that follows OpenWhisk's contract
        // writes its action where it likes, so there each file is bounded instead (fsize)
        ReadonlyRootfs: ownRuntime,
        Tmpfs: { '/tmp': `rw,exec,nosuid,nodev,size=${tmpMb}m,mode=1777` },
        ...(ownRuntime ? {} : { Ulimits: [{ Name: 'fsize', Soft: tmpMb * MiB, Hard: tmpMb * MiB }] }),
        NetworkMode: this.network.id,
        ExtraHosts: [`${HOST_NAME}:host-gateway`],
        // swirl reads the output from the attach stream; a log driver would only make dockerd
        // write every line to disk a second time (about a fifth of dockerd's CPU per activation)
        LogConfig: { Type: 'none', Config: {} },
      },
    };
    const handle = await this.createWithImage(options, spec.image);
    const container = new DockerContainer(handle, spec, token, () => this.live.delete(container));
    this.live.add(container);
    try {
      await container.start(this.docker, this.network.id, this.opts.startTimeoutMs ?? 15_000);
    } catch (e) {
      await container.destroy();
      throw e;
    }
    return container;
  }

  /**
   * Pull the image of the user's action as OpenWhisk's DockerContainer does at every start:
   * `:latest` (or no tag) must be pulled, its start fails when the pull does; any other tag
   * may be used as found on this host when the pull fails.
   */
  private async pullActionImage(image: string): Promise<void> {
    this.opts.log.info({ image }, 'pulling an action image');
    const pulled = await tryPull(this.docker, image, (line) => this.opts.log.debug({ image }, line.trim()));
    if (!pulled && pullRequired(image)) throw new ImageUnavailableError(image);
  }

  private async createWithImage(options: Dockerode.ContainerCreateOptions, image: string): Promise<Dockerode.Container> {
    try {
      return await this.docker.createContainer(options);
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
    if (!(await (this.opts.provideImage?.(image) ?? Promise.resolve(false)))) throw new ImageUnavailableError(image);
    return this.docker.createContainer(options);
  }

  async close(): Promise<void> {
    await Promise.all([...this.live].map((c) => c.destroy()));
  }
}

class DockerContainer implements Container {
  readonly id: string;
  readonly exited: Promise<void>;
  address = '';
  private readonly collector: LogCollector;
  readonly inlineLogs: boolean;
  private markExited!: () => void;
  private removal: Promise<void> | undefined;

  constructor(
    private readonly handle: Dockerode.Container,
    readonly spec: ContainerSpec,
    readonly token: string | undefined,
    private readonly onGone: () => void,
  ) {
    this.id = handle.id.slice(0, 12);
    this.collector = new LogCollector({ marked: sentinelledLogs(spec.kind) });
    // swirl's own runtimes answer with the activation's output: their streams carry only what bypasses them
    this.inlineLogs = sentinelledLogs(spec.kind);
    this.exited = new Promise((ok) => (this.markExited = ok));
  }

  /** Attach to the output (before start, so no line is missed), start, find the address, wait for the proxy. */
  async start(docker: Dockerode, networkId: string, timeoutMs: number): Promise<void> {
    const stream = (await this.handle.attach({ stream: true, stdout: true, stderr: true, logs: false })) as NodeJS.ReadableStream;
    docker.modem.demuxStream(stream, this.sink('stdout'), this.sink('stderr'));
    const ended = () => {
      this.collector.end();
      this.markExited();
    };
    stream.once('end', ended);
    stream.once('close', ended);
    stream.once('error', ended);
    await this.handle.start();
    const info = await this.handle.inspect();
    const ip = Object.values(info.NetworkSettings.Networks ?? {}).find((n) => n.NetworkID === networkId)?.IPAddress;
    if (!ip) throw new Error(`container ${this.id} has no address on network ${networkId}`);
    this.address = `${ip}:${RUNTIME_PORT}`;
    await waitForPort(ip, RUNTIME_PORT, timeoutMs, this.exited);
  }

  private sink(stream: 'stdout' | 'stderr'): Writable {
    const decoder = new StringDecoder('utf8');
    return new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.collector.feed(stream, decoder.write(chunk));
        done();
      },
    });
  }

  async pause(): Promise<void> {
    await this.handle.pause();
  }

  async resume(): Promise<void> {
    await this.handle.unpause();
  }

  destroy(): Promise<void> {
    this.removal ??= this.handle
      .remove({ force: true })
      .catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404) throw e;
      })
      .finally(() => {
        this.onGone();
        this.collector.end();
        this.markExited();
      });
    return this.removal;
  }

  logs(limitBytes: number, waitMs: number): Promise<LogSegment> {
    return this.collector.take(limitBytes, waitMs);
  }
}
