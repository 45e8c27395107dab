/** The file store's SQL; `s` is the quoted schema name. */
export const fileStoreSql = (s: string) => ({
  begin: `INSERT INTO ${s}.files (key) VALUES ($1) RETURNING id`,

  chunk: `INSERT INTO ${s}.file_chunks (file_id, chunk, data)
    VALUES ($1, $2, $3)`,

  // The new version replaces an earlier complete file under the same key
  // in one step, so a reader sees the old bytes or the new, never neither.
  dropCompleteKey: `DELETE FROM ${s}.files WHERE key = $1 AND complete`,
  complete: `UPDATE ${s}.files
    SET complete = true, size = $2, checksum = $3, chunks = $4
    WHERE id = $1`,

  abandon: `DELETE FROM ${s}.files WHERE id = $1`,

  find: `SELECT id, chunks FROM ${s}.files WHERE key = $1 AND complete`,
  // Read through COPY (binary-copy-bytes.ts), which takes no parameters:
  // the caller passes integers only.
  readChunk: (fileId: string, chunk: number) =>
    `SELECT data FROM ${s}.file_chunks
    WHERE file_id = ${fileId} AND chunk = ${chunk}`,

  delete: `DELETE FROM ${s}.files WHERE key = $1 AND complete`,

  // Retention: the files of imports that ended more than $1 ms ago, and,
  // older than $2 ms, uploads that never completed (their writer died)
  // and complete ones no import record names (their writer died before
  // it wrote the record). The latter only while this schema's imports
  // table is the status store in use, that is, holds an import recorded
  // after the file; with another status store nothing here names a file.
  // Import records and their errors stay.
  sweep: `
    WITH expired AS (
      DELETE FROM ${s}.files f
      WHERE (f.complete AND EXISTS (
          SELECT 1 FROM ${s}.imports i
          WHERE i.file_key = f.key
            AND i.state IN ('completed', 'failed', 'cancelled', 'reverted')
            AND coalesce(i.finished_at, i.created_at)
              < now() - $1 * interval '1 millisecond'
        ) AND NOT EXISTS (
          SELECT 1 FROM ${s}.imports i
          WHERE i.file_key = f.key
            AND i.state NOT IN ('completed', 'failed', 'cancelled', 'reverted')
        ))
        OR (NOT f.complete
          AND f.created_at < now() - $2 * interval '1 millisecond')
        OR (f.complete
          AND f.created_at < now() - $2 * interval '1 millisecond'
          AND NOT EXISTS (
            SELECT 1 FROM ${s}.imports i WHERE i.file_key = f.key
          )
          AND EXISTS (
            SELECT 1 FROM ${s}.imports i WHERE i.created_at > f.created_at
          ))
      RETURNING 1
    )
    SELECT count(*) AS deleted FROM expired`,
});
