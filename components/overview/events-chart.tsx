"use client";

import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

interface Bucket {
  minute: string;
  count: number;
}

function timeLabel(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
}

function ChartTooltip({ active, payload }: { active?: boolean; payload?: ReadonlyArray<{ payload: Bucket }> }) {
  const bucket = payload?.[0]?.payload;
  if (!active || !bucket) return null;
  return (
    <div className="rounded-lg border border-border bg-card px-3 py-2 text-xs shadow-md">
      <p className="text-muted-foreground">{timeLabel(bucket.minute)}</p>
      <p className="mt-0.5 font-semibold tabular-nums">
        {bucket.count.toLocaleString()} event{bucket.count === 1 ? "" : "s"}
      </p>
    </div>
  );
}

/** Events per minute over the last hour. */
export function EventsChart({ data }: { data: Bucket[] }) {
  return (
    <div className="h-64 w-full" role="img" aria-label="Events per minute over the last hour">
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: -12 }} barCategoryGap={2}>
          <CartesianGrid vertical={false} stroke="var(--border)" strokeDasharray="3 3" />
          <XAxis
            dataKey="minute"
            tickFormatter={timeLabel}
            tick={{ fill: "var(--muted-foreground)", fontSize: 11 }}
            tickLine={false}
            axisLine={{ stroke: "var(--border)" }}
            minTickGap={40}
          />
          <YAxis
            allowDecimals={false}
            tick={{ fill: "var(--muted-foreground)", fontSize: 11 }}
            tickLine={false}
            axisLine={false}
            width={48}
          />
          <Tooltip content={<ChartTooltip />} cursor={{ fill: "var(--muted)" }} />
          <Bar dataKey="count" fill="var(--chart)" radius={[3, 3, 0, 0]} isAnimationActive={false} minPointSize={0} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
