import type { Metadata } from "next";
import { Workflow } from "lucide-react";
import { ComingSoon } from "@/components/shell/coming-soon";

export const metadata: Metadata = { title: "Sagas" };

export default function Page() {
  return (
    <ComingSoon
      title="Sagas"
      icon={Workflow}
      summary="Long-running processes that coordinate steps across services and compensate on failure."
      features={[
        "Running, completed, compensating and failed sagas",
        "Each step with its attempts, timing and error",
        "Retry a failed saga or cancel one and compensate",
        "Durable timers waiting to fire",
      ]}
    />
  );
}
