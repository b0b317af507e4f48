-- The append path of the event store (server/adapters/postgres/postgres-event-store.ts), one round
-- trip per append. Written for PostgreSQL 15 and PGlite (PostgreSQL 18) alike.
--
-- Why positions are gap-free and in commit order: every append first locks the single
-- eventloom_log_head row and holds it until it commits. Appends therefore run one at a time, each
-- taking the positions right after the previous committed head; a rolled-back append releases the
-- lock with the head unchanged, so its positions are reused rather than lost. PostgreSQL makes a
-- commit visible before it releases the committing transaction's locks, so the next append (and any
-- reader) cannot see position N+1 before N is visible: a reader that has seen N has seen all below.
INSERT INTO "eventloom_log_head" ("singleton", "last_position") VALUES (true, 0) ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- The JSON form of a stored row, with the keys of the drizzle schema's properties so that one
-- TypeScript mapper reads both drizzle selects and this function's answers.
CREATE OR REPLACE FUNCTION eventloom_event_json(e eventloom_events) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'position', e.position, 'id', e.id, 'streamId', e.stream_id, 'streamVersion', e.stream_version,
    'type', e.type, 'source', e.source, 'specversion', e.specversion,
    'time', to_char(e.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'subject', e.subject, 'datacontenttype', e.datacontenttype, 'dataschema', e.dataschema, 'data', e.data,
    'correlationid', e.correlationid, 'causationid', e.causationid, 'traceparent', e.traceparent,
    'tracestate', e.tracestate, 'priority', e.priority, 'partitionkey', e.partitionkey,
    'schemaversion', e.schemaversion)
