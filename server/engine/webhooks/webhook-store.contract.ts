import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isEngineError } from "../core/errors";
import { newId } from "../core/ids";
import {
  WebhookEndpointConflictError,
  type AttemptRecord,
  type NewWebhookDelivery,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookStore,
} from "./webhook-store";

/**
 * The behaviour every WebhookStore must show, beyond what the port's comments say:
 *
 * - `createEndpoint` stores version 1 whatever the record says; an id already stored is a
 *   WebhookEndpointConflictError. `updateEndpoint` keeps `createdBy` and `createdAt` as created;
 *   an unknown id is a conflict too. Every create, update and delete moves the revision.
 * - `listEndpoints`, `allEndpoints` and `listAttempts` order by `createdAt` descending, ties by id
 *   descending; a cursor is a keyset position (items created while paging never shift a page); an
 *   unreadable cursor is a ValidationError on `cursor`; `next` is null when nothing older matches.
 * - `createDeliveries` stores attempts 0, no last attempt, `updatedAt = createdAt`; a delivery for
 *   an unknown endpoint, or for an (endpoint, event) or id already stored (or earlier in the same
 *   batch), is left out (not an error), and so is not returned.
 * - Leases run `leaseMs` from the `now` given (the caller's clock, never the database's); a lease
 *   is free when `leaseUntil` is null or `<= now`. `claimDue` orders by `nextAttemptAt`, ties by id.
 * - Order per key: for an endpoint with `orderedByKey`, a pending delivery with a partition key is
 *   held back (by `claimDue` and `claim` alike) while the same endpoint has a `pending` or
 *   `skipped` delivery of the same key at a lower position. Null keys are never held back.
 * - `recordAttempts` stores every attempt whose delivery still exists. Per delivery, the record
 *   with the highest attempt number decides its state (`attempt-records.ts`): written, with
 *   `updatedAt` = the attempt's `createdAt`, when the record's owner holds the lease (which it
 *   frees), or when the owner is null (outside any lease: the lease is left as it is).
 * - `recover` (failed deliveries created at or after `since`), `resumeSkipped` and `requeue` make
 *   deliveries pending, due and updated `now`, and free their leases (a holder's late outcome no
 *   longer overwrites them); `recover` and `resumeSkipped` take the lowest positions first.
 *   Attempt counts are kept.
 * - `endpointStats` returns every endpoint asked for (all without `endpointIds`; unknown ids left
 *   out), ordered by id: the window counts attempts created at or after `since`; `p95LatencyMs` is
 *   percentile_cont(0.95) of their durations; `lastStatus` / `lastAttemptAt` are of the newest
 *   attempt kept, in the window or not; the delivery counts are of now.
 * - `pruneAttempts(before)` removes attempts created strictly before it.
 */

export interface WebhookStoreUnderTest {
  store: WebhookStore;
  /**
   * The same data through a connection of its own (another dispatcher process, as the database
   * sees it), for the concurrent claims; the store itself when it has only one.
   */
  rival?: WebhookStore;
  close?(): Promise<void>;
}

const BASE = Date.parse("2026-03-01T08:00:00.000Z");
/** An ISO time `ms` after the suite's base time. */
export const at = (ms: number): string => new Date(BASE + ms).toISOString();
const plus = (iso: string, ms: number): string => new Date(Date.parse(iso) + ms).toISOString();

/** A plausible secret (the store never checks its shape). */
export const testSecret = (): string => `whsec_${Buffer.from(newId().replace(/-/g, ""), "hex").toString("base64")}${"A".repeat(20)}`;

/** An enabled endpoint created at `createdAt`, with one current secret, and `overrides`. */
export function webhookEndpoint(createdAt: string, overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    id: newId(),
    url: "https://receiver.example.com/hooks?tenant=a&x=%20",
    description: "Grading results to the LMS — naïve ✓ \"quoted\"",
    eventTypes: ["grading.*", "exam.published"],
    filter: 'data.score >= 50 && type.startsWith("grading.")',
    headers: { "x-tenant": "acme", authorization: "Bearer abc" },
    rateLimitPerSecond: 25,
    orderedByKey: false,
    status: "enabled",
    disabledReason: null,
    disabledAt: null,
    failingSince: null,
    secrets: [{ secret: testSecret(), createdAt, expiresAt: null }],
    createdBy: "user:admin",
    createdAt,
    updatedAt: createdAt,
    version: 1,
    ...overrides,
  };
}

/** A pending delivery of a new event at `position`, due at `createdAt`, no lease. */
export function newDelivery(endpointId: string, position: number, createdAt: string, overrides: Partial<NewWebhookDelivery> = {}): NewWebhookDelivery {
  return {
    id: newId(),
    endpointId,
    eventId: newId(),
    eventType: "grading.completed",
    position,
    partitionKey: null,
    status: "pending",
    nextAttemptAt: createdAt,
    createdAt,
    leaseOwner: null,
    leaseUntil: null,
    ...overrides,
  };
}

