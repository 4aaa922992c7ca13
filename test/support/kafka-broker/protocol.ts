/**
 * Wire-protocol constants of the Kafka test broker: API keys, error codes and the versions
 * it speaks. kafkajs takes min(its best version, our max) per API from the ApiVersions
 * answer, so advertising only what the handlers implement makes it negotiate down.
 */
export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  ApiVersions: 18,
  CreateTopics: 19,
  InitProducerId: 22,
} as const;

/** Kafka error codes the broker answers with (names as in the Kafka protocol guide). */
export const ErrorCode = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_TOPIC_EXCEPTION: 17,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  UNKNOWN_MEMBER_ID: 25,
  REBALANCE_IN_PROGRESS: 27,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
} as const;

/** [min, max] version per API key; the handlers implement exactly these. */
export const SUPPORTED_VERSIONS: ReadonlyMap<number, readonly [number, number]> = new Map([
  [ApiKey.Produce, [3, 3]],
  [ApiKey.Fetch, [4, 4]],
  [ApiKey.ListOffsets, [1, 1]],
  [ApiKey.Metadata, [1, 1]],
  [ApiKey.OffsetCommit, [2, 2]],
  [ApiKey.OffsetFetch, [1, 1]],
  [ApiKey.FindCoordinator, [0, 0]],
  // v1 adds the rebalance timeout, so a member busy between polls is not dropped after one session timeout
  [ApiKey.JoinGroup, [0, 1]],
  [ApiKey.Heartbeat, [0, 0]],
  [ApiKey.LeaveGroup, [0, 0]],
  [ApiKey.SyncGroup, [0, 0]],
  [ApiKey.ApiVersions, [0, 0]],
  [ApiKey.CreateTopics, [0, 0]],
  [ApiKey.InitProducerId, [0, 0]],
]);

/** Request header v1 (every version above uses it; no flexible versions). */
export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** ListOffsets' special timestamps. */
export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;
