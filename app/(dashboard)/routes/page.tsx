import type { Metadata } from "next";
import { Route } from "lucide-react";
import { ComingSoon } from "@/components/shell/coming-soon";

export const metadata: Metadata = { title: "Routes" };

export default function Page() {
  return (
    <ComingSoon
      title="Routes"
      icon={Route}
      summary="Rules that forward, filter, transform and enrich events between topics and destinations."
      features={[
        "Routing rules with filter expressions on type, subject and data",
        "Transforms and enrichers applied in order",
        "Match counts and errors per rule",
        "Preview a rule against recent events before enabling it",
      ]}
    />
  );
}
