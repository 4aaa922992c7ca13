import { type ActivationRecord, type ActivationResponse, hasError } from '../common/activation.ts';
import { type BusMessage, type Consumer, type MessageBus, sharedBus, Topics } from '../common/bus.ts';
import { NotFoundError } from '../common/errors.ts';
import type { Action, Stored } from '../common/entities.ts';
import { HEARTBEAT_CONTAINERS, type HealthStore, type InvokerHeartbeat } from '../common/health.ts';
import { type Logger, withLogContext } from '../common/logger.ts';
import { type ActivationMessage, type CompletionMessage, decodeActivation, encode, type PipelineStage } from '../common/messages.ts';
import type { EntityStore } from '../common/store/entity-store.ts';
import { ActionCache } from './action-cache.ts';
import type { ActivationJob } from './activation-runner.ts';
import type { Invoker } from './invoker.ts';
import type { InvokerMetrics } from './metrics.ts';
import type { ActivationObserver } from './observed.ts';
import { runPipeline, type Stage } from './pipeline.ts';
import type { Lease } from './pool.ts';
import { internalError, response } from './response.ts';

export interface InvokerServiceOptions {
  id: number;
  bus: MessageBus;
  health: HealthStore;
  store: Pick<EntityStore, 'get' | 'getActivation'>;
  invoker: Invoker;
  log: Logger;
  /** Activations taken from the bus at once (the pool queues what it cannot start yet). */
  maxInFlight?: number;
  /** Heartbeat period and how long one keeps the invoker live (offline within `heartbeatTtlMs` of a crash). */
  heartbeatMs?: number;
  heartbeatTtlMs?: number;
  /** Where this invoker's operations endpoints answer (reported in heartbeats). */
  url?: string;
  /** Told of each activation once its result is known (metrics, user events). */
  observers?: ActivationObserver[];
  /** Observes how long activation messages took to arrive. */
  metrics?: Pick<InvokerMetrics, 'delivered'>;
}

export const ActionMessages = {
  actionRemoved: 'Action could not be found or may have been deleted.',
  noRecordStore: 'The activation record could not be stored.',
} as const;

/**
 * An invoker on the bus (OpenWhisk's InvokerReactive): consumes `invoker<id>`, runs each
 * activation through the invoker core, sends the result to the publishing controller as
 * soon as it is known (blocking callers), and a completion once the record is stored —
 * only then is the message acknowledged. Heartbeats go to the health store. When another
 * invoker goes offline, the lowest-numbered live invoker takes over its topic, so work that
 * the dead invoker had not finished is run and answered.
 */
export class InvokerService {
  private consumer: Consumer | undefined;
  private readonly adopted = new Map<number, Promise<Consumer>>();
  private readonly actions: ActionCache;
  private readonly startedAt = Date.now();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  private draining = false;
  /** Set by disable(), cleared by enable(). */
  private disabling: Promise<void> | undefined;
  private enabling: Promise<void> | undefined;
  private offline = false;
  private closed = false;
  private running = 0;
  private lastBeatError = 0;

  private constructor(private readonly opts: InvokerServiceOptions) {
    this.actions = new ActionCache(opts.store);
  }

  static async start(opts: InvokerServiceOptions): Promise<InvokerService> {
    const service = new InvokerService(opts);
    await opts.bus.ensureTopics([Topics.invoker(opts.id), Topics.health]);
    service.consumer = await service.consume(opts.id, false);
    await service.beat();
    service.startHeartbeats();
    opts.log.info({ invoker: opts.id, bus: opts.bus.name }, 'invoker is taking activations');
    return service;
  }

  /** Activations being handled now (own topic and adopted ones). */
  get inFlight(): number {
    return this.running;
  }

  /** `up` (taking work), `draining` (finishing what runs), `disabled` (drained and offline), `stopped`. */
  get state(): 'up' | 'draining' | 'disabled' | 'stopped' {
    if (this.closed) return 'stopped';
    if (!this.draining) return 'up';
    return this.offline ? 'disabled' : 'draining';
  }

  /** Stop taking work (finishing what is running), say so in heartbeats. */
  async drain(): Promise<void> {
    this.draining = true;
    await this.beat();
    await Promise.all([this.consumer?.close(), ...[...this.adopted.values()].map((c) => c.then((x) => x.close(), () => undefined))]);
    this.consumer = undefined;
    this.adopted.clear();
  }

