import { parseJson } from '../../common/json.ts';
import { booleanParam, FeedParamError, positiveInteger } from './params.ts';

/**
 * `/whisk.system/messaging/kafkaFeed` parameters, as OpenWhisk's kafka package names them:
 * `brokers` (array or comma-separated `host:port`; `kafka_brokers_sasl` is read too),
 * `topic`, `isJSONData`, `isBinaryKey`, `isBinaryValue`, plus `maxBatchSize` (messages per fire).
 */
export interface KafkaFeedConfig {
  brokers: string[];
  topic: string;
  isJSONData: boolean;
  isBinaryKey: boolean;
  isBinaryValue: boolean;
  maxBatchSize: number;
  /**
   * Partition → the first offset the feed delivers: the topic's end when the feed was
   * created, so it sees what is produced from then on, wherever its consumer joins.
   */
  startOffsets: Record<string, string>;
}

export const DEFAULT_MAX_BATCH = 100;
const MAX_BATCH_LIMIT = 10_000;
const BROKER = /^[^\s,:/]+:\d{1,5}$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

function brokersOf(value: unknown): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  const brokers = list.map((b) => (typeof b === 'string' ? b.trim() : '')).filter(Boolean);
  if (brokers.length === 0) throw new FeedParamError("You must supply a 'brokers' parameter: host:port of the Kafka brokers (an array or comma-separated).");
  const bad = brokers.find((b) => !BROKER.test(b));
  if (bad) throw new FeedParamError(`The broker '${bad}' is not a host:port.`);
  return brokers;
}

/** The config of a new feed, or `current` changed by an UPDATE's parameters; startOffsets come later. */
export function kafkaFeedConfig(params: Record<string, unknown>, current?: KafkaFeedConfig): Omit<KafkaFeedConfig, 'startOffsets'> {
  const given = (name: string) => params[name] !== undefined && params[name] !== null && params[name] !== '';
  const rawBrokers = given('brokers') ? params.brokers : given('kafka_brokers_sasl') ? params.kafka_brokers_sasl : current?.brokers;
  const brokers = brokersOf(rawBrokers);
  const topic = given('topic') ? params.topic : current?.topic;
  if (typeof topic !== 'string' || topic === '') throw new FeedParamError("You must supply a 'topic' parameter.");
  if (!TOPIC.test(topic)) throw new FeedParamError(`The topic '${topic}' is not a valid Kafka topic name.`);
  const isJSONData = booleanParam(params, 'isJSONData', current?.isJSONData);
  const isBinaryValue = booleanParam(params, 'isBinaryValue', current?.isBinaryValue);
  if (isJSONData && isBinaryValue) throw new FeedParamError('isJSONData and isBinaryValue cannot both be enabled.');
  const maxBatchSize = positiveInteger(params, 'maxBatchSize') ?? current?.maxBatchSize ?? DEFAULT_MAX_BATCH;
  if (maxBatchSize > MAX_BATCH_LIMIT) throw new FeedParamError(`the maxBatchSize parameter must be at most ${MAX_BATCH_LIMIT}`);
  return { brokers, topic, isJSONData, isBinaryKey: booleanParam(params, 'isBinaryKey', current?.isBinaryKey), isBinaryValue, maxBatchSize };
}

/** One message as the fired payload carries it (`{messages: [...]}`), decoded as the config says. */
export function feedMessage(c: KafkaFeedConfig, topic: string, partition: number, m: { offset: string; key: Buffer | null; value: Buffer | null }): Record<string, unknown> {
  const key = m.key === null ? null : c.isBinaryKey ? m.key.toString('base64') : m.key.toString('utf8');
  let value: unknown = null;
  if (m.value !== null) {
    value = c.isBinaryValue ? m.value.toString('base64') : m.value.toString('utf8');
    if (c.isJSONData) {
      try {
        value = parseJson(value as string);
      } catch {
        // not JSON after all, or nested too deep to hand on: delivered as the string it is (as OpenWhisk's feed does)
      }
    }
  }
  return { topic, partition, offset: Number(m.offset), key, value };
}
