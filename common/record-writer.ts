import type { ActivationRecord } from './activation.ts';
import type { Logger } from './logger.ts';
import { fitRecord, refusedReplacement } from './record-fit.ts';
import type { EntityStore, RefusedRecord } from './store/entity-store.ts';

interface Pending {
  record: ActivationRecord;
  ok: () => void;
  fail: (e: Error) => void;
}

/**
 * Writes activation records in batches: records that arrive while a batch is being
 * stored go together in the next `_bulk_docs` request (group commit), so a busy invoker
 * makes few large writes and an idle one writes each record at once. `write()` resolves
 * when the record is stored.
 *
 * One bad record never sinks its batch: each is fitted to the record bounds before it joins
 * one (common/record-fit.ts), and one the store refuses is replaced by a record with the same
 * activation id saying why, stored after the batch.
 */
/** The fields of an activation's log line, from its record. */
function activationLine(r: ActivationRecord, how: Record<string, unknown> | undefined): Record<string, unknown> {
  const ann = (key: string) => r.annotations.find((a) => a.key === key)?.value;
  return {
    activationId: r.activationId,
    namespace: r.namespace,
    action: `/${String(ann('path') ?? `${r.namespace}/${r.name}`)}`,
    kind: ann('kind'),
    status: r.response.status,
    duration: r.duration,
    ...(ann('waitTime') !== undefined ? { wait: ann('waitTime') } : {}),
    ...(ann('initTime') !== undefined ? { init: ann('initTime') } : {}),
    ...(r.cause ? { cause: r.cause } : {}),
    ...how,
  };
}

export class RecordWriter {
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly store: Pick<EntityStore, 'putActivations'>,
    private readonly log: Logger,
    private readonly opts: { maxBatch: number; retryDelaysMs: number[]; lingerMs: number } = { maxBatch: 500, retryDelaysMs: [100, 500, 2_000], lingerMs: 10 },
  ) {}

  /**
   * Store the record (batched). One info line says what the activation was: its id, action,
   * kind, status, duration, wait and init time, and `how` more (the invoker: how its container
   * started, cold, prewarm or warm).
   */
  write(record: ActivationRecord, how?: Record<string, unknown>): Promise<void> {
    if (this.log.isLevelEnabled('info')) this.log.info(activationLine(record, how), 'activation');
    const fitted = fitRecord(record);
    if (fitted.why) this.log.warn({ activationId: record.activationId, why: fitted.why }, 'an activation record was cut to be storable');
    return new Promise((ok, fail) => {
      this.pending.push({ record: fitted.record, ok, fail });
      if (!this.flushing) this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    // let records that follow closely join the batch: each write is a whole HTTP request
    // and _bulk_docs call, so fewer, larger writes cost the store far less per record
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      // (a flush under way stores these too, or schedules them when it is done)
      if (!this.flushing && this.pending.length) void this.storePending();
    }, this.opts.lingerMs);
  }

  /** Store everything written so far. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.length) await this.storePending();
  }

  /**
   * Store the pending records, a batch at a time until none is left. The timer's path to
   * the store, with as few promises as it takes (on Node 20 each pays for the hooks of the
   * AsyncLocalStorage that carries the log context).
   */
  private storePending(): Promise<void> {
    const done = () => {
      this.flushing = undefined;
      // a record written after the loop's last look, before this point, must not wait for the next write
      if (this.pending.length) this.schedule();
    };
    this.flushing = this.loop().then(done, (e: unknown) => {
      done();
      throw e;
    });
    return this.flushing;
  }

  private async loop(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, this.opts.maxBatch);
      try {
        const refused = await this.storeWithRetry(batch.map((p) => p.record));
        const lost = refused.length ? await this.replace(refused) : new Map<string, string>();
        for (const p of batch) {
          const why = lost.get(p.record.activationId);
          if (why === undefined) p.ok();
          else p.fail(new Error(why));
        }
      } catch (e) {
        this.log.error({ err: e, records: batch.length }, 'could not store activation records');
        for (const p of batch) p.fail(e as Error);
      }
    }
  }

  /** Store replacements for what the store refused; what is refused again is lost (activation id → why). */
  private async replace(refused: RefusedRecord[]): Promise<Map<string, string>> {
    for (const { record, reason } of refused) this.log.warn({ activationId: record.activationId, reason }, 'the store refused an activation record; storing a replacement');
    let again: RefusedRecord[];
    try {
      again = await this.storeWithRetry(refused.map(({ record, reason }) => refusedReplacement(record, reason)));
    } catch (e) {
      // the rest of the batch is stored: only the refused records are lost
      again = refused.map(({ record }) => ({ record, reason: (e as Error).message }));
    }
    for (const { record, reason } of again) this.log.error({ activationId: record.activationId, reason }, 'could not store the replacement of a refused activation record');
    return new Map(again.map(({ record, reason }) => [record.activationId, `the activation store refused the record: ${reason}`]));
  }

  private storeWithRetry(records: ActivationRecord[]): Promise<RefusedRecord[]> {
    // the first try without an async frame of its own (nearly always the only one)
    return this.putActivations(records).catch((e: unknown) => this.retry(records, e));
  }

  private async retry(records: ActivationRecord[], error: unknown): Promise<RefusedRecord[]> {
    for (let attempt = 0; ; attempt++) {
      const delay = this.opts.retryDelaysMs[attempt];
      if (delay === undefined) throw error;
      this.log.warn({ err: error, attempt: attempt + 1 }, 'storing activation records failed; retrying');
      await new Promise((r) => setTimeout(r, delay));
      try {
        return await this.putActivations(records);
      } catch (e) {
        error = e;
      }
    }
  }

  /** The store's putActivations, a throw as a rejection. */
  private putActivations(records: ActivationRecord[]): Promise<RefusedRecord[]> {
    try {
      return this.store.putActivations(records);
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }
}