  /**
   * An operator's drain (POST /disable): stop taking work, finish what is running, then
   * report offline, so that another invoker takes over this invoker's topic (what was sent
   * to it meanwhile runs there). The process stays up; `enable()` brings it back. Resolves
   * once drained; calling it again while draining returns the same promise.
   */
  disable(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the invoker is stopping'));
    this.disabling ??= (async () => {
      this.opts.log.info({ inFlight: this.running }, 'disabled: finishing the activations in flight, taking nothing new');
      await this.drain();
      await this.goOffline();
      this.offline = true;
      this.opts.log.info('drained: reported offline until enabled');
    })();
    return this.disabling;
  }

  /** Take work again after `disable()` (waiting for its drain to end first). */
  enable(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the invoker is stopping'));
    if (!this.disabling) return Promise.resolve();
    const disabling = this.disabling;
    this.enabling ??= (async () => {
      await disabling;
      this.consumer = await this.consume(this.opts.id, false);
      this.draining = false;
      this.offline = false;
      this.disabling = undefined;
      await this.beat();
      this.startHeartbeats();
      this.opts.log.info('enabled: taking activations again');
    })().finally(() => (this.enabling = undefined));
    return this.enabling;
  }

  /** Graceful stop: finish running activations, then report offline. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.disabling?.catch(() => undefined);
    await this.drain();
    this.closed = true;
    await this.goOffline();
  }

  /** Stop as a crash would (tests): nothing more is acknowledged or answered. */
  async abort(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    await Promise.all([this.consumer?.abort(), ...[...this.adopted.values()].map((c) => c.then((x) => x.abort(), () => undefined))]);
  }

  // ---- consuming --------------------------------------------------------------------

  private consume(topicOwner: number, adopting: boolean): Promise<Consumer> {
    return this.opts.bus.subscribe({
      topic: Topics.invoker(topicOwner),
      group: Topics.invoker(topicOwner),
      consumerId: Topics.invoker(this.opts.id),
      maxInFlight: this.opts.maxInFlight ?? 256,
      // taking over a dead invoker's topic: its unacknowledged messages are ours at once
      ...(adopting ? { claimIdleMs: 3_000 } : {}),
      handler: (msg) => this.handle(msg, adopting),
    });
  }

  private handle(msg: BusMessage, adopting: boolean): Promise<void> {
    let m: ActivationMessage;
    try {
      m = decodeActivation(msg.value);
    } catch (e) {
      this.opts.log.error({ err: e, topic: msg.topic, id: msg.id }, 'dropping a message that is not an activation');
      return Promise.resolve();
    }
    this.opts.metrics?.delivered(msg.topic, m.receivedAt);
    // every line logged while it runs names the activation (and the request that made it)
    const context = { tid: m.transactionId, activationId: m.activationId, namespace: m.namespace, action: `/${m.action.path}/${m.action.name}` };
    // the activation's promise is the handler's, with no async frame around it: on Node 20 each
    // promise pays for the hooks of the AsyncLocalStorage that carries this context
    return withLogContext(context, () => this.activate(m, msg.redelivered || adopting || m.receivedAt < this.startedAt));
  }

  /** Run the activation (or answer from its records when it ran already), counted in `running` until done. */
  private async activate(m: ActivationMessage, maybeSeen: boolean): Promise<void> {
    this.running++;
    try {
      const log = this.opts.log;
      const topic = Topics.completed(m.controllerId);
      const answer = (records: ActivationRecord[]) => {
        const [record, ...stages] = records;
        if (m.blocking && record) return this.send(topic, { type: 'result', activationId: m.activationId, invokerId: this.opts.id, record, ...(m.pipeline ? { stages } : {}) }, log);
      };
      const complete = (systemError: boolean) => this.send(topic, { type: 'completion', activationId: m.activationId, invokerId: this.opts.id, systemError }, log);
      // a message delivered again after a crash may have run already: answer from its records
      const done = maybeSeen ? await this.ranAlready(m) : [];
      // a pipeline that a crash interrupted goes on after the last stage that ran
      const unfinished = m.pipeline !== undefined && done.length > 0 && done.length <= m.pipeline.length && !hasError(done.at(-1)!.response);
      if (done.length && !unfinished) {
        log.info('activation already ran; answering from its record');
        await answer(done);
        await complete(done.some((r) => r.response.statusCode === 3));
        return;
      }
      if (m.pipeline) return await this.activatePipeline(m, answer, complete, log, done);
      let record: ActivationRecord | undefined;
      const stored = await this.runOne(m, (r) => void answer([(record = r)]), log);
      await complete(!stored || record!.response.statusCode === 3);
    } finally {
      this.running--;
    }
  }

