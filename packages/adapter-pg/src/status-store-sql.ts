/** The status store's SQL; `s` is the quoted schema name. */

const columns = `
  id, tenant, entity, format, state, file_name, submitted_by,
  idempotency_key, file_key, byte_size, checksum, options, detected,
  counts, progress, failure, attempts, created_at, started_at,
  finished_at, seq`;

export const statusStoreSql = (s: string) => ({
  // The unique index on (tenant, idempotency_key) decides which of two
  // racing creates wins; the loser reads the winner's record back.
  insert: `
    INSERT INTO ${s}.imports (
      id, tenant, entity, format, state, file_name, submitted_by,
      idempotency_key, file_key, byte_size, checksum, options, detected,
      counts, progress, failure, attempts, created_at, started_at,
      finished_at
    )
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
      $15, $16, $17, $18, $19, $20)
    ON CONFLICT (tenant, idempotency_key)
      WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING ${columns}`,

  byIdempotencyKey: `
    SELECT ${columns} FROM ${s}.imports
    WHERE tenant = $1 AND idempotency_key = $2`,

  byTenantAndId: `
    SELECT ${columns} FROM ${s}.imports WHERE tenant = $1 AND id = $2`,

  byId: `SELECT ${columns} FROM ${s}.imports WHERE id = $1`,

  // Newest first by keyset: ($4, $5) is the last row of the previous page.
  list: `
    SELECT ${columns} FROM ${s}.imports
    WHERE tenant = $1
      AND ($2::text IS NULL OR entity = $2)
      AND ($3::text IS NULL OR state = $3)
      AND ($4::timestamptz IS NULL OR (created_at, seq) < ($4, $5::bigint))
    ORDER BY created_at DESC, seq DESC
    LIMIT $6`,

  // Across tenants, for the engine's sweep of lost imports.
  listByState: `
    SELECT ${columns} FROM ${s}.imports
    WHERE state = $1
      AND ($2::timestamptz IS NULL OR (created_at, seq) < ($2, $3::bigint))
    ORDER BY created_at DESC, seq DESC
    LIMIT $4`,

  // The compare-and-set: the row changes only if its state is one of $2.
  // A patch field left out keeps its value; $11 names the nullable fields
  // the patch sets, so that setting one to null is told from leaving it.
  transition: `
    UPDATE ${s}.imports SET
      state = $3,
      counts = coalesce($4::jsonb, counts),
      progress = coalesce($5::jsonb, progress),
      failure = CASE WHEN 'failure' = ANY($11) THEN $6::jsonb
        ELSE failure END,
      detected = coalesce($7::jsonb, detected),
      attempts = coalesce($8::integer, attempts),
      started_at = CASE WHEN 'startedAt' = ANY($11) THEN $9::timestamptz
        ELSE started_at END,
      finished_at = CASE WHEN 'finishedAt' = ANY($11) THEN $10::timestamptz
        ELSE finished_at END
    WHERE id = $1 AND state = ANY($2::text[])
    RETURNING ${columns}`,

  updateProgress: `UPDATE ${s}.imports SET progress = $2 WHERE id = $1`,
});
