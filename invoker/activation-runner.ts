import type { ActivationRecord, ActivationResponse } from '../common/activation.ts';
import { byTime, ImageUnavailableError, type Container, type LogSegment, sentinelledLogs, STAMP_CHARS, stampLine } from '../common/container.ts';
import { type Action, annotation, type KeyValue } from '../common/entities.ts';
import type { Logger } from '../common/logger.ts';
import { resolveKind } from '../common/kinds.ts';
import type { ContainerPool, Lease, Leasing, PlacementRequest } from './pool.ts';
import { type ProxyClient, ProxyRequestError, type ProxyResponse } from './proxy-client.ts';
import { developerError, internalError, RunMessages } from './response.ts';
import { type CallOutcome, type Ending, initEnding, runEnding } from './run-outcome.ts';

/** One activation to run, as the invoker receives it. */
export interface ActivationJob {
  activationId: string;
  transactionId: string;
  /** The invoking identity: its namespace owns the record. */
  namespace: string;
  subject: string;
  /** `uuid:key`; handed to the action only with the `provide-api-key` annotation. */
  apiKey?: string;
  /** The action with its code; `rev` identifies the revision for warm reuse. */
  action: Action;
  rev: string;
  /** Final parameters (package < action < request). */
  params: Record<string, unknown>;
  /** Activation id of the sequence or trigger that caused this one. */
  cause?: string;
  /** Annotations the controller adds to the record (`binding`, `causedBy`). */
  annotations?: KeyValue[];
  /** Epoch ms when the controller accepted the request (for `waitTime`). */
  receivedAt?: number;
}

export interface RunnerOptions {
  pool: ContainerPool;
  client: ProxyClient;
  /** Store the finished record (batched); the run resolves after it is stored. */
  store: (record: ActivationRecord, how?: { start: string }) => Promise<void>;
  /** Image for a managed kind. */
  imageOf: (kind: string) => string;
  log: Logger;
  /** `__OW_API_HOST` for actions. */
  apiHost?: string;
  /** How long to wait for the end-of-activation markers in the logs after a run. */
  logWaitMs?: number;
}

/** One run's own, as its steps pass it on (ActivationRunner.begin). */
interface Run {
  job: ActivationJob;
  /** The kind the action runs as (an alias resolved). */
  kind: string;
  onResponse: ((record: ActivationRecord) => void) | undefined;
  /** Its record's annotations, added to as it goes (waitTime, initTime, timeout). */
  annotations: KeyValue[];
  record: (start: number, res: ActivationResponse, logs?: string[]) => ActivationRecord;
  /** Store the record; resolves with it once stored. */
  finish: (rec: ActivationRecord, how?: { start: string }) => Promise<ActivationRecord>;
}

/** The job's log limit in bytes. */
const logLimitOf = (job: ActivationJob): number => job.action.limits.logs * 1024 * 1024;

/** The output a runtime returned with an answer (INLINE_LOGS). */
type AnsweredLogs = NonNullable<ProxyResponse['logs']>;

/** Bytes of the lines' text, without their stamp (ASCII), as the log limit counts them. */
const textBytes = (lines: string[]): number => lines.reduce((n, l) => n + Buffer.byteLength(l) - STAMP_CHARS, 0);

/**
 * How long the output of an image that marks no activation's end may keep coming after
 * /run answered (lines still on their way through the daemon): it is taken once quiet.
 */
const UNMARKED_LOG_WAIT_MS = 250;


/**
 * Runs activations: takes a container from the pool, sends /init when the container is
 * fresh and /run with the deadline, enforces the time limit, collects the activation's
 * logs, builds the record in OpenWhisk's shape and stores it. Every outcome — success,
 * the action's error, a bad result, a timeout, a dead container, no container at all —
 * ends in a record.
 */
export class ActivationRunner {
  private readonly logWaitMs: number;

  constructor(private readonly opts: RunnerOptions) {
    this.logWaitMs = opts.logWaitMs ?? 2_000;
  }

