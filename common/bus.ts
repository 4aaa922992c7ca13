/**
 * The message bus between controllers and invokers (OpenWhisk's MessagingProvider).
 * Topics: `invoker<N>` (activations for invoker N), `completed<controllerId>` (results and
 * completions for the controller that published), `health`, `events`, `cacheInvalidation`
 * (entities a controller wrote: every controller reads it in a group of its own).
 *
 * Delivery is at least once. A consumer belongs to a group; each message of a topic goes to
 * one consumer of each group. A message is acknowledged (kafka: its offset committed; redis:
 * XACK) when the handler's promise settles — never before — so a consumer that dies with
 * handlers running leaves those messages unacknowledged, and the group delivers them again
 * to another consumer (or to the same consumer id when it comes back).
 *
 * Implementations: kafka (kafkajs), redis (streams and consumer groups), memory (one process),
 * local (one process, durable in lmdb: standalone's). One conformance suite
 * (test/integration/bus.test.ts) runs against all four.
 */

/** A message as a consumer receives it. */
export interface BusMessage {
  topic: string;
  value: Buffer;
  /** Position in the topic (kafka offset, stream entry id, memory sequence): for logs. */
  id: string;
  /** True when the bus knows this message was (or, after a restart of the local bus, may have been) delivered before and not acknowledged (redis, memory, local). */
  redelivered: boolean;
}

/**
 * Handles one message. Settling the promise acknowledges it; a rejection is logged by the
 * bus and acknowledged too (the handler owns its retries: a poison message must not loop).
 * A handler done at once may return nothing instead (acknowledged then): no promise for
 * each message, which costs while AsyncLocalStorage carries the log context (Node 20).
 */
export type MessageHandler = (message: BusMessage) => Promise<void> | void;

export interface ConsumerOptions {
  topic: string;
  group: string;
  /** Unique within the group and stable across restarts of the same component (e.g. `invoker3`). */
  consumerId: string;
  /** Handlers running at once; the consumer stops fetching while this many are unsettled. */
  maxInFlight: number;
  handler: MessageHandler;
  /**
   * Take over messages that other consumers of the group received and left unacknowledged
   * for at least this long (redis XAUTOCLAIM, memory), checked when subscribing and then
   * periodically. Kafka ignores it: a partition moves to another member when its owner's
   * session times out, and is read again from the last committed offset.
   */
  claimIdleMs?: number;
}

export interface Consumer {
  /** Stop fetching, wait for the running handlers (their messages are acknowledged), leave the group. */
  close(): Promise<void>;
  /**
   * Stop at once as a crash would: nothing more is acknowledged, running handlers are
   * abandoned (what they later settle is ignored) and the connection is dropped without
   * leaving the group. Used by tests and by a process that is going down hard.
   */
  abort(): Promise<void>;
}

/** Whether other processes can read the bus (Kafka, Redis), or only this one (memory, local). */
export const sharedBus = (bus: Pick<MessageBus, 'name'>): boolean => bus.name === 'kafka' || bus.name === 'redis';

export interface MessageBus {
  readonly name: 'kafka' | 'redis' | 'memory' | 'local';
  /** Create the topics that do not exist yet (kafka: one partition each). Idempotent. */
  ensureTopics(topics: string[]): Promise<void>;
  /**
   * Append messages to a topic, in order. Resolves once the bus holds them durably
   * (kafka acks=all). Rejects with ServiceUnavailableError when the bus cannot be reached.
   */
  produce(topic: string, values: (Buffer | string)[]): Promise<void>;
  subscribe(options: ConsumerOptions): Promise<Consumer>;
  /** Whether the bus answers now (for /ready and the 503 path). */
  ping(): Promise<boolean>;
  /** Close every consumer (gracefully) and the connections. */
  close(): Promise<void>;
}

export const Topics = {
  invoker: (id: number | string): string => `invoker${id}`,
  completed: (controllerId: number | string): string => `completed${controllerId}`,
  /** Starts of the sequences a controller runs, acknowledged once their records are stored. */
  sequences: (controllerId: number | string): string => `sequences${controllerId}`,
  health: 'health',
  events: 'events',
  cacheInvalidation: 'cacheInvalidation',
} as const;
