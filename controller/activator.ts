import { type ActivationRecord, newActivationId } from '../common/activation.ts';
import { annotation, type KeyValue } from '../common/entities.ts';
import type { Identity } from '../common/identity.ts';
import { type Logger, withLogContext } from '../common/logger.ts';
import type { ActivationMessage, PipelineStage } from '../common/messages.ts';
import type { QualifiedName } from '../common/names.ts';
import type { LoadBalancer } from '../loadbalancer/balancer.ts';
import type { ActionKeys } from './action-keys.ts';
import type { PipelineComponent } from './pipeline.ts';
import type { ResolvedAction, Resolver } from './resolver.ts';

/**
 * Admission per namespace (Throttler): a TooManyRequestsError refuses; `finished` frees the
 * concurrency slot. undefined: done at once, without a promise (the store in memory).
 */
export interface Admission {
  admitInvoke(identity: Pick<Identity, 'namespace' | 'limits'>, activationId: string, expiresAt: number): Promise<void> | undefined;
  finished(namespace: string, activationId: string): Promise<void> | undefined;
}

export interface InvokeRequest {
  identity: Identity;
  /** The action, its namespace already resolved. */
  target: QualifiedName;
  /** Parameters of the request: they win over the action's and its package's. */
  params: Record<string, unknown>;
  blocking: boolean;
  /** How long a blocking caller waits for the result before getting the activation id. */
  waitMs: number;
  tid: string;
  cause?: string;
  /** What caused it, recorded on the activation as `causedBy` (OpenWhisk marks sequence components so). */
  causedBy?: 'sequence';
  /**
   * Annotations the record carries besides the invoker's; one named like the invoker's own
   * (`path`) replaces it. A hub action's run: filed under the caller's action, with its REF.
   */
  annotations?: KeyValue[];
}

/** `record` is absent when the activation was not waited for, or is still running after the wait. */
export interface InvokeOutcome {
  activationId: string;
  record?: ActivationRecord;
}

/**
 * Runs actions of a kind the controller itself executes rather than an invoker
 * (sequences, built-in feed actions). It gets the resolved action, the merged parameters
 * and a fresh activation id, and owns writing the activation record.
 */
export type LocalKind = (req: InvokeRequest, resolved: ResolvedAction, params: Record<string, unknown>, activationId: string) => Promise<InvokeOutcome>;

/** The record, or none once the caller has waited `waitMs` (one promise, not a race of two). */
function awaitRecord(activationId: string, result: Promise<ActivationRecord | undefined>, waitMs: number): Promise<InvokeOutcome> {
  return new Promise<InvokeOutcome>((ok, fail) => {
    const timer = setTimeout(() => ok({ activationId }), waitMs);
    result.then(
      (record) => (clearTimeout(timer), ok(record ? { activationId, record } : { activationId })),
      (e: unknown) => (clearTimeout(timer), fail(e as Error)),
    );
  });
}

/**
 * Turns "invoke this action" into an activation on an invoker: reads the action (and its
 * package) through the entity cache, layers parameters (package < action < request),
 * applies the namespace's throttles, publishes through the load balancer, and for blocking
 * callers waits for the result. Triggers and sequences invoke through here too.
 */
export class Activator {
  private readonly local = new Map<string, LocalKind>();

  constructor(
    private readonly opts: {
      controllerId: string;
      resolver: Resolver;
      admission: Admission;
      balancer: LoadBalancer;
      actionKeys: Pick<ActionKeys, 'keyFor'>;
      log: Logger;
    },
  ) {}

  /** Let the controller run actions of `kind` itself. */
  useKind(kind: string, run: LocalKind): void {
    this.local.set(kind, run);
  }

  // promise chains, not async functions, on this path: each promise costs while AsyncLocalStorage carries the log context (Node 20)
  invoke(req: InvokeRequest): Promise<InvokeOutcome> {
    const cached = this.opts.resolver.cachedAction(req.identity.namespace, req.target);
    if (cached) return this.invokeResolved(req, cached);
    return this.opts.resolver.action(req.identity.namespace, req.target).then((resolved) => this.invokeResolved(req, resolved));
  }

