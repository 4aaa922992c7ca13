import type { ActivationRecord } from '../common/activation.ts';
import type { Logger } from '../common/logger.ts';
import type { EntityStore } from '../common/store/entity-store.ts';

export interface ActivationListener {
  record(record: ActivationRecord): void;
  /** The feed closed: nothing more comes. */
  end(): void;
}

export interface ActivationFeedOptions {
  /** How often a namespace with listeners is read. */
  intervalMs: number;
  /**
   * How far back (by start time) each read looks: a record written later than this after its
   * activation started is not carried (the list and the record stay authoritative).
   */
  lookbackMs: number;
  /** Records read per page, and pages per read at most. */
  pageSize: number;
  maxPages: number;
}

/** Defaults: a second between reads; a minute's lookback covers actions with the default timeout. */
export const FEED_DEFAULTS: ActivationFeedOptions = { intervalMs: 1000, lookbackMs: 65_000, pageSize: 200, maxPages: 5 };

/** One namespace's reader: what it has seen (id → start), its listeners, its timer. */
interface NamespaceReader {
  seen: Map<string, number>;
  listeners: Set<ActivationListener>;
  timer?: NodeJS.Timeout;
  reading?: Promise<void>;
}

/**
 * New activation records of a namespace, as they are stored: the source of the activation
 * stream. It reads the store — where every invoker and controller of a cluster writes its
 * records — rather than this controller's completion messages, which carry only the
 * activations this controller published. One reader per namespace, shared by all its
 * listeners, only while it has some: a read every `intervalMs` of the briefs that started
 * within `lookbackMs`, and the whole record of each one not seen before.
 */
export class ActivationFeed {
  private readonly readers = new Map<string, NamespaceReader>();
  private readonly opts: ActivationFeedOptions;

  constructor(
    private readonly store: Pick<EntityStore, 'listActivations' | 'getActivation'>,
    private readonly log: Logger,
    opts: Partial<ActivationFeedOptions> = {},
  ) {
    this.opts = { ...FEED_DEFAULTS, ...opts };
  }

  /** Listeners of `namespace` now. */
  listeners(namespace: string): number {
    return this.readers.get(namespace)?.listeners.size ?? 0;
  }

  /**
   * Call `listener` with each record of `namespace` stored from now on. Resolves once what is
   * stored already has been read (and is not carried); the function it gives stops listening.
   */
  async subscribe(namespace: string, listener: ActivationListener): Promise<() => void> {
    let reader = this.readers.get(namespace);
    if (!reader) {
      reader = { seen: new Map(), listeners: new Set() };
      this.readers.set(namespace, reader);
      reader.reading = this.read(namespace, reader, false);
      this.schedule(namespace, reader);
    }
    reader.listeners.add(listener);
    await reader.reading;
    return () => this.unsubscribe(namespace, listener);
  }

  private unsubscribe(namespace: string, listener: ActivationListener): void {
    const reader = this.readers.get(namespace);
    if (!reader?.listeners.delete(listener) || reader.listeners.size > 0) return;
    clearTimeout(reader.timer);
    this.readers.delete(namespace);
  }

  private schedule(namespace: string, reader: NamespaceReader): void {
    reader.timer = setTimeout(() => {
      reader.reading = this.read(namespace, reader, true).finally(() => {
        if (this.readers.get(namespace) === reader) this.schedule(namespace, reader);
      });
    }, this.opts.intervalMs);
    reader.timer.unref();
  }

  private async read(namespace: string, reader: NamespaceReader, emit: boolean): Promise<void> {
    const since = Date.now() - this.opts.lookbackMs;
    try {
      const fresh: ActivationRecord[] = [];
      for (let page = 0; page < this.opts.maxPages; page++) {
        const briefs = await this.store.listActivations(namespace, { since, skip: page * this.opts.pageSize, limit: this.opts.pageSize });
        fresh.push(...briefs.filter((b) => !reader.seen.has(b.activationId)));
        if (briefs.length < this.opts.pageSize) break;
      }
      for (const [id, start] of reader.seen) if (start < since) reader.seen.delete(id);
      for (const b of fresh) reader.seen.set(b.activationId, b.start);
      if (!emit || fresh.length === 0) return;
      // oldest first, whole records (result and logs)
      const records = await Promise.all(fresh.reverse().map((b) => this.store.getActivation(namespace, b.activationId).catch(() => undefined)));
      for (const r of records) if (r) for (const l of reader.listeners) l.record(r);
    } catch (e) {
      this.log.warn({ err: e, namespace }, 'could not read new activations for the activation stream');
    }
  }

  /** Stop every reader; each listener is told (`end`). */
  close(): void {
    const readers = [...this.readers.values()];
    this.readers.clear();
    for (const r of readers) {
      clearTimeout(r.timer);
      for (const l of r.listeners) l.end();
    }
  }
}
