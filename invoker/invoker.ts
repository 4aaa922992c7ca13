import type { ActivationRecord } from '../common/activation.ts';
import type { Config } from '../common/config.ts';
import type { ContainerFactory } from '../common/container.ts';
import type { Logger } from '../common/logger.ts';
import type { EntityStore } from '../common/store/entity-store.ts';
import { runtimeImage } from '../runtimes/index.ts';
import { type ActivationJob, ActivationRunner } from './activation-runner.ts';
import { selectFactory } from './factory/select.ts';
import type { InvokerMetrics } from './metrics.ts';
import { ContainerPool, type Lease, type PoolContainer, type PoolStats } from './pool.ts';
import { ProxyClient } from './proxy-client.ts';
import { RecordWriter } from '../common/record-writer.ts';

export type InvokerConfig = Pick<
  Config,
  'containerFactory' | 'invokerId' | 'containerPidsLimit' | 'dataDir' | 'invokerMemoryMb' | 'prewarm' | 'pauseGraceMs' | 'idleContainerTimeoutMs'
> &
  Partial<Pick<Config, 'dockerNetwork' | 'runtimeImages' | 'actionFirewall' | 'actionOutbound' | 'actionTmpMb'>>;

/**
 * One invoker: a container factory, the container pool with its stem cells, the
 * activation runner and the batched record writer, started and closed together.
 */
export class Invoker {
  private constructor(
    readonly factory: ContainerFactory,
    readonly pool: ContainerPool,
    private readonly runner: ActivationRunner,
    private readonly records: RecordWriter,
    private readonly client: ProxyClient,
    /** Memory for action containers (MB). */
    readonly memoryMb: number,
    /** Resolves once the configured stem cells have started (or failed to). */
    readonly prewarmed: Promise<void>,
  ) {}

  static async start(config: InvokerConfig, store: Pick<EntityStore, 'putActivations'>, log: Logger, opts: { factory?: ContainerFactory; apiHost?: string; onProgress?: (line: string) => void; metrics?: InvokerMetrics } = {}): Promise<Invoker> {
    const factory = opts.factory ?? (await selectFactory(config, log, opts.onProgress, opts.apiHost));
    await factory.init();
    const pool = new ContainerPool(factory, {
      memoryMb: config.invokerMemoryMb,
      prewarm: config.prewarm.map((p) => ({ kind: p.kind, image: runtimeImage(p.kind), memoryMb: p.memory, count: p.count })),
      pauseGraceMs: config.pauseGraceMs,
      idleTimeoutMs: config.idleContainerTimeoutMs,
      log,
      ...(opts.metrics ? { onStart: opts.metrics.started } : {}),
    });
    const records = new RecordWriter(store, log);
    const client = new ProxyClient();
    // the factory knows how its containers reach the API (from a Docker container, the host's loopback is not the invoker's)
    const apiHost = factory.apiHost ?? opts.apiHost;
    const runner = new ActivationRunner({ pool, client, store: (r, how) => records.write(r, how), imageOf: runtimeImage, log, apiHost });
    // the stem cells start meanwhile, as OpenWhisk's do: an activation that comes first starts a container of its own
    const prewarmed = pool.start();
    const invoker = new Invoker(factory, pool, runner, records, client, config.invokerMemoryMb, prewarmed);
    opts.metrics?.watchPool(invoker);
    log.info({ factory: factory.name, memoryMb: config.invokerMemoryMb, prewarm: config.prewarm }, 'invoker ready');
    return invoker;
  }

  /** Run one activation; `onResponse` fires as soon as the result is known, the promise once the record is stored. `leased`: its container, from `prepare`. */
  run(job: ActivationJob, onResponse?: (record: ActivationRecord) => void, leased?: Promise<Lease>): Promise<ActivationRecord> {
    return this.runner.run(job, onResponse, leased);
  }

  /**
   * Take a container for a job that runs soon (a pipeline's later stage): resumed, or
   * started, while something else runs. `queued`: the pool could not place it at once — it
   * waits for room, and whoever holds containers for jobs that run after this one should not
   * take more until it has its own (a pipeline never holds a container while an earlier
   * stage waits for one, so it cannot keep the room that stage waits for).
   */
  prepare(job: ActivationJob): { lease: Promise<Lease>; queued: boolean } {
    const lease = this.pool.acquire(this.runner.placement(job));
    return { lease, queued: this.pool.stats().queued > 0 };
  }

  /** Give back a prepared container whose job will not run: kept warm, or removed when it never got the action's code. */
  unprepare(lease: Lease): void {
    this.pool.release(lease, lease.needsInit ? 'destroy' : 'keep');
  }

  /** Store a record made outside a run (an action that could not be read), batched with the others. */
  store(record: ActivationRecord): Promise<void> {
    return this.records.write(record);
  }

  stats(): PoolStats {
    return this.pool.stats();
  }

  /** Its containers with the action each serves (stem cells too, once taken). */
  containers(): PoolContainer[] {
    return this.pool.containers();
  }

  async close(): Promise<void> {
    await this.pool.close();
    await this.records.flush();
    await this.factory.close();
    this.client.close();
  }
}
