"use client";

import { Area, AreaChart, YAxis } from "recharts";

/** A tiny area chart of the last minute of a rate; flat at zero when idle. */
export function Sparkline({ points, label, width = 112, height = 28 }: { points: ReadonlyArray<{ at: number; value: number }>; label: string; width?: number; height?: number }) {
  const data = points.length > 1 ? points : [{ at: 0, value: points[0]?.value ?? 0 }, { at: 1, value: points[0]?.value ?? 0 }];
  const max = Math.max(1, ...data.map((point) => point.value));
  return (
    <div role="img" aria-label={label} title={label} className="shrink-0" style={{ width, height }}>
      <AreaChart width={width} height={height} data={data} margin={{ top: 2, right: 0, bottom: 2, left: 0 }}>
        <YAxis hide domain={[0, max]} />
        <Area type="monotone" dataKey="value" stroke="var(--chart)" strokeWidth={1.5} fill="var(--chart)" fillOpacity={0.15} isAnimationActive={false} dot={false} />
      </AreaChart>
    </div>
  );
}
