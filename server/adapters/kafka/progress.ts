/**
 * What a consumer group knows about one partition beyond its committed offset, kept in the
 * metadata string Kafka stores with every committed offset. Kafka has no delivery count and no
 * "handed out" position of its own; writing them next to the offset (in the same OffsetCommit)
 * lets any process see them: a member that takes over a partition counts the deliveries its
 * predecessors made (so `attempt` survives a crash), and `figures` tells handed-out from waiting
 * messages across every member of the group.
 *
 * Offsets are JavaScript numbers: exact up to 2^53, far beyond any partition's life.
 */

/** Records below `end` (and at or above the previous run's end) were handed out `extra` times by earlier owners. */
export interface Run {
  end: number;
  extra: number;
}

export interface PartitionProgress {
  /** Offset after the last record the current owner has handed out (= committed when none). */
  handedEnd: number;
  /** Records at or above the committed offset that the owner settled but cannot commit yet, because an earlier one is unsettled. */
  settledAbove: number;
  /** Deliveries by earlier owners that left without settling: ascending `end`, pruned below the committed offset. */
  runs: Run[];
}

const FORMAT = "el1";
/**
 * Each crash of an owner with unsettled records adds at most one run; they are pruned as commits
 * move on. The cap keeps the metadata far below the broker's `offset.metadata.max.bytes` (4 KiB)
 * even for a partition whose consumers keep dying on the same records.
 */
const MAX_RUNS = 64;

/** Deliveries of the record at `offset` made by earlier owners. */
export function earlierDeliveries(runs: readonly Run[], offset: number): number {
  for (const run of runs) if (offset < run.end) return run.extra;
  return 0;
}

/** Counts one more delivery for every record below `upTo`. */
export function addDelivery(runs: readonly Run[], upTo: number): Run[] {
  const out: Run[] = [];
  let previousEnd = -Infinity;
  for (const run of runs) {
    if (run.end <= upTo) {
      out.push({ end: run.end, extra: run.extra + 1 });
    } else {
      if (previousEnd < upTo) out.push({ end: upTo, extra: run.extra + 1 });
      out.push(run);
    }
    previousEnd = run.end;
  }
  if (previousEnd < upTo) out.push({ end: upTo, extra: 1 });
  return out;
}

/** Drops runs wholly below `committed`, merges neighbours with the same count, and caps their number. */
export function pruneRuns(runs: readonly Run[], committed: number): Run[] {
  const out: Run[] = [];
  for (const run of runs) {
    if (run.end <= committed) continue;
    const last = out[out.length - 1];
    if (last && last.extra === run.extra) last.end = run.end;
    else out.push({ ...run });
  }
  while (out.length > MAX_RUNS) {
    // Merging the two lowest runs over-counts their lower part: a record may be dead-lettered an
    // attempt early, never retried forever.
    const [first, second] = out;
    if (!first || !second) break;
    out.splice(0, 2, { end: second.end, extra: Math.max(first.extra, second.extra) });
  }
  return out;
}

/**
 * The progress a partition's new owner starts from: whatever the previous owner had handed out and
 * not committed was delivered once more than the records' headers say.
 */
export function takeOver(previous: PartitionProgress | undefined, committed: number): PartitionProgress {
  if (!previous) return { handedEnd: committed, settledAbove: 0, runs: [] };
  const runs = previous.handedEnd > committed ? addDelivery(previous.runs, previous.handedEnd) : previous.runs;
  return { handedEnd: committed, settledAbove: 0, runs: pruneRuns(runs, committed) };
}

export function encodeProgress(progress: PartitionProgress, committed: number): string {
  const runs = pruneRuns(progress.runs, committed)
    .map((run) => `${run.end}:${run.extra}`)
    .join(",");
  return `${FORMAT}|${Math.max(progress.handedEnd, committed)}|${progress.settledAbove}|${runs}`;
}

/** Undefined for an empty or foreign metadata string (another tool committed this offset). */
export function decodeProgress(metadata: string | null | undefined): PartitionProgress | undefined {
  if (!metadata) return undefined;
  const [format, handed, settled, runText] = metadata.split("|");
  if (format !== FORMAT || handed === undefined || settled === undefined || runText === undefined) return undefined;
  const handedEnd = Number(handed);
  const settledAbove = Number(settled);
  if (!Number.isSafeInteger(handedEnd) || !Number.isSafeInteger(settledAbove) || settledAbove < 0) return undefined;
  const runs: Run[] = [];
  for (const part of runText === "" ? [] : runText.split(",")) {
    const [end, extra] = part.split(":").map(Number);
    if (!Number.isSafeInteger(end) || !Number.isSafeInteger(extra) || end === undefined || extra === undefined) return undefined;
    if (runs.length > 0 && end <= (runs[runs.length - 1]?.end ?? -Infinity)) return undefined;
    runs.push({ end, extra });
  }
  return { handedEnd, settledAbove, runs };
}
