-- The Postgres transport (server/adapters/postgres/transport), second version: a claim writes
-- nothing to the rows it hands out. What a consumer holds is one row of
-- eventloom_transport_consumers: the ids of its outstanding deliveries and their distinct keys,
-- written by its claims only, alive for as long as the consumer renews it. Measured on PostgreSQL 15, sequential publish,
-- claim and ack of 500-message batches: leasing each row (an UPDATE per row, HOT or not) made a
-- claim cost as much as the publish; without it, publish + claim + ack costs what a plain INSERT
-- + DELETE ... RETURNING queue costs. Messages' rows change only when a retry moves them, so the
-- pages are filled again. Written for PostgreSQL 15 and PGlite alike.
ALTER TABLE "eventloom_transport_messages" RESET (fillfactor);
--> statement-breakpoint
DROP FUNCTION IF EXISTS eventloom_transport_claim(text, text, text, text[], integer, integer, integer);
--> statement-breakpoint
DROP FUNCTION IF EXISTS eventloom_transport_settle(text, text, text, jsonb, integer);
--> statement-breakpoint
-- Publishes are planned once per session too (see eventloom_transport_claim).
ALTER FUNCTION eventloom_transport_publish(text, jsonb) SET plan_cache_mode = force_generic_plan;
--> statement-breakpoint
-- Hands out to p_owner up to p_limit rows of one group that are due (available_at passed) and
-- held by no consumer, highest priority first, then in publish order (id), with their delivery's
-- attempt (`attempt` + 1). p_ids and p_keys are the rows the consumer holds (its outstanding
-- deliveries, those being settled included) and their keys; its row becomes these plus the rows
-- handed out now, alive for p_lease_ms. A consumer claims one claim at a time, so its row never
-- loses a row or key it took. Settles (below) leave the row alone, which keeps them cheap: a
-- settled row leaves it with the consumer's next claim (a retried row waits for that claim, which
-- the driver makes right after a retry).
--
-- Key affinity: a row is not handed out while another live consumer holds its key; the holder
-- itself may take more of that key (its Subscriber runs them in order). A row waiting for a retry
-- holds nothing back: it has stepped out of line.
--
-- A consumer that stopped renewing is gone: the claim deletes its row, counting the deliveries it
-- held as made (attempt + 1), which makes its rows claimable again. (A row it had just retried,
-- still listed, is counted twice.)
--
-- Why the advisory lock: two claims running side by side would each miss what the other is taking
-- (neither has committed), so both could hand out one row, or rows of one key. Claims of a group
-- therefore run one at a time, and each statement after the lock has a snapshot that sees what
-- every earlier claim recorded.
--
-- Claims and settles commit without waiting for the WAL to reach the disk (a commit a few
-- milliseconds from durable): lost with a server crash, a claim or an ack means the message is
-- delivered again, which at-least-once delivery allows and the inbox absorbs. A flush per commit
-- was most of the cost of a settle. Publishes stay synchronous: they must not be lost.
--
-- Plans: every statement here can only walk the index the way it should, whatever the statistics
-- (a fresh table has none, or old ones): lookups are probes per input value (`= ANY`, a scalar
-- subquery per input row, a TID list), never joins the planner could turn around, and scans other
-- than ordered index scans are off. With that, plans are made once per session (a settle planned
-- per call cost twice as much; one joined the other way round, planned on an empty table, cost a
-- hundred times as much once the table had grown).
CREATE OR REPLACE FUNCTION eventloom_transport_claim(
  p_topic text, p_group text, p_owner text, p_keys text[], p_ids bigint[], p_limit integer, p_lease_ms integer)
RETURNS TABLE (id bigint, message_id text, key text, priority smallint, headers jsonb, body text, attempt integer)
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
    SELECT m.id, m.message_id, m.key, m.priority, m.headers, m.body, m.attempt + 1 AS attempt
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
  )
  SELECT * FROM picked ORDER BY picked.priority, picked.id;
END
$$;
--> statement-breakpoint
-- Settles deliveries of one group, p_settles = [{priority, id, attempt, delay_ms}]: delay_ms null
-- acks (deletes the row); a number retries (counts the delivery, the row is due after delay_ms).
-- Each names a delivery by its row and attempt: a delivery whose consumer was taken for gone (and
-- whose row may have been handed out again since) settles nothing. Asynchronous commit and plans:
-- see eventloom_transport_claim.
CREATE OR REPLACE FUNCTION eventloom_transport_settle(p_topic text, p_group text, p_settles jsonb)
RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
  v_retry record;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  DELETE FROM eventloom_transport_messages m
   WHERE m.ctid = ANY (ARRAY(
     SELECT (SELECT r.ctid FROM eventloom_transport_messages r
              WHERE r.topic = p_topic AND r.group_name = p_group AND r.priority = s.priority AND r.id = s.id
                AND r.attempt = s.attempt - 1)
       FROM jsonb_to_recordset(p_settles) AS s(priority smallint, id bigint, attempt integer, delay_ms integer)
      WHERE s.delay_ms IS NULL));
  -- Retries are rare: one statement each.
  FOR v_retry IN
    SELECT * FROM jsonb_to_recordset(p_settles) AS s(priority smallint, id bigint, attempt integer, delay_ms integer)
     WHERE s.delay_ms IS NOT NULL
  LOOP
    UPDATE eventloom_transport_messages m
       SET attempt = m.attempt + 1, available_at = now() + v_retry.delay_ms * interval '1 millisecond'
     WHERE m.topic = p_topic AND m.group_name = p_group AND m.priority = v_retry.priority AND m.id = v_retry.id
       AND m.attempt = v_retry.attempt - 1;
  END LOOP;
END
$$;