  /**
   * A sequence's components as one pipeline (ActivationMessage.pipeline): each stage runs on
   * the previous result as soon as it is known, and every stage's container is asked for at
   * once — resumed or started while earlier stages run — except after one that waits for
   * room in the pool: the stages after it ask once it has its container, so a stage holding
   * a container waits only on stages that hold theirs (Invoker.prepare). The records go back
   * together once the last result is known; a container taken for a stage that does not run
   * goes back unused. `ran`: the records of the stages that
   * ran before a crash (a redelivered message): the pipeline goes on from the next one.
   */
  private async activatePipeline(m: ActivationMessage, answer: (records: ActivationRecord[]) => Promise<void> | undefined, complete: (systemError: boolean) => Promise<void>, log: Logger, ran: ActivationRecord[]): Promise<void> {
    const messages = [m, ...m.pipeline!.map((stage) => this.stageMessage(m, stage))].slice(ran.length);
    const actions = messages.map((sm) => this.actions.get(sm.action.path, sm.action.name, sm.action.rev));
    for (const a of actions) a.catch(() => undefined); // a missing action is its stage's record, when it is reached
    let stopped = false;
    // stages ask in order; the next one asks at once unless this one waits for room, then once it has its container
    let mayAsk: Promise<unknown> = Promise.resolve();
    const leases = messages.map((sm, i) => {
      // an action that an earlier stage runs too takes that container again when its turn comes, rather than a second one now
      const again = messages.slice(0, i).some((e) => e.action.path === sm.action.path && e.action.name === sm.action.name);
      const asked = mayAsk.then(async () => (stopped || again ? undefined : this.opts.invoker.prepare(this.job(sm, await actions[i]!))));
      mayAsk = asked.then((p) => (p?.queued ? p.lease : undefined)).catch(() => undefined);
      // no container taken ahead (a missing action, a pool that refuses): the stage asks for its own when it runs
      return asked.then((p) => p?.lease).catch(() => undefined);
    });
    const stored: boolean[] = [];
    const stages = messages.map(
      (sm, i): Stage =>
        async (input, onResponse) => {
          const stage = ran.length + i;
          const params = stage === 0 ? input : { ...m.pipeline![stage - 1]!.defaults, ...input };
          stored[i] = await this.runOne({ ...sm, params, receivedAt: stage === 0 ? m.receivedAt : Date.now() }, onResponse, log, { action: actions[i]!, lease: leases[i]! });
        },
    );
    const { answered, done } = runPipeline(stages, ran.length ? ((ran.at(-1)!.response.result ?? {}) as Record<string, unknown>) : m.params);
    const records = await answered;
    stopped = true;
    for (const lease of leases.slice(records.length)) void lease.then((l) => l && this.opts.invoker.unprepare(l));
    await answer([...ran, ...records]);
    await done;
    await complete(stored.includes(false) || records.some((r) => r.response.statusCode === 3));
  }

  /**
   * Run one activation; whatever goes wrong outside the action still ends in a record, given
   * to `onResponse` (once, as soon as the result is known). Resolves with whether the record
   * was stored. `ahead`: its action and container, asked for beforehand (a pipeline's stage).
   */
  private runOne(m: ActivationMessage, onResponse: (r: ActivationRecord) => void, log: Logger, ahead?: { action: Promise<Stored<Action>>; lease: Promise<Lease | undefined> }): Promise<boolean> {
    let observed = false;
    const respond = (r: ActivationRecord) => {
      if (observed) return;
      observed = true;
      this.observe(r, m, log);
      onResponse(r);
    };
    const failed = (e: unknown) => this.runFailed(m, e, respond, log);
    // an action read before (nearly every activation) runs at once, with one promise rather than
    // an async frame and its awaits: on Node 20 each pays for AsyncLocalStorage's hooks
    const action = ahead ? undefined : this.actions.cached(m.action.path, m.action.name, m.action.rev);
    if (!action) return this.readAndRun(m, respond, failed, ahead);
    try {
      return this.opts.invoker.run(this.job(m, action), respond).then(() => true, failed);
    } catch (e) {
      return failed(e);
    }
  }

