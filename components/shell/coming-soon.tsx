import type { LucideIcon } from "lucide-react";
import { Card } from "../ui/card";
import { PageHeader } from "../ui/page-header";

/**
 * The page of a section that is designed but not built yet: it says what the section will do,
 * and shows no made-up data.
 */
export function ComingSoon({
  title,
  summary,
  icon: Icon,
  features,
}: {
  title: string;
  summary: string;
  icon: LucideIcon;
  features: string[];
}) {
  return (
    <>
      <PageHeader title={title} description={summary} />
      <Card className="overflow-hidden">
        <div className="flex flex-col items-center px-6 pt-14 pb-6 text-center">
          <div className="mb-4 flex size-12 items-center justify-center rounded-xl border border-border bg-accent text-accent-foreground">
            <Icon className="size-6" aria-hidden />
          </div>
          <h2 className="text-base font-semibold">Not available yet</h2>
          <p className="mt-1.5 max-w-lg text-sm text-balance text-muted-foreground">
            This section is part of the Eventloom roadmap. Nothing is shown here until it is connected to live data.
          </p>
        </div>
        <div className="mx-auto max-w-2xl px-6 pb-12">
          <p className="mb-3 text-center text-xs font-semibold tracking-wider text-muted-foreground uppercase">What it will do</p>
          <ul className="grid gap-2 sm:grid-cols-2">
            {features.map((feature) => (
              <li key={feature} className="flex gap-2.5 rounded-lg border border-border bg-muted/40 px-3.5 py-2.5 text-sm">
                <span className="mt-1.5 size-1.5 shrink-0 rounded-full bg-primary" aria-hidden />
                <span>{feature}</span>
              </li>
            ))}
          </ul>
        </div>
      </Card>
    </>
  );
}