  /** `invoke` for a caller that has resolved `req.target` already (to look at its annotations or kind first). */
  invokeResolved(req: InvokeRequest, resolved: ResolvedAction): Promise<InvokeOutcome> {
    try {
      const params = { ...resolved.params, ...req.params };
      const local = this.local.get(resolved.action.exec.kind);
      if (local) return local(req, resolved, params, newActivationId());
      return this.dispatch(req, resolved, params);
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  /** Send the activation to an invoker through the load balancer, what is logged on the way naming it. */
  private dispatch(req: InvokeRequest, resolved: ResolvedAction, params: Record<string, unknown>): Promise<InvokeOutcome> {
    const activationId = newActivationId();
    const context = { tid: req.tid, activationId, namespace: req.identity.namespace, action: `/${resolved.path}/${req.target.name}` };
    return withLogContext(context, () => this.place(req, resolved, params, activationId));
  }

  /** Admit, publish and, when blocking, wait for the record: promise chains (see invoke). */
  private place(req: InvokeRequest, resolved: ResolvedAction, params: Record<string, unknown>, activationId: string): Promise<InvokeOutcome> {
    try {
      const message = this.message(req, resolved, params, activationId);
      const admitting = this.opts.admission.admitInvoke(req.identity, activationId, message.receivedAt + resolved.action.limits.timeout + 120_000);
      return admitting ? admitting.then(() => this.publish(req, resolved, message)) : this.publish(req, resolved, message);
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  /** Post the admitted activation; its slot is freed again when it cannot be posted. */
  private publish(req: InvokeRequest, resolved: ResolvedAction, message: ActivationMessage): Promise<InvokeOutcome> {
    const { action } = resolved;
    const { activationId } = message;
    const placement = { fqn: `${resolved.path}/${req.target.name}`, memoryMb: action.limits.memory, timeoutMs: action.limits.timeout, concurrency: action.limits.concurrency, revision: action._rev };
    return this.opts.balancer.publish(message, placement).then(
      ({ result }) => (req.blocking ? awaitRecord(activationId, result, req.waitMs) : { activationId }),
      async (e: unknown) => {
        await this.opts.admission.finished(req.identity.namespace, activationId)?.catch(() => undefined);
        throw e;
      },
    );
  }

  /**
   * Run a sequence's components as one pipeline on one invoker (all stdio actions: see
   * controller/pipeline.ts): one message for the first component naming the others, each
   * component admitted by the namespace's throttles as if invoked alone. Resolves with every
   * component's record that ran, in order, or undefined when the invoker did not answer in
   * time; throws (nothing having run) when it cannot be placed or admitted.
   */
  async invokePipeline(req: InvokeRequest, components: PipelineComponent[], params: Record<string, unknown>): Promise<ActivationRecord[] | undefined> {
    const [first, ...rest] = components;
    if (!first) return [];
    const { identity } = req;
    const message: ActivationMessage = {
      ...this.message(req, first.resolved, { ...first.resolved.params, ...params }, first.activationId),
      pipeline: rest.map(({ resolved, activationId }) => ({ activationId, ...this.stage(req, resolved) })),
    };
    const timeoutMs = components.reduce((sum, c) => sum + c.resolved.action.limits.timeout, 0);
    const admitted: string[] = [];
    const finished = (ids: string[]) => Promise.all(ids.map((id) => this.opts.admission.finished(identity.namespace, id)?.catch(() => undefined)));
    let answer: { result: Promise<ActivationRecord | undefined>; stages: Promise<ActivationRecord[] | undefined> };
    try {
      for (const { activationId } of components) {
        await this.opts.admission.admitInvoke(identity, activationId, message.receivedAt + timeoutMs + 120_000);
        admitted.push(activationId);
      }
      answer = await this.opts.balancer.publish(message, {
        fqn: `${first.resolved.path}/${first.resolved.action.name}`,
        // the stages run one after the other: one container busy at a time
        memoryMb: Math.max(...components.map((c) => c.resolved.action.limits.memory)),
        timeoutMs,
      });
    } catch (e) {
      await finished(admitted);
      throw e;
    }
    // the first component's slot is freed by the balancer, as any activation's; the others' here
    const others = rest.map((c) => c.activationId);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const record = await Promise.race([answer.result, new Promise<undefined>((ok) => (timer = setTimeout(() => ok(undefined), req.waitMs)))]);
    clearTimeout(timer);
    await finished(others);
    return record ? [record, ...((await answer.stages) ?? [])] : undefined;
  }

  /** What an activation message says of its action beyond the first's envelope: reference, inherited parameters, key and annotations. */
  private stage(req: InvokeRequest, resolved: ResolvedAction): Omit<PipelineStage, 'activationId'> {
    const { action, path, binding } = resolved;
    const annotations = [...(binding ? [{ key: 'binding', value: binding }] : []), ...(req.causedBy ? [{ key: 'causedBy', value: req.causedBy }] : []), ...(req.annotations ?? [])];
    return {
      action: { path, name: action.name, rev: action._rev },
      defaults: resolved.params,
      // a key travels only to actions that asked for it: the namespace's action key, as swirl keeps no key itself
      ...(annotation(action.annotations, 'provide-api-key') === true ? { apiKey: this.opts.actionKeys.keyFor(req.identity) } : {}),
      ...(annotations.length ? { annotations } : {}),
    };
  }

  /** The message that runs `resolved` with `params` as activation `activationId`. */
  private message(req: InvokeRequest, resolved: ResolvedAction, params: Record<string, unknown>, activationId: string): ActivationMessage {
    const { identity } = req;
    const { defaults: _, ...stage } = this.stage(req, resolved);
    return {
      activationId,
      transactionId: req.tid,
      controllerId: this.opts.controllerId,
      blocking: req.blocking,
      namespace: identity.namespace,
      subject: identity.subject,
      userId: identity.uuid,
      ...stage,
      params,
      ...(req.cause ? { cause: req.cause } : {}),
      receivedAt: Date.now(),
    };
  }
}
