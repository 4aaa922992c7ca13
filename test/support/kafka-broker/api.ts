import type Decoder from 'kafkajs/src/protocol/decoder.js';
import Encoder from 'kafkajs/src/protocol/encoder.js';
import type { BrokerContext } from './context.ts';
import * as data from './data-handlers.ts';
import * as group from './group-handlers.ts';
import { ApiKey, ErrorCode, type RequestHeader, SUPPORTED_VERSIONS } from './protocol.ts';

/** A request the broker does not implement; the server closes the connection, as Kafka does. */
export class UnsupportedRequestError extends Error {
  constructor(header: RequestHeader) {
    super(`Kafka test broker: API key ${header.apiKey} v${header.apiVersion} is not implemented`);
    this.name = new.target.name;
  }
}

/**
 * ApiVersions v0. A client asking with a newer version gets UNSUPPORTED_VERSION in the v0
 * layout (what Kafka does), and kafkajs retries with v0.
 */
function apiVersions(header: RequestHeader): Encoder {
  const error = header.apiVersion === 0 ? ErrorCode.NONE : ErrorCode.UNSUPPORTED_VERSION;
  return new Encoder()
    .writeInt16(error)
    .writeArray([...SUPPORTED_VERSIONS].map(([key, [min, max]]) => new Encoder().writeInt16(key).writeInt16(min).writeInt16(max)));
}

/** Route a request to its handler. */
export function dispatch(ctx: BrokerContext, header: RequestHeader, body: Decoder): Promise<Encoder | null> {
  if (header.apiKey === ApiKey.ApiVersions) return Promise.resolve(apiVersions(header));
  const range = SUPPORTED_VERSIONS.get(header.apiKey);
  if (!range || header.apiVersion < range[0] || header.apiVersion > range[1]) throw new UnsupportedRequestError(header);
  switch (header.apiKey) {
    case ApiKey.Metadata:
      return data.metadata(ctx, body);
    case ApiKey.CreateTopics:
      return data.createTopics(ctx, body);
    case ApiKey.Produce:
      return data.produce(ctx, body);
    case ApiKey.Fetch:
      return data.fetch(ctx, body);
    case ApiKey.ListOffsets:
      return data.listOffsets(ctx, body);
    case ApiKey.InitProducerId:
      return data.initProducerId(ctx, body);
    case ApiKey.FindCoordinator:
      return group.findCoordinator(ctx, body);
    case ApiKey.JoinGroup:
      return group.joinGroup(ctx, body, header.apiVersion, header.clientId ?? '');
    case ApiKey.SyncGroup:
      return group.syncGroup(ctx, body);
    case ApiKey.Heartbeat:
      return group.heartbeat(ctx, body);
    case ApiKey.LeaveGroup:
      return group.leaveGroup(ctx, body);
    case ApiKey.OffsetCommit:
      return group.offsetCommit(ctx, body);
    case ApiKey.OffsetFetch:
      return group.offsetFetch(ctx, body);
    default:
      throw new UnsupportedRequestError(header);
  }
}
