-- The Postgres transport (server/adapters/postgres/transport): fewer claims that find nothing.
--
-- A publish wakes the consumers of its own process at once, then again by NOTIFY: the second
-- claim found nothing (measured: two claims in five were empty under a steady publish). The
-- notification now names its origin (an id of the publishing process's connection pool, then a
-- newline, then the topic), so that listeners skip their own.
--
-- A claim that hands out nothing and holds what it held no longer rewrites its consumer's row
-- (its expiry is kept up by the renewals).
DROP FUNCTION IF EXISTS eventloom_transport_publish(text, jsonb);
--> statement-breakpoint
CREATE OR REPLACE FUNCTION eventloom_transport_publish(p_topic text, p_messages jsonb, p_origin text)
RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  v_group text;
  v_any boolean := false;
BEGIN
  -- One INSERT per group reads the array straight through, so each group's ids follow the publish
  -- order (see 0006).
  FOR v_group IN SELECT g.group_name FROM eventloom_transport_groups g WHERE g.topic = p_topic ORDER BY g.group_name LOOP
    INSERT INTO eventloom_transport_messages (topic, group_name, message_id, key, priority, headers, body)
    SELECT p_topic, v_group, m.message_id, m.key, m.priority, m.headers, m.body
      FROM jsonb_to_recordset(p_messages) AS m(message_id text, key text, priority smallint, headers jsonb, body text);
    v_any := true;
  END LOOP;
  IF v_any THEN
    PERFORM pg_notify('eventloom_transport', p_origin || chr(10) || p_topic);
  END IF;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION eventloom_transport_claim(
  p_topic text, p_group text, p_owner text, p_keys text[], p_ids bigint[], p_limit integer, p_lease_ms integer)
RETURNS TABLE (id bigint, tid text, message_id text, key text, priority smallint, headers jsonb, body text, attempt integer)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_expires timestamptz := now() + p_lease_ms * interval '1 millisecond';
  v_lapsed bigint[];
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM pg_advisory_xact_lock(hashtextextended('eventloom.transport.claim' || chr(10) || p_topic || chr(10) || p_group, 0));
  WITH gone AS (
    DELETE FROM eventloom_transport_consumers c
     WHERE c.topic = p_topic AND c.group_name = p_group AND c.expires_at <= now()
    RETURNING c.ids
  )
  SELECT array_agg(lapsed.id) INTO v_lapsed FROM gone, unnest(gone.ids) AS lapsed(id);
  IF v_lapsed IS NOT NULL THEN
    UPDATE eventloom_transport_messages m SET attempt = m.attempt + 1
     WHERE m.topic = p_topic AND m.group_name = p_group AND m.priority = ANY ('{0,1,2}'::smallint[]) AND m.id = ANY (v_lapsed);
  END IF;

  RETURN QUERY
  WITH held AS (
    SELECT unnest(c.ids) AS id FROM eventloom_transport_consumers c
     WHERE c.topic = p_topic AND c.group_name = p_group AND c.consumer <> p_owner
    UNION ALL
    SELECT unnest(p_ids)
  ), blocked AS (
    SELECT unnest(c.keys) AS key FROM eventloom_transport_consumers c
     WHERE c.topic = p_topic AND c.group_name = p_group AND c.consumer <> p_owner
  ), picked AS (
    SELECT m.id, m.ctid::text AS tid, m.message_id, m.key, m.priority, m.headers, m.body, m.attempt + 1 AS attempt
      FROM eventloom_transport_messages m
     WHERE m.topic = p_topic AND m.group_name = p_group AND m.available_at <= now()
       -- Each set is read once and hashed (NOT IN over non-null values).
       AND m.id NOT IN (SELECT held.id FROM held)
       AND m.key NOT IN (SELECT blocked.key FROM blocked)
     ORDER BY m.priority, m.id
     LIMIT p_limit
  ), recorded AS (
    INSERT INTO eventloom_transport_consumers AS c (topic, group_name, consumer, ids, keys, expires_at)
    SELECT p_topic, p_group, p_owner, p_ids || ARRAY(SELECT picked.id FROM picked),
           ARRAY(SELECT unnest(p_keys) UNION SELECT picked.key FROM picked), v_expires
    ON CONFLICT (topic, group_name, consumer) DO UPDATE
      SET ids = excluded.ids, keys = excluded.keys, expires_at = excluded.expires_at
      WHERE (c.ids, c.keys) IS DISTINCT FROM (excluded.ids, excluded.keys)
  )
  SELECT * FROM picked;
END
$$;
