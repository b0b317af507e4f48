import { sql, type SQL } from "drizzle-orm";
import { isUuid } from "@/server/engine/core/ids";
import { latestPerDelivery } from "@/server/engine/webhooks/attempt-records";
import { decodeListCursor, encodeListCursor } from "@/server/engine/core/list-cursor";
import {
  WebhookEndpointConflictError,
  type AttemptListQuery,
  type AttemptRecord,
  type NewWebhookDelivery,
  type Page,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEndpointStats,
  type WebhookStore,
} from "@/server/engine/webhooks/webhook-store";
import type { Database } from "../database";
import { webhookAttempts, webhookDeliveries, webhookEndpoints, webhookEndpointsRevision, type StoredWebhookSecret } from "../schema";
import { SecretBox } from "./secret-box";

/**
 * Webhooks in the `eventloom_webhook_*` tables (schema/webhooks.ts), on PGlite and Postgres
 * alike. Signing secrets are encrypted with AES-256-GCM (secret-box.ts) before they reach the
 * database and decrypted on the way out. Every operation is one statement: batches travel as one
 * jsonb parameter expanded by jsonb_to_recordset (one statement text whatever the batch size),
 * claims lock their rows `FOR UPDATE SKIP LOCKED` so concurrent dispatchers get different
 * deliveries, and every endpoint write bumps the revision row in the same statement, so the
 * revision never moves before the write is visible. Times are the caller's (`now` is passed in),
 * never the database clock.
 */

