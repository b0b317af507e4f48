"use client";

import { Search, SearchX } from "lucide-react";
import { useMemo, useState } from "react";
import type { RouterOutputs } from "../trpc";
import { Badge } from "../ui/badge";
import { cn } from "../ui/cn";
import { Input } from "../ui/form";

export type CommandInfo = RouterOutputs["commands"]["list"][number];

/** What running any command takes; the list marks only commands that need more. */
const DEFAULT_SCOPE = "commands:execute";

/** `exam.create` belongs to the `exam` aggregate. */
export function aggregateOf(name: string): string {
  return name.split(".")[0] ?? name;
}

/** The catalog as a searchable list grouped by aggregate. */
export function CommandPicker({ commands, selected, onSelect }: { commands: readonly CommandInfo[]; selected: string | undefined; onSelect(name: string): void }) {
  const [search, setSearch] = useState("");
  const groups = useMemo(() => {
    const words = search.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const matches = commands.filter((command) => words.every((word) => `${command.name} ${command.description} ${command.scope}`.toLowerCase().includes(word)));
    const byAggregate = new Map<string, CommandInfo[]>();
    for (const command of matches) byAggregate.set(aggregateOf(command.name), [...(byAggregate.get(aggregateOf(command.name)) ?? []), command]);
    return [...byAggregate];
  }, [commands, search]);

  return (
    <div className="flex min-h-0 flex-col">
      <div className="border-b border-border p-3">
        <div className="relative">
          <Search className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-muted-foreground" aria-hidden />
          <Input value={search} onChange={(event) => setSearch(event.target.value)} placeholder="Search commands" aria-label="Search commands" className="pl-8" type="search" />
        </div>
      </div>
      <nav aria-label="Commands" className="min-h-0 flex-1 overflow-y-auto p-2" data-testid="command-list">
        {groups.length === 0 ? (
          <div className="flex flex-col items-center gap-2 px-4 py-10 text-center text-sm text-muted-foreground">
            <SearchX className="size-5" aria-hidden />
            No command matches “{search.trim()}”.
          </div>
        ) : (
          groups.map(([aggregate, items]) => (
            <section key={aggregate} className="mb-3 last:mb-0">
              <h3 className="flex items-center justify-between px-2 pt-1 pb-1.5 text-[11px] font-semibold tracking-wider text-muted-foreground/80 uppercase">
                <span>{aggregate}</span>
                <span className="font-normal tabular-nums">{items.length}</span>
              </h3>
              <ul className="space-y-0.5">
                {items.map((command) => {
                  const active = command.name === selected;
                  return (
                    <li key={command.name}>
                      <button
                        type="button"
                        onClick={() => onSelect(command.name)}
                        aria-current={active ? "true" : undefined}
                        data-testid="command-option"
                        data-command={command.name}
                        className={cn(
                          "w-full cursor-pointer rounded-lg px-2.5 py-2 text-left transition-colors",
                          active ? "bg-accent ring-1 ring-primary/25" : "hover:bg-muted",
                        )}
                      >
                        <span className="flex items-center justify-between gap-2">
                          <span className={cn("truncate font-mono text-[13px] font-medium", active ? "text-accent-foreground" : "text-foreground")}>{command.name}</span>
                          {command.scope === DEFAULT_SCOPE ? null : (
                            <Badge tone="warning" className="shrink-0 font-mono text-[10px]" title={`Needs the ${command.scope} permission`}>
                              {command.scope}
                            </Badge>
                          )}
                        </span>
                        <span className="mt-0.5 line-clamp-2 text-xs text-muted-foreground">{command.description}</span>
                      </button>
                    </li>
                  );
                })}
              </ul>
            </section>
          ))
        )}
      </nav>
    </div>
  );
}