/** Attempt number `number` on `delivery` at `createdAt`, answered with `status` (null: no response), and the delivery's state after it. */
export function attemptRecord(
  delivery: Pick<WebhookDelivery, "id" | "endpointId" | "eventId" | "eventType">,
  number: number,
  createdAt: string,
  options: { status?: number | null; durationMs?: number; owner?: string | null; trigger?: WebhookAttempt["trigger"]; nextAttemptAt?: string | null; final?: boolean } = {},
): AttemptRecord {
  const status = options.status === undefined ? 200 : options.status;
  const succeeded = status !== null && status >= 200 && status < 300;
  const error = succeeded ? null : status === null ? "timeout" : `HTTP ${status}`;
  const nextAttemptAt = succeeded || options.final ? null : options.nextAttemptAt === undefined ? plus(createdAt, 5_000) : options.nextAttemptAt;
  const attempt: WebhookAttempt = {
    id: newId(),
    deliveryId: delivery.id,
    endpointId: delivery.endpointId,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    attempt: number,
    status: succeeded ? "succeeded" : "failed",
    trigger: options.trigger ?? "scheduled",
    request: {
      url: "https://receiver.example.com/hooks",
      headers: { "content-type": "application/json", "webhook-id": delivery.eventId, "webhook-signature": "v1,abc= v1,def=" },
      body: JSON.stringify({ id: delivery.eventId, data: { note: "naïve ✓" } }),
    },
    response: status === null ? null : { status, headers: { "content-type": "text/plain", "retry-after": "7" }, body: `answer ${status} ✓`, truncated: status === 413 },
    durationMs: options.durationMs ?? 40,
    error,
    nextAttemptAt,
    createdAt,
  };
  return {
    attempt,
    delivery: {
      id: delivery.id,
      status: succeeded ? "succeeded" : nextAttemptAt === null ? "failed" : "pending",
      attempts: number,
      nextAttemptAt,
      lastAttemptAt: createdAt,
      lastResponseStatus: status,
      lastError: error,
    },
    owner: options.owner === undefined ? "w1" : options.owner,
  };
}

const LEASE_MS = 30_000;
const ids = (items: Array<{ id: string }>): string[] => items.map((item) => item.id);
/** Code-point order (ISO times and lower-case UUIDs sort as text), largest first. */
const descending = (a: string, b: string): number => (a < b ? 1 : a > b ? -1 : 0);
const newestFirst = <T extends { createdAt: string; id: string }>(items: T[]): T[] => [...items].sort((a, b) => descending(a.createdAt, b.createdAt) || descending(a.id, b.id));
const claimArgs = (owner: string, now: string, limit = 100, endpointIds?: string[]) => ({ owner, now, leaseMs: LEASE_MS, limit, ...(endpointIds ? { endpointIds } : {}) });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
}

