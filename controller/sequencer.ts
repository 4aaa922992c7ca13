import { type ActivationRecord, type ActivationResponse, ActivationStatus, hasError, newActivationId } from '../common/activation.ts';
import { annotation, HUB_COMPONENT, type KeyValue } from '../common/entities.ts';
import { ForbiddenError, NotFoundError, SwirlError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { parseQualifiedName, type QualifiedName } from '../common/names.ts';
import type { RecordWriter } from '../common/record-writer.ts';
import type { OnDemand } from './hub/on-demand.ts';
import type { Activator, Admission, InvokeOutcome, InvokeRequest, LocalKind } from './activator.ts';
import { pipes } from './pipeline.ts';
import { localRecord } from './records.ts';
import type { ResolvedAction, Resolver } from './resolver.ts';
import { SEQUENCE_LIMIT, SequenceMessages } from './sequence-check.ts';
import type { SequenceJournal } from './sequence-journal.ts';

/** How much longer than its timeout a sequence waits for a component's record (OpenWhisk: one minute). */
const COMPONENT_MARGIN_MS = 60_000;
/** How long close() lets running sequences write their records. */
const CLOSE_WAIT_MS = 5_000;

/** What a running sequence (and the sequences nested in it) has done so far. */
interface Accounting {
  /** Atomic actions run since the topmost sequence started, shared with nested sequences. */
  atomic: { count: number };
  logs: string[];
  duration: number;
  maxMemory?: number;
  firstStart?: number;
  response: ActivationResponse;
}

const failed = (status: typeof ActivationStatus.applicationError | typeof ActivationStatus.internalError, error: string): ActivationResponse => ({
  ...status,
  success: false,
  result: { error },
});

/**
 * A component that could not be run: missing (OpenWhisk's application error), not the
 * caller's to invoke, or refused by a throttle or a backing service (the catalogue's
 * messages are meant for users). Anything else is not a SwirlError and is rethrown.
 */
function refused(e: unknown, hub = false): ActivationResponse {
  // a hub function that cannot be fetched or verified: the component's own fault, said as the hub said it
  if (hub && e instanceof SwirlError && e.status !== 503) return failed(ActivationStatus.applicationError, e.message);
  if (e instanceof NotFoundError) return failed(ActivationStatus.applicationError, SequenceMessages.componentNotFound);
  if (e instanceof ForbiddenError) return failed(ActivationStatus.applicationError, e.message);
  if (e instanceof SwirlError) return failed(ActivationStatus.internalError, e.message);
  throw e;
}

/**
 * Runs sequence actions in the controller (OpenWhisk's SequenceActions): each component in
 * order through the Activator — blocking, so throttled and placed like any invoke — the
 * first with the sequence's parameters, each next one with the previous result. The first
 * result with an `error` field, or a component that cannot be run, ends the chain and is
 * the sequence's response. The sequence gets its own record: `logs` are the component
 * activation ids, `duration` the sum of theirs. A component that is itself a sequence comes
 * back here through the Activator (`causedBy: 'sequence'`) and runs to its end, as its
 * components bound their own waits.
 *
 * Throttles: the topmost sequence takes one invocation of the namespace's per-minute rate
 * and must pass the concurrency check, as OpenWhisk's entitlement check does at the API,
 * but it holds no concurrency slot while it runs — OpenWhisk counts only activations in its
 * load balancer, and a held slot would starve a namespace limited to one concurrent
 * invocation of the slot its components need. Every component takes its own.
 */
export class Sequencer {
  /** Accounting of the running sequences by activation id: nested sequences share their parent's atomic count. */
  private readonly running = new Map<string, Accounting>();
  private readonly inflight = new Set<Promise<unknown>>();
  private closing = false;

  constructor(
    private readonly deps: {
      activator: Pick<Activator, 'invokeResolved'>;
      resolver: Pick<Resolver, 'action'>;
      admission: Admission;
      records: Pick<RecordWriter, 'write'>;
      log: Logger;
      /** Where a topmost sequence's start is written down before the caller is answered (absent on the memory bus). */
      journal?: Pick<SequenceJournal, 'began'>;
      /** Resolves `hub:<function REF>` components (controller/hub/on-demand.ts); absent: the hub is off. */
      hub?: Pick<OnDemand, 'resolve'>;
      /** Runs a sequence of stdio actions as one pipeline on one invoker (controller/pipeline.ts); absent: every sequence runs component by component. */
      pipelines?: Pick<Activator, 'invokePipeline'>;
    },
  ) {}

  /** The LocalKind to register for `sequence`. */
  readonly run: LocalKind = async (req, resolved, params, activationId) => {
    const nested = req.causedBy === 'sequence';
    if (!nested) {
      await this.deps.admission.admitInvoke(req.identity, activationId, Date.now() + COMPONENT_MARGIN_MS);
      await this.deps.admission.finished(req.identity.namespace, activationId);
    }
    const { action, path } = resolved;
    const journalled = nested ? undefined : await this.deps.journal?.began({ activationId, identity: { namespace: req.identity.namespace, subject: req.identity.subject }, name: action.name, version: action.version, path: `${path}/${action.name}`, start: Date.now() });
    const done = this.execute(req, resolved, params, activationId, nested, journalled);
    this.inflight.add(done);
    void done.finally(() => this.inflight.delete(done));
    if (nested) return { activationId, record: await done };
    if (!req.blocking) return { activationId };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const record = await Promise.race([done, new Promise<undefined>((ok) => (timer = setTimeout(() => ok(undefined), req.waitMs)))]);
    clearTimeout(timer);
    return record ? { activationId, record } : { activationId };
  };

  /** Let running sequences finish their current component and write their records; start no further components. */
  async close(): Promise<void> {
    this.closing = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((ok) => (timer = setTimeout(ok, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** Run the chain and write the sequence's record. Never rejects: whatever goes wrong becomes the response. */
  private async execute(req: InvokeRequest, resolved: ResolvedAction, params: Record<string, unknown>, activationId: string, nested: boolean, journalled?: (stored: Promise<unknown>) => void): Promise<ActivationRecord> {
    const start = Date.now();
    const parent = nested && req.cause ? this.running.get(req.cause) : undefined;
    const acc: Accounting = { atomic: parent?.atomic ?? { count: 0 }, logs: [], duration: 0, response: { ...ActivationStatus.success, success: true, result: params } };
    this.running.set(activationId, acc);
    try {
      let input = params;
      const components = resolved.action.exec.components ?? [];
      if (!(await this.piped(req, components, params, activationId, acc))) for (const ref of components) {
        acc.response = await this.step(req, ref, input, activationId, acc);
        if (hasError(acc.response)) break;
        input = (acc.response.result ?? {}) as Record<string, unknown>;
      }
    } catch (e) {
      this.deps.log.error({ tid: req.tid, activationId, err: e }, 'sequence failed');
      acc.response = failed(ActivationStatus.internalError, SequenceMessages.failure);
    } finally {
      this.running.delete(activationId);
    }
    const record = this.record(req, resolved, activationId, start, nested, acc);
    const stored = this.deps.records.write(record).catch((e: Error) => this.deps.log.error({ tid: req.tid, activationId, err: e }, 'could not store a sequence record'));
    journalled?.(stored);
    return record;
  }

  /** Run one component, fold its record into `acc`, and give its response; a component that cannot run gives an error response. */
  private async step(req: InvokeRequest, ref: string, input: Record<string, unknown>, activationId: string, acc: Accounting): Promise<ActivationResponse> {
    if (this.closing) throw new Error('the controller is closing');
    let target: QualifiedName;
    let component: ResolvedAction;
    try {
      ({ target, resolved: component } = await this.component(req, ref));
    } catch (e) {
      return refused(e, ref.startsWith(HUB_COMPONENT));
    }
    // a sequence whose nested sequences grew after it was stored can pass the limit only at run time
    if (component.action.exec.kind !== 'sequence' && ++acc.atomic.count > SEQUENCE_LIMIT) return failed(ActivationStatus.applicationError, SequenceMessages.tooLong);
    let out: InvokeOutcome;
    try {
      out = await this.deps.activator.invokeResolved(
        {
          identity: req.identity,
          target,
          params: input,
          blocking: true,
          waitMs: component.action.limits.timeout + COMPONENT_MARGIN_MS,
          tid: req.tid,
          cause: activationId,
          causedBy: 'sequence',
        },
        component,
      );
    } catch (e) {
      return refused(e, component.action.exec.kind === 'hub');
    }
    return this.fold(req, activationId, acc, out.activationId, out.record);
  }

  /** A component as the caller reaches it: an action by name, or a hub function (`hub:<function REF>`, fetched on demand). */
  private async component(req: InvokeRequest, ref: string): Promise<{ target: QualifiedName; resolved: ResolvedAction }> {
    if (ref.startsWith(HUB_COMPONENT) && this.deps.hub) return this.deps.hub.resolve(ref.slice(HUB_COMPONENT.length));
    const target = parseQualifiedName(ref, req.identity.namespace);
    return { target, resolved: await this.deps.resolver.action(req.identity.namespace, target) };
  }

  /**
   * Run the components as one pipeline when they all pipe (controller/pipeline.ts), folding
   * their records into `acc`. False when they do not, or the pipeline cannot be placed: the
   * ordinary run follows, and says why a component could not run where that is the reason.
   */
  private async piped(req: InvokeRequest, refs: string[], params: Record<string, unknown>, activationId: string, acc: Accounting): Promise<boolean> {
    const pipelines = this.deps.pipelines;
    if (!pipelines || this.closing || refs.some((r) => r.startsWith(HUB_COMPONENT))) return false;
    const targets = refs.map((ref) => parseQualifiedName(ref, req.identity.namespace));
    const resolved = await Promise.all(targets.map((t) => this.deps.resolver.action(req.identity.namespace, t))).catch(() => undefined);
    if (!resolved || !pipes(resolved, acc.atomic.count, SEQUENCE_LIMIT)) return false;
    const components = resolved.map((c) => ({ resolved: c, activationId: newActivationId() }));
    const waitMs = resolved.reduce((sum, c) => sum + c.action.limits.timeout, COMPONENT_MARGIN_MS);
    let records: ActivationRecord[] | undefined;
    try {
      records = await pipelines.invokePipeline({ identity: req.identity, target: targets[0]!, params, blocking: true, waitMs, tid: req.tid, cause: activationId, causedBy: 'sequence' }, components, params);
    } catch (e) {
      this.deps.log.info({ tid: req.tid, activationId, err: e }, 'the pipeline could not be placed: running the sequence component by component');
      return false;
    }
    acc.atomic.count += records?.length ?? components.length;
    if (!records) {
      acc.response = this.fold(req, activationId, acc, components[0]!.activationId, undefined);
      return true;
    }
    for (const record of records) {
      acc.response = this.fold(req, activationId, acc, record.activationId, record);
      if (hasError(acc.response)) break;
    }
    return true;
  }

  /** Fold a component's record into `acc` and give its response; no record (not answered in time) is an error response. */
  private fold(req: InvokeRequest, activationId: string, acc: Accounting, componentId: string, record: ActivationRecord | undefined): ActivationResponse {
    acc.logs.push(componentId);
    if (!record) {
      this.deps.log.error({ tid: req.tid, activationId, component: componentId }, 'sequence component timed out');
      return failed(ActivationStatus.internalError, SequenceMessages.retrieveTimeout(componentId));
    }
    acc.duration += record.duration;
    acc.firstStart ??= record.start;
    const memory = (annotation(record.annotations, 'limits') as { memory?: unknown } | undefined)?.memory;
    if (typeof memory === 'number') acc.maxMemory = Math.max(acc.maxMemory ?? 0, memory);
    return record.response;
  }

  private record(req: InvokeRequest, { action, path, binding }: ResolvedAction, activationId: string, start: number, nested: boolean, acc: Accounting): ActivationRecord {
    const annotations: KeyValue[] = [
      { key: 'topmost', value: !nested },
      // OpenWhisk's: the sequence's timeout and logs limits, the largest memory limit among the components that ran
      { key: 'limits', value: { ...action.limits, memory: acc.maxMemory ?? action.limits.memory } },
      // how long the caller waited before any component's code ran
      { key: 'waitTime', value: Math.max(0, (acc.firstStart ?? start) - start) },
      ...(nested ? [{ key: 'causedBy', value: 'sequence' }] : []),
      ...(binding ? [{ key: 'binding', value: binding }] : []),
    ];
    return localRecord({
      activationId,
      identity: req.identity,
      name: action.name,
      version: action.version,
      path: `${path}/${action.name}`,
      kind: 'sequence',
      start,
      duration: acc.duration,
      logs: acc.logs,
      response: acc.response,
      ...(nested && req.cause ? { cause: req.cause } : {}),
      annotations,
    });
  }
}
