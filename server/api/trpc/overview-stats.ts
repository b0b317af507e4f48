import type { StoredEvent } from "@/server/engine/core/envelope";
import type { EventStore } from "@/server/engine/store/event-store";

/**
 * A small read model for the overview page: event counts per type over the whole log, and per
 * minute (by event time) for the last two hours. It catches up from the log on demand — only
 * the events appended since the previous call are read — and lives once per store per process.
 */
const MINUTE = 60_000;
const KEEP_MINUTES = 120;
const PAGE = 1000;
/** Bounds one request's catch-up work; a later request continues where this one stopped. */
const MAX_PAGES_PER_CALL = 200;

interface Projection {
  position: number;
  total: number;
  byType: Map<string, number>;
  perMinute: Map<number, number>;
  lastEventAt: string | null;
  running: Promise<void> | null;
}

const PROJECTIONS_KEY = Symbol.for("eventloom.trpc.overviewProjections");
type Slot = { [PROJECTIONS_KEY]?: WeakMap<EventStore, Projection> };

function projectionFor(store: EventStore): Projection {
  const slot = globalThis as Slot;
  const projections = (slot[PROJECTIONS_KEY] ??= new WeakMap());
  let projection = projections.get(store);
  if (!projection) {
    projection = { position: 0, total: 0, byType: new Map(), perMinute: new Map(), lastEventAt: null, running: null };
    projections.set(store, projection);
  }
  return projection;
}

function apply(projection: Projection, event: StoredEvent, oldestMinute: number): void {
  projection.total += 1;
  projection.byType.set(event.type, (projection.byType.get(event.type) ?? 0) + 1);
  const at = Date.parse(event.time);
  if (Number.isFinite(at)) {
    const minute = Math.floor(at / MINUTE);
    if (minute >= oldestMinute) projection.perMinute.set(minute, (projection.perMinute.get(minute) ?? 0) + 1);
  }
  projection.lastEventAt = event.time;
}

async function catchUp(store: EventStore, projection: Projection, now: number): Promise<void> {
  const oldestMinute = Math.floor(now / MINUTE) - KEEP_MINUTES;
  for (let pages = 0; pages < MAX_PAGES_PER_CALL; pages++) {
    const page = await store.readAll({ after: projection.position, limit: PAGE });
    for (const event of page.events) if (event.position > projection.position) apply(projection, event, oldestMinute);
    const reached = Math.max(page.lastPosition, page.events.at(-1)?.position ?? 0);
    if (reached <= projection.position) break;
    projection.position = reached;
    if (page.events.length < PAGE) break;
  }
  for (const minute of projection.perMinute.keys()) if (minute < oldestMinute) projection.perMinute.delete(minute);
}

export interface OverviewStats {
  headPosition: number;
  totalEvents: number;
  lastEventAt: string | null;
  byType: Array<{ type: string; count: number }>;
  /** Sixty one-minute buckets ending with the current minute, oldest first. */
  perMinute: Array<{ minute: string; count: number }>;
  eventsLastHour: number;
}

export async function overviewStats(store: EventStore, now: number = Date.now()): Promise<OverviewStats> {
  const projection = projectionFor(store);
  // One catch-up at a time per process; concurrent callers share it.
  projection.running ??= catchUp(store, projection, now).finally(() => {
    projection.running = null;
  });
  await projection.running;
  const headPosition = await store.headPosition();

  const currentMinute = Math.floor(now / MINUTE);
  const perMinute: OverviewStats["perMinute"] = [];
  for (let minute = currentMinute - 59; minute <= currentMinute; minute++) {
    perMinute.push({ minute: new Date(minute * MINUTE).toISOString(), count: projection.perMinute.get(minute) ?? 0 });
  }
  return {
    headPosition,
    totalEvents: projection.total,
    lastEventAt: projection.lastEventAt,
    byType: [...projection.byType].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type)),
    perMinute,
    eventsLastHour: perMinute.reduce((sum, bucket) => sum + bucket.count, 0),
  };
}
