import { type ActivationRecord, newActivationId } from '../common/activation.ts';
import { type Action, annotation, type KeyValue, type Stored } from '../common/entities.ts';
import { BadRequestError } from '../common/errors.ts';
import { authKey, type Identity } from '../common/identity.ts';
import type { Logger } from '../common/logger.ts';
import type { ActivationMessage } from '../common/messages.ts';
import { entityPath, type QualifiedName } from '../common/names.ts';
import type { LoadBalancer } from '../loadbalancer/balancer.ts';
import type { EntityCache } from './entity-cache.ts';

/** Admission per namespace (Throttler): throws TooManyRequestsError; `finished` frees the concurrency slot. */
export interface Admission {
  admitInvoke(identity: Pick<Identity, 'namespace' | 'limits'>, activationId: string, expiresAt: number): Promise<void>;
  finished(namespace: string, activationId: string): Promise<void>;
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
}

/** `record` is absent when the activation was not waited for, or is still running after the wait. */
export interface InvokeOutcome {
  activationId: string;
  record?: ActivationRecord;
}

const toObject = (kvs: KeyValue[] | undefined): Record<string, unknown> => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, kv.value]));

/**
 * Turns "invoke this action" into an activation on an invoker: reads the action (and its
 * package) through the entity cache, layers parameters (package < action < request),
 * applies the namespace's throttles, publishes through the load balancer, and for blocking
 * callers waits for the result. Triggers and sequences invoke through here too.
 */
export class Activator {
  constructor(
    private readonly opts: {
      controllerId: string;
      cache: EntityCache;
      admission: Admission;
      balancer: LoadBalancer;
      log: Logger;
    },
  ) {}

  async invoke(req: InvokeRequest): Promise<InvokeOutcome> {
    const { target, identity } = req;
    const path = entityPath(target);
    const action: Stored<Action> = await this.opts.cache.get('action', path, target.name);
    if (action.exec.kind === 'sequence') throw new BadRequestError('Invoking a sequence is not supported yet.');
    const pkgParams = target.pkg ? toObject((await this.opts.cache.get('package', target.namespace, target.pkg)).parameters) : {};
    const params = { ...pkgParams, ...toObject(action.parameters), ...req.params };

    const activationId = newActivationId();
    const receivedAt = Date.now();
    const timeoutMs = action.limits.timeout;
    await this.opts.admission.admitInvoke(identity, activationId, receivedAt + timeoutMs + 120_000);
    const message: ActivationMessage = {
      activationId,
      transactionId: req.tid,
      controllerId: this.opts.controllerId,
      blocking: req.blocking,
      namespace: identity.namespace,
      subject: identity.subject,
      // the key travels only to actions that asked for it
      ...(annotation(action.annotations, 'provide-api-key') === true ? { apiKey: authKey(identity) } : {}),
      action: { path, name: target.name, rev: action._rev },
      params,
      ...(req.cause ? { cause: req.cause } : {}),
      receivedAt,
    };
    let result: Promise<ActivationRecord | undefined>;
    try {
      ({ result } = await this.opts.balancer.publish(message, { fqn: `${path}/${target.name}`, memoryMb: action.limits.memory, timeoutMs }));
    } catch (e) {
      await this.opts.admission.finished(identity.namespace, activationId).catch(() => undefined);
      throw e;
    }
    if (!req.blocking) return { activationId };

    let timer: ReturnType<typeof setTimeout> | undefined;
    const record = await Promise.race([result, new Promise<undefined>((ok) => (timer = setTimeout(() => ok(undefined), req.waitMs)))]);
    clearTimeout(timer);
    return record ? { activationId, record } : { activationId };
  }
}
