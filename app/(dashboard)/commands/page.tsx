import type { Metadata } from "next";
import { Suspense } from "react";
import { CommandsConsole } from "@/components/cqrs/commands-console";

export const metadata: Metadata = { title: "Commands" };

export default function Page() {
  return (
    <Suspense>
      <CommandsConsole />
    </Suspense>
  );
}
