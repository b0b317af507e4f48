import { priorities, type Priority } from "@/server/engine/core/envelope";
import { ValidationError } from "@/server/engine/core/errors";

/**
 * Kafka names of an Eventloom topic and its groups:
 *   `{prefix}.{topic}.high|normal|low`  one Kafka topic per priority (messages keyed by `key`)
 *   `{prefix}.{topic}.{group*}.retry`    the group's delayed-retry and redrive input
 *   `{prefix}.{topic}:{group}`           the consumer group (any string is a valid group id)
 * `group*` escapes every character but letters, digits and `-` as `_` + two hex digits per UTF-8
 * byte, so it holds no dot and the retry topic names one (topic, group) pair only: topic "a.b" with
 * group "c" and topic "a" with group "b.c" get different retry topics.
 */

const LEGAL_TOPIC = /^[A-Za-z0-9._-]+$/;
/** Kafka's limit on a topic name. */
const MAX_TOPIC_NAME = 249;

export interface GroupTopics {
  groupId: string;
  /** The priority topics, highest first. */
  priorityTopics: string[];
  retryTopic: string;
}

export class KafkaNames {
  constructor(private readonly prefix: string) {}

  priorityTopic(topic: string, priority: Priority): string {
    return this.checked(`${this.prefix}.${checkTopic(topic)}.${priority}`, "topic");
  }

  priorityTopics(topic: string): string[] {
    return priorities.map((priority) => this.priorityTopic(topic, priority));
  }

  group(topic: string, group: string): GroupTopics {
    if (group.length === 0) throw new ValidationError("group: must not be empty", [{ path: "group", message: "must not be empty" }]);
    return {
      groupId: `${this.prefix}.${checkTopic(topic)}:${group}`,
      priorityTopics: this.priorityTopics(topic),
      retryTopic: this.checked(`${this.prefix}.${topic}.${escapeGroup(group)}.retry`, "group"),
    };
  }

  private checked(name: string, part: "topic" | "group"): string {
    if (name.length > MAX_TOPIC_NAME) {
      const message = `makes the Kafka topic name "${name.slice(0, 40)}..." longer than ${MAX_TOPIC_NAME} characters`;
      throw new ValidationError(`${part}: ${message}`, [{ path: part, message }]);
    }
    return name;
  }
}

function checkTopic(topic: string): string {
  if (!LEGAL_TOPIC.test(topic)) {
    const message = `"${topic}" is not a valid Kafka topic name part: use letters, digits, '.', '_' and '-'`;
    throw new ValidationError(`topic: ${message}`, [{ path: "topic", message }]);
  }
  return topic;
}

function escapeGroup(group: string): string {
  let out = "";
  for (const char of group) {
    if (/[A-Za-z0-9-]/.test(char)) out += char;
    else for (const byte of Buffer.from(char, "utf8")) out += `_${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}
