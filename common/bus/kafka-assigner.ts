import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

const { MemberMetadata, MemberAssignment } = AssignerProtocol;

/** Partitions by topic. */
export type Owned = Record<string, number[]>;

/**
 * A sticky partition assigner for kafkajs. Each member puts the partitions it holds into its
 * join metadata; the leader leaves every partition with its holder (up to a fair share) and
 * spreads only the rest over the members with the least. kafkajs' round robin would instead
 * move a partition to whichever member sorts first — so a consumer joining the group would
 * take a partition from a live member with handlers running, and get those unacknowledged
 * messages again. With this, a partition moves only when its holder leaves or its session
 * expires (or to even out a member that holds more than its share).
 */
export function stickyAssigner(owned: () => Owned): PartitionAssigner {
  return ({ cluster }) => ({
    name: 'SwirlSticky',
    version: 0,

    async assign({ members, topics }) {
      const claims = new Map<string, { topics: string[]; owned: Owned }>();
      for (const m of members) {
        const meta = MemberMetadata.decode(m.memberMetadata);
        claims.set(m.memberId, { topics: meta?.topics ?? [], owned: parseOwned(meta?.userData) });
      }
      const assignment = new Map<string, Owned>(members.map((m) => [m.memberId, {}]));
      for (const topic of topics) {
        const eligible = members.map((m) => m.memberId).filter((id) => claims.get(id)!.topics.includes(topic)).sort();
        if (eligible.length === 0) continue;
        const partitions = cluster
          .findTopicPartitionMetadata(topic)
          .map((p) => p.partitionId)
          .sort((a, b) => a - b);
        const share = Math.ceil(partitions.length / eligible.length);
        const load = new Map(eligible.map((id) => [id, 0]));
        const give = (id: string, partition: number) => {
          const owned = assignment.get(id)!;
          (owned[topic] ??= []).push(partition);
          load.set(id, load.get(id)! + 1);
        };
        const free: number[] = [];
        for (const p of partitions) {
          const holder = eligible.find((id) => claims.get(id)!.owned[topic]?.includes(p));
          if (holder !== undefined && load.get(holder)! < share) give(holder, p);
          else free.push(p);
        }
        for (const p of free) {
          const [least] = [...load].sort(([a, x], [b, y]) => x - y || a.localeCompare(b));
          give(least![0], p);
        }
      }
      return [...assignment].map(([memberId, owned]) => ({ memberId, memberAssignment: MemberAssignment.encode({ version: 0, assignment: owned, userData: Buffer.alloc(0) }) }));
    },

    protocol({ topics }) {
      return {
        name: 'SwirlSticky',
        metadata: MemberMetadata.encode({ version: 0, topics, userData: Buffer.from(JSON.stringify(owned())) }),
      };
    },
  });
}

function parseOwned(userData: Buffer | undefined): Owned {
  if (!userData || userData.length === 0) return {};
  try {
    const parsed = JSON.parse(userData.toString()) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Owned) : {};
  } catch {
    return {};
  }
}