  /** runOne for an action still to be read, or with what a pipeline asked for ahead. */
  private async readAndRun(m: ActivationMessage, respond: (r: ActivationRecord) => void, failed: (e: unknown) => Promise<boolean>, ahead?: { action: Promise<Stored<Action>>; lease: Promise<Lease | undefined> }): Promise<boolean> {
    try {
      const action = await (ahead?.action ?? this.actions.get(m.action.path, m.action.name, m.action.rev));
      const lease = ahead ? await ahead.lease : undefined;
      await this.opts.invoker.run(this.job(m, action), respond, lease && Promise.resolve(lease));
      return true;
    } catch (e) {
      return failed(e);
    }
  }

  /** An activation that failed outside the action (no action to run, or its record could not be stored): still answered, so nobody waits in vain. */
  private async runFailed(m: ActivationMessage, e: unknown, respond: (r: ActivationRecord) => void, log: Logger): Promise<boolean> {
    const removed = e instanceof NotFoundError;
    if (!removed) log.error({ err: e }, 'activation failed outside the action');
    const record = this.failedRecord(m, removed ? response('applicationError', { error: ActionMessages.actionRemoved }) : internalError(ActionMessages.noRecordStore));
    const stored = removed && (await this.opts.invoker.store(record).then(
      () => true,
      () => false,
    ));
    respond(record);
    return stored;
  }

  private job(m: ActivationMessage, action: Stored<Action>): ActivationJob {
    return { activationId: m.activationId, transactionId: m.transactionId, namespace: m.namespace, subject: m.subject, apiKey: m.apiKey, action, rev: action._rev, params: m.params, cause: m.cause, annotations: m.annotations, receivedAt: m.receivedAt };
  }

  /** A pipeline's later stage as the activation message it would be on its own. */
  private stageMessage(m: ActivationMessage, stage: PipelineStage): ActivationMessage {
    const { pipeline: _, apiKey: __, annotations: ___, ...envelope } = m;
    return { ...envelope, activationId: stage.activationId, action: stage.action, ...(stage.apiKey ? { apiKey: stage.apiKey } : {}), ...(stage.annotations ? { annotations: stage.annotations } : {}) };
  }

  /** The stored records of a message that may have run already: its own, then a pipeline's stages', up to the first missing. */
  private async ranAlready(m: ActivationMessage): Promise<ActivationRecord[]> {
    const records: ActivationRecord[] = [];
    for (const id of [m.activationId, ...(m.pipeline ?? []).map((s) => s.activationId)]) {
      const done = await this.opts.store.getActivation(m.namespace, id).catch(() => undefined);
      if (!done) break;
      records.push(done);
    }
    return records;
  }

  private observe(record: ActivationRecord, m: ActivationMessage, log: Logger): void {
    for (const observer of this.opts.observers ?? []) {
      try {
        observer(record, m);
      } catch (e) {
        log.warn({ err: e }, 'an activation observer failed');
      }
    }
  }

  private failedRecord(m: ActivationMessage, res: ActivationResponse): ActivationRecord {
    const now = Date.now();
    return {
      activationId: m.activationId,
      namespace: m.namespace,
      // as the runner's records: the name alone; the package is in the path annotation
      name: m.action.name,
      subject: m.subject,
      version: '0.0.0',
      publish: false,
      start: now,
      end: now,
      duration: 0,
      annotations: [{ key: 'path', value: `${m.action.path}/${m.action.name}` }],
      logs: [],
      response: res,
      ...(m.cause ? { cause: m.cause } : {}),
    };
  }

  /** Produce to the controller, retrying while the bus recovers; a lost answer is logged, never thrown. */
  private send(topic: string, message: CompletionMessage, log: Logger): Promise<void> {
    // the first try without an async frame (twice per activation on the invoke path), the retries in one
    let value: string;
    try {
      value = encode(message);
    } catch (e) {
      log.error({ err: e, type: message.type }, 'could not encode an answer to the controller');
      return Promise.resolve();
    }
    return this.opts.bus.produce(topic, [value]).catch((e: unknown) => {
      log.warn({ err: e, type: message.type }, 'could not send to the controller; retrying');
      return this.sendAgain(topic, message, log);
    });
  }

