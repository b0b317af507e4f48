import type { Metadata } from "next";
import { Waves } from "lucide-react";
import { ComingSoon } from "@/components/shell/coming-soon";

export const metadata: Metadata = { title: "Streams" };

export default function Page() {
  return (
    <ComingSoon
      title="Streams"
      icon={Waves}
      summary="Stream-processing topologies: windows, joins and state stores computed from the event log."
      features={[
        "Topology graphs of sources, operators and sinks",
        "Window and watermark progress per topology",
        "State store sizes and contents",
        "Throughput and lag of each processor",
      ]}
    />
  );
}
