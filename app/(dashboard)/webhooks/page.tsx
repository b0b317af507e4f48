import type { Metadata } from "next";
import { Webhook } from "lucide-react";
import { ComingSoon } from "@/components/shell/coming-soon";

export const metadata: Metadata = { title: "Webhooks" };

export default function Page() {
  return (
    <ComingSoon
      title="Webhooks"
      icon={Webhook}
      summary="Endpoints that receive signed Standard Webhooks deliveries of the events they subscribe to."
      features={[
        "Create endpoints with event type patterns and filters",
        "Rotate signing secrets with a grace period",
        "Every delivery attempt with status, response and duration",
        "Send test events and resend failed deliveries",
      ]}
    />
  );
}
