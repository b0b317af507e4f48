import type { Metadata } from "next";
import { ArchiveX } from "lucide-react";
import { ComingSoon } from "@/components/shell/coming-soon";

export const metadata: Metadata = { title: "Dead letters" };

export default function Page() {
  return (
    <ComingSoon
      title="Dead letters"
      icon={ArchiveX}
      summary="Deliveries that failed every retry, with the reason, so they can be fixed and redriven."
      features={[
        "Failed events grouped by subscription and error type",
        "Attempts, first and last failure, and the error message",
        "Redrive one message, or all that match, with a dry run first",
        "Discard messages that should never be processed",
      ]}
    />
  );
}
