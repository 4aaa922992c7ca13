import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Container, type ContainerFactory, type ContainerSpec, ImageUnavailableError, type LogSegment, PROXY_TOKEN_ENV } from '../../common/container.ts';
import type { Logger } from '../../common/logger.ts';
import { ChildOutput } from './child-output.ts';
import { freePort, waitForPort } from './ports.ts';

/** How to start a kind's runtime proxy as a local process (listening on env PORT/HOST). */
export type ProxyLauncher = (kind: string) => Promise<{ command: string; args: string[]; env?: Record<string, string> }>;

export interface ProcessFactoryOptions {
  invokerId: string;
  launcher: ProxyLauncher;
  /** Where pid files are kept so that a restarted invoker can kill what it left behind. */
  stateDir: string;
  log: Logger;
  startTimeoutMs?: number;
}

/**
 * Runs each "container" as a local child process of the runtime proxy, on a free loopback
 * port, in its own process group and working directory. Pause and resume are SIGSTOP and
 * SIGCONT of the group. For machines without Docker: actions are NOT isolated from each
 * other or from the host, and memory limits are advisory (Node's heap size).
 */
export class ProcessContainerFactory implements ContainerFactory {
  readonly name = 'process';
  private readonly live = new Set<ProcessContainer>();
  private readonly pidDir: string;

  constructor(private readonly opts: ProcessFactoryOptions) {
    this.pidDir = join(opts.stateDir, `invoker${opts.invokerId}`);
  }

  async init(): Promise<void> {
    this.opts.log.warn('actions run as local processes: they are NOT isolated from each other or from this host (no Docker daemon is in use)');
    mkdirSync(this.pidDir, { recursive: true });
    for (const file of readdirSync(this.pidDir)) {
      const pid = Number(file);
      const marker = readFileSync(join(this.pidDir, file), 'utf8');
      // only kill the pid if it still is the proxy we started (pids are reused)
      if (Number.isInteger(pid) && cmdline(pid).includes(marker)) {
        killGroup(pid, 'SIGKILL');
        this.opts.log.info({ pid }, 'removed a runtime process left by a previous run');
      }
      rmSync(join(this.pidDir, file), { force: true });
    }
  }

  async create(spec: ContainerSpec): Promise<Container> {
    if (spec.kind === 'blackbox') {
      throw new ImageUnavailableError(spec.image, 'Docker images need a Docker daemon, and this invoker runs actions as local processes.');
    }
    const { command, args, env } = await this.opts.launcher(spec.kind);
    const port = await freePort();
    // any local process can connect to a loopback port: the proxy answers only with this secret
    const token = randomBytes(24).toString('base64url');
    const cwd = mkdtempSync(join(tmpdir(), `swirl-${spec.name.replace(/[^\w.-]/g, '_').slice(0, 40)}-`));
    const child = spawn(command, args, {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        LANG: process.env.LANG ?? 'C.UTF-8',
        HOME: cwd,
        TMPDIR: cwd,
        NODE_OPTIONS: `--max-old-space-size=${spec.memoryMb}`,
        ...env,
        ...spec.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        [PROXY_TOKEN_ENV]: token,
      },
    });
    const container = new ProcessContainer(child, spec, `127.0.0.1:${port}`, token, cwd, () => {
      this.live.delete(container);
      rmSync(join(this.pidDir, String(child.pid)), { force: true });
    });
    this.live.add(container);
    if (child.pid) writeFileSync(join(this.pidDir, String(child.pid)), args[args.length - 1] ?? command);
    try {
      await waitForPort('127.0.0.1', port, this.opts.startTimeoutMs ?? 10_000, container.exited);
    } catch (e) {
      await container.destroy();
      throw new Error(`could not start the ${spec.kind} runtime: ${(e as Error).message}${container.startupOutput()}`, {
        cause: e,
      });
    }
    return container;
  }

  async close(): Promise<void> {
    await Promise.all([...this.live].map((c) => c.destroy()));
  }
}

class ProcessContainer implements Container {
  readonly id: string;
  readonly exited: Promise<void>;
  readonly inlineLogs: boolean;
  private readonly output: ChildOutput;
  private destroyed = false;

  constructor(
    private readonly child: ChildProcess,
    readonly spec: ContainerSpec,
    readonly address: string,
    readonly token: string,
    private readonly cwd: string,
    onGone: () => void,
  ) {
    this.id = `proc-${child.pid}`;
    this.output = new ChildOutput(child, spec.kind, onGone);
    this.exited = this.output.exited;
    this.inlineLogs = this.output.inlineLogs;
  }

  async pause(): Promise<void> {
    killGroup(this.child.pid!, 'SIGSTOP');
  }

  async resume(): Promise<void> {
    killGroup(this.child.pid!, 'SIGCONT');
  }

  async destroy(): Promise<void> {
    if (!this.destroyed) {
      this.destroyed = true;
      killGroup(this.child.pid!, 'SIGKILL');
    }
    await this.exited;
    rmSync(this.cwd, { recursive: true, force: true });
  }

  logs(limitBytes: number, waitMs: number): Promise<LogSegment> {
    return this.output.logs(limitBytes, waitMs);
  }

  logsAtOnce(limitBytes: number, waitMs: number): LogSegment | undefined {
    return this.output.logsAtOnce(limitBytes, waitMs);
  }

  /** What the process printed first, for start-up failures. */
  startupOutput(): string {
    return this.output.text();
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
