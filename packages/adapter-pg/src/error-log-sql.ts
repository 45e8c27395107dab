/** The error log's SQL; `s` is the quoted schema name. */
export const errorLogSql = (s: string) => ({
  // One statement per batch whatever its size: each column travels as one
  // array parameter, so a batch never nears PostgreSQL's 65,535 limit.
  // WITH ORDINALITY keeps the batch's order in `seq`.
  append: `
    INSERT INTO ${s}.import_errors (
      import_id, severity, record_number, line, end_line, path,
      column_name, code, message, raw_value, raw_value_given, entity
    )
    SELECT $1, severity, record_number, line, end_line, path,
      column_name, code, message, raw_value, raw_value_given, entity
    FROM unnest(
      $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[],
      $7::text[], $8::text[], $9::text[], $10::text[], $11::boolean[],
      $12::text[]
    ) WITH ORDINALITY AS batch (
      severity, record_number, line, end_line, path, column_name, code,
      message, raw_value, raw_value_given, entity, position
    )
    ORDER BY position`,

  page: `
    SELECT seq, severity, record_number, line, end_line, path,
      column_name, code, message, raw_value, raw_value_given, entity
    FROM ${s}.import_errors
    WHERE import_id = $1
      AND ($2::bigint IS NULL OR seq > $2)
      AND ($3::text IS NULL OR severity = $3)
    ORDER BY seq
    LIMIT $4`,

  count: `
    SELECT count(*) FILTER (WHERE severity = 'error') AS errors,
      count(*) FILTER (WHERE severity = 'warning') AS warnings
    FROM ${s}.import_errors WHERE import_id = $1`,

  clear: `DELETE FROM ${s}.import_errors WHERE import_id = $1`,
});
