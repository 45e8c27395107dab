import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createTargetTableSql } from './bench-definition.js';

/**
 * The fastest way PostgreSQL itself offers to do what the product does:
 * the server parses the CSV (`COPY ... (FORMAT csv)`) into a typed
 * staging table, ANALYZE, then one MERGE with the product's change
 * detection (IS DISTINCT FROM on every non-key column), in one
 * transaction. No upload, no queue, no validation beyond the types.
 */

export const baselineTable = 'bench_customers_baseline';
const tenant = 'bench-baseline';
const valueColumns = [
  'name',
  'tax_id',
  'city',
  'credit_limit',
  'active',
  'updated_at',
];

export async function prepareBaseline(pool: pg.Pool): Promise<void> {
  await pool.query(createTargetTableSql(baselineTable));
}

export async function truncateBaseline(pool: pg.Pool): Promise<void> {
  await pool.query(`TRUNCATE ${baselineTable}`);
}

export interface BaselineTimings {
  totalMs: number;
  copyMs: number;
  mergeMs: number;
  merged: number;
}

/** Loads `file` (the CSV export) the baseline's way. */
export async function runBaseline(
  pool: pg.Pool,
  file: string,
): Promise<BaselineTimings> {
  const client = await pool.connect();
  const started = performance.now();
  try {
    await client.query('BEGIN');
    await client.query(`
      CREATE TEMPORARY TABLE bench_staging (
        code varchar(20), name varchar(120), tax_id varchar(14),
        city varchar(60), credit_limit numeric(12,2), active boolean,
        updated_at timestamp
      ) ON COMMIT DROP`);
    await pipeline(
      createReadStream(file),
      client.query(
        copyFrom(
          'COPY bench_staging (code, name, tax_id, city, credit_limit, ' +
            'active, updated_at) FROM STDIN (FORMAT csv, HEADER true)',
        ),
      ),
    );
    await client.query('ANALYZE bench_staging');
    const copied = performance.now();

    const changed = valueColumns
      .map((c) => `t.${c} IS DISTINCT FROM s.${c}`)
      .join(' OR ');
    const merged = await client.query(`
      MERGE INTO ${baselineTable} AS t
      USING bench_staging AS s
      ON t.tenant_id = '${tenant}' AND t.code = s.code
      WHEN MATCHED AND (${changed}) THEN
        UPDATE SET ${valueColumns.map((c) => `${c} = s.${c}`).join(', ')}
      WHEN NOT MATCHED THEN
        INSERT (tenant_id, code, ${valueColumns.join(', ')})
        VALUES ('${tenant}', s.code, ${valueColumns.map((c) => `s.${c}`).join(', ')})`);
    await client.query('COMMIT');
    const done = performance.now();
    return {
      totalMs: done - started,
      copyMs: copied - started,
      mergeMs: done - copied,
      merged: merged.rowCount ?? 0,
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
