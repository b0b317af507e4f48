import type { Metadata } from "next";
import { Layers } from "lucide-react";
import { ComingSoon } from "@/components/shell/coming-soon";

export const metadata: Metadata = { title: "Queues" };

export default function Page() {
  return (
    <ComingSoon
      title="Queues"
      icon={Layers}
      summary="Subscriptions and consumer groups on the configured transport, and how far behind they are."
      features={[
        "Depth, lag and in-flight messages per subscription",
        "Throughput and processing latency over time",
        "Which transport, topic and group each consumer uses",
        "Checkpoint positions of projections and relays",
      ]}
    />
  );
}
