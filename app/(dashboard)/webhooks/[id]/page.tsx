import type { Metadata } from "next";
import { Suspense } from "react";
import { EndpointDetailPage } from "@/components/webhooks/endpoint-detail-page";

type Params = Promise<{ id: string }>;

export const metadata: Metadata = { title: "Webhook endpoint" };

export default async function Page({ params }: { params: Params }) {
  const { id } = await params;
  // useSearchParams (the open attempt) needs a Suspense boundary for the static shell.
  return (
    <Suspense>
      <EndpointDetailPage id={id} />
    </Suspense>
  );
}
