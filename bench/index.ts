import { benchBus } from "./bus";
import { benchStore } from "./store";
import { printTable, type BenchRow } from "./table";

/** `npm run bench [suite]`: runs one suite by name, or all of them. */
const suites: Record<string, { title: string; run: () => Promise<BenchRow[]> }> = {
  bus: { title: "Event bus (in-process)", run: benchBus },
  store: { title: "Event store", run: benchStore },
};

async function main(): Promise<void> {
  const requested = process.argv[2];
  if (requested !== undefined && !(requested in suites)) {
    console.error(`Unknown bench suite "${requested}". Known: ${Object.keys(suites).join(", ")}`);
    process.exit(2);
  }
  const chosen = requested === undefined ? Object.keys(suites) : [requested];
  for (const name of chosen) {
    const suite = suites[name];
    if (!suite) continue;
    printTable(suite.title, await suite.run());
  }
}

await main();
