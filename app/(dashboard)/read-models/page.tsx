import type { Metadata } from "next";
import { Suspense } from "react";
import { ReadModelsPage } from "@/components/cqrs/read-models-page";

export const metadata: Metadata = { title: "Read models" };

export default function Page() {
  return (
    <Suspense>
      <ReadModelsPage />
    </Suspense>
  );
}