export function describeWebhookStoreContract(name: string, makeStore: () => Promise<WebhookStoreUnderTest>): void {
  describe(`WebhookStore contract: ${name}`, () => {
    let underTest: WebhookStoreUnderTest;
    let store: WebhookStore;

    beforeEach(async () => {
      underTest = await makeStore();
      store = underTest.store;
    });

    afterEach(async () => {
      await underTest.close?.();
    });

    const endpoint = async (overrides: Partial<WebhookEndpoint> = {}, createdAt = at(0)): Promise<WebhookEndpoint> =>
      store.createEndpoint(webhookEndpoint(createdAt, overrides));

    /** Stores the deliveries (all of them new) and returns them as stored, in the order given. */
    const deliveries = async (news: NewWebhookDelivery[]): Promise<WebhookDelivery[]> => {
      const created = await store.createDeliveries(news);
      expect(created).toHaveLength(news.length);
      return news.map((delivery) => created.find((stored) => stored.id === delivery.id)!);
    };

    describe("endpoints", () => {
      it("stores every field (version 1) and reads it back; an id already stored is a conflict", async () => {
        const record = webhookEndpoint(at(0), {
          filter: null,
          headers: {},
          rateLimitPerSecond: null,
          orderedByKey: true,
          status: "disabled",
          disabledReason: "gone",
          disabledAt: at(5),
          failingSince: at(3),
          secrets: [
            { secret: testSecret(), createdAt: at(4), expiresAt: null },
            { secret: testSecret(), createdAt: at(0), expiresAt: at(86_400_000) },
          ],
          version: 7,
        });
        const created = await store.createEndpoint(record);
        expect(created).toEqual({ ...record, version: 1 });
        expect(await store.getEndpoint(record.id)).toEqual({ ...record, version: 1 });
        expect(await store.allEndpoints()).toEqual([{ ...record, version: 1 }]);

        const error = await rejection(store.createEndpoint({ ...record, url: "https://other.example.com/" }));
        expect(error).toBeInstanceOf(WebhookEndpointConflictError);
        expect(await store.getEndpoint(record.id)).toEqual(created);
        expect(await store.getEndpoint(newId())).toBeUndefined();
        expect(await store.getEndpoint("not-a-uuid")).toBeUndefined();
      });

      it("updates at the stored version only, keeping who created it and when", async () => {
        const created = await endpoint();
        const next: WebhookEndpoint = {
          ...created,
          url: "https://new.example.com/in",
          eventTypes: ["*"],
          description: "",
          filter: "true",
          headers: { "x-a": "1" },
          rateLimitPerSecond: null,
          orderedByKey: true,
          status: "disabled",
          disabledReason: "manual",
          disabledAt: at(10),
          failingSince: at(9),
          secrets: [{ secret: testSecret(), createdAt: at(10), expiresAt: null }, { ...created.secrets[0]!, expiresAt: at(100) }],
          createdBy: "someone else",
          createdAt: at(99),
          updatedAt: at(10),
        };
        const updated = await store.updateEndpoint(next);
        expect(updated).toEqual({ ...next, createdBy: created.createdBy, createdAt: created.createdAt, version: 2 });
        expect(await store.getEndpoint(created.id)).toEqual(updated);

        // A writer holding version 1 lost the race.
        const stale = await rejection(store.updateEndpoint({ ...created, description: "stale" }));
        expect(stale).toBeInstanceOf(WebhookEndpointConflictError);
        expect((stale as WebhookEndpointConflictError).endpointId).toBe(created.id);
        expect(await store.getEndpoint(created.id)).toEqual(updated);
        expect(await store.updateEndpoint({ ...updated, description: "third" })).toMatchObject({ description: "third", version: 3 });
        expect(await rejection(store.updateEndpoint({ ...created, id: newId() }))).toBeInstanceOf(WebhookEndpointConflictError);
      });

      it("moves the revision on every create, update and delete, and only then", async () => {
        const start = await store.endpointsRevision();
        const created = await endpoint();
        const afterCreate = await store.endpointsRevision();
        expect(afterCreate).toBeGreaterThan(start);
        const updated = await store.updateEndpoint({ ...created, description: "x" });
        const afterUpdate = await store.endpointsRevision();
        expect(afterUpdate).toBeGreaterThan(afterCreate);
        // Failed writes and delivery traffic leave it alone.
        await rejection(store.updateEndpoint(created));
        await store.createDeliveries([newDelivery(created.id, 1, at(1))]);
        expect(await store.deleteEndpoint(newId())).toBe(false);
        expect(await store.endpointsRevision()).toBe(afterUpdate);
        expect(await store.deleteEndpoint(updated.id)).toBe(true);
        expect(await store.endpointsRevision()).toBeGreaterThan(afterUpdate);
      });

      it("lists newest first (ties by id), in pages without gaps or repeats, unshifted by endpoints created meanwhile", async () => {
        const tied = [newId(), newId(), newId()].sort();
        const created: WebhookEndpoint[] = [];
        for (const [createdAt, id] of [
          [at(1000), newId()],
          [at(2000), tied[0]!],
          [at(2000), tied[2]!],
          [at(2000), tied[1]!],
          [at(3000), newId()],
          [at(500), newId()],
        ] as const) {
          created.push(await endpoint({ id }, createdAt));
        }
        const order = newestFirst(created);
        const first = await store.listEndpoints({ limit: 4 });
        expect(first.items).toEqual(order.slice(0, 4));
        const newer = await endpoint({}, at(9000));
        const second = await store.listEndpoints({ limit: 4, cursor: first.next! });
        expect(second).toEqual({ items: order.slice(4), next: null });
        expect(ids((await store.listEndpoints({ limit: 1 })).items)).toEqual([newer.id]);
        expect((await store.listEndpoints({ limit: 7 })).next).toBeNull();
        expect((await store.listEndpoints({ limit: 6 })).next).not.toBeNull();
        expect(ids(await store.allEndpoints())).toEqual(ids([newer, ...order]));

        for (const cursor of ["not a cursor!", "eyJ4IjoxfQ", Buffer.from(JSON.stringify([at(0), "nope"])).toString("base64url")]) {
          const error = await rejection(store.listEndpoints({ limit: 5, cursor }));
          expect(isEngineError(error) && error.code).toBe("validation");
          expect(isEngineError(error) && error.issues[0]?.path).toBe("cursor");
        }
      });

      it("deletes an endpoint with its deliveries and attempts, leaving the others", async () => {
        const doomed = await endpoint();
        const kept = await endpoint();
        const [gone, stays] = await deliveries([newDelivery(doomed.id, 1, at(1)), newDelivery(kept.id, 1, at(1))]);
        const goneAttempt = attemptRecord(gone!, 1, at(2), { owner: null });
        const keptAttempt = attemptRecord(stays!, 1, at(2), { owner: null });
        await store.recordAttempts([goneAttempt, keptAttempt]);

        expect(await store.deleteEndpoint(doomed.id)).toBe(true);
        expect(await store.getEndpoint(doomed.id)).toBeUndefined();
        expect(await store.getDelivery(gone!.id)).toBeUndefined();
        expect(await store.getAttempt(goneAttempt.attempt.id)).toBeUndefined();
        expect(await store.deleteEndpoint(doomed.id)).toBe(false);
        expect(await store.getDelivery(stays!.id)).toMatchObject({ status: "succeeded" });
        expect(await store.getAttempt(keptAttempt.attempt.id)).toEqual(keptAttempt.attempt);
        // Late writes for the deleted endpoint go nowhere and break nothing.
        expect(await store.createDeliveries([newDelivery(doomed.id, 2, at(3))])).toEqual([]);
        await store.recordAttempts([attemptRecord(gone!, 2, at(4), { owner: null })]);
        expect((await store.listAttempts({ limit: 10 })).items).toEqual([keptAttempt.attempt]);
        expect(await store.deleteEndpoint("not-a-uuid")).toBe(false);
      });
    });

    describe("deliveries", () => {
      it("stores each (endpoint, event) once: a redelivered event adds none, and only new ones are returned", async () => {
        const first = await endpoint();
        const second = await endpoint();
        const news = [
          newDelivery(first.id, 7, at(1), { partitionKey: "student-1", eventType: "exam.published" }),
          newDelivery(second.id, 7, at(1), { status: "skipped", nextAttemptAt: null }),
          newDelivery(first.id, 8, at(2), { leaseOwner: "w1", leaseUntil: at(60_000) }),
        ];
        const created = await store.createDeliveries(news);
        expect(created).toHaveLength(3);
        const [keyed, skipped, leased] = news.map((delivery) => created.find((stored) => stored.id === delivery.id)!);
        expect(keyed).toEqual({ ...news[0], attempts: 0, lastAttemptAt: null, lastResponseStatus: null, lastError: null, updatedAt: at(1) });
        expect(skipped).toMatchObject({ status: "skipped", nextAttemptAt: null, endpointId: second.id });
        expect(leased).toMatchObject({ leaseOwner: "w1", leaseUntil: at(60_000) });
        for (const stored of [keyed, skipped, leased]) expect(await store.getDelivery(stored!.id)).toEqual(stored);

        // The same events again (new delivery ids, as a redelivered event makes), one new one, and a repeat inside the batch.
        const fresh = newDelivery(second.id, 8, at(3), { eventId: news[2]!.eventId });
        const again = await store.createDeliveries([
          { ...news[0]!, id: newId() },
          { ...news[1]!, id: newId(), status: "pending" },
          fresh,
          { ...fresh, id: newId() },
          { ...news[2]!, endpointId: newId() },
        ]);
        expect(again).toEqual([{ ...fresh, attempts: 0, lastAttemptAt: null, lastResponseStatus: null, lastError: null, updatedAt: at(3) }]);
        expect(await store.createDeliveries([])).toEqual([]);
        expect(await store.getDelivery(newId())).toBeUndefined();
        expect(await store.getDelivery("not-a-uuid")).toBeUndefined();
      });

      it("claims due deliveries only: pending, due, lease free or expired; soonest first, up to the limit", async () => {
        const target = await endpoint();
        const other = await endpoint();
        const now = at(60_000);
        const [late, early, expired, otherEndpoint] = await deliveries([
          newDelivery(target.id, 1, at(0), { nextAttemptAt: at(50_000) }),
          newDelivery(target.id, 2, at(0), { nextAttemptAt: at(10_000) }),
          newDelivery(target.id, 3, at(0), { nextAttemptAt: at(30_000), leaseOwner: "gone", leaseUntil: at(60_000) }),
          newDelivery(other.id, 4, at(0), { nextAttemptAt: at(20_000) }),
        ]);
        const [notYet, held] = await deliveries([
          newDelivery(target.id, 5, at(0), { nextAttemptAt: at(60_001) }),
          newDelivery(target.id, 6, at(0), { nextAttemptAt: at(1), leaseOwner: "busy", leaseUntil: at(60_001) }),
          newDelivery(target.id, 7, at(0), { status: "skipped", nextAttemptAt: null }),
          newDelivery(target.id, 8, at(0), { status: "skipped", nextAttemptAt: at(1) }),
        ]);

        const firstTwo = await store.claimDue(claimArgs("w1", now, 2));
        expect(ids(firstTwo)).toEqual(ids([early!, otherEndpoint!]));
        for (const claimed of firstTwo) {
          expect(claimed).toMatchObject({ leaseOwner: "w1", leaseUntil: plus(now, LEASE_MS) });
          expect(await store.getDelivery(claimed.id)).toEqual(claimed);
        }
        expect(await store.getDelivery(early!.id)).toEqual({ ...early, leaseOwner: "w1", leaseUntil: plus(now, LEASE_MS) });
        const rest = await store.claimDue(claimArgs("w2", now));
        expect(ids(rest)).toEqual(ids([expired!, late!]));
        expect(await store.claimDue(claimArgs("w3", now))).toEqual([]);
        expect(await store.claimDue(claimArgs("w3", plus(now, 1), 0))).toEqual([]);
        // Once the leases run out everything pending and due is claimable again, the held and future ones too.
        const later = plus(now, LEASE_MS);
        expect(ids(await store.claimDue(claimArgs("w3", later)))).toEqual(ids([held!, early!, otherEndpoint!, expired!, late!, notYet!]));
      });

      it("claims only from the endpoints asked for", async () => {
        const [one, two, three] = [await endpoint(), await endpoint(), await endpoint()];
        const [first, second] = await deliveries([newDelivery(one.id, 1, at(1)), newDelivery(two.id, 2, at(2)), newDelivery(three.id, 3, at(3))]);
        expect(ids(await store.claimDue(claimArgs("w1", at(10), 10, [two.id, one.id, newId()])))).toEqual(ids([first!, second!]));
        expect(await store.claimDue(claimArgs("w1", at(10), 10, []))).toEqual([]);
        expect(await store.claimDue(claimArgs("w1", at(10), 10, [one.id]))).toEqual([]);
      });

      it("does not hand out a delivery created with a lease until that lease runs out", async () => {
        const target = await endpoint();
        const [leased] = await deliveries([newDelivery(target.id, 1, at(0), { leaseOwner: "fast-path", leaseUntil: at(LEASE_MS) })]);
        expect(await store.claimDue(claimArgs("poller", at(1000)))).toEqual([]);
        expect(await store.claim(leased!.id, claimArgs("poller", at(1000)))).toBeUndefined();
        expect(ids(await store.claimDue(claimArgs("poller", at(LEASE_MS))))).toEqual([leased!.id]);
      });

      it("claims one delivery by id when pending and its lease is free, due or not", async () => {
        const target = await endpoint();
        const [future, done] = await deliveries([newDelivery(target.id, 1, at(0), { nextAttemptAt: at(999_999) }), newDelivery(target.id, 2, at(0))]);
        const claimed = await store.claim(future!.id, claimArgs("w1", at(1000)));
        expect(claimed).toEqual({ ...future, leaseOwner: "w1", leaseUntil: plus(at(1000), LEASE_MS) });
        // Held: not even its owner claims it twice.
        expect(await store.claim(future!.id, claimArgs("w2", at(2000)))).toBeUndefined();
        expect(await store.claim(future!.id, claimArgs("w1", at(2000)))).toBeUndefined();
        expect(await store.claim(future!.id, claimArgs("w2", plus(at(1000), LEASE_MS)))).toMatchObject({ leaseOwner: "w2" });

        await store.recordAttempts([attemptRecord(done!, 1, at(5), { owner: null })]);
        expect(await store.claim(done!.id, claimArgs("w1", at(10)))).toBeUndefined();
        expect(await store.claim(newId(), claimArgs("w1", at(0)))).toBeUndefined();
        expect(await store.claim("not-a-uuid", claimArgs("w1", at(0)))).toBeUndefined();
      });

      it("hands out only the lowest unfinished position per key on an ordered endpoint; other keys and null keys proceed", async () => {
        const ordered = await endpoint({ orderedByKey: true });
        const unordered = await endpoint();
        const now = at(10_000);
        const [a1, a2, a3, b1, none1, none2, u1, u2] = await deliveries([
          newDelivery(ordered.id, 10, at(0), { partitionKey: "a", nextAttemptAt: at(5_000) }),
          newDelivery(ordered.id, 11, at(0), { partitionKey: "a", nextAttemptAt: at(0) }),
          newDelivery(ordered.id, 13, at(0), { partitionKey: "a", nextAttemptAt: at(0) }),
          newDelivery(ordered.id, 12, at(0), { partitionKey: "b", nextAttemptAt: at(0) }),
          newDelivery(ordered.id, 14, at(0), { nextAttemptAt: at(1) }),
          newDelivery(ordered.id, 15, at(0), { nextAttemptAt: at(1) }),
          newDelivery(unordered.id, 10, at(0), { partitionKey: "a", nextAttemptAt: at(2) }),
          newDelivery(unordered.id, 11, at(0), { partitionKey: "a", nextAttemptAt: at(2) }),
        ]);
        expect(await store.claim(a2!.id, claimArgs("w1", now))).toBeUndefined();
        const first = await store.claimDue(claimArgs("w1", now));
        const eligible = ids([a1!, b1!, none1!, none2!, u1!, u2!]).sort();
        expect(ids(first).sort()).toEqual(eligible);
        // a1 is in flight (pending under a lease): a2 still waits, even after the leases run out.
        expect(ids(await store.claimDue(claimArgs("w2", plus(now, LEASE_MS * 2)))).sort()).toEqual(eligible);

        // a1 fails and is due again later: still the oldest unfinished, so a2 waits for it.
        await store.recordAttempts([attemptRecord(a1!, 1, at(20_000), { status: 500, owner: "w2", nextAttemptAt: at(90_000) })]);
        expect(await store.claimDue(claimArgs("w3", at(80_000)))).toEqual([]);
        // a1 fails for good: a2 is next (not a3); then a2 succeeds: a3.
        await store.recordAttempts([attemptRecord(a1!, 2, at(90_000), { status: 500, owner: null, final: true })]);
        expect(ids(await store.claimDue(claimArgs("w3", at(90_001))))).toEqual([a2!.id]);
        expect(await store.claim(a3!.id, claimArgs("w3", at(90_001)))).toBeUndefined();
        await store.recordAttempts([attemptRecord(a2!, 1, at(90_002), { owner: "w3" })]);
        expect(await store.claim(a3!.id, claimArgs("w3", at(90_003)))).toMatchObject({ id: a3!.id, leaseOwner: "w3" });
      });

      it("holds an ordered key's later deliveries behind an earlier skipped one until it is caught up", async () => {
        const ordered = await endpoint({ orderedByKey: true });
        const [skipped, later] = await deliveries([
          newDelivery(ordered.id, 1, at(0), { partitionKey: "k", status: "skipped", nextAttemptAt: null }),
          newDelivery(ordered.id, 2, at(0), { partitionKey: "k" }),
        ]);
        expect(await store.claimDue(claimArgs("w1", at(10)))).toEqual([]);
        expect(await store.resumeSkipped(ordered.id, { now: at(20), limit: 10 })).toBe(1);
        expect(ids(await store.claimDue(claimArgs("w1", at(20))))).toEqual([skipped!.id]);
        await store.recordAttempts([attemptRecord(skipped!, 1, at(30))]);
        expect(ids(await store.claimDue(claimArgs("w1", at(40))))).toEqual([later!.id]);
      });

      it("never hands the same delivery to two concurrent claimers", async () => {
        const rival = underTest.rival ?? store;
        const target = await endpoint();
        const now = at(100_000);
        const due = await deliveries(Array.from({ length: 40 }, (_, index) => newDelivery(target.id, index, at(index))));
        const seen = new Map<string, string>();
        for (let round = 0; round < 4 && seen.size < due.length; round += 1) {
          const [mine, theirs] = await Promise.all([store.claimDue(claimArgs(`a${round}`, now, 7)), rival.claimDue(claimArgs(`b${round}`, now, 7))]);
          for (const claimed of [...mine, ...theirs]) {
            expect(seen.get(claimed.id)).toBeUndefined();
            seen.set(claimed.id, claimed.leaseOwner!);
          }
        }
        for (const [id, owner] of seen) expect((await store.getDelivery(id))?.leaseOwner).toBe(owner);
        const leftover = await store.claimDue(claimArgs("last", now));
        expect(seen.size + leftover.length).toBe(due.length);
        expect(leftover.every((claimed) => !seen.has(claimed.id))).toBe(true);
      });
    });

    describe("recordAttempts", () => {
      it("stores each attempt and writes its delivery's new state, freeing the lease", async () => {
        const target = await endpoint();
        const [retried, succeeded] = await deliveries([
          newDelivery(target.id, 1, at(0), { leaseOwner: "w1", leaseUntil: at(LEASE_MS) }),
          newDelivery(target.id, 2, at(0), { leaseOwner: "w1", leaseUntil: at(LEASE_MS) }),
        ]);
        const failure = attemptRecord(retried!, 1, at(100), { status: 503, durationMs: 15_000 });
        const success = attemptRecord(succeeded!, 1, at(120), { status: 204 });
        await store.recordAttempts([failure, success]);

        expect(await store.getDelivery(retried!.id)).toEqual({
          ...retried,
          ...failure.delivery,
          status: "pending",
          attempts: 1,
          nextAttemptAt: at(5_100),
          lastResponseStatus: 503,
          lastError: "HTTP 503",
          updatedAt: at(100),
          leaseOwner: null,
          leaseUntil: null,
        });
        expect(await store.getDelivery(succeeded!.id)).toMatchObject({ status: "succeeded", attempts: 1, nextAttemptAt: null, lastAttemptAt: at(120), lastResponseStatus: 204, lastError: null, leaseOwner: null });
        expect(await store.getAttempt(failure.attempt.id)).toEqual(failure.attempt);
        expect(await store.getAttempt(success.attempt.id)).toEqual(success.attempt);
        expect(await store.getAttempt(newId())).toBeUndefined();
        expect(await store.getAttempt("not-a-uuid")).toBeUndefined();
        // Retry due later: claimable then, not before.
        expect(await store.claimDue(claimArgs("w2", at(5_099)))).toEqual([]);
        expect(ids(await store.claimDue(claimArgs("w2", at(5_100))))).toEqual([retried!.id]);
        await store.recordAttempts([]);
      });

      it("keeps every kind of response: none at all, a truncated body, headers", async () => {
        const target = await endpoint();
        const [delivery] = await deliveries([newDelivery(target.id, 1, at(0))]);
        const noResponse = attemptRecord(delivery!, 1, at(1), { status: null, owner: null });
        const truncated = attemptRecord(delivery!, 2, at(2), { status: 413, owner: null, trigger: "manual" });
        truncated.attempt.response!.body = "x".repeat(65_536);
        const test = attemptRecord(delivery!, 3, at(3), { status: 200, owner: null, trigger: "test" });
        const recover = attemptRecord(delivery!, 4, at(4), { status: 302, owner: null, trigger: "recover", final: true });
        await store.recordAttempts([noResponse, truncated, test, recover]);
        for (const record of [noResponse, truncated, test, recover]) expect(await store.getAttempt(record.attempt.id)).toEqual(record.attempt);
        // The highest attempt number decides the delivery's state.
        expect(await store.getDelivery(delivery!.id)).toMatchObject({ status: "failed", attempts: 4, lastResponseStatus: 302, lastError: "HTTP 302", nextAttemptAt: null });
      });

      it("leaves a delivery alone when the writer lost its lease, but still stores the attempt", async () => {
        const target = await endpoint();
        const [delivery] = await deliveries([newDelivery(target.id, 1, at(0), { leaseOwner: "slow", leaseUntil: at(1000) })]);
        const takenOver = (await store.claim(delivery!.id, claimArgs("fast", at(1000))))!;
        const late = attemptRecord(delivery!, 1, at(2000), { status: 200, owner: "slow" });
        await store.recordAttempts([late]);
        expect(await store.getAttempt(late.attempt.id)).toEqual(late.attempt);
        expect(await store.getDelivery(delivery!.id)).toEqual(takenOver);
        // The holder's write goes through.
        await store.recordAttempts([attemptRecord(delivery!, 2, at(2500), { status: 500, owner: "fast" })]);
        expect(await store.getDelivery(delivery!.id)).toMatchObject({ attempts: 2, status: "pending", leaseOwner: null, leaseUntil: null });
      });

      it("writes an attempt made outside any lease whatever the lease, leaving the lease as it is", async () => {
        const target = await endpoint();
        const [delivery] = await deliveries([newDelivery(target.id, 1, at(0), { leaseOwner: "w1", leaseUntil: at(LEASE_MS) })]);
        await store.recordAttempts([attemptRecord(delivery!, 1, at(10), { status: 200, owner: null, trigger: "manual" })]);
        expect(await store.getDelivery(delivery!.id)).toMatchObject({ status: "succeeded", attempts: 1, leaseOwner: "w1", leaseUntil: at(LEASE_MS) });
      });
    });

    describe("recover, catch-up and resend", () => {
      it("recovers the endpoint's failed deliveries created since the time, oldest first, at most the limit", async () => {
        const target = await endpoint();
        const other = await endpoint();
        const made = await deliveries([
          newDelivery(target.id, 1, at(1_000)),
          newDelivery(target.id, 5, at(5_000)),
          newDelivery(target.id, 3, at(3_000)),
          newDelivery(target.id, 4, at(4_000)),
          newDelivery(target.id, 6, at(6_000)),
          newDelivery(other.id, 3, at(3_000)),
        ]);
        const [tooOld, fifth, third, succeeded, stillPending, otherFailed] = made;
        await store.recordAttempts([
          ...[tooOld!, fifth!, third!, otherFailed!].map((delivery) => attemptRecord(delivery, 10, at(7_000), { status: 500, owner: null, final: true })),
          attemptRecord(succeeded!, 1, at(7_000), { owner: null }),
        ]);
        const now = at(8_000);
        expect(await store.recover(target.id, { since: at(3_000), now, limit: 1 })).toBe(1);
        expect(await store.getDelivery(third!.id)).toMatchObject({ status: "pending", nextAttemptAt: now, updatedAt: now, attempts: 10, leaseOwner: null });
        expect(await store.getDelivery(fifth!.id)).toMatchObject({ status: "failed" });
        expect(await store.recover(target.id, { since: at(3_000), now, limit: 100 })).toBe(1);
        expect(await store.getDelivery(fifth!.id)).toMatchObject({ status: "pending", nextAttemptAt: now });
        expect(await store.recover(target.id, { since: at(3_000), now, limit: 100 })).toBe(0);
        expect(await store.getDelivery(tooOld!.id)).toMatchObject({ status: "failed" });
        expect(await store.getDelivery(succeeded!.id)).toMatchObject({ status: "succeeded" });
        expect(await store.getDelivery(stillPending!.id)).toMatchObject({ status: "pending", nextAttemptAt: at(6_000) });
        expect(await store.getDelivery(otherFailed!.id)).toMatchObject({ status: "failed" });
        const claimed = ids(await store.claimDue(claimArgs("w1", now)));
        expect(claimed[0]).toBe(stillPending!.id);
        expect(claimed.slice(1).sort()).toEqual(ids([third!, fifth!]).sort());
      });

      it("resumes skipped deliveries in batches, lowest position first, until none are left", async () => {
        const target = await endpoint({ status: "disabled", disabledReason: "manual", disabledAt: at(0) });
        const other = await endpoint();
        const positions = [9, 2, 7, 4, 1];
        const skipped = await deliveries(positions.map((position) => newDelivery(target.id, position, at(position), { status: "skipped", nextAttemptAt: null })));
        await deliveries([newDelivery(other.id, 3, at(3), { status: "skipped", nextAttemptAt: null })]);
        const byPosition = [...skipped].sort((a, b) => a.position - b.position);
        const resumed: number[] = [];
        for (let batch = 0; batch < 5; batch += 1) {
          const count = await store.resumeSkipped(target.id, { now: at(100 + batch), limit: 2 });
          resumed.push(count);
          if (count === 0) break;
        }
        expect(resumed).toEqual([2, 2, 1, 0]);
        for (const [index, delivery] of byPosition.entries()) {
          expect(await store.getDelivery(delivery.id)).toMatchObject({ status: "pending", nextAttemptAt: at(100 + Math.floor(index / 2)), updatedAt: at(100 + Math.floor(index / 2)) });
        }
        expect(await store.endpointStats({ since: at(0), endpointIds: [other.id] })).toMatchObject([{ skipped: 1 }]);
        expect(await store.resumeSkipped(newId(), { now: at(200), limit: 10 })).toBe(0);
      });

      it("requeues one delivery whatever its state, due now, freeing a lease", async () => {
        const target = await endpoint();
        const [done, leased] = await deliveries([newDelivery(target.id, 1, at(0)), newDelivery(target.id, 2, at(0), { leaseOwner: "w1", leaseUntil: at(LEASE_MS) })]);
        await store.recordAttempts([attemptRecord(done!, 1, at(5), { owner: null })]);
        const requeued = await store.requeue(done!.id, at(10));
        expect(requeued).toMatchObject({ status: "pending", nextAttemptAt: at(10), updatedAt: at(10), attempts: 1, lastResponseStatus: 200 });
        expect(await store.getDelivery(done!.id)).toEqual(requeued);
        expect(await store.requeue(leased!.id, at(11))).toMatchObject({ status: "pending", nextAttemptAt: at(11), leaseOwner: null, leaseUntil: null });
        // The former holder's outcome no longer lands on it.
        await store.recordAttempts([attemptRecord(leased!, 1, at(12), { owner: "w1" })]);
        expect(await store.getDelivery(leased!.id)).toMatchObject({ status: "pending", attempts: 0 });
        expect(ids(await store.claimDue(claimArgs("w2", at(12))))).toEqual(ids([done!, leased!]));
        expect(await store.requeue(newId(), at(12))).toBeUndefined();
        expect(await store.requeue("not-a-uuid", at(12))).toBeUndefined();
      });
    });

    describe("attempts", () => {
      it("lists attempts newest first, by endpoint, delivery and status, in pages", async () => {
        const [one, two] = [await endpoint(), await endpoint()];
        const [d1, d2, d3] = await deliveries([newDelivery(one.id, 1, at(0)), newDelivery(one.id, 2, at(0)), newDelivery(two.id, 1, at(0))]);
        const tied = at(500);
        const records = [
          attemptRecord(d1!, 1, at(100), { status: 500, owner: null }),
          attemptRecord(d1!, 2, tied, { status: 500, owner: null }),
          attemptRecord(d2!, 1, tied, { owner: null }),
          attemptRecord(d3!, 1, tied, { status: null, owner: null }),
          attemptRecord(d1!, 3, at(900), { owner: null }),
          attemptRecord(d3!, 2, at(950), { owner: null }),
        ];
        await store.recordAttempts(records);
        const all = newestFirst(records.map((record) => record.attempt));
        const list = async (query: Omit<Parameters<WebhookStore["listAttempts"]>[0], "limit">) => ids((await store.listAttempts({ limit: 100, ...query })).items);
        expect(await list({})).toEqual(ids(all));
        expect(await list({ endpointId: one.id })).toEqual(ids(all.filter((attempt) => attempt.endpointId === one.id)));
        expect(await list({ deliveryId: d1!.id })).toEqual(ids(all.filter((attempt) => attempt.deliveryId === d1!.id)));
        expect(await list({ status: "failed" })).toEqual(ids(all.filter((attempt) => attempt.status === "failed")));
        expect(await list({ endpointId: two.id, status: "succeeded" })).toEqual([records[5]!.attempt.id]);
        expect(await list({ endpointId: newId() })).toEqual([]);
        expect(await list({ deliveryId: "not-a-uuid" })).toEqual([]);

        const pages: string[][] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 10; page += 1) {
          const result = await store.listAttempts({ limit: 2, ...(cursor ? { cursor } : {}) });
          pages.push(ids(result.items));
          if (result.next === null) break;
          cursor = result.next;
        }
        expect(pages).toEqual([ids(all.slice(0, 2)), ids(all.slice(2, 4)), ids(all.slice(4, 6))]);
        const filteredFirst = await store.listAttempts({ limit: 1, endpointId: one.id });
        const filteredRest = await store.listAttempts({ limit: 10, endpointId: one.id, cursor: filteredFirst.next! });
        expect([...ids(filteredFirst.items), ...ids(filteredRest.items)]).toEqual(ids(all.filter((attempt) => attempt.endpointId === one.id)));
        expect(filteredRest.next).toBeNull();

        const error = await rejection(store.listAttempts({ limit: 5, cursor: "%%%" }));
        expect(isEngineError(error) && error.issues[0]?.path).toBe("cursor");
      });

      it("gives each endpoint's health over the window and its queue now", async () => {
        const busy = await endpoint();
        const idle = await endpoint();
        const quiet = await endpoint();
        const made = await deliveries([
          newDelivery(busy.id, 1, at(0)),
          newDelivery(busy.id, 2, at(0)),
          newDelivery(busy.id, 3, at(0)),
          newDelivery(busy.id, 4, at(0), { status: "skipped", nextAttemptAt: null }),
          newDelivery(busy.id, 5, at(0), { status: "skipped", nextAttemptAt: null }),
          newDelivery(busy.id, 6, at(0)),
          newDelivery(quiet.id, 1, at(0)),
        ]);
        const [b1, b2, b3, , , , q1] = made;
        // Before the window: counted neither in rate nor latency.
        const old = attemptRecord(b1!, 1, at(1_000), { status: 500, durationMs: 99_999, owner: null });
        const inWindow = [
          attemptRecord(b1!, 2, at(10_000), { status: 200, durationMs: 10, owner: null }),
          attemptRecord(b2!, 1, at(11_000), { status: 503, durationMs: 20, owner: null }),
          attemptRecord(b2!, 2, at(12_000), { status: 200, durationMs: 30, owner: null }),
          attemptRecord(b3!, 1, at(13_000), { status: 500, durationMs: 40, owner: null, final: true }),
          attemptRecord(b3!, 2, at(14_000), { status: null, durationMs: 1_050, owner: null, final: true }),
        ];
        const quietOld = attemptRecord(q1!, 1, at(2_000), { status: 404, durationMs: 5, owner: null });
        await store.recordAttempts([old, ...inWindow, quietOld]);

        const stats = await store.endpointStats({ since: at(5_000) });
        const expected = [
          // Durations 10, 20, 30, 40, 1050: the 0.95 rank is 3.8, so 40 + 0.8 × (1050 - 40).
          { endpointId: busy.id, successRate: 2 / 5, attempts: 5, lastStatus: null, lastAttemptAt: at(14_000), p95LatencyMs: 848, pending: 1, skipped: 2, failed: 1 },
          { endpointId: idle.id, successRate: null, attempts: 0, lastStatus: null, lastAttemptAt: null, p95LatencyMs: null, pending: 0, skipped: 0, failed: 0 },
          { endpointId: quiet.id, successRate: null, attempts: 0, lastStatus: 404, lastAttemptAt: at(2_000), p95LatencyMs: null, pending: 1, skipped: 0, failed: 0 },
        ].sort((a, b) => (a.endpointId < b.endpointId ? -1 : 1));
        expect(stats.map((entry) => ({ ...entry, p95LatencyMs: entry.p95LatencyMs === null ? null : Math.round(entry.p95LatencyMs * 1000) / 1000 }))).toEqual(expected);
        expect(await store.endpointStats({ since: at(5_000), endpointIds: [quiet.id, newId()] })).toEqual(expected.filter((entry) => entry.endpointId === quiet.id));
        expect(await store.endpointStats({ since: at(5_000), endpointIds: [] })).toEqual([]);
        expect(await store.endpointStats({ since: at(0), endpointIds: [quiet.id] })).toMatchObject([{ successRate: 0, attempts: 1, p95LatencyMs: 5 }]);
      });

      it("prunes attempts created before the cutoff, and only those", async () => {
        const target = await endpoint();
        const [delivery] = await deliveries([newDelivery(target.id, 1, at(0))]);
        const records = [1_000, 2_000, 3_000, 4_000].map((time, index) => attemptRecord(delivery!, index + 1, at(time), { status: 500, owner: null }));
        await store.recordAttempts(records);
        expect(await store.pruneAttempts(at(3_000))).toBe(2);
        expect(ids((await store.listAttempts({ limit: 10 })).items)).toEqual(ids([records[3]!.attempt, records[2]!.attempt]));
        expect(await store.pruneAttempts(at(3_000))).toBe(0);
        // The delivery itself stays.
        expect(await store.getDelivery(delivery!.id)).toMatchObject({ attempts: 4 });
      });
    });
  });
}
