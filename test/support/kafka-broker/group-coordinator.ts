import { randomUUID } from 'node:crypto';
import { ErrorCode } from './protocol.ts';

/**
 * Consumer-group coordination of the Kafka test broker, after Kafka's GroupCoordinator
 * (classic protocol): Empty → PreparingRebalance → CompletingRebalance → Stable.
 *
 * A rebalance starts when a member joins, leaves, or its session expires (no heartbeat,
 * join, sync or commit for `sessionTimeout` — a process that was killed). Existing members
 * learn of it from their next heartbeat (REBALANCE_IN_PROGRESS) and join again; the join
 * completes when every member has rejoined or the rebalance timeout passes (the laggards
 * are dropped). The leader gets every member's metadata, computes the assignment and sends
 * it with its SyncGroup; each member's SyncGroup is answered with its own part.
 * Parked JoinGroup/SyncGroup requests are answered later through their callbacks.
 */

type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface JoinRequest {
  groupId: string;
  memberId: string;
  clientId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocol: string;
  leaderId: string;
  memberId: string;
  /** Filled for the leader only. */
  members: { memberId: string; metadata: Buffer }[];
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  assignment: Buffer;
}

interface Member {
  id: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: { name: string; metadata: Buffer }[];
  lastSeen: number;
  assignment: Buffer;
  joinReply?: (result: JoinResult) => void;
  syncReply?: (result: SyncResult) => void;
}

class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType = '';
  protocol = '';
  leaderId = '';
  readonly members = new Map<string, Member>();
  /** Committed offsets by `topic\0partition`. */
  readonly offsets = new Map<string, number>();
  rebalanceTimer: NodeJS.Timeout | undefined;

  constructor(readonly id: string) {}
}

const EMPTY = Buffer.alloc(0);
/** How often sessions are checked for expiry. */
const SWEEP_MS = 20;

