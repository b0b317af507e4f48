import type { Metadata } from "next";
import { Network } from "lucide-react";
import { ComingSoon } from "@/components/shell/coming-soon";

export const metadata: Metadata = { title: "Traces" };

export default function Page() {
  return (
    <ComingSoon
      title="Traces"
      icon={Network}
      summary="Follow one conversation through the system, from the first event to the last side effect."
      features={[
        "A causation graph of every event sharing a correlation id, drawn from the log alone",
        "Hop-by-hop timing from each event's W3C traceparent",
        "Jump from any event to the trace it belongs to",
        "Find traces by subject, type or failed step",
      ]}
    />
  );
}
