"use client";

import { useQuery } from "@tanstack/react-query";
import { ExternalLink, History, Radio, RotateCcw, Send } from "lucide-react";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useMemo, useState, type ReactNode } from "react";
import { ReplayDialog } from "../replays/replay-dialog";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { Drawer } from "../ui/overlay";
import { PageHeader } from "../ui/page-header";
import { Tabs } from "../ui/tabs";
import { EventDetail, type EventLinkRenderer } from "./event-detail";
import { emptyFilters, HistorySearch, type HistoryFilters } from "./history-search";
import { LiveTail } from "./live-tail";
import { PublishForm } from "./publish-form";
import type { TailEvent } from "./types";

type Tab = "live" | "history";

function filtersFromParams(params: URLSearchParams): HistoryFilters {
  const types = params.getAll("type").flatMap((value) => value.split(",")).map((value) => value.trim()).filter(Boolean);
  return {
    ...emptyFilters,
    types,
    subject: params.get("subject") ?? "",
    correlationid: params.get("correlationid") ?? "",
    order: params.get("order") === "oldest" ? "oldest" : "newest",
  };
}

export function EventsPage() {
  const trpc = useTRPC();
  const me = useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const tab: Tab = params.get("tab") === "history" ? "history" : "live";
  const historyKey = params.toString();
  const initialFilters = useMemo(() => filtersFromParams(new URLSearchParams(historyKey)), [historyKey]);

  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [publishOpen, setPublishOpen] = useState(false);
  const [replayOpen, setReplayOpen] = useState(false);

  const setTab = useCallback(
    (next: Tab) => {
      const search = new URLSearchParams(params.toString());
      if (next === "live") search.delete("tab");
      else search.set("tab", next);
      const query = search.toString();
      router.replace(query ? `${pathname}?${query}` : pathname, { scroll: false });
    },
    [params, pathname, router],
  );

  const onSelect = useCallback((event: TailEvent) => setSelectedId(event.id), []);
  const closeDetail = useCallback(() => setSelectedId(null), []);
  const closePublish = useCallback(() => setPublishOpen(false), []);

  const drawerLink: EventLinkRenderer = (id, children: ReactNode, className) => (
    <button type="button" onClick={() => setSelectedId(id)} className={`cursor-pointer text-left ${className ?? ""}`}>
      {children}
    </button>
  );

  return (
    <>
      <PageHeader
        title="Events"
        description="Watch events as they are committed, search the log, and publish test events."
        actions={
          <>
            {tab === "history" && me.data?.isAdmin ? (
              <Button variant="outline" onClick={() => setReplayOpen(true)} data-testid="open-replay" title="Deliver events of the log again to a subscription">
                <RotateCcw aria-hidden />
                Replay
              </Button>
            ) : null}
            {me.data?.canPublish ? (
              <Button onClick={() => setPublishOpen(true)} data-testid="open-publish">
                <Send aria-hidden />
                Publish event
              </Button>
            ) : null}
          </>
        }
      />

      <Tabs
        className="mb-5"
        value={tab}
        onChange={setTab}
        items={[
          { value: "live", label: "Live tail", icon: <Radio aria-hidden /> },
          { value: "history", label: "History", icon: <History aria-hidden /> },
        ]}
      />

      {/* The tail stays mounted on the History tab so its connection and buffer survive switching. */}
      <div hidden={tab !== "live"}>
        <LiveTail onSelect={onSelect} selectedId={selectedId} />
      </div>
      {tab === "history" ? <HistorySearch key={historyKey} initial={initialFilters} onSelect={onSelect} selectedId={selectedId} /> : null}

      <Drawer
        open={selectedId !== null}
        onClose={closeDetail}
        title="Event detail"
        actions={
          selectedId ? (
            <Link
              href={`/events/${encodeURIComponent(selectedId)}`}
              className="inline-flex h-8 items-center gap-1.5 rounded-md px-2.5 text-xs font-medium text-muted-foreground hover:bg-muted hover:text-foreground"
            >
              <ExternalLink className="size-3.5" aria-hidden />
              Open page
            </Link>
          ) : null
        }
      >
        <div className="p-5">{selectedId ? <EventDetail key={selectedId} id={selectedId} eventLink={drawerLink} /> : null}</div>
      </Drawer>

      {me.data?.isAdmin ? <ReplayDialog open={replayOpen} onClose={() => setReplayOpen(false)} initialTypes={initialFilters.types} /> : null}

      <Drawer open={publishOpen} onClose={closePublish} title="Publish an event" className="max-w-2xl">
        <PublishForm
          onOpenEvent={(id) => {
            setPublishOpen(false);
            setSelectedId(id);
          }}
        />
      </Drawer>
    </>
  );
}
