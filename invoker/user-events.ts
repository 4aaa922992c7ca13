import type { ActivationRecord } from '../common/activation.ts';
import { annotation } from '../common/entities.ts';
import { type MessageBus, Topics } from '../common/bus.ts';
import type { Logger } from '../common/logger.ts';
import type { ActivationMessage } from '../common/messages.ts';
import { activationFacts } from './observed.ts';

/** OpenWhisk's `Activation` event body (common/scala/.../connector/Message.scala): times in ms. */
export interface ActivationEventBody {
  activationId: string;
  /** `ns/pkg/name` of the action. */
  name: string;
  statusCode: number;
  duration: number;
  waitTime: number;
  initTime: number;
  kind: string;
  conductor: boolean;
  memory: number;
  causedBy?: string;
  /** Bytes of the result as JSON. */
  size?: number;
}

/** OpenWhisk's EventMessage, as tools that consume its user events read them from the `events` topic. */
export interface EventMessage {
  /** Who sent it: `invoker<N>`. */
  source: string;
  body: ActivationEventBody;
  subject: string;
  namespace: string;
  userId: string;
  eventType: 'Activation';
  timestamp: number;
}

/** Events waiting to be sent at most; beyond (the bus is down), new ones are dropped. */
const MAX_PENDING = 10_000;
/** Events of this long are sent in one produce. */
const BATCH_MS = 20;

/**
 * Activation events on the bus's `events` topic, one per activation, in OpenWhisk's user
 * events format. Fire and forget: events are gathered for BATCH_MS and sent in one produce;
 * an event the bus does not take is dropped (and said, at most once a minute).
 */
export class UserEvents {
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private lastWarned = 0;

  constructor(
    private readonly bus: Pick<MessageBus, 'produce' | 'ensureTopics'>,
    private readonly source: string,
    private readonly log: Logger,
  ) {}

  static async start(bus: Pick<MessageBus, 'produce' | 'ensureTopics'>, source: string, log: Logger): Promise<UserEvents> {
    await bus.ensureTopics([Topics.events]);
    return new UserEvents(bus, source, log);
  }

  /** Send the activation's event (an ActivationObserver). */
  readonly activation = (record: ActivationRecord, m: ActivationMessage): void => {
    if (this.pending.length >= MAX_PENDING) return this.warn(new Error('too many events waiting for the bus'));
    this.pending.push(JSON.stringify(this.event(record, m)));
    this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
  };

  event(record: ActivationRecord, m: ActivationMessage): EventMessage {
    const f = activationFacts(record, m);
    const result = record.response.result;
    return {
      source: this.source,
      body: {
        activationId: record.activationId,
        name: f.fqn,
        statusCode: record.response.statusCode,
        duration: record.duration,
        waitTime: f.waitMs,
        initTime: f.initMs,
        kind: f.kind,
        conductor: annotation(record.annotations, 'conductor') === true,
        memory: f.memoryMb,
        ...(f.causedBy ? { causedBy: f.causedBy } : {}),
        ...(result === undefined ? {} : { size: Buffer.byteLength(JSON.stringify(result)) }),
      },
      subject: m.subject,
      namespace: m.namespace,
      userId: m.userId ?? '',
      eventType: 'Activation',
      timestamp: Date.now(),
    };
  }

  /** Send what is pending now; resolves once sent (or dropped). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length) this.sending = this.sending.then(() => this.bus.produce(Topics.events, batch).catch((e: Error) => this.warn(e)));
    return this.sending;
  }

  private warn(e: Error): void {
    if (Date.now() - this.lastWarned < 60_000) return;
    this.lastWarned = Date.now();
    this.log.warn({ err: e }, 'activation events dropped: the bus did not take them');
  }
}