/** A time as RFC 3339 UTC with milliseconds, as the engine writes them. */
const iso = (column: string): SQL => sql.raw(`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
const time = (value: string | null): SQL => (value === null ? sql`null::timestamptz` : sql`${value}::timestamptz`);
const json = (value: unknown): SQL => sql`${JSON.stringify(value)}::text::jsonb`;
/** A list as one jsonb parameter: the same statement text whatever the list's length. */
const uuidList = (values: readonly string[]): SQL => sql`array(select jsonb_array_elements_text(${JSON.stringify(values)}::text::jsonb)::uuid)`;
const textList = (values: readonly string[]): SQL => sql`array(select jsonb_array_elements_text(${JSON.stringify(values)}::text::jsonb))`;

/**
 * Rows for jsonb_to_recordset, as one parameter. jsonb cannot hold U+0000, which a receiver's
 * garbage answer may well contain: it becomes U+FFFD rather than failing the whole batch.
 */
function recordset(rows: readonly object[]): SQL {
  const text = JSON.stringify(rows).replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\ufffd");
  return sql`jsonb_to_recordset(${text}::text::jsonb)`;
}

const ENDPOINT = "eventloom_webhook_endpoints";
const DELIVERY = "eventloom_webhook_deliveries";
const ATTEMPT = "eventloom_webhook_attempts";

/** Every endpoint read selects this; `table` is the name or alias the statement gives the table. */
const endpointRow = (table: string): SQL =>
  sql.join([
    sql.raw(`${table}.id as "id", ${table}.url as "url", ${table}.description as "description", to_jsonb(${table}.event_types) as "eventTypes",
      ${table}.filter as "filter", ${table}.headers as "headers", ${table}.rate_limit_per_second as "rateLimitPerSecond",
      ${table}.ordered_by_key as "orderedByKey", ${table}.status as "status", ${table}.disabled_reason as "disabledReason", `),
    iso(`${table}.disabled_at`),
    sql.raw(` as "disabledAt", `),
    iso(`${table}.failing_since`),
    sql.raw(` as "failingSince", ${table}.secrets as "secrets", ${table}.created_by as "createdBy", `),
    iso(`${table}.created_at`),
    sql.raw(` as "createdAt", `),
    iso(`${table}.updated_at`),
    sql.raw(` as "updatedAt", ${table}.version as "version"`),
  ]);

const deliveryRow = (table: string): SQL =>
  sql.join([
    sql.raw(`${table}.id as "id", ${table}.endpoint_id as "endpointId", ${table}.event_id as "eventId", ${table}.event_type as "eventType",
      ${table}.position as "position", ${table}.partition_key as "partitionKey", ${table}.status as "status", ${table}.attempts as "attempts", `),
    iso(`${table}.next_attempt_at`),
    sql.raw(` as "nextAttemptAt", `),
    iso(`${table}.last_attempt_at`),
    sql.raw(` as "lastAttemptAt", ${table}.last_response_status as "lastResponseStatus", ${table}.last_error as "lastError", `),
    iso(`${table}.created_at`),
    sql.raw(` as "createdAt", `),
    iso(`${table}.updated_at`),
    sql.raw(` as "updatedAt", ${table}.lease_owner as "leaseOwner", `),
    iso(`${table}.lease_until`),
    sql.raw(` as "leaseUntil"`),
  ]);

const attemptRow = (table: string): SQL =>
  sql.join([
    sql.raw(`${table}.id as "id", ${table}.delivery_id as "deliveryId", ${table}.endpoint_id as "endpointId", ${table}.event_id as "eventId",
      ${table}.event_type as "eventType", ${table}.attempt as "attempt", ${table}.status as "status", ${table}.trigger as "trigger",
      ${table}.request as "request", ${table}.response as "response", ${table}.duration_ms as "durationMs", ${table}.error as "error", `),
    iso(`${table}.next_attempt_at`),
    sql.raw(` as "nextAttemptAt", `),
    iso(`${table}.created_at`),
    sql.raw(` as "createdAt"`),
  ]);

type EndpointRow = Omit<WebhookEndpoint, "secrets"> & { secrets: StoredWebhookSecret[] };
/** Drivers hand bigint columns back as text. */
type DeliveryRow = Omit<WebhookDelivery, "position"> & { position: number | string };

const toDelivery = (row: DeliveryRow): WebhookDelivery => ({ ...row, position: Number(row.position) });

/** Pending, and no lease or one that ran out at `now`. */
const claimable = (table: string, now: string): SQL =>
  sql`${sql.raw(table)}.status = 'pending' and (${sql.raw(table)}.lease_until is null or ${sql.raw(table)}.lease_until <= ${now}::timestamptz)`;

/**
 * Order per key: a delivery with a partition key, of an endpoint ordered by key, waits while the
 * endpoint has an unfinished (pending or skipped) delivery of that key at a lower position. The
 * inner predicate repeats the partial index's, so the look-up stays on it.
 */
const notHeldBack = (table: string): SQL =>
  sql.raw(`(${table}.partition_key is null
    or not exists (select 1 from ${ENDPOINT} ordered where ordered.id = ${table}.endpoint_id and ordered.ordered_by_key)
    or not exists (select 1 from ${DELIVERY} earlier
                   where earlier.endpoint_id = ${table}.endpoint_id and earlier.partition_key = ${table}.partition_key
                     and earlier.partition_key is not null and earlier.status in ('pending', 'skipped')
                     and earlier.position < ${table}.position))`);

const leaseEnd = (args: { now: string; leaseMs: number }): string => new Date(Date.parse(args.now) + args.leaseMs).toISOString();

/** Soonest due first, as the claim's subquery ordered them (RETURNING keeps no order). */
const byDue = (a: WebhookDelivery, b: WebhookDelivery): number =>
  Date.parse(a.nextAttemptAt ?? "") - Date.parse(b.nextAttemptAt ?? "") || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * A batch naming an endpoint or delivery deleted after the statement's snapshot was taken fails
 * its foreign key check. The statement's own filter leaves such rows out, so running it again
 * (with a fresh snapshot) succeeds.
 */
async function onceMoreIfParentVanished<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const code = (error as { code?: unknown; cause?: { code?: unknown } } | null)?.code ?? (error as { cause?: { code?: unknown } } | null)?.cause?.code;
    if (code !== "23503") throw error;
    return run();
  }
}

export interface PostgresWebhookStoreOptions {
  /** 32 bytes: WEBHOOK_SECRETS_KEY, or the key file the runtime keeps. */
  secretsKey: Buffer;
}

export class PostgresWebhookStore implements WebhookStore {
  readonly #box: SecretBox;

  constructor(
    private readonly database: Database,
    options: PostgresWebhookStoreOptions,
  ) {
    this.#box = new SecretBox(options.secretsKey);
  }

  async createEndpoint(endpoint: WebhookEndpoint): Promise<WebhookEndpoint> {
    const [row] = await this.#writeEndpoint(sql`
      insert into ${webhookEndpoints} (id, url, description, event_types, filter, headers, rate_limit_per_second, ordered_by_key, status,
                                       disabled_reason, disabled_at, failing_since, secrets, created_by, created_at, updated_at, version)
      values (${endpoint.id}::uuid, ${endpoint.url}, ${endpoint.description}, ${textList(endpoint.eventTypes)}, ${endpoint.filter}::text,
              ${json(endpoint.headers)}, ${endpoint.rateLimitPerSecond}::integer, ${endpoint.orderedByKey}::boolean, ${endpoint.status},
              ${endpoint.disabledReason}::text, ${time(endpoint.disabledAt)}, ${time(endpoint.failingSince)}, ${json(this.#seal(endpoint))},
              ${endpoint.createdBy}, ${time(endpoint.createdAt)}, ${time(endpoint.updatedAt)}, 1)
      on conflict (id) do nothing
      returning ${endpointRow(ENDPOINT)}`);
    if (!row) throw new WebhookEndpointConflictError(endpoint.id);
    return this.#open(row);
  }

  async getEndpoint(id: string): Promise<WebhookEndpoint | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.database.rows<EndpointRow>(sql`select ${endpointRow(ENDPOINT)} from ${webhookEndpoints} where id = ${id}::uuid`);
    return row && this.#open(row);
  }

  async listEndpoints(query: { cursor?: string; limit: number }): Promise<Page<WebhookEndpoint>> {
    const after = query.cursor === undefined ? undefined : decodeListCursor(query.cursor);
    const limit = Math.max(0, Math.floor(query.limit));
    if (limit === 0) return { items: [], next: null };
    const keyset = after ? sql`where (created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)` : sql``;
    // One row past the page says whether there is a next one.
    const rows = await this.database.rows<EndpointRow>(sql`
      select ${endpointRow(ENDPOINT)} from ${webhookEndpoints} ${keyset}
      order by created_at desc, id desc limit ${limit + 1}`);
    return pageOf(rows.map((row) => this.#open(row)), limit);
  }

  async allEndpoints(): Promise<WebhookEndpoint[]> {
    const rows = await this.database.rows<EndpointRow>(sql`select ${endpointRow(ENDPOINT)} from ${webhookEndpoints} order by created_at desc, id desc`);
    return rows.map((row) => this.#open(row));
  }

  async updateEndpoint(next: WebhookEndpoint): Promise<WebhookEndpoint> {
    if (!isUuid(next.id)) throw new WebhookEndpointConflictError(next.id);
    const [row] = await this.#writeEndpoint(sql`
      update ${webhookEndpoints} set
        url = ${next.url}, description = ${next.description}, event_types = ${textList(next.eventTypes)}, filter = ${next.filter}::text,
        headers = ${json(next.headers)}, rate_limit_per_second = ${next.rateLimitPerSecond}::integer, ordered_by_key = ${next.orderedByKey}::boolean,
        status = ${next.status}, disabled_reason = ${next.disabledReason}::text, disabled_at = ${time(next.disabledAt)},
        failing_since = ${time(next.failingSince)}, secrets = ${json(this.#seal(next))}, updated_at = ${time(next.updatedAt)},
        version = version + 1
      where id = ${next.id}::uuid and version = ${next.version}::integer
      returning ${endpointRow(ENDPOINT)}`);
    if (!row) throw new WebhookEndpointConflictError(next.id);
    return this.#open(row);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const rows = await this.#writeEndpoint(sql`delete from ${webhookEndpoints} where id = ${id}::uuid returning id`);
    return rows.length > 0;
  }

  async endpointsRevision(): Promise<number> {
    const [row] = await this.database.rows<{ revision: number | string }>(
      sql`select coalesce((select revision from ${webhookEndpointsRevision} where id = 1), 0) as "revision"`,
    );
    return Number(row?.revision ?? 0);
  }

  async createDeliveries(deliveries: NewWebhookDelivery[]): Promise<WebhookDelivery[]> {
    if (deliveries.length === 0) return [];
    // Which of two rows with one key an insert keeps is the plan's choice: the batch's first, always.
    const seen = new Set<string>();
    const rows = deliveries
      .filter((delivery) => {
        const keys = [delivery.id, `${delivery.endpointId} ${delivery.eventId}`];
        if (keys.some((key) => seen.has(key))) return false;
        for (const key of keys) seen.add(key);
        return true;
      })
      .map((delivery) => ({ ...delivery, leaseUntil: delivery.leaseOwner === null ? null : delivery.leaseUntil }));
    // A delivery for an endpoint deleted meanwhile is left out by the join (and the foreign key).
    const created = await onceMoreIfParentVanished(() =>
      this.database.rows<DeliveryRow>(sql`
        insert into ${webhookDeliveries} (id, endpoint_id, event_id, event_type, position, partition_key, status, attempts, next_attempt_at,
                                          created_at, updated_at, lease_owner, lease_until)
        select r."id", r."endpointId", r."eventId", r."eventType", r."position", r."partitionKey", r."status", 0, r."nextAttemptAt",
               r."createdAt", r."createdAt", r."leaseOwner", r."leaseUntil"
        from ${recordset(rows)} as r("id" uuid, "endpointId" uuid, "eventId" text, "eventType" text, "position" bigint, "partitionKey" text,
                                     "status" text, "nextAttemptAt" timestamptz, "createdAt" timestamptz, "leaseOwner" text, "leaseUntil" timestamptz)
        where exists (select 1 from ${webhookEndpoints} e where e.id = r."endpointId")
        on conflict do nothing
        returning ${deliveryRow(DELIVERY)}`),
    );
    return created.map(toDelivery);
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.database.rows<DeliveryRow>(sql`select ${deliveryRow(DELIVERY)} from ${webhookDeliveries} where id = ${id}::uuid`);
    return row && toDelivery(row);
  }

  async claimDue(args: { owner: string; now: string; leaseMs: number; limit: number; endpointIds?: string[] }): Promise<WebhookDelivery[]> {
    const limit = Math.max(0, Math.floor(args.limit));
    if (limit === 0) return [];
    const endpoints = args.endpointIds === undefined ? sql`` : sql`and d.endpoint_id = any(${uuidList(args.endpointIds.filter(isUuid))})`;
    // The claimable rows are locked in the subquery; a row another claimer holds locked is skipped,
    // and one it claimed and committed meanwhile fails the re-check of the lease on locking.
    const rows = await this.database.rows<DeliveryRow>(sql`
      update ${webhookDeliveries} set lease_owner = ${args.owner}, lease_until = ${leaseEnd(args)}::timestamptz
      where id in (
        select d.id from ${webhookDeliveries} d
        where ${claimable("d", args.now)} and d.next_attempt_at <= ${args.now}::timestamptz ${endpoints} and ${notHeldBack("d")}
        order by d.next_attempt_at, d.id
        limit ${limit}
        for update skip locked)
      returning ${deliveryRow(DELIVERY)}`);
    return rows.map(toDelivery).sort(byDue);
  }

  async claim(id: string, args: { owner: string; now: string; leaseMs: number }): Promise<WebhookDelivery | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.database.rows<DeliveryRow>(sql`
      update ${webhookDeliveries} set lease_owner = ${args.owner}, lease_until = ${leaseEnd(args)}::timestamptz
      where id = ${id}::uuid and ${claimable(DELIVERY, args.now)} and ${notHeldBack(DELIVERY)}
      returning ${deliveryRow(DELIVERY)}`);
    return row && toDelivery(row);
  }

  async recordAttempts(records: AttemptRecord[]): Promise<void> {
    if (records.length === 0) return;
    const attempts = records.map(({ attempt }) => attempt);
    const updates = latestPerDelivery(records).map(({ attempt, delivery, owner }) => ({ ...delivery, updatedAt: attempt.createdAt, owner }));
    // One statement: the attempts whose delivery still exists, and each delivery's new state where
    // the writer still holds its lease (or wrote outside any lease, which leaves the lease alone).
    await onceMoreIfParentVanished(() =>
      this.database.rows(sql`
        with logged as (
          insert into ${webhookAttempts} (id, delivery_id, endpoint_id, event_id, event_type, attempt, status, trigger, request, response,
                                          duration_ms, error, next_attempt_at, created_at)
          select a."id", a."deliveryId", a."endpointId", a."eventId", a."eventType", a."attempt", a."status", a."trigger", a."request",
                 a."response", a."durationMs", a."error", a."nextAttemptAt", a."createdAt"
          from ${recordset(attempts)} as a("id" uuid, "deliveryId" uuid, "endpointId" uuid, "eventId" text, "eventType" text, "attempt" integer,
                                           "status" text, "trigger" text, "request" jsonb, "response" jsonb, "durationMs" double precision,
                                           "error" text, "nextAttemptAt" timestamptz, "createdAt" timestamptz)
          where exists (select 1 from ${webhookDeliveries} d where d.id = a."deliveryId")
          on conflict (id) do nothing
          returning 1)
        update ${webhookDeliveries} set
          status = u."status", attempts = u."attempts", next_attempt_at = u."nextAttemptAt", last_attempt_at = u."lastAttemptAt",
          last_response_status = u."lastResponseStatus", last_error = u."lastError", updated_at = u."updatedAt",
          lease_owner = case when u."owner" is null then ${sql.raw(DELIVERY)}.lease_owner end,
          lease_until = case when u."owner" is null then ${sql.raw(DELIVERY)}.lease_until end
        from ${recordset(updates)} as u("id" uuid, "status" text, "attempts" integer, "nextAttemptAt" timestamptz, "lastAttemptAt" timestamptz,
                                        "lastResponseStatus" integer, "lastError" text, "updatedAt" timestamptz, "owner" text)
        where ${sql.raw(DELIVERY)}.id = u."id" and (u."owner" is null or ${sql.raw(DELIVERY)}.lease_owner = u."owner")`),
    );
  }

  async recover(endpointId: string, args: { since: string; now: string; limit: number }): Promise<number> {
    return this.#makeDue(endpointId, sql`status = 'failed' and created_at >= ${args.since}::timestamptz`, args);
  }

  async resumeSkipped(endpointId: string, args: { now: string; limit: number }): Promise<number> {
    return this.#makeDue(endpointId, sql`status = 'skipped'`, args);
  }

  async requeue(deliveryId: string, now: string): Promise<WebhookDelivery | undefined> {
    if (!isUuid(deliveryId)) return undefined;
    const [row] = await this.database.rows<DeliveryRow>(sql`
      update ${webhookDeliveries} set status = 'pending', next_attempt_at = ${now}::timestamptz, updated_at = ${now}::timestamptz,
        lease_owner = null, lease_until = null
      where id = ${deliveryId}::uuid
      returning ${deliveryRow(DELIVERY)}`);
    return row && toDelivery(row);
  }

  async getAttempt(id: string): Promise<WebhookAttempt | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await this.database.rows<WebhookAttempt>(sql`select ${attemptRow(ATTEMPT)} from ${webhookAttempts} where id = ${id}::uuid`);
    return row;
  }

  async listAttempts(query: AttemptListQuery): Promise<Page<WebhookAttempt>> {
    const after = query.cursor === undefined ? undefined : decodeListCursor(query.cursor);
    const limit = Math.max(0, Math.floor(query.limit));
    if (limit === 0) return { items: [], next: null };
    if ((query.endpointId !== undefined && !isUuid(query.endpointId)) || (query.deliveryId !== undefined && !isUuid(query.deliveryId))) return { items: [], next: null };
    const conditions: SQL[] = [sql`true`];
    if (query.endpointId !== undefined) conditions.push(sql`endpoint_id = ${query.endpointId}::uuid`);
    if (query.deliveryId !== undefined) conditions.push(sql`delivery_id = ${query.deliveryId}::uuid`);
    if (query.status !== undefined) conditions.push(sql`status = ${query.status}`);
    if (after) conditions.push(sql`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`);
    const rows = await this.database.rows<WebhookAttempt>(sql`
      select ${attemptRow(ATTEMPT)} from ${webhookAttempts} where ${sql.join(conditions, sql` and `)}
      order by created_at desc, id desc limit ${limit + 1}`);
    return pageOf(rows, limit);
  }

  async endpointStats(args: { since: string; endpointIds?: string[] }): Promise<WebhookEndpointStats[]> {
    const selected = args.endpointIds === undefined ? sql`` : sql`where id = any(${uuidList(args.endpointIds.filter(isUuid))})`;
    const rows = await this.database.rows<{
      endpointId: string;
      attempts: number | string | null;
      succeeded: number | string | null;
      p95: number | null;
      lastStatus: number | null;
      lastAttemptAt: string | null;
      pending: number | string | null;
      skipped: number | string | null;
      failed: number | string | null;
    }>(sql`
      with selected as (select id from ${webhookEndpoints} ${selected}),
      windowed as (
        select a.endpoint_id, count(*) as attempts, count(*) filter (where a.status = 'succeeded') as succeeded,
               percentile_cont(0.95) within group (order by a.duration_ms) as p95
        from ${webhookAttempts} a
        where a.endpoint_id in (select id from selected) and a.created_at >= ${args.since}::timestamptz
        group by a.endpoint_id),
      queued as (
        select d.endpoint_id, count(*) filter (where d.status = 'pending') as pending, count(*) filter (where d.status = 'skipped') as skipped,
               count(*) filter (where d.status = 'failed') as failed
        from ${webhookDeliveries} d
        where d.endpoint_id in (select id from selected) and d.status in ('pending', 'skipped', 'failed')
        group by d.endpoint_id)
      select s.id as "endpointId", w.attempts as "attempts", w.succeeded as "succeeded", w.p95 as "p95",
             latest.status as "lastStatus", latest.created_at as "lastAttemptAt",
             q.pending as "pending", q.skipped as "skipped", q.failed as "failed"
      from selected s
      left join windowed w on w.endpoint_id = s.id
      left join queued q on q.endpoint_id = s.id
      left join lateral (
        select (a.response->>'status')::integer as status, ${iso("a.created_at")} as created_at
        from ${webhookAttempts} a where a.endpoint_id = s.id
        order by a.created_at desc, a.id desc limit 1) latest on true
      order by s.id`);
    return rows.map((row) => {
      const attempts = Number(row.attempts ?? 0);
      return {
        endpointId: row.endpointId,
        successRate: attempts === 0 ? null : Number(row.succeeded ?? 0) / attempts,
        attempts,
        lastStatus: row.lastStatus,
        lastAttemptAt: row.lastAttemptAt,
        p95LatencyMs: row.p95 === null ? null : Number(row.p95),
        pending: Number(row.pending ?? 0),
        skipped: Number(row.skipped ?? 0),
        failed: Number(row.failed ?? 0),
      };
    });
  }

  async pruneAttempts(before: string): Promise<number> {
    const [row] = await this.database.rows<{ pruned: number | string }>(sql`
      with pruned as (delete from ${webhookAttempts} where created_at < ${before}::timestamptz returning 1)
      select count(*) as "pruned" from pruned`);
    return Number(row?.pruned ?? 0);
  }

  /**
   * Runs an endpoint write (a statement returning the rows it wrote) and bumps the revision in
   * the same statement, only if it wrote something.
   */
  async #writeEndpoint(write: SQL): Promise<EndpointRow[]> {
    return this.database.rows<EndpointRow>(sql`
      with written as (${write}),
      bumped as (
        insert into ${webhookEndpointsRevision} (id, revision)
        select 1, 1 where exists (select 1 from written)
        on conflict (id) do update set revision = ${webhookEndpointsRevision}.revision + 1)
      select * from written`);
  }

  /** Makes up to `limit` of the endpoint's deliveries matching `which` pending and due now, lowest positions first. */
  async #makeDue(endpointId: string, which: SQL, args: { now: string; limit: number }): Promise<number> {
    const limit = Math.max(0, Math.floor(args.limit));
    if (limit === 0 || !isUuid(endpointId)) return 0;
    const [row] = await this.database.rows<{ count: number | string }>(sql`
      with due as (
        update ${webhookDeliveries} set status = 'pending', next_attempt_at = ${args.now}::timestamptz, updated_at = ${args.now}::timestamptz,
          lease_owner = null, lease_until = null
        where id in (
          select id from ${webhookDeliveries} where endpoint_id = ${endpointId}::uuid and ${which}
          order by position, id limit ${limit}
          for update)
        returning 1)
      select count(*) as "count" from due`);
    return Number(row?.count ?? 0);
  }

  #seal(endpoint: WebhookEndpoint): StoredWebhookSecret[] {
    return endpoint.secrets.map(({ secret, createdAt, expiresAt }) => ({ ciphertext: this.#box.encrypt(secret), createdAt, expiresAt }));
  }

  #open(row: EndpointRow): WebhookEndpoint {
    return {
      ...row,
      secrets: row.secrets.map(({ ciphertext, createdAt, expiresAt }) => ({ secret: this.#box.decrypt(ciphertext), createdAt, expiresAt })),
    };
  }
}

function pageOf<T extends { createdAt: string; id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next: rows.length > limit && last ? encodeListCursor(last) : null };
}
