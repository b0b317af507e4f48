import type { Metadata } from "next";
import { ScrollText } from "lucide-react";
import { ComingSoon } from "@/components/shell/coming-soon";

export const metadata: Metadata = { title: "Audit" };

export default function Page() {
  return (
    <ComingSoon
      title="Audit"
      icon={ScrollText}
      summary="A record of who did what: publishes, key changes, replays and redrives."
      features={[
        "Every administrative action with its principal and time",
        "API key creation and revocation history",
        "Replays and dead-letter redrives with their scope",
        "Filter by person, key, action or time range",
      ]}
    />
  );
}
