"use client";

import { MoreHorizontal, type LucideIcon } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { createPortal } from "react-dom";
import { cn } from "../ui/cn";

export interface MenuItem {
  label: string;
  icon: LucideIcon;
  onSelect(): void;
  danger?: boolean;
  testId?: string;
}

const MENU_WIDTH = 192;

/**
 * A "⋯" button opening a small menu of actions; closes on a choice, a click elsewhere, Escape or a
 * scroll. The menu is portalled and placed by the button, so a table's overflow cannot clip it.
 */
export function ActionsMenu({ items, label }: { items: ReadonlyArray<MenuItem | "separator">; label: string }) {
  const [place, setPlace] = useState<{ top: number; left: number } | null>(null);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const open = place !== null;
  useEffect(() => {
    if (!open) return;
    const close = () => setPlace(null);
    const onPointer = (event: PointerEvent) => {
      const target = event.target as Node;
      if (!menu.current?.contains(target) && !button.current?.contains(target)) close();
    };
    const onKey = (event: KeyboardEvent) => event.key === "Escape" && close();
    document.addEventListener("pointerdown", onPointer);
    document.addEventListener("keydown", onKey);
    window.addEventListener("scroll", close, true);
    window.addEventListener("resize", close);
    return () => {
      document.removeEventListener("pointerdown", onPointer);
      document.removeEventListener("keydown", onKey);
      window.removeEventListener("scroll", close, true);
      window.removeEventListener("resize", close);
    };
  }, [open]);
  const toggle = () => {
    const rect = button.current?.getBoundingClientRect();
    setPlace(open || !rect ? null : { top: rect.bottom + 4, left: Math.max(8, rect.right - MENU_WIDTH) });
  };
  return (
    <div className="inline-block" onClick={(event) => event.stopPropagation()}>
      <button
        ref={button}
        type="button"
        aria-label={label}
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={toggle}
        className="inline-flex size-8 cursor-pointer items-center justify-center rounded-md text-muted-foreground transition-colors hover:bg-muted hover:text-foreground"
        data-testid="endpoint-actions"
      >
        <MoreHorizontal className="size-4" aria-hidden />
      </button>
      {place
        ? createPortal(
            <div
              ref={menu}
              role="menu"
              aria-label={label}
              style={{ top: place.top, left: place.left, width: MENU_WIDTH }}
              className="fixed z-40 rounded-lg border border-border bg-card p-1 shadow-lg"
              onClick={(event) => event.stopPropagation()}
            >
              {items.map((item, index) =>
                item === "separator" ? (
                  <div key={`separator-${index}`} className="my-1 h-px bg-border" />
                ) : (
                  <button
                    key={item.label}
                    type="button"
                    role="menuitem"
                    onClick={() => {
                      setPlace(null);
                      item.onSelect();
                    }}
                    className={cn(
                      "flex w-full cursor-pointer items-center gap-2 rounded-md px-2.5 py-1.5 text-left text-sm transition-colors [&_svg]:size-4",
                      item.danger ? "text-danger hover:bg-danger-soft" : "text-foreground hover:bg-muted",
                    )}
                    data-testid={item.testId}
                  >
                    <item.icon aria-hidden className={item.danger ? undefined : "text-muted-foreground"} />
                    {item.label}
                  </button>
                ),
              )}
            </div>,
            document.body,
          )
        : null}
    </div>
  );
}
