import type { Metadata } from "next";
import { Suspense } from "react";
import { SagasPage } from "@/components/sagas/sagas-page";

export const metadata: Metadata = { title: "Sagas" };

export default function Page() {
  return (
    <Suspense>
      <SagasPage />
    </Suspense>
  );
}
