import kafkajs, { type PartitionAssigner } from "kafkajs";

const { AssignerProtocol } = kafkajs;

/**
 * Assigns partition number p of every topic of the group to the same member. A key hashes to the
 * same partition number in each of the group's topics (they are created with one partition count),
 * so one member handles a key at all three priorities and in the retry topic: the key affinity the
 * driver advertises. Kafka's round-robin assigner would scatter them.
 */
export const keyAffinityAssigner: PartitionAssigner = ({ cluster }) => ({
  name: "EventloomKeyAffinity",
  version: 0,
  async assign({ members, topics }) {
    const memberIds = members.map(({ memberId }) => memberId).sort();
    const partitionNumbers = new Set<number>();
    const partitionsOf = new Map<string, number[]>();
    for (const topic of topics) {
      const partitions = cluster.findTopicPartitionMetadata(topic).map(({ partitionId }) => partitionId);
      partitionsOf.set(topic, partitions);
      for (const partition of partitions) partitionNumbers.add(partition);
    }
    const ownerOf = new Map<number, string>();
    [...partitionNumbers].sort((a, b) => a - b).forEach((partition, index) => {
      const owner = memberIds[index % memberIds.length];
      if (owner !== undefined) ownerOf.set(partition, owner);
    });
    const assignments = new Map<string, Record<string, number[]>>(memberIds.map((memberId) => [memberId, {}]));
    for (const [topic, partitions] of partitionsOf) {
      for (const partition of partitions) {
        const assignment = assignments.get(ownerOf.get(partition) ?? "");
        if (assignment) (assignment[topic] ??= []).push(partition);
      }
    }
    return [...assignments].map(([memberId, assignment]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return {
      name: "EventloomKeyAffinity",
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});
