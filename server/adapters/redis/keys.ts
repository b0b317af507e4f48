import { priorities, type Priority } from "@/server/engine/core/envelope";

/**
 * Where a topic and a group live in Redis. Names are escaped so that `:` inside a topic or group
 * cannot make two different (topic, group) pairs share a key.
 *
 * A group reads six streams, in this order, which is the order of preference under backlog:
 * retry:high, topic:high, retry:normal, topic:normal, retry:low, topic:low. The topic streams are
 * shared by every group of the topic; the retry streams (retried and redriven messages) belong to
 * one group, so a retry never reaches another subscription.
 */
export const STREAMS_PER_GROUP = priorities.length * 2;

function escape(name: string): string {
  return name.replaceAll("%", "%25").replaceAll(":", "%3A");
}

export function topicStreamKey(prefix: string, topic: string, priority: Priority): string {
  return `${prefix}:t:${escape(topic)}:${priority}`;
}

export function groupKeyBase(prefix: string, topic: string, group: string): string {
  return `${prefix}:g:${escape(topic)}:${escape(group)}`;
}

export interface GroupKeys {
  /** The six streams the group reads, in order of preference (see above). */
  streams: string[];
  /** The group's retry streams by priority index (high, normal, low). */
  retryStreams: string[];
  /** Sorted set of messages waiting for a delayed retry, scored by due time (ms, Redis clock). */
  delayed: string;
}

export function groupKeys(prefix: string, topic: string, group: string): GroupKeys {
  const base = groupKeyBase(prefix, topic, group);
  const retryStreams = priorities.map((priority) => `${base}:r:${priority}`);
  const streams = priorities.flatMap((priority, index) => [retryStreams[index] as string, topicStreamKey(prefix, topic, priority)]);
  return { streams, retryStreams, delayed: `${base}:delayed` };
}

/** Position in {@link GroupKeys.streams}: even indexes are retry streams. */
export function streamPriority(streamIndex: number): Priority {
  return priorities[streamIndex >> 1] as Priority;
}

export function isRetryStream(streamIndex: number): boolean {
  return streamIndex % 2 === 0;
}

export function inboxKey(prefix: string, subscription: string, messageId: string): string {
  return `${prefix}:inbox:${escape(subscription)}:${messageId}`;
}