  private async sendAgain(topic: string, message: CompletionMessage, log: Logger): Promise<void> {
    for (const delay of [100, 500, 2_000, 5_000]) {
      await new Promise((r) => setTimeout(r, delay));
      try {
        return await this.opts.bus.produce(topic, [encode(message)]);
      } catch (e) {
        log.warn({ err: e, type: message.type }, 'could not send to the controller; retrying');
      }
    }
    log.error({ type: message.type }, 'gave up sending to the controller');
  }

  // ---- health -------------------------------------------------------------------------

  private heartbeat(status: InvokerHeartbeat['status'] = this.draining ? 'draining' : 'up'): InvokerHeartbeat {
    const s = this.opts.invoker.stats();
    return {
      id: this.opts.id,
      status,
      memoryMb: this.opts.invoker.memoryMb,
      running: s.busy,
      queued: s.queued,
      containers: s.containers,
      pool: { prewarm: s.prewarm, idle: s.idle, paused: s.paused, busy: s.busy, starting: s.starting, memoryUsedMb: s.memoryUsedMb },
      containerList: this.opts.invoker.containers().slice(0, HEARTBEAT_CONTAINERS),
      startedAt: this.startedAt,
      at: Date.now(),
      ...(this.opts.url ? { url: this.opts.url } : {}),
    };
  }

  /**
   * One heartbeat: into the health store (what controllers decide by) and, as OpenWhisk's
   * invokers ping, onto the `health` topic of a shared bus for anyone watching the cluster.
   */
  private beat(): Promise<void> {
    const hb = this.heartbeat();
    const failed = (e: Error) => {
      if (Date.now() - this.lastBeatError > 10_000) this.opts.log.warn({ err: e }, 'could not send a heartbeat');
      this.lastBeatError = Date.now();
    };
    // (not on a one-process bus: nobody else could watch, and unread messages would pile up to its cap)
    // (OpenWhisk's ping is small: the container list stays in the health store, for operators)
    const publish = sharedBus(this.opts.bus) ? this.opts.bus.produce(Topics.health, [JSON.stringify({ ...hb, containerList: undefined })]) : undefined;
    this.beating = Promise.all([this.opts.health.beat(hb, this.opts.heartbeatTtlMs ?? 5_000), publish]).then(() => undefined, failed);
    return this.beating;
  }

  private startHeartbeats(): void {
    this.heartbeatTimer = setInterval(() => void this.tick(), this.opts.heartbeatMs ?? 1_000);
    this.heartbeatTimer.unref();
  }

  /** Stop heartbeating, with a last heartbeat that expires at once: controllers see the invoker offline now. */
  private async goOffline(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    await this.beating;
    await this.opts.health.beat(this.heartbeat('draining'), 1).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    if (this.closed || !this.heartbeatTimer) return;
    await this.beat();
    await this.adoptOrphans().catch((e: Error) => this.opts.log.warn({ err: e }, 'could not check for offline invokers'));
  }

  /** The lowest-numbered live invoker consumes the topics of offline ones until they return. */
  private async adoptOrphans(): Promise<void> {
    if (this.draining || this.closed) return;
    const known = await this.opts.health.invokers();
    const live = known.filter((k) => k.live && k.heartbeat.status !== 'draining').map((k) => k.heartbeat.id);
    const leader = Math.min(this.opts.id, ...live);
    const orphans = leader === this.opts.id ? known.filter((k) => !k.live && k.heartbeat.id !== this.opts.id).map((k) => k.heartbeat.id) : [];
    for (const id of orphans) {
      if (this.adopted.has(id)) continue;
      this.opts.log.warn({ offline: id }, 'invoker is offline; taking over its activations');
      const consumer = this.consume(id, true);
      consumer.catch((e: Error) => {
        this.opts.log.warn({ offline: id, err: e }, 'could not take over the topic; trying again');
        this.adopted.delete(id);
      });
      this.adopted.set(id, consumer);
    }
    for (const [id, consumer] of this.adopted) {
      if (orphans.includes(id)) continue;
      this.adopted.delete(id);
      this.opts.log.info({ invoker: id }, 'invoker is back (or another one took over); handing its topic back');
      await consumer.then((c) => c.close(), () => undefined);
    }
  }
}
