import { ActivationStatus } from '../common/activation.ts';
import { type Consumer, type MessageBus, Topics } from '../common/bus.ts';
import { parseJson } from '../common/json.ts';
import type { Logger } from '../common/logger.ts';
import type { RecordWriter } from '../common/record-writer.ts';
import type { EntityStore } from '../common/store/entity-store.ts';
import { type LocalActivation, localRecord } from './records.ts';

export const SequenceJournalMessages = {
  interrupted: 'The sequence was interrupted: the controller stopped before it completed.',
} as const;

/** What the journal keeps of a sequence that started: enough for the record that says it was interrupted. */
export type SequenceStart = Pick<LocalActivation, 'activationId' | 'identity' | 'name' | 'version' | 'path' | 'start'>;

/**
 * Sequences run in the controller's memory. So that one accepted is not lost with the
 * controller, its start goes on the bus (`sequences<controllerId>`, durable) before the
 * caller is answered, and the message is acknowledged once the sequence's record is stored.
 * After a restart the bus delivers the unacknowledged ones again: each that has no record
 * gets one saying the sequence was interrupted (its components that ran have their own).
 */
export class SequenceJournal {
  /** Sequences of this process: settled once their record is stored. */
  private readonly live = new Map<string, Promise<unknown>>();
  private consumer: Consumer | undefined;
  private readonly topic: string;

  private constructor(private readonly opts: { bus: MessageBus; controllerId: string; store: Pick<EntityStore, 'getActivation'>; records: Pick<RecordWriter, 'write'>; log: Logger }) {
    this.topic = Topics.sequences(opts.controllerId);
  }

  static async start(opts: SequenceJournal['opts']): Promise<SequenceJournal> {
    const journal = new SequenceJournal(opts);
    await opts.bus.ensureTopics([journal.topic]);
    journal.consumer = await opts.bus.subscribe({
      topic: journal.topic,
      group: journal.topic,
      consumerId: `controller${opts.controllerId}`,
      maxInFlight: 10_000,
      handler: async (msg) => journal.handle(parseJson(msg.value) as SequenceStart),
    });
    return journal;
  }

  /**
   * Write the start down (resolves once the bus holds it; rejects as produce does, and then the
   * sequence must not run); call the returned function with the promise of its stored record.
   */
  async began(start: SequenceStart): Promise<(stored: Promise<unknown>) => void> {
    let settle!: (stored: Promise<unknown>) => void;
    // (settled with the promise of the stored record, it settles when that does)
    this.live.set(start.activationId, new Promise<unknown>((ok) => (settle = ok)));
    try {
      await this.opts.bus.produce(this.topic, [JSON.stringify(start)]);
    } catch (e) {
      this.live.delete(start.activationId);
      throw e;
    }
    return settle;
  }

  private async handle(start: SequenceStart): Promise<void> {
    const live = this.live.get(start.activationId);
    if (live) {
      await live.catch(() => undefined);
      this.live.delete(start.activationId);
      return;
    }
    // not started by this process: the one before it stopped while the sequence ran
    if (await this.opts.store.getActivation(start.identity.namespace, start.activationId).catch(() => undefined)) return;
    this.opts.log.warn({ activationId: start.activationId }, 'a sequence was interrupted by a restart; recording it');
    const response = { ...ActivationStatus.internalError, success: false, result: { error: SequenceJournalMessages.interrupted } };
    await this.opts.records.write(localRecord({ ...start, kind: 'sequence', logs: [], response }));
  }

  /** Stop as a crash would: what is not acknowledged yet (sequences still running) comes back at the next start. */
  async close(): Promise<void> {
    await this.consumer?.abort();
  }
}
