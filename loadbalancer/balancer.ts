import type { ActivationRecord } from '../common/activation.ts';
import { type BusMessage, type Consumer, type MessageBus, Topics } from '../common/bus.ts';
import { ServiceUnavailableError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { type ActivationMessage, decodeCompletion, encode } from '../common/messages.ts';

/** Chooses an invoker and holds its memory slots (ShardingScheduler). */
export interface Scheduler {
  schedule(namespace: string, fqn: string, memoryMb: number, sharing?: { concurrency?: number; revision?: string }): { invokerId: number; forced: boolean; shared?: string } | undefined;
  release(invokerId: number, memoryMb: number, shared?: string): void;
}

/** Hears how activations ended on each invoker (HealthMonitor). */
export interface OutcomeSink {
  outcome(invokerId: number, kind: 'ok' | 'systemError' | 'timeout'): void;
  /** Read the health store now (when no invoker seems up: one may have just started). */
  refresh?(): Promise<void>;
}

export interface LoadBalancerOptions {
  controllerId: string;
  bus: MessageBus;
  scheduler: Scheduler;
  health: OutcomeSink;
  log: Logger;
  /**
   * Called once per activation as soon as it has ended for its caller — its result arrived,
   * or its completion, or the balancer gave up — so the namespace's concurrency throttle is
   * not held while the record is still being written.
   */
  onFinished?: (a: { activationId: string; namespace: string }) => void;
  /** How long past the action's time limit to wait for a completion before giving the slot back. */
  completionGraceMs?: number;
}

/** What the balancer needs to know of the action it places. */
export interface Placement {
  /** Fully qualified action name (`ns/[pkg/]name`): the sharding key with the namespace. */
  fqn: string;
  memoryMb: number;
  timeoutMs: number;
  /** Activations one container of the action runs at once (default 1): memory is held per container. */
  concurrency?: number;
  /** The action's revision: containers of another revision are not shared. */
  revision?: string;
}

/** What a blocking caller gets: the record, and a pipeline's further stages' records. */
interface Answer {
  record: ActivationRecord;
  stages?: ActivationRecord[];
}

/** Resolved with nothing: what a non-blocking message (and one without stages) waits for. */
const NOTHING: Promise<undefined> = Promise.resolve(undefined);

/** A posted activation: where it went, its record to come (blocking), its pipeline stages' records. */
export interface Published {
  invokerId: number;
  result: Promise<ActivationRecord | undefined>;
  stages: Promise<ActivationRecord[] | undefined>;
}

/**
 * The promises of a message's answer, and `entry.result` resolving them: the record for a
 * blocking message, the stages for a pipeline's. Only those that can hold something are made
 * (each promise costs on the invoke path while AsyncLocalStorage carries the log context).
 */
function answerOf(message: ActivationMessage, entry: InFlight): { result: Promise<ActivationRecord | undefined>; stages: Promise<ActivationRecord[] | undefined> } {
  if (!message.blocking) return { result: NOTHING, stages: NOTHING };
  let record!: (r: ActivationRecord | undefined) => void;
  const result = new Promise<ActivationRecord | undefined>((ok) => (record = ok));
  if (!message.pipeline) {
    entry.result = (a) => record(a?.record);
    return { result, stages: NOTHING };
  }
  let staged!: (s: ActivationRecord[] | undefined) => void;
  const stages = new Promise<ActivationRecord[] | undefined>((ok) => (staged = ok));
  entry.result = (a) => (record(a?.record), staged(a?.stages));
  return { result, stages };
}

interface InFlight {
  invokerId: number;
  namespace: string;
  memoryMb: number;
  /** The scheduler's key of the action's shared containers (concurrency above 1). */
  shared: string | undefined;
  timer: NodeJS.Timeout;
  result?: (answer: Answer | undefined) => void;
  resulted: boolean;
  ended: boolean;
}

/** Messages of the balancer's errors, as OpenWhisk words them. */
export const BalancerMessages = {
  noInvokers: 'No invokers available.',
  busDown: 'The activation could not be scheduled: the message bus is not reachable.',
} as const;

/**
 * The controller's side of the invoke path (OpenWhisk's LoadBalancer): places each
 * activation on an invoker, posts it to `invoker<N>`, keeps its memory slots until the
 * completion comes back on `completed<controllerId>`, and hands blocking callers the result
 * as soon as the invoker sends it. An activation whose completion does not come within its
 * time limit plus a grace period gives its slots back and counts against the invoker's health.
 */
export class LoadBalancer {
  private readonly inFlight = new Map<string, InFlight>();
  private consumer: Consumer | undefined;
  private refreshing: Promise<void> | undefined;

  private constructor(private readonly opts: LoadBalancerOptions) {}

  static async start(opts: LoadBalancerOptions): Promise<LoadBalancer> {
    const lb = new LoadBalancer(opts);
    const topic = Topics.completed(opts.controllerId);
    await opts.bus.ensureTopics([topic]);
    lb.consumer = await opts.bus.subscribe({
      topic,
      group: topic,
      consumerId: `controller${opts.controllerId}`,
      maxInFlight: 10_000,
      handler: (msg) => lb.onMessage(msg),
    });
    return lb;
  }

  /** Activations placed and not completed yet. */
  get activeCount(): number {
    return this.inFlight.size;
  }

  /**
   * Place and post the activation. Resolves once the bus holds it; `result` resolves with the
   * record (without logs) when the invoker sends it — only for blocking messages — or with
   * undefined when the balancer gave up waiting; `stages` likewise with the records of a
   * pipeline's stages after the first (ActivationMessage.pipeline).
   */
  publish(message: ActivationMessage, placement: Placement): Promise<Published> {
    // not async: on the invoke path, where each promise costs while AsyncLocalStorage carries the log context
    try {
      // encoded before a slot is taken and outside the bus's try: a value that cannot be
      // written is our fault (500), not a bus that is down
      const encoded = encode(message);
      const chosen = this.schedule(message, placement);
      if (chosen || !this.opts.health.refresh) return this.post(message, placement, encoded, chosen);
      // an invoker that started since the last poll is not missed; callers arriving meanwhile share one read
      this.refreshing ??= this.opts.health.refresh().finally(() => setTimeout(() => (this.refreshing = undefined), 500).unref());
      return this.refreshing.catch(() => undefined).then(() => this.post(message, placement, encoded, this.schedule(message, placement)));
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  private schedule(message: ActivationMessage, placement: Placement): ReturnType<Scheduler['schedule']> {
    return this.opts.scheduler.schedule(message.namespace, placement.fqn, placement.memoryMb, { concurrency: placement.concurrency, revision: placement.revision });
  }

  /** Take the chosen invoker's slot and post the message to its topic. */
  private post(message: ActivationMessage, placement: Placement, encoded: string, chosen: ReturnType<Scheduler['schedule']>): Promise<Published> {
    if (!chosen) throw new ServiceUnavailableError(BalancerMessages.noInvokers);
    const { invokerId } = chosen;
    const entry: InFlight = {
      invokerId,
      namespace: message.namespace,
      memoryMb: placement.memoryMb,
      shared: chosen.shared,
      resulted: false,
      ended: false,
      timer: setTimeout(() => this.giveUp(message.activationId), placement.timeoutMs + (this.opts.completionGraceMs ?? 60_000)),
    };
    entry.timer.unref();
    const { result, stages } = answerOf(message, entry);
    this.inFlight.set(message.activationId, entry);
    let posted: Promise<void>;
    try {
      posted = this.opts.bus.produce(Topics.invoker(invokerId), [encoded]);
    } catch (e) {
      posted = Promise.reject(e as Error);
    }
    return posted.then(
      () => ({ invokerId, result, stages }),
      (e: unknown) => {
        this.finish(message.activationId, entry);
        this.opts.log.error({ err: e, invoker: invokerId }, 'could not post an activation');
        throw new ServiceUnavailableError(BalancerMessages.busDown, { cause: e });
      },
    );
  }

  private onMessage(msg: BusMessage): void {
    let m;
    try {
      m = decodeCompletion(msg.value);
    } catch (e) {
      this.opts.log.error({ err: e, id: msg.id }, 'dropping a message that is not a completion');
      return;
    }
    const entry = this.inFlight.get(m.activationId);
    // completions of activations this controller gave up on, or published before a restart
    if (!entry) return;
    if (m.type === 'result') {
      entry.resulted = true;
      entry.result?.({ record: m.record, ...(m.stages ? { stages: m.stages } : {}) });
      this.ended(m.activationId, entry);
      return;
    }
    this.finish(m.activationId, entry);
    this.opts.health.outcome(m.invokerId, m.systemError ? 'systemError' : 'ok');
  }

  private giveUp(activationId: string): void {
    const entry = this.inFlight.get(activationId);
    if (!entry) return;
    this.opts.log.warn({ activationId, invoker: entry.invokerId }, 'no completion from the invoker in time; freeing the slot');
    this.finish(activationId, entry);
    this.opts.health.outcome(entry.invokerId, 'timeout');
  }

  private finish(activationId: string, entry: InFlight): void {
    clearTimeout(entry.timer);
    this.inFlight.delete(activationId);
    this.opts.scheduler.release(entry.invokerId, entry.memoryMb, entry.shared);
    if (!entry.resulted) entry.result?.(undefined);
    this.ended(activationId, entry);
  }

  private ended(activationId: string, entry: InFlight): void {
    if (entry.ended) return;
    entry.ended = true;
    this.opts.onFinished?.({ activationId, namespace: entry.namespace });
  }

  async close(): Promise<void> {
    await this.consumer?.close();
    for (const [id, entry] of this.inFlight) {
      clearTimeout(entry.timer);
      entry.result?.(undefined);
      this.inFlight.delete(id);
    }
  }
}
