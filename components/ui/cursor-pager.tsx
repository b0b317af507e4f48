"use client";

import { ChevronLeft, ChevronRight } from "lucide-react";
import { useEffect, useState } from "react";
import { Button } from "./button";

/**
 * Keyset paging, newest first: the cursors that led to the older pages (the first page has none).
 * Going back to a newer page pops one. Any change of `resetKey` (the filters) starts over.
 */
export function useCursorPages(resetKey: string) {
  const [cursors, setCursors] = useState<string[]>([]);
  useEffect(() => setCursors([]), [resetKey]);
  return {
    /** The cursor of the page shown, or undefined on the first. */
    cursor: cursors.at(-1),
    page: cursors.length + 1,
    newer: () => setCursors((previous) => previous.slice(0, -1)),
    older: (next: string) => setCursors((previous) => [...previous, next]),
  };
}

/** The footer under a paged table: which page, and Newer / Older. */
export function CursorPager({
  pages,
  summary,
  next,
  testIdPrefix,
}: {
  pages: ReturnType<typeof useCursorPages>;
  /** What the page holds, e.g. "12 attempts". */
  summary: string;
  /** The list's `next` cursor, or null on the last page. */
  next: string | null | undefined;
  testIdPrefix: string;
}) {
  return (
    <div className="flex items-center justify-between gap-3 border-t border-border bg-muted/30 px-5 py-2.5 text-xs text-muted-foreground">
      <span>
        Page {pages.page} · {summary}
      </span>
      <div className="flex items-center gap-1.5">
        <Button variant="outline" size="xs" disabled={pages.page === 1} onClick={pages.newer} data-testid={`${testIdPrefix}-newer`}>
          <ChevronLeft aria-hidden /> Newer
        </Button>
        <Button variant="outline" size="xs" disabled={!next} onClick={() => next && pages.older(next)} data-testid={`${testIdPrefix}-older`}>
          Older <ChevronRight aria-hidden />
        </Button>
      </div>
    </div>
  );
}
