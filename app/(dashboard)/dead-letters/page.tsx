import type { Metadata } from "next";
import { Suspense } from "react";
import { DeadLettersPage } from "@/components/dead-letters/dead-letters-page";

export const metadata: Metadata = { title: "Dead letters" };

export default function Page() {
  return (
    <Suspense>
      <DeadLettersPage />
    </Suspense>
  );
}