  /**
   * Run the job. `onResponse` is called as soon as the result is known, before logs are
   * collected and the record is stored (what a blocking caller waits for); the returned
   * promise resolves with the stored record. `leased`: the container, asked of the pool
   * beforehand with `placement(job)` (a pipeline's later stage, taken while the one before
   * runs); a failure to get it is this run's, as when the runner asks itself.
   *
   * A warm run is a chain of reactions rather than an async frame and its awaits: on Node 20
   * each promise pays for the hooks of the AsyncLocalStorage that carries the log context.
   */
  run(job: ActivationJob, onResponse?: (record: ActivationRecord) => void, leased?: Promise<Lease>): Promise<ActivationRecord> {
    const r = this.begin(job, onResponse);
    const queuedAt = Date.now();
    let leasing: Leasing;
    try {
      leasing = leased ?? this.opts.pool.acquireAtOnce(this.placement(job));
    } catch (e) {
      return this.noContainer(r, e);
    }
    // a warm container's lease is at hand: no promise for it
    if (!(leasing instanceof Promise)) return this.runIn(r, leasing, queuedAt);
    return leasing.then(
      (lease) => this.runIn(r, lease, queuedAt),
      (e: unknown) => this.noContainer(r, e),
    );
  }

  /** What a run carries along: its job, whom to tell the response, its record's annotations, how its record is made and stored. */
  private begin(job: ActivationJob, onResponse: ((record: ActivationRecord) => void) | undefined): Run {
    const { action } = job;
    const kind = resolveKind(action.exec.kind)?.kind ?? action.exec.kind;
    const path = `${action.namespace}/${action.name}`;
    // (the controller's annotations win: a hub function's run is filed under the caller's action, not the cache's path)
    const given = job.annotations ?? [];
    const annotations: KeyValue[] = [
      ...[
        { key: 'path', value: path },
        { key: 'kind', value: kind },
        { key: 'limits', value: action.limits },
      ].filter((a) => !given.some((g) => g.key === a.key)),
      ...given,
    ];
    const record = (start: number, res: ActivationResponse, logs: string[] = []): ActivationRecord => {
      const end = Date.now();
      return {
        activationId: job.activationId,
        namespace: job.namespace,
        name: action.name,
        subject: job.subject,
        version: action.version,
        publish: false,
        start,
        end,
        duration: end - start,
        annotations,
        logs,
        response: res,
        ...(job.cause ? { cause: job.cause } : {}),
      };
    };
    const finish = (rec: ActivationRecord, how?: { start: string }): Promise<ActivationRecord> => this.opts.store(rec, how).then(() => rec);
    return { job, kind, onResponse, annotations, record, finish };
  }

  /** No container could be had: the record says why. */
  private noContainer(r: Run, e: unknown): Promise<ActivationRecord> {
    const blackboxImage = e instanceof ImageUnavailableError && r.kind === 'blackbox';
    if (!blackboxImage) this.opts.log.error({ tid: r.job.transactionId, err: e }, 'no container for the activation');
    const rec = r.record(Date.now(), blackboxImage ? developerError((e as Error).message) : internalError('Failed to provision a container for the action.'));
    r.onResponse?.(rec);
    return r.finish(rec);
  }

  /** The run in its container: /init when it is fresh, then /run. */
  private runIn(r: Run, lease: Lease, queuedAt: number): Promise<ActivationRecord> {
    const start = Date.now();
    r.annotations.push({ key: 'waitTime', value: start - (r.job.receivedAt ?? queuedAt) });
    return lease.needsInit ? this.initAndRun(r, lease, start) : this.runOnce(r, lease, start, undefined);
  }

  private async initAndRun(r: Run, lease: Lease, start: number): Promise<ActivationRecord> {
    const { container } = lease;
    const { timeout } = r.job.action.limits;
    const initStart = Date.now();
    const init = this.outcome(container, '/init', await this.post(container, '/init', this.initBody(r.job, initStart + timeout), timeout, container.inlineLogs ? logLimitOf(r.job) : undefined));
    /** What the init's answer carried of the activation's output (INLINE_LOGS). */
    const initLogs = init.kind === 'ok' ? init.res.logs : undefined;
    r.annotations.push({ key: 'initTime', value: Date.now() - initStart });
    const failed = initEnding(init, timeout);
    this.opts.pool.initialized(lease, !failed);
    if (failed) {
      if (failed.timedOut) r.annotations.push({ key: 'timeout', value: true });
      return this.complete(r, lease, { ...failed, before: undefined, answered: initLogs }, r.record(start, failed.res));
    }
    return this.runOnce(r, lease, start, initLogs);
  }

