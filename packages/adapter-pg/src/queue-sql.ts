/**
 * The queue's own SQL on pg-boss's job table; `b` is pg-boss's quoted
 * schema. pg-boss does everything else (storing, expiring, retrying,
 * archiving); these statements add what its version 10 lacks: fetching
 * in order per key, a lease a live worker keeps renewing, a job placed
 * by when its import was queued, and which imports have a job.
 *
 * A job's lease is its `started_on` in microseconds since the epoch: the
 * fetch sets it, the heartbeat moves it, and a worker whose job expired
 * and was fetched again by another finds it changed.
 */
const lease = `(extract(epoch FROM started_on) * 1000000)::bigint::text`;

export const queueSql = (b: string) => ({
  // The oldest job that is ready and whose key has no older job still
  // waiting or running. SKIP LOCKED lets workers fetch side by side; the
  // NOT EXISTS sees a job another worker is taking as still waiting, so a
  // key never has two jobs out at once. pg-boss's singleton policy backs
  // this with a unique index on one active job per key.
  fetch: `
    WITH next AS (
      SELECT j.id
      FROM ${b}.job j
      WHERE j.name = $1
        AND j.state < 'active'
        AND j.start_after < now()
        AND NOT EXISTS (
          SELECT 1 FROM ${b}.job o
          WHERE o.name = $1
            AND o.singleton_key = j.singleton_key
            AND o.id <> j.id
            AND (o.state = 'active'
              OR (o.state < 'active'
                AND (o.created_on, o.id) < (j.created_on, j.id)))
        )
      ORDER BY j.created_on, j.id
      LIMIT 1
      FOR UPDATE SKIP LOCKED
    )
    UPDATE ${b}.job j SET
      state = 'active',
      started_on = now(),
      retry_count = CASE WHEN j.started_on IS NOT NULL
        THEN j.retry_count + 1 ELSE j.retry_count END
    FROM next
    WHERE j.name = $1 AND j.id = next.id
    RETURNING j.id, j.data, j.retry_count, ${lease} AS lease`,

  // The heartbeat: pushes the job's expiry back, if this worker still
  // holds it.
  renew: `
    UPDATE ${b}.job SET started_on = now()
    WHERE name = $1 AND id = $2 AND state = 'active' AND ${lease} = $3
    RETURNING ${lease} AS lease`,

  // Taken before completing or failing a job, in the same transaction, so
  // that a worker that lost its job cannot settle another worker's run.
  hold: `
    SELECT 1 FROM ${b}.job
    WHERE name = $1 AND id = $2 AND state = 'active' AND ${lease} = $3
    FOR UPDATE`,

  // Run in the transaction that sent the job, before it commits: the
  // fetch orders a key's jobs by `created_on`, so a job sent again for an
  // import whose first job was lost goes before the jobs queued after the
  // import. Never later than it was sent.
  placeAt: `
    UPDATE ${b}.job SET created_on = least(created_on, $3::timestamptz)
    WHERE name = $1 AND id = $2`,

  // The imports among $2 with a job waiting, retrying or running. The
  // enum orders created < retry < active < completed < cancelled < failed.
  held: `
    SELECT DISTINCT data->>'importId' AS import_id
    FROM ${b}.job
    WHERE name = $1
      AND state < 'completed'
      AND data->>'importId' = ANY($2::text[])`,
});
