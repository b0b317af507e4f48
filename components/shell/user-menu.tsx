"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { ChevronsUpDown, Laptop, LogOut, Moon, Sun } from "lucide-react";
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { authClient } from "../auth/auth-client";
import { useTheme, type ThemePreference } from "../theme";
import { useTRPC } from "../trpc";
import { Badge } from "../ui/badge";
import { cn } from "../ui/cn";
import { Skeleton } from "../ui/spinner";

function initials(name: string): string {
  const local = name.split("@")[0] ?? name;
  const parts = local.split(/[.\s_-]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? "?") + (parts[1]?.[0] ?? "")).toUpperCase();
}

const themeOptions: Array<{ value: ThemePreference; label: string; icon: typeof Sun }> = [
  { value: "light", label: "Light", icon: Sun },
  { value: "dark", label: "Dark", icon: Moon },
  { value: "system", label: "System", icon: Laptop },
];

export function UserMenu() {
  const trpc = useTRPC();
  const me = useQuery(trpc.session.me.queryOptions(undefined, { staleTime: 60_000 }));
  const { preference, setPreference } = useTheme();
  const [open, setOpen] = useState(false);
  const [signingOut, setSigningOut] = useState(false);
  const container = useRef<HTMLDivElement>(null);
  const router = useRouter();
  const queryClient = useQueryClient();

  useEffect(() => {
    if (!open) return;
    const onPointer = (event: PointerEvent) => {
      if (!container.current?.contains(event.target as Node)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => event.key === "Escape" && setOpen(false);
    document.addEventListener("pointerdown", onPointer);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onPointer);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);

  async function signOut() {
    setSigningOut(true);
    try {
      await authClient.signOut();
    } finally {
      queryClient.clear();
      router.replace("/login");
      router.refresh();
    }
  }

  if (me.isPending) {
    return (
      <div className="flex items-center gap-3 px-2 py-2">
        <Skeleton className="size-8 rounded-full" />
        <div className="flex-1 space-y-1.5">
          <Skeleton className="h-3 w-28" />
          <Skeleton className="h-3 w-14" />
        </div>
      </div>
    );
  }
  const name = me.data?.name ?? "Signed out";
  const role = me.data?.role ?? (me.data?.kind === "api_key" ? "api key" : null);

  return (
    <div ref={container} className="relative">
      <button
        type="button"
        onClick={() => setOpen((value) => !value)}
        aria-haspopup="menu"
        aria-expanded={open}
        className="flex w-full cursor-pointer items-center gap-3 rounded-lg px-2 py-2 text-left transition-colors hover:bg-muted"
      >
        <span className="flex size-8 shrink-0 items-center justify-center rounded-full bg-accent text-xs font-semibold text-accent-foreground">
          {initials(name)}
        </span>
        <span className="min-w-0 flex-1">
          <span className="block truncate text-sm font-medium" title={name}>
            {name}
          </span>
          {role ? <span className="block text-xs text-muted-foreground capitalize" data-testid="user-role">{role}</span> : null}
        </span>
        <ChevronsUpDown className="size-4 shrink-0 text-muted-foreground" aria-hidden />
      </button>
      {open ? (
        <div role="menu" className="absolute right-0 bottom-full left-0 z-40 mb-2 rounded-xl border border-border bg-card p-1.5 shadow-lg">
          <div className="px-2.5 pt-1.5 pb-2">
            <p className="truncate text-sm font-medium">{name}</p>
            <div className="mt-1 flex flex-wrap gap-1">
              {role ? <Badge tone="primary" className="capitalize">{role}</Badge> : null}
              {me.data?.isAdmin ? null : me.data?.scopes.map((scope) => <Badge key={scope}>{scope}</Badge>)}
            </div>
          </div>
          <div className="my-1 h-px bg-border" />
          <p className="px-2.5 pt-1 pb-1.5 text-xs font-medium text-muted-foreground">Theme</p>
          <div className="grid grid-cols-3 gap-1 px-1 pb-1">
            {themeOptions.map((option) => (
              <button
                key={option.value}
                type="button"
                role="menuitemradio"
                aria-checked={preference === option.value}
                onClick={() => setPreference(option.value)}
                className={cn(
                  "flex cursor-pointer flex-col items-center gap-1 rounded-md py-1.5 text-xs transition-colors",
                  preference === option.value ? "bg-accent text-accent-foreground" : "text-muted-foreground hover:bg-muted hover:text-foreground",
                )}
              >
                <option.icon className="size-4" aria-hidden />
                {option.label}
              </button>
            ))}
          </div>
          <div className="my-1 h-px bg-border" />
          <button
            type="button"
            role="menuitem"
            onClick={signOut}
            disabled={signingOut}
            className="flex w-full cursor-pointer items-center gap-2 rounded-md px-2.5 py-2 text-sm text-foreground transition-colors hover:bg-muted disabled:opacity-60"
          >
            <LogOut className="size-4 text-muted-foreground" aria-hidden />
            {signingOut ? "Signing out…" : "Sign out"}
          </button>
        </div>
      ) : null}
    </div>
  );
}
