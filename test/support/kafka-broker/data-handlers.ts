import type Decoder from 'kafkajs/src/protocol/decoder.js';
import Encoder from 'kafkajs/src/protocol/encoder.js';
import type { BrokerContext } from './context.ts';
import { CorruptBatchError, type PartitionLog, TopicStore } from './log.ts';
import { EARLIEST_TIMESTAMP, ErrorCode, LATEST_TIMESTAMP } from './protocol.ts';

/**
 * Handlers of the data-path APIs: Metadata v1, CreateTopics v0, Produce v3, Fetch v4,
 * ListOffsets v1, InitProducerId v0. Each reads its request body and encodes its response
 * body; the layouts are those of the Kafka protocol guide for that version.
 */

const str = (d: Decoder): string => d.readString() ?? '';

/** A topic by name, created first when auto-creation allows it. */
function topicFor(ctx: BrokerContext, name: string): { error: number; partitions?: PartitionLog[] } {
  if (!ctx.topics.has(name)) {
    if (!TopicStore.isLegalName(name)) return { error: ErrorCode.INVALID_TOPIC_EXCEPTION };
    if (!ctx.autoCreateTopics) return { error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    ctx.topics.create(name);
  }
  return { error: ErrorCode.NONE, partitions: ctx.topics.partitions(name)! };
}

/** Metadata v1: topics is a nullable array; null (-1) asks for every topic. */
export async function metadata(ctx: BrokerContext, d: Decoder): Promise<Encoder> {
  const count = d.readInt32();
  const names: string[] = [];
  for (let i = 0; i < count; i++) names.push(str(d));
  const requested = count < 0 ? ctx.topics.names() : names;
  const node = ctx.nodeId;
  const topics = requested.map((name) => {
    const { error, partitions = [] } = topicFor(ctx, name);
    return new Encoder()
      .writeInt16(error)
      .writeString(name)
      .writeBoolean(false)
      .writeArray(partitions.map((_, id) => new Encoder().writeInt16(ErrorCode.NONE).writeInt32(id).writeInt32(node).writeArray([node]).writeArray([node])));
  });
  return new Encoder()
    .writeArray([new Encoder().writeInt32(node).writeString(ctx.host).writeInt32(ctx.port()).writeString(null)])
    .writeInt32(node) // controller id
    .writeArray(topics);
}

/** CreateTopics v0. Replica assignments and configs are accepted and ignored (one broker). */
export async function createTopics(ctx: BrokerContext, d: Decoder): Promise<Encoder> {
  const requests = d.readArray((t) => {
    const name = str(t);
    const numPartitions = t.readInt32();
    t.readInt16(); // replication factor
    const assigned = t.readArray((a) => [a.readInt32(), a.readArray((r) => r.readInt32())]).length;
    t.readArray((c) => [c.readString(), c.readString()]);
    return { name, partitions: assigned > 0 ? assigned : numPartitions };
  });
  d.readInt32(); // timeout
  return new Encoder().writeArray(
    requests.map(({ name, partitions }) => {
      let error: number = ErrorCode.NONE;
      if (!TopicStore.isLegalName(name)) error = ErrorCode.INVALID_TOPIC_EXCEPTION;
      else if (partitions === 0 || partitions < -1) error = ErrorCode.INVALID_PARTITIONS;
      else if (!ctx.topics.create(name, partitions)) error = ErrorCode.TOPIC_ALREADY_EXISTS;
      return new Encoder().writeString(name).writeInt16(error);
    }),
  );
}

/**
 * Produce v3. Every acks value is answered after the append (the log is in memory, so
 * "all replicas" is this broker); acks=0 gets no response at all, as the protocol says.
 */
export async function produce(ctx: BrokerContext, d: Decoder): Promise<Encoder | null> {
  d.readString(); // transactional id
  const acks = d.readInt16();
  d.readInt32(); // timeout
  const topics = d.readArray((t) => {
    const name = str(t);
    const { error, partitions: logs } = topicFor(ctx, name);
    const results = t.readArray((p) => {
      const partition = p.readInt32();
      const records = p.readBytes() ?? Buffer.alloc(0);
      const log = logs?.[partition];
      if (!log) return { partition, error: error || ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, baseOffset: -1 };
      try {
        return { partition, error: ErrorCode.NONE, baseOffset: log.append(records) };
      } catch (e) {
        if (e instanceof CorruptBatchError) return { partition, error: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1 };
        throw e;
      }
    });
    return { name, results };
  });
  if (acks === 0) return null;
  return new Encoder()
    .writeArray(
      topics.map(({ name, results }) =>
        new Encoder().writeString(name).writeArray(results.map((r) => new Encoder().writeInt32(r.partition).writeInt16(r.error).writeInt64(r.baseOffset).writeInt64(-1))),
      ),
    )
    .writeInt32(0); // throttle time
}

interface FetchPartition {
  partition: number;
  offset: number;
  maxBytes: number;
  log: PartitionLog | undefined;
}

/**
 * Fetch v4, long-polling: when the logs hold fewer than min_bytes past the requested
 * offsets, the answer waits until an append brings enough or max_wait_time passes.
 */
export async function fetch(ctx: BrokerContext, d: Decoder): Promise<Encoder> {
  d.readInt32(); // replica id
  const maxWaitMs = d.readInt32();
  const minBytes = d.readInt32();
  const maxBytes = d.readInt32();
  d.readInt8(); // isolation level: nothing is transactional here
  const topics = d.readArray((t) => {
    const name = str(t);
    const partitions: FetchPartition[] = t.readArray((p) => {
      const partition = p.readInt32();
      return { partition, offset: Number(p.readInt64()), maxBytes: p.readInt32(), log: ctx.topics.partition(name, partition) };
    });
    return { name, partitions };
  });
  const all = topics.flatMap((t) => t.partitions);
  const deadline = Date.now() + maxWaitMs;
  let read = readAll(all, maxBytes);
  while (read.bytes < minBytes && !read.failed) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    await ctx.waitForData(
      all.flatMap((p) => (p.log ? [p.log] : [])),
      left,
    );
    read = readAll(all, maxBytes);
  }
  return new Encoder().writeInt32(0).writeArray(
    topics.map(({ name, partitions }) =>
      new Encoder().writeString(name).writeArray(
        partitions.map((p) => {
          const r = read.results.get(p)!;
          const hw = p.log?.highWatermark ?? -1;
          return new Encoder()
            .writeInt32(p.partition)
            .writeInt16(r.error)
            .writeInt64(hw)
            .writeInt64(hw) // last stable offset
            .writeArray([]) // aborted transactions
            .writeBytes(r.records);
        }),
      ),
    ),
  );
}

