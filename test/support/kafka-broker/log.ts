/**
 * In-memory log storage of the Kafka test broker. A partition keeps the record batches
 * (magic 2) exactly as the producer encoded them, with the broker-assigned base offset
 * written into their first 8 bytes — what a real broker does too. The CRC covers only the
 * bytes after the partition leader epoch, so rewriting the offset keeps batches valid, and
 * consumers decode them with their own codecs (compression included).
 */

/** Byte positions inside a record batch (v2). */
const BATCH = {
  baseOffset: 0,
  length: 8,
  magic: 16,
  lastOffsetDelta: 23,
  maxTimestamp: 35,
  producerId: 43,
  baseSequence: 53,
  /** Everything before the records. */
  headerSize: 61,
} as const;

/** Offset counting, length and magic: what precedes `length` bytes of a batch. */
const LOG_OVERHEAD = 12;

export class CorruptBatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

interface StoredBatch {
  baseOffset: number;
  /** Offset after the batch's last record. */
  nextOffset: number;
  maxTimestamp: number;
  bytes: Buffer;
}

/** Last batch an idempotent producer wrote, to recognise a retried (duplicate) send. */
interface ProducerState {
  lastSequence: number;
  baseOffset: number;
}

export class PartitionLog {
  private readonly batches: StoredBatch[] = [];
  private end = 0;
  private readonly listeners = new Set<() => void>();
  private readonly producers = new Map<bigint, ProducerState>();

  /** The offset the next record gets (= high watermark: a single broker has no replicas to wait for). */
  get highWatermark(): number {
    return this.end;
  }

  get logStartOffset(): number {
    return 0;
  }

  /**
   * Append a RECORDS field of a produce request (one or more batches). Returns the base offset
   * of the first batch. A batch an idempotent producer already wrote (same producer id, a
   * sequence at or below the last one) is acknowledged again without being appended.
   */
  append(records: Buffer): number {
    const batches = splitBatches(records);
    if (batches.length === 0) throw new CorruptBatchError('empty record set');
    let firstBase: number | undefined;
    for (const raw of batches) {
      const producerId = raw.readBigInt64BE(BATCH.producerId);
      const sequence = raw.readInt32BE(BATCH.baseSequence);
      const count = raw.readInt32BE(BATCH.lastOffsetDelta) + 1;
      const known = producerId >= 0n ? this.producers.get(producerId) : undefined;
      if (known && sequence >= 0 && sequence <= known.lastSequence) {
        firstBase ??= known.baseOffset;
        continue;
      }
      const bytes = Buffer.from(raw);
      bytes.writeBigInt64BE(BigInt(this.end), BATCH.baseOffset);
      const batch = { baseOffset: this.end, nextOffset: this.end + count, maxTimestamp: Number(bytes.readBigInt64BE(BATCH.maxTimestamp)), bytes };
      this.batches.push(batch);
      if (producerId >= 0n && sequence >= 0) this.producers.set(producerId, { lastSequence: sequence + count - 1, baseOffset: batch.baseOffset });
      firstBase ??= batch.baseOffset;
      this.end = batch.nextOffset;
    }
    for (const listener of [...this.listeners]) listener();
    return firstBase!;
  }

  /**
   * Batches from the one holding `offset` on, up to about `maxBytes` (at least one batch, as
   * Kafka does, so a batch larger than the limit cannot stall a consumer). The consumer drops
   * the records before `offset` itself.
   */
  read(offset: number, maxBytes: number): Buffer {
    let i = this.indexOf(offset);
    if (i < 0) return Buffer.alloc(0);
    const out: Buffer[] = [];
    let size = 0;
    for (; i < this.batches.length; i++) {
      const bytes = this.batches[i]!.bytes;
      if (out.length > 0 && size + bytes.length > maxBytes) break;
      out.push(bytes);
      size += bytes.length;
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out, size);
  }

  /** The first offset whose batch has a timestamp at or after `timestamp` (ListOffsets by time). */
  offsetForTimestamp(timestamp: number): number {
    return this.batches.find((b) => b.maxTimestamp >= timestamp)?.baseOffset ?? this.end;
  }

  /** Call `listener` on every append until the returned function is called. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Index of the batch containing `offset` (binary search), or -1 at/after the end. */
  private indexOf(offset: number): number {
    let lo = 0;
    let hi = this.batches.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = this.batches[mid]!;
      if (offset < b.baseOffset) hi = mid - 1;
      else if (offset >= b.nextOffset) lo = mid + 1;
      else return mid;
    }
    return lo < this.batches.length ? lo : -1;
  }
}

/** Cut a RECORDS field into its batches, checking each is a complete magic-2 batch. */
function splitBatches(records: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < records.length) {
    if (records.length - pos < BATCH.headerSize) throw new CorruptBatchError('truncated record batch header');
    const length = records.readInt32BE(pos + BATCH.length);
    const end = pos + LOG_OVERHEAD + length;
    if (end > records.length) throw new CorruptBatchError('truncated record batch');
    const magic = records.readInt8(pos + BATCH.magic);
    if (magic !== 2) throw new CorruptBatchError(`unsupported message format (magic ${magic})`);
    out.push(records.subarray(pos, end));
    pos = end;
  }
  return out;
}

/** Topic names as Kafka allows them. */
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** The broker's topics and their partitions. */
export class TopicStore {
  private readonly topics = new Map<string, PartitionLog[]>();

  constructor(private readonly defaultPartitions: number) {}

  static isLegalName(name: string): boolean {
    return LEGAL_TOPIC.test(name) && name !== '.' && name !== '..';
  }

  has(name: string): boolean {
    return this.topics.has(name);
  }

  names(): string[] {
    return [...this.topics.keys()];
  }

  partitions(name: string): PartitionLog[] | undefined {
    return this.topics.get(name);
  }

  partition(name: string, partition: number): PartitionLog | undefined {
    return this.topics.get(name)?.[partition];
  }

  /** Create a topic (false when it exists). `partitions` ≤ 0 means the broker default. */
  create(name: string, partitions = -1): boolean {
    if (this.topics.has(name)) return false;
    const count = partitions > 0 ? partitions : this.defaultPartitions;
    this.topics.set(name, Array.from({ length: count }, () => new PartitionLog()));
    return true;
  }
}
