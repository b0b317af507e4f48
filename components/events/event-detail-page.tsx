"use client";

import { ArrowLeft } from "lucide-react";
import Link from "next/link";
import { CopyButton } from "../ui/copy-button";
import { PageHeader } from "../ui/page-header";
import { EventDetail } from "./event-detail";

export function EventDetailPage({ id }: { id: string }) {
  return (
    <div className="mx-auto max-w-4xl">
      <Link href="/events" className="mb-4 inline-flex items-center gap-1.5 text-sm text-muted-foreground hover:text-foreground">
        <ArrowLeft className="size-4" aria-hidden /> Events
      </Link>
      <PageHeader
        title="Event"
        description={
          <span className="inline-flex items-center gap-1 font-mono text-xs">
            {id}
            <CopyButton value={id} label="Copy id" className="size-5" />
          </span>
        }
      />
      <EventDetail id={id} />
    </div>
  );
}