function readAll(partitions: FetchPartition[], maxBytes: number): { bytes: number; failed: boolean; results: Map<FetchPartition, { error: number; records: Buffer }> } {
  const results = new Map<FetchPartition, { error: number; records: Buffer }>();
  let bytes = 0;
  let failed = false;
  for (const p of partitions) {
    let error: number = ErrorCode.NONE;
    let records: Buffer = Buffer.alloc(0);
    if (!p.log) error = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    else if (p.offset < p.log.logStartOffset || p.offset > p.log.highWatermark) error = ErrorCode.OFFSET_OUT_OF_RANGE;
    else records = p.log.read(p.offset, Math.max(1, Math.min(p.maxBytes, maxBytes - bytes)));
    failed ||= error !== ErrorCode.NONE;
    bytes += records.length;
    results.set(p, { error, records });
  }
  return { bytes, failed, results };
}

/** ListOffsets v1: earliest (-2), latest (-1), or the first offset at/after a timestamp. */
export async function listOffsets(ctx: BrokerContext, d: Decoder): Promise<Encoder> {
  d.readInt32(); // replica id
  const topics = d.readArray((t) => {
    const name = str(t);
    return { name, partitions: t.readArray((p) => ({ partition: p.readInt32(), timestamp: Number(p.readInt64()) })) };
  });
  return new Encoder().writeArray(
    topics.map(({ name, partitions }) =>
      new Encoder().writeString(name).writeArray(
        partitions.map(({ partition, timestamp }) => {
          const log = ctx.topics.partition(name, partition);
          const e = new Encoder().writeInt32(partition);
          if (!log) return e.writeInt16(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION).writeInt64(-1).writeInt64(-1);
          const offset =
            timestamp === LATEST_TIMESTAMP ? log.highWatermark : timestamp === EARLIEST_TIMESTAMP ? log.logStartOffset : log.offsetForTimestamp(timestamp);
          return e.writeInt16(ErrorCode.NONE).writeInt64(-1).writeInt64(offset);
        }),
      ),
    ),
  );
}

/** InitProducerId v0: a fresh producer id (epoch 0) for an idempotent producer. */
export async function initProducerId(ctx: BrokerContext, d: Decoder): Promise<Encoder> {
  d.readString(); // transactional id (transactions are not supported)
  d.readInt32();
  return new Encoder().writeInt32(0).writeInt16(ErrorCode.NONE).writeInt64(ctx.nextProducerId()).writeInt16(0);
}
