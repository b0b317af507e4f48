"use client";

import { X } from "lucide-react";
import { useEffect, useId, useRef, type ReactNode, type RefObject } from "react";
import { createPortal } from "react-dom";
import { cn } from "./cn";

function useOverlayBehaviour(open: boolean, onClose: () => void, panel: RefObject<HTMLElement | null>) {
  useEffect(() => {
    if (!open) return;
    const previous = document.activeElement as HTMLElement | null;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") onClose();
    };
    document.addEventListener("keydown", onKey);
    const overflow = document.body.style.overflow;
    document.body.style.overflow = "hidden";
    // Keep a field's autoFocus; otherwise focus the panel so Escape and Tab work from the start.
    if (!panel.current?.contains(document.activeElement)) panel.current?.focus();
    return () => {
      document.removeEventListener("keydown", onKey);
      document.body.style.overflow = overflow;
      previous?.focus?.();
    };
  }, [open, onClose, panel]);
}

/** How each kind of overlay looks: where its panel sits, the backdrop's tint, the panel, its title. */
const looks = {
  drawer: {
    layout: "justify-end",
    backdrop: "bg-black/30 dark:bg-black/50",
    panel: "relative flex h-full w-full max-w-3xl flex-col border-l border-border bg-background shadow-2xl outline-none",
    title: "min-w-0 truncate text-sm font-semibold",
  },
  dialog: {
    layout: "items-center justify-center p-4",
    backdrop: "bg-black/40 dark:bg-black/60",
    panel: "relative w-full max-w-lg rounded-xl border border-border bg-card shadow-2xl outline-none",
    title: "text-base font-semibold",
  },
} as const;

/** What a Drawer and a Dialog take alike. */
interface OverlayProps {
  open: boolean;
  onClose: () => void;
  title: ReactNode;
  /** More classes for the panel. */
  className?: string;
}

/**
 * What a Drawer and a Dialog share: nothing while closed; open, a portal over the page with a
 * backdrop (a click on it closes) and a focusable modal panel labelled by its title, which
 * `children` places (it gets the title's heading).
 */
function Modal({ look, open, onClose, title, className, children }: OverlayProps & { look: keyof typeof looks; children: (heading: ReactNode) => ReactNode }) {
  const panel = useRef<HTMLDivElement>(null);
  const titleId = useId();
  useOverlayBehaviour(open, onClose, panel);
  if (!open) return null;
  const { layout, backdrop, panel: panelClasses, title: titleClasses } = looks[look];
  const heading = (
    <h2 id={titleId} className={titleClasses}>
      {title}
    </h2>
  );
  return createPortal(
    <div className={cn("fixed inset-0 z-50 flex", layout)}>
      <div className={cn("absolute inset-0 backdrop-blur-[1px]", backdrop)} onClick={onClose} aria-hidden />
      <div ref={panel} role="dialog" aria-modal="true" aria-labelledby={titleId} tabIndex={-1} className={cn(panelClasses, className)}>
        {children(heading)}
      </div>
    </div>,
    document.body,
  );
}

/** A panel sliding in from the right, over the page. */
export function Drawer({ actions, children, ...overlay }: OverlayProps & { actions?: ReactNode; children: ReactNode }) {
  return (
    <Modal look="drawer" {...overlay}>
      {(heading) => (
        <>
          <div className="flex items-center justify-between gap-3 border-b border-border px-5 py-3">
            {heading}
            <div className="flex items-center gap-1">
              {actions}
              <button
                type="button"
                onClick={overlay.onClose}
                aria-label="Close"
                className="inline-flex size-8 cursor-pointer items-center justify-center rounded-md text-muted-foreground hover:bg-muted hover:text-foreground"
              >
                <X className="size-4" aria-hidden />
              </button>
            </div>
          </div>
          <div className="min-h-0 flex-1 overflow-y-auto">{children}</div>
        </>
      )}
    </Modal>
  );
}

/** A centred modal dialog. */
export function Dialog({ description, children, footer, ...overlay }: OverlayProps & { description?: ReactNode; children?: ReactNode; footer?: ReactNode }) {
  return (
    <Modal look="dialog" {...overlay}>
      {(heading) => (
        <>
          <div className="px-6 pt-5">
            {heading}
            {description ? <p className="mt-1 text-sm text-muted-foreground">{description}</p> : null}
          </div>
          {children ? <div className="px-6 py-4">{children}</div> : <div className="h-4" />}
          {footer ? <div className="flex justify-end gap-2 rounded-b-xl border-t border-border bg-muted/40 px-6 py-3">{footer}</div> : null}
        </>
      )}
    </Modal>
  );
}
