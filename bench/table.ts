/** One measured comparison: our figure next to a well-known baseline doing the same work. */
export interface BenchRow {
  name: string;
  ours: string;
  baseline: string;
  baselineName: string;
  /** Our throughput divided by the baseline's, e.g. `0.82x` (above 1 = faster than the baseline). */
  ratio: string;
}

const COLUMNS: Array<{ key: keyof BenchRow; title: string }> = [
  { key: "name", title: "benchmark" },
  { key: "ours", title: "ours" },
  { key: "baseline", title: "baseline" },
  { key: "baselineName", title: "baseline is" },
  { key: "ratio", title: "ours/baseline" },
];

export function printTable(title: string, rows: readonly BenchRow[]): void {
  const widths = COLUMNS.map(({ key, title: heading }) => Math.max(heading.length, ...rows.map((row) => row[key].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  console.log(`\n${title}`);
  console.log(line(COLUMNS.map((column) => column.title)));
  console.log(line(widths.map((width) => "-".repeat(width))));
  for (const row of rows) console.log(line(COLUMNS.map(({ key }) => row[key])));
}

/** `1234567.8` -> `1,234,568`. */
export function formatRate(perSecond: number, unit: string): string {
  return `${Math.round(perSecond).toLocaleString("en-US")} ${unit}/s`;
}

export function formatRatio(ours: number, baseline: number): string {
  return `${(ours / baseline).toFixed(2)}x`;
}
