import { toImportError, ErrorCodes } from '@erp-import/core';
import { migrations } from './migrations.js';
import { inTransaction, type PgPool } from './pg-types.js';
import { defaultSchema, quoteSchema } from './schema-name.js';

export interface MigrateOptions {
  /** `erp_import` by default. */
  schema?: string;
}

export interface MigrateResult {
  /** The versions this call applied, oldest first. */
  applied: number[];
  version: number;
}

/**
 * Brings the adapter's schema to the latest version. Safe to call from
 * many processes at once: a transaction-scoped advisory lock on the
 * schema's name makes them take turns, and the later ones find nothing
 * left to do.
 */
export async function migrate(
  pool: PgPool,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const schema = options.schema ?? defaultSchema;
  const s = quoteSchema(schema);

  try {
    return await inTransaction(pool, async (client) => {
      await client.query(
        `SELECT pg_advisory_xact_lock(hashtext('erp-import:migrate'), hashtext($1))`,
        [schema],
      );
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${s}.migrations (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);

      const { rows } = await client.query(
        `SELECT coalesce(max(version), 0) AS version FROM ${s}.migrations`,
      );
      const current = Number((rows[0] as { version: number }).version);

      const applied: number[] = [];
      for (const migration of migrations) {
        if (migration.version <= current) continue;
        await client.query(migration.sql(s));
        await client.query(
          `INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`,
          [migration.version, migration.name],
        );
        applied.push(migration.version);
      }

      return { applied, version: Math.max(current, ...applied) };
    });
  } catch (error) {
    throw toImportError(error, ErrorCodes.STORE_ERROR);
  }
}
