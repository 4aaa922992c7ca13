import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type Dockerode from 'dockerode';
import { type Container, type ContainerFactory, type ContainerSpec, ImageUnavailableError, type LogSegment } from '../../common/container.ts';
import type { Logger } from '../../common/logger.ts';
import { LogCollector } from '../log-collector.ts';
import { waitForPort } from './ports.ts';

export const LABEL_INVOKER = 'swirl.invoker';
export const LABEL_KIND = 'swirl.kind';
const RUNTIME_PORT = 8080;
const MiB = 1024 * 1024;

export interface DockerFactoryOptions {
  invokerId: string;
  log: Logger;
  /**
   * Called when an image is missing: build or fetch it and resolve true, or resolve false
   * when it cannot be had (the user's blackbox image, say).
   */
  provideImage?: (image: string) => Promise<boolean>;
  /** Most processes a container may run (fork bombs stop here). */
  pidsLimit?: number;
  /** Docker network to attach containers to (default: the bridge). */
  network?: string;
  startTimeoutMs?: number;
}

/**
 * Runtime containers on a Docker daemon (dockerode). Each container gets the action's
 * memory limit (no swap), a pids limit, no privileges, and labels naming the invoker so
 * that a restarted invoker removes what it left behind. The invoker reaches the proxy on
 * the container's bridge address, port 8080.
 */
export class DockerContainerFactory implements ContainerFactory {
  readonly name = 'docker';
  private readonly live = new Set<DockerContainer>();
  private seq = 0;

  constructor(
    private readonly docker: Dockerode,
    private readonly opts: DockerFactoryOptions,
  ) {}

  async init(): Promise<void> {
    await this.docker.ping();
    const leftovers = await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_INVOKER}=${this.opts.invokerId}`] } });
    await Promise.all(
      leftovers.map(async (c) => {
        await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
        this.opts.log.info({ container: c.Id.slice(0, 12), name: c.Names[0] }, 'removed a container left by a previous run');
      }),
    );
  }

  async create(spec: ContainerSpec): Promise<Container> {
    const name = `swirl_${this.opts.invokerId}_${process.pid}_${++this.seq}_${spec.name.replace(/[^\w.-]/g, '_').slice(0, 60)}`;
    const options: Dockerode.ContainerCreateOptions = {
      name,
      Image: spec.image,
      Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
      Labels: { [LABEL_INVOKER]: this.opts.invokerId, [LABEL_KIND]: spec.kind },
      Tty: false,
      OpenStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      ExposedPorts: { [`${RUNTIME_PORT}/tcp`]: {} },
      HostConfig: {
        Memory: spec.memoryMb * MiB,
        MemorySwap: spec.memoryMb * MiB,
        PidsLimit: this.opts.pidsLimit ?? 512,
        Privileged: false,
        SecurityOpt: ['no-new-privileges'],
        NetworkMode: this.opts.network ?? 'bridge',
        // swirl reads the output from the attach stream; a log driver would only make dockerd
        // write every line to disk a second time (about a fifth of dockerd's CPU per activation)
        LogConfig: { Type: 'none', Config: {} },
      },
    };
    const handle = await this.createWithImage(options, spec.image);
    const container = new DockerContainer(handle, spec, () => this.live.delete(container));
    this.live.add(container);
    try {
      await container.start(this.docker, this.opts.network ?? 'bridge', this.opts.startTimeoutMs ?? 15_000);
    } catch (e) {
      await container.destroy();
      throw e;
    }
    return container;
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
  private readonly collector = new LogCollector();
  private markExited!: () => void;
  private removal: Promise<void> | undefined;

  constructor(
    private readonly handle: Dockerode.Container,
    readonly spec: ContainerSpec,
    private readonly onGone: () => void,
  ) {
    this.id = handle.id.slice(0, 12);
    this.exited = new Promise((ok) => (this.markExited = ok));
  }

  /** Attach to the output (before start, so no line is missed), start, find the address, wait for the proxy. */
  async start(docker: Dockerode, network: string, timeoutMs: number): Promise<void> {
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
    const ip = info.NetworkSettings.Networks?.[network]?.IPAddress;
    if (!ip) throw new Error(`container ${this.id} has no address on network ${network}`);
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