$$;
--> statement-breakpoint
-- p_streams: [{stream_id, expected}] with expected 'any' | 'no_stream' | 'stream_exists' | '<n>'.
-- p_events: every event of the append, flattened in request order, with a stream_id each.
-- Answers one of:
--   {status: 'appended', head, events: [[position, stream_version] for a new event | event json for a duplicate]}
--   {status: 'replayed', events: [event json]}
--   {status: 'conflict', streamId, actual}
--   {status: 'idempotency_mismatch'}
CREATE OR REPLACE FUNCTION eventloom_append(p_streams jsonb, p_events jsonb, p_idempotency_key text, p_fingerprint text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_head bigint;
  v_prior eventloom_idempotency_keys%ROWTYPE;
  v_existing uuid[];
  v_conflict record;
  v_count bigint;
  v_events jsonb;
BEGIN
  SELECT last_position INTO v_head FROM eventloom_log_head WHERE singleton FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'eventloom_log_head has no row: run the migrations';
  END IF;

  IF p_idempotency_key IS NOT NULL THEN
    SELECT * INTO v_prior FROM eventloom_idempotency_keys WHERE key = p_idempotency_key;
    IF FOUND THEN
      IF v_prior.fingerprint <> p_fingerprint THEN
        RETURN jsonb_build_object('status', 'idempotency_mismatch');
      END IF;
      RETURN jsonb_build_object('status', 'replayed', 'events', (
        SELECT coalesce(jsonb_agg(eventloom_event_json(e) ORDER BY u.ord), '[]'::jsonb)
          FROM unnest(v_prior.event_ids) WITH ORDINALITY AS u(id, ord)
          JOIN eventloom_events e ON e.id = u.id));
    END IF;
  END IF;

  SELECT coalesce(array_agg(e.id), '{}') INTO v_existing
    FROM eventloom_events e
   WHERE e.id IN (SELECT x.id FROM jsonb_to_recordset(p_events) AS x(id uuid));

  -- A stream whose events are all stored already is a retry: it is answered with those events
  -- instead of a conflict with its own earlier success. A stream named without events is checked.
  SELECT s.stream_id, coalesce(st.version, 0) AS actual INTO v_conflict
    FROM ROWS FROM (jsonb_to_recordset(p_streams) AS (stream_id text, expected text))
         WITH ORDINALITY AS s(stream_id, expected, ord)
    LEFT JOIN eventloom_streams st ON st.stream_id = s.stream_id
   WHERE NOT CASE s.expected
           WHEN 'any' THEN true
           WHEN 'no_stream' THEN coalesce(st.version, 0) = 0
           WHEN 'stream_exists' THEN coalesce(st.version, 0) > 0
           ELSE coalesce(st.version, 0) = s.expected::integer
         END
     AND (cardinality(v_existing) = 0
          OR NOT EXISTS (SELECT 1 FROM jsonb_to_recordset(p_events) AS x(stream_id text) WHERE x.stream_id = s.stream_id)
          OR EXISTS (SELECT 1 FROM jsonb_to_recordset(p_events) AS x(stream_id text, id uuid)
                      WHERE x.stream_id = s.stream_id AND x.id <> ALL (v_existing)))
   ORDER BY s.ord
   LIMIT 1;
  IF FOUND THEN
    RETURN jsonb_build_object('status', 'conflict', 'streamId', v_conflict.stream_id, 'actual', v_conflict.actual);
  END IF;

  -- Set-based: one INSERT ... SELECT numbers all new events (positions after the locked head,
  -- versions after each stream's current one) instead of a loop of single-row inserts.
  WITH input AS (
    SELECT *
      FROM ROWS FROM (jsonb_to_recordset(p_events) AS (
             stream_id text, id uuid, type text, source text, specversion text, "time" timestamptz,
             subject text, datacontenttype text, dataschema text, data jsonb, correlationid text,
             causationid text, traceparent text, tracestate text, priority text, partitionkey text,
             schemaversion integer))
           WITH ORDINALITY AS x(stream_id, id, type, source, specversion, "time", subject, datacontenttype,
             dataschema, data, correlationid, causationid, traceparent, tracestate, priority, partitionkey,
             schemaversion, ord)
  ),
  fresh AS (
    SELECT i.*,
           v_head + row_number() OVER (ORDER BY i.ord) AS position,
           coalesce(st.version, 0) + row_number() OVER (PARTITION BY i.stream_id ORDER BY i.ord) AS stream_version
      FROM input i
      LEFT JOIN eventloom_streams st ON st.stream_id = i.stream_id
     WHERE i.id <> ALL (v_existing)
  ),
  inserted AS (
    INSERT INTO eventloom_events (position, id, stream_id, stream_version, type, source, specversion, "time",
      subject, datacontenttype, dataschema, data, correlationid, causationid, traceparent, tracestate,
      priority, partitionkey, schemaversion)
    -- jsonb_to_recordset reads a JSON null as SQL NULL; the event's data is then the JSON null.
    SELECT position, id, stream_id, stream_version, type, source, specversion, "time",
      subject, datacontenttype, dataschema, coalesce(data, 'null'::jsonb), correlationid, causationid, traceparent,
      tracestate, priority, partitionkey, schemaversion
      FROM fresh
     ORDER BY position
    RETURNING position, id, stream_id, stream_version
  ),
  bumped AS (
    INSERT INTO eventloom_streams (stream_id, version)
    SELECT stream_id, max(stream_version) FROM inserted GROUP BY stream_id
    ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version
  )
  SELECT count(n.position),
         coalesce(jsonb_agg(CASE
           WHEN n.position IS NULL THEN (SELECT eventloom_event_json(e) FROM eventloom_events e WHERE e.id = i.id)
           ELSE jsonb_build_array(n.position, n.stream_version)
         END ORDER BY i.ord), '[]'::jsonb)
    INTO v_count, v_events
    FROM input i
    LEFT JOIN inserted n ON n.id = i.id;

  IF v_count > 0 THEN
    UPDATE eventloom_log_head SET last_position = v_head + v_count WHERE singleton;
    -- Delivered at commit, to other processes' log tails (LISTEN eventloom_appended).
    PERFORM pg_notify('eventloom_appended', (v_head + v_count)::text);
  END IF;

  IF p_idempotency_key IS NOT NULL THEN
    INSERT INTO eventloom_idempotency_keys (key, fingerprint, event_ids)
    SELECT p_idempotency_key, p_fingerprint, coalesce(array_agg(x.id ORDER BY x.ord), '{}')
      FROM ROWS FROM (jsonb_to_recordset(p_events) AS (id uuid)) WITH ORDINALITY AS x(id, ord);
  END IF;

  RETURN jsonb_build_object('status', 'appended', 'head', v_head + v_count, 'events', v_events);
END;
$$;