  /** /run, after the init's answer (and what it carried of the activation's output) when there was one. */
  private runOnce(r: Run, lease: Lease, start: number, initLogs: AnsweredLogs | undefined): Promise<ActivationRecord> {
    const { container } = lease;
    const { timeout } = r.job.action.limits;
    const logLimit = logLimitOf(r.job);
    const deadline = Date.now() + timeout;
    const runLimit = initLogs ? Math.max(0, logLimit - textBytes(initLogs.lines)) : logLimit;
    return this.post(container, '/run', this.runBody(r.job, deadline), timeout, container.inlineLogs ? runLimit : undefined).then((answer) => {
      const run = this.outcome(container, '/run', answer);
      lease.running = false;
      const ended = runEnding(run, timeout);
      if (ended.timedOut) r.annotations.push({ key: 'timeout', value: true });
      const answered = run.kind === 'ok' ? run.res.logs : undefined;
      return this.complete(r, lease, { ...ended, before: initLogs, answered }, r.record(start, ended.res));
    });
  }

  /** The container the job runs in, as the pool is asked for it. */
  placement(job: ActivationJob): PlacementRequest {
    const { action } = job;
    const kind = resolveKind(action.exec.kind)?.kind ?? action.exec.kind;
    const path = `${action.namespace}/${action.name}`;
    return {
      key: `${job.namespace}|${path}|${job.rev}`,
      kind,
      image: kind === 'blackbox' ? action.exec.image! : this.opts.imageOf(kind),
      memoryMb: action.limits.memory,
      // without end markers an activation's lines are those written while it had the container to itself
      concurrency: sentinelledLogs(kind) ? action.limits.concurrency : 1,
      name: `${job.namespace}_${action.name}`,
      action: { namespace: job.namespace, name: path },
    };
  }

  /**
   * Give the response, collect the logs, hand the container back, store the record. The
   * logs: what the init answered with before a run (`before`), then those the last answer
   * carried (INLINE_LOGS) with whatever reached the container's streams besides, taken
   * without waiting; or, when the last answer carried none, the streams' segment.
   */
  private complete(r: Run, lease: Lease, ended: Omit<Ending, 'res'> & { before: AnsweredLogs | undefined; answered: AnsweredLogs | undefined }, rec: ActivationRecord): Promise<ActivationRecord> {
    r.onResponse?.(rec);
    const limit = logLimitOf(r.job);
    const { end } = ended;
    const marked = sentinelledLogs(lease.container.spec.kind);
    // Takes are served in the order they are asked for, so a healthy container of a runtime
    // that marks each activation's end goes back to the pool at once — the next activation's
    // output is cut after this one's end marker (which the proxy writes before it answers). A
    // container to be removed, or one whose output is unmarked (an image of the user's, as
    // OpenWhisk reads it), is kept until this activation's output has been read.
    const wait = this.logWait(lease.container, ended);
    // the segment at hand (a warm container's, usually) needs no promise: on Node 20 each pays for AsyncLocalStorage's hooks
    const taking = lease.container.logsAtOnce?.(limit, wait) ?? lease.container.logs(limit, wait);
    const early = end === 'keep' && marked;
    if (early) this.opts.pool.release(lease);
    const taken = (segment: LogSegment) => {
      if (!early) this.opts.pool.release(lease, end);
      return r.finish(this.withLogs(rec, segment, lease, ended, limit), { start: lease.start });
    };
    if (!(taking instanceof Promise)) return taken(taking);
    // else a reaction rather than an async frame and its await
    return taking.then(taken, (e: unknown) => {
      if (!early) this.opts.pool.release(lease, end);
      throw e;
    });
  }

