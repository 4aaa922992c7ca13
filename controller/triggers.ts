import { ActivationStatus, newActivationId } from '../common/activation.ts';
import type { ReducedRule } from '../common/entities.ts';
import { ForbiddenError, Messages, SwirlError } from '../common/errors.ts';
import type { Identity } from '../common/identity.ts';
import type { Logger } from '../common/logger.ts';
import { type QualifiedName, qualifiedString } from '../common/names.ts';
import type { RecordWriter } from '../common/record-writer.ts';
import type { EntityStore } from '../common/store/entity-store.ts';
import type { Throttler } from '../loadbalancer/throttles.ts';
import type { Activator } from './activator.ts';
import { localRecord } from './records.ts';
import { toObject } from './resolver.ts';

export interface FireRequest {
  /** Who fires: the trigger's owner (the caller, or for a feed the namespace's owner). */
  identity: Identity;
  trigger: QualifiedName;
  /** Goes over the trigger's parameters. */
  payload: Record<string, unknown>;
  tid: string;
}

/** `activationId` is absent when no rule of the trigger is active: nothing ran and nothing was recorded (HTTP 204). */
export interface FireOutcome {
  activationId?: string;
}

/** One line of a trigger activation's logs: what became of one rule (OpenWhisk's RuleActivationResult). */
export interface RuleResult {
  statusCode: number;
  success: boolean;
  activationId?: string;
  error?: string;
  rule: string;
  action: string;
}

/** `ns` or `ns/pkg` plus a name, as a rule keeps its action, back to a reference. */
export function actionRef(a: ReducedRule['action']): QualifiedName {
  const [namespace, pkg] = a.path.split('/');
  return { namespace: namespace!, ...(pkg ? { pkg } : {}), name: a.name };
}

/**
 * Fires triggers as OpenWhisk's Triggers API does: admits the fire against the namespace's
 * fires-per-minute throttle, then invokes the action of every active rule, non-blocking and
 * in parallel, with the trigger's parameters under the payload. The trigger's own
 * activation record (only written when some rule is active) logs one JSON line per rule:
 * the activation id it caused, or why it did not run.
 */
export class TriggerFirer {
  constructor(
    private readonly opts: {
      /** Where triggers are read: the controller's entity cache. */
      entities: Pick<EntityStore, 'get'>;
      activator: Pick<Activator, 'invoke'>;
      throttler: Pick<Throttler, 'admitFire'>;
      records: Pick<RecordWriter, 'write'>;
      log: Logger;
    },
  ) {}

  async fire(req: FireRequest): Promise<FireOutcome> {
    const { identity, trigger: name } = req;
    // a trigger is fired by its own namespace only (the routes check this too; feeds act as the owner)
    if (name.namespace !== identity.namespace || name.pkg) throw new ForbiddenError(Messages.notAuthorizedFor(qualifiedString(name).slice(1)));
    await this.opts.throttler.admitFire(identity);
    const trigger = await this.opts.entities.get('trigger', name.namespace, name.name, { code: false });
    const rules = Object.entries(trigger.rules ?? {});
    if (!rules.some(([, r]) => r.status === 'active')) return {};

    const activationId = newActivationId();
    const start = Date.now();
    const args = { ...toObject(trigger.parameters), ...req.payload };
    const results = await Promise.all(rules.map(([rule, link]) => this.activate(req, activationId, rule, link, args)));
    const record = localRecord({
      activationId,
      identity,
      name: trigger.name,
      version: trigger.version,
      path: `${trigger.namespace}/${trigger.name}`,
      start,
      logs: results.map((r) => JSON.stringify(r)),
      response: { ...ActivationStatus.success, success: true, result: args },
    });
    // stored before the 202 (the writer batches for up to 10 ms): a fire that was answered keeps
    // its record through a crash; the actions run already, so a record that cannot be stored is
    // logged, not a failed fire
    await this.opts.records.write(record).catch((e: Error) => this.opts.log.error({ err: e, tid: req.tid, activationId }, 'could not store a trigger activation record'));
    return { activationId };
  }

  /** Invoke one rule's action (when the rule is active), never throwing: the outcome is a log line. */
  private async activate(req: FireRequest, cause: string, rule: string, link: ReducedRule, args: Record<string, unknown>): Promise<RuleResult> {
    const action = `${link.action.path}/${link.action.name}`;
    if (link.status !== 'active') {
      return { statusCode: ActivationStatus.applicationError.statusCode, success: false, error: `Rule '${rule}' is inactive, action '${action}' was not activated.`, rule, action };
    }
    try {
      const { activationId } = await this.opts.activator.invoke({ identity: req.identity, target: actionRef(link.action), params: args, blocking: false, waitMs: 0, tid: req.tid, cause });
      return { statusCode: ActivationStatus.success.statusCode, success: true, activationId, rule, action };
    } catch (e) {
      // a client error (action gone, not entitled, throttled) is the application's; anything else is ours
      const known = e instanceof SwirlError && e.status < 500;
      const log = { err: e instanceof Error ? e.message : String(e), tid: req.tid, rule, action };
      if (known) this.opts.log.debug(log, 'a trigger-fired action was not invoked');
      else this.opts.log.error(log, 'a trigger-fired action failed to invoke');
      const status = known ? ActivationStatus.applicationError : ActivationStatus.internalError;
      return { statusCode: status.statusCode, success: false, error: e instanceof SwirlError ? e.message : Messages.internal, rule, action };
    }
  }
}
