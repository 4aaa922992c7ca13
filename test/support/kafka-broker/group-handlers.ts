import type Decoder from 'kafkajs/src/protocol/decoder.js';
import Encoder from 'kafkajs/src/protocol/encoder.js';
import type { BrokerContext } from './context.ts';
import { ErrorCode } from './protocol.ts';

/**
 * Handlers of the group APIs: FindCoordinator v0, JoinGroup v0–v1, SyncGroup v0,
 * Heartbeat v0, LeaveGroup v0, OffsetCommit v2, OffsetFetch v1. The state lives in the
 * GroupCoordinator; these only translate between it and the wire.
 */

const str = (d: Decoder): string => d.readString() ?? '';

/** FindCoordinator v0: this broker coordinates every group. */
export async function findCoordinator(ctx: BrokerContext, d: Decoder): Promise<Encoder> {
  d.readString(); // group id
  return new Encoder().writeInt16(ErrorCode.NONE).writeInt32(ctx.nodeId).writeString(ctx.host).writeInt32(ctx.port());
}

/** JoinGroup v0/v1 (v1 adds the rebalance timeout; v0 uses the session timeout for it). Parks until the join phase ends. */
export async function joinGroup(ctx: BrokerContext, d: Decoder, version: number, clientId: string): Promise<Encoder> {
  const groupId = str(d);
  const sessionTimeoutMs = d.readInt32();
  const rebalanceTimeoutMs = version >= 1 ? d.readInt32() : sessionTimeoutMs;
  const memberId = str(d);
  const protocolType = str(d);
  const protocols = d.readArray((p) => ({ name: str(p), metadata: p.readBytes() ?? Buffer.alloc(0) }));
  const r = await ctx.groups.join({ groupId, memberId, clientId, sessionTimeoutMs, rebalanceTimeoutMs, protocolType, protocols });
  return new Encoder()
    .writeInt16(r.errorCode)
    .writeInt32(r.generationId)
    .writeString(r.protocol)
    .writeString(r.leaderId)
    .writeString(r.memberId)
    .writeArray(r.members.map((m) => new Encoder().writeString(m.memberId).writeBytes(m.metadata)));
}

/** SyncGroup v0: the leader brings the assignment; everyone waits for it. */
export async function syncGroup(ctx: BrokerContext, d: Decoder): Promise<Encoder> {
  const groupId = str(d);
  const generationId = d.readInt32();
  const memberId = str(d);
  const assignments = d.readArray((a) => ({ memberId: str(a), assignment: a.readBytes() ?? Buffer.alloc(0) }));
  const r = await ctx.groups.sync({ groupId, generationId, memberId, assignments });
  return new Encoder().writeInt16(r.errorCode).writeBytes(r.assignment);
}

export async function heartbeat(ctx: BrokerContext, d: Decoder): Promise<Encoder> {
  const groupId = str(d);
  const generationId = d.readInt32();
  const memberId = str(d);
  return new Encoder().writeInt16(ctx.groups.heartbeat(groupId, generationId, memberId));
}

export async function leaveGroup(ctx: BrokerContext, d: Decoder): Promise<Encoder> {
  const groupId = str(d);
  const memberId = str(d);
  return new Encoder().writeInt16(ctx.groups.leave(groupId, memberId));
}

/** OffsetCommit v2: all partitions of a request succeed or fail together (member/generation check). */
export async function offsetCommit(ctx: BrokerContext, d: Decoder): Promise<Encoder> {
  const groupId = str(d);
  const generationId = d.readInt32();
  const memberId = str(d);
  d.readInt64(); // retention time
  const topics = d.readArray((t) => ({
    name: str(t),
    partitions: t.readArray((p) => {
      const partition = p.readInt32();
      const offset = Number(p.readInt64());
      p.readString(); // metadata
      return { partition, offset };
    }),
  }));
  const error = ctx.groups.checkCommit(groupId, generationId, memberId);
  return new Encoder().writeArray(
    topics.map(({ name, partitions }) =>
      new Encoder().writeString(name).writeArray(
        partitions.map(({ partition, offset }) => {
          let code = error;
          if (code === ErrorCode.NONE && !ctx.topics.partition(name, partition)) code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          if (code === ErrorCode.NONE) ctx.groups.commit(groupId, name, partition, offset);
          return new Encoder().writeInt32(partition).writeInt16(code);
        }),
      ),
    ),
  );
}

/** OffsetFetch v1: -1 for a partition the group never committed. */
export async function offsetFetch(ctx: BrokerContext, d: Decoder): Promise<Encoder> {
  const groupId = str(d);
  const topics = d.readArray((t) => ({ name: str(t), partitions: t.readArray((p) => p.readInt32()) }));
  return new Encoder().writeArray(
    topics.map(({ name, partitions }) =>
      new Encoder()
        .writeString(name)
        .writeArray(partitions.map((partition) => new Encoder().writeInt32(partition).writeInt64(ctx.groups.committed(groupId, name, partition)).writeString('').writeInt16(ErrorCode.NONE))),
    ),
  );
}
