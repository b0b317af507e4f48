import kafkajs from "kafkajs";

/**
 * For tests and benches, which name their topics and consumer groups under a random prefix:
 * deletes every topic and group whose name starts with `namePrefix`.
 */
export async function deleteKafkaObjects(brokers: string[], namePrefix: string): Promise<void> {
  const admin = new kafkajs.Kafka({ clientId: "eventloom-cleanup", brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(namePrefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map(({ groupId }) => groupId).filter((groupId) => groupId.startsWith(namePrefix));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}
