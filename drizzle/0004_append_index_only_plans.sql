-- eventloom_append keeps its plans for the life of a session (0003: generic plans). A plan made
-- while the tables were small, on a fresh database before autovacuum has analysed them, used
-- sequential scans (a hash semi join over all events to find duplicate ids, a hash join over all
-- streams for their versions) and kept using them as the tables grew: each append then cost time
-- proportional to the log (measured: 500-event appends slowing from 22k to 10k events/s within
-- 300k events; steady at ~31k with this version). Every lookup is now written as a probe per input row (`= ANY(ids)`, a scalar
-- subquery per stream) and sequential scans are off inside the function, so whatever plan is
-- cached walks the unique indexes and the cost of an append does not depend on the log's size.
-- Otherwise the same function as 0001 (same contract and answers).
CREATE OR REPLACE FUNCTION eventloom_append(p_streams jsonb, p_events jsonb, p_idempotency_key text, p_fingerprint text)
RETURNS jsonb
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
  v_head bigint;
  v_prior eventloom_idempotency_keys%ROWTYPE;
  v_ids uuid[];
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
        SELECT coalesce(jsonb_agg((SELECT eventloom_event_json(e) FROM eventloom_events e WHERE e.id = u.id) ORDER BY u.ord), '[]'::jsonb)
          FROM unnest(v_prior.event_ids) WITH ORDINALITY AS u(id, ord)));
    END IF;
  END IF;

  v_ids := ARRAY(SELECT x.id FROM ROWS FROM (jsonb_to_recordset(p_events) AS (id uuid)) WITH ORDINALITY AS x(id, ord) ORDER BY x.ord);
  SELECT coalesce(array_agg(e.id), '{}') INTO v_existing FROM eventloom_events e WHERE e.id = ANY (v_ids);

  -- A stream whose events are all stored already is a retry: it is answered with those events
  -- instead of a conflict with its own earlier success. A stream named without events is checked.
  SELECT s.stream_id, s.actual INTO v_conflict
    FROM (SELECT s.stream_id, s.expected, s.ord,
                 coalesce((SELECT st.version FROM eventloom_streams st WHERE st.stream_id = s.stream_id), 0) AS actual
            FROM ROWS FROM (jsonb_to_recordset(p_streams) AS (stream_id text, expected text))
                 WITH ORDINALITY AS s(stream_id, expected, ord)) s
   WHERE NOT CASE s.expected
           WHEN 'any' THEN true
           WHEN 'no_stream' THEN s.actual = 0
           WHEN 'stream_exists' THEN s.actual > 0
           ELSE s.actual = s.expected::integer
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
           coalesce((SELECT st.version FROM eventloom_streams st WHERE st.stream_id = i.stream_id), 0)
             + row_number() OVER (PARTITION BY i.stream_id ORDER BY i.ord) AS stream_version
      FROM input i
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
    INSERT INTO eventloom_idempotency_keys (key, fingerprint, event_ids) VALUES (p_idempotency_key, p_fingerprint, v_ids);
  END IF;

  RETURN jsonb_build_object('status', 'appended', 'head', v_head + v_count, 'events', v_events);
END;
$$;