const joinError = (errorCode: number, memberId = ''): JoinResult => ({ errorCode, generationId: -1, protocol: '', leaderId: '', memberId, members: [] });
const offsetKey = (topic: string, partition: number): string => `${topic}\0${partition}`;

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.expireSessions(), SWEEP_MS);
    this.sweeper.unref();
  }

  join(req: JoinRequest): Promise<JoinResult> {
    const group = this.group(req.groupId);
    if (group.members.size > 0 && (req.protocolType !== group.protocolType || !this.sharesProtocol(group, req.protocols))) {
      return Promise.resolve(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    }
    let member: Member | undefined;
    if (req.memberId === '') {
      member = { id: `${req.clientId}-${randomUUID()}`, sessionTimeoutMs: 0, rebalanceTimeoutMs: 0, protocols: [], lastSeen: 0, assignment: EMPTY };
      group.members.set(member.id, member);
    } else {
      member = group.members.get(req.memberId);
      if (!member) return Promise.resolve(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
    }
    group.protocolType = req.protocolType;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.protocols = req.protocols;
    member.lastSeen = this.now();
    const joining = member;
    return new Promise((resolve) => {
      // a member that sends a second join before the first was answered: the older one is void
      joining.joinReply?.(joinError(ErrorCode.REBALANCE_IN_PROGRESS, joining.id));
      joining.joinReply = resolve;
      if (group.state === 'PreparingRebalance') this.completeJoinIfReady(group);
      else this.prepareRebalance(group);
    });
  }

  sync(req: SyncRequest): Promise<SyncResult> {
    const group = this.groups.get(req.groupId);
    const member = group?.members.get(req.memberId);
    if (!group || !member) return Promise.resolve({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    if (req.generationId !== group.generationId) return Promise.resolve({ errorCode: ErrorCode.ILLEGAL_GENERATION, assignment: EMPTY });
    member.lastSeen = this.now();
    if (group.state === 'PreparingRebalance') return Promise.resolve({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
    if (group.state === 'Stable') return Promise.resolve({ errorCode: ErrorCode.NONE, assignment: member.assignment });
    return new Promise((resolve) => {
      member.syncReply = resolve;
      if (member.id !== group.leaderId) return;
      const byMember = new Map(req.assignments.map((a) => [a.memberId, a.assignment]));
      for (const m of group.members.values()) m.assignment = byMember.get(m.id) ?? EMPTY;
      group.state = 'Stable';
      for (const m of group.members.values()) {
        m.syncReply?.({ errorCode: ErrorCode.NONE, assignment: m.assignment });
        m.syncReply = undefined;
      }
    });
  }

  heartbeat(groupId: string, generationId: number, memberId: string): number {
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    member.lastSeen = this.now();
    return group.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  leave(groupId: string, memberId: string): number {
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.removeMember(group, member);
    return ErrorCode.NONE;
  }

  /**
   * Check that a member may commit now. Generation -1 with no member id is a standalone
   * commit (admin tools); a commit during the sync phase is refused, as Kafka does.
   */
  checkCommit(groupId: string, generationId: number, memberId: string): number {
    if (generationId < 0 && memberId === '') return ErrorCode.NONE;
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    member.lastSeen = this.now();
    return group.state === 'CompletingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  commit(groupId: string, topic: string, partition: number, offset: number): void {
    this.group(groupId).offsets.set(offsetKey(topic, partition), offset);
  }

  /** The committed offset, or -1 when the group has none for that partition. */
  committed(groupId: string, topic: string, partition: number): number {
    return this.groups.get(groupId)?.offsets.get(offsetKey(topic, partition)) ?? -1;
  }

  /** Stop the timers; parked requests are dropped with their connections. */
  close(): void {
    clearInterval(this.sweeper);
    for (const group of this.groups.values()) clearTimeout(group.rebalanceTimer);
  }

  private group(id: string): Group {
    let group = this.groups.get(id);
    if (!group) this.groups.set(id, (group = new Group(id)));
    return group;
  }

  private sharesProtocol(group: Group, protocols: { name: string }[]): boolean {
    return protocols.some((p) => [...group.members.values()].every((m) => m.protocols.length === 0 || m.protocols.some((q) => q.name === p.name)));
  }

  private prepareRebalance(group: Group): void {
    if (group.state === 'CompletingRebalance') {
      for (const m of group.members.values()) {
        m.syncReply?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
        m.syncReply = undefined;
      }
    }
    group.state = 'PreparingRebalance';
    clearTimeout(group.rebalanceTimer);
    const timeout = Math.max(0, ...[...group.members.values()].map((m) => m.rebalanceTimeoutMs));
    group.rebalanceTimer = setTimeout(() => this.completeJoin(group), timeout);
    this.completeJoinIfReady(group);
  }

  private completeJoinIfReady(group: Group): void {
    if ([...group.members.values()].every((m) => m.joinReply)) this.completeJoin(group);
  }

  /** End the join phase: drop members that did not rejoin, start the next generation. */
  private completeJoin(group: Group): void {
    clearTimeout(group.rebalanceTimer);
    group.rebalanceTimer = undefined;
    for (const m of [...group.members.values()]) if (!m.joinReply) group.members.delete(m.id);
    group.generationId++;
    const members = [...group.members.values()];
    if (members.length === 0) {
      group.state = 'Empty';
      group.leaderId = '';
      return;
    }
    if (!group.members.has(group.leaderId)) group.leaderId = members[0]!.id;
    const leader = group.members.get(group.leaderId)!;
    group.protocol = leader.protocols.find((p) => members.every((m) => m.protocols.some((q) => q.name === p.name)))?.name ?? '';
    group.state = 'CompletingRebalance';
    const now = this.now();
    for (const m of members) {
      const reply = m.joinReply!;
      m.joinReply = undefined;
      m.lastSeen = now;
      reply({
        errorCode: ErrorCode.NONE,
        generationId: group.generationId,
        protocol: group.protocol,
        leaderId: group.leaderId,
        memberId: m.id,
        members: m.id === group.leaderId ? members.map((x) => ({ memberId: x.id, metadata: x.protocols.find((p) => p.name === group.protocol)?.metadata ?? EMPTY })) : [],
      });
    }
  }

  private removeMember(group: Group, member: Member): void {
    group.members.delete(member.id);
    member.joinReply?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.id));
    member.syncReply?.({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    if (group.state === 'PreparingRebalance') this.completeJoinIfReady(group);
    else this.prepareRebalance(group);
  }

  /** Members waiting in a join are governed by the rebalance timeout, not their session. */
  private expireSessions(): void {
    const now = this.now();
    for (const group of this.groups.values()) {
      for (const member of [...group.members.values()]) {
        if (!member.joinReply && now - member.lastSeen > member.sessionTimeoutMs) this.removeMember(group, member);
      }
    }
  }
}