  /** The record with the activation's logs: `before` and `answered` (see complete) with the streams' segment, or a note why none. */
  private withLogs(rec: ActivationRecord, segment: LogSegment, lease: Lease, ended: { abnormal: boolean; before: AnsweredLogs | undefined; answered: AnsweredLogs | undefined }, limit: number): ActivationRecord {
    const { abnormal, before, answered } = ended;
    const earlier = before?.lines ?? [];
    const lines = answered ? byTime([...earlier, ...answered.lines], segment.lines) : [...earlier, ...segment.lines];
    const truncated = segment.truncated || before?.truncated === true || answered?.truncated === true;
    const complete = answered !== undefined || segment.complete;
    // output of activations that overlapped in one container cannot be told apart on its streams
    const shared = lease.shared && !answered;
    const now = new Date().toISOString();
    const note = shared ? RunMessages.logsShared : truncated ? RunMessages.logsTruncated(limit) : !complete && !abnormal ? RunMessages.logsIncomplete : undefined;
    rec.logs = [...(shared ? [] : lines), ...(note ? [stampLine(now, 'stderr', note)] : [])];
    return rec;
  }

  /** How long the streams' part of an activation's logs may be waited for. */
  private logWait(container: Container, ended: { abnormal: boolean; timedOut: boolean; answered: AnsweredLogs | undefined }): number {
    // the answer carried them: the streams hold only what bypassed the runtime, already there
    if (ended.answered) return 0;
    // a runtime that answers with logs writes what it held to the streams, marked, once its deadline passed
    if (ended.timedOut && container.inlineLogs) return this.logWaitMs;
    // a dead or killed container will not mark the end of its logs: take what is there
    if (ended.abnormal) return 50;
    return sentinelledLogs(container.spec.kind) ? this.logWaitMs : UNMARKED_LOG_WAIT_MS;
  }

  /**
   * The /init value as OpenWhisk's ContainerProxy sends it: no `code` for an image without
   * (an image that follows OpenWhisk's contract replaces its own executable with any code it
   * is given), and the first activation's `__OW_*` variables in `env`.
   */
  private initBody(job: ActivationJob, deadline: number) {
    const { exec } = job.action;
    const env = Object.fromEntries(Object.entries(this.activationFields(job, deadline)).map(([k, v]) => [`__OW_${k.toUpperCase()}`, v]));
    return {
      value: {
        name: job.action.name,
        main: exec.main ?? 'main',
        ...(exec.code ? { code: exec.code } : {}),
        binary: exec.binary ?? false,
        env: { ...env, ...(this.opts.apiHost ? { __OW_API_HOST: this.opts.apiHost } : {}) },
      },
    };
  }

  private runBody(job: ActivationJob, deadline: number) {
    return { value: job.params, ...this.activationFields(job, deadline) };
  }

  /** What describes the activation to the action: /run's fields, and (as `__OW_<FIELD>`) /init's env. */
  private activationFields(job: ActivationJob, deadline: number): Record<string, string> {
    const provideKey = annotation(job.action.annotations, 'provide-api-key') === true;
    return {
      namespace: job.namespace,
      action_name: `/${job.action.namespace}/${job.action.name}`,
      action_version: job.action.version,
      activation_id: job.activationId,
      transaction_id: job.transactionId,
      deadline: String(deadline),
      ...(provideKey && job.apiKey ? { api_key: job.apiKey } : {}),
    };
  }

  /**
   * POST to the container: its answer, or the error that kept it from answering. One promise,
   * settled by the client's callback, rather than an async frame awaiting the client's own
   * promise: on Node 20 each pays for the hooks of the AsyncLocalStorage that carries the log context.
   */
  private post(container: Container, path: '/init' | '/run', body: unknown, timeoutMs: number, logLimit: number | undefined): Promise<ProxyResponse | Error> {
    return new Promise((settle) => {
      try {
        this.opts.client.send(container.address, path, body, timeoutMs, container.exited, container.token, logLimit, (err, res) => settle(err ?? res!));
      } catch (e) {
        settle(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /**
   * What a POST came to: a dead container or a missed deadline is a result, not an exception.
   * Called where the answer is awaited, so that a failure is logged in the activation's log
   * context (the client's callbacks may run in a reused connection's).
   */
  private outcome(container: Container, path: '/init' | '/run', answer: ProxyResponse | Error): CallOutcome {
    if (!(answer instanceof Error)) return { kind: 'ok', res: answer };
    if (answer instanceof ProxyRequestError && answer.timedOut) return { kind: 'timeout' };
    this.opts.log.info({ container: container.id, err: answer }, `${path} failed`);
    return { kind: 'failed', error: answer.message };
  }
}
