import { sqlStateOf } from '../errors/import-error.js';
import { quoteIdentifier } from './identifiers.js';
import type { PgClientLike } from './pg-client.js';

/**
 * The ledger of applied imports lives in the target database, one row per
 * import, written in the same transaction as the import's MERGE. A retried
 * or redelivered import finds its row and applies nothing: exactly once.
 */

export interface EntityCounts {
  /** Rows copied into staging. */
  staged: number;
  inserted: number;
  updated: number;
  unchanged: number;
  /** Rows dropped because a later row of the file had the same key. */
  superseded: number;
  /** Valid rows not applied: the mode or the version column said so. */
  skipped: number;
  /** Rows the database refused (a foreign key, a check...). */
  rejected: number;
  /** Target rows a sync deleted, or marked with its soft-delete column. */
  deleted: number;
}

export interface LedgerEntry {
  importId: string;
  tenant: string;
  entity: string;
  counts: Record<string, EntityCounts>;
  /** When the applied file was exported, if the request said. */
  exportedAt?: string;
  /** Its before-images were kept: it can be reverted. */
  beforeImages?: boolean;
}

const ledgerTable = 'applied_imports';
const beforeImagesTable = 'before_images';

// Advisory lock keys of this library, read with hashtext on the server.
const ledgerLockKey = 'erp-import:ledger';
const uniqueViolation = '23505';

export function ledgerTableName(schema: string): string {
  return `${quoteIdentifier(schema)}.${quoteIdentifier(ledgerTable)}`;
}

/**
 * Where imports that keep before-images put them: per changed row, the
 * import, entity and target table, the row's key (its match columns, as
 * staged), its image before the import (`to_jsonb` of the whole row; NULL
 * for a row the import inserted) and what the import did to it.
 */
export function beforeImagesTableName(schema: string): string {
  return `${quoteIdentifier(schema)}.${quoteIdentifier(beforeImagesTable)}`;
}

/**
 * Creates the ledger when it is missing. It runs outside the import's
 * transaction, under a session advisory lock, so two workers starting at
 * once cannot trip over each other's CREATE (a unique violation on
 * pg_type) and a failed import never rolls back the ledger.
 */
export async function ensureLedger(
  client: PgClientLike,
  schema: string,
): Promise<void> {
  const table = ledgerTableName(schema);
  if (await ledgerIsCurrent(client, table)) return;

  const lock = [ledgerLockKey, schema];
  await client.query(
    'SELECT pg_advisory_lock(hashtext($1), hashtext($2))',
    lock,
  );
  try {
    await client.query(
      `CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`,
    );
    await client.query(
      [
        `CREATE TABLE IF NOT EXISTS ${table} (`,
        '  import_id text PRIMARY KEY,',
        '  tenant text NOT NULL,',
        '  entity text NOT NULL,',
        '  counts jsonb NOT NULL,',
        '  applied_at timestamptz NOT NULL DEFAULT now()',
        ')',
      ].join('\n'),
    );
    // Added with export timestamps; a ledger from before gains it here.
    await client.query(
      `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS exported_at timestamptz`,
    );
    await client.query(
      `CREATE INDEX IF NOT EXISTS applied_imports_tenant_entity ` +
        `ON ${table} (tenant, entity, exported_at)`,
    );
    // Added with revert: the order imports were applied in (written under
    // the targets' locks, so later means applied later), and whether an
    // import kept before-images or was reverted.
    await client.query(
      `ALTER TABLE ${table} ` +
        'ADD COLUMN IF NOT EXISTS seq bigint GENERATED ALWAYS AS IDENTITY, ' +
        'ADD COLUMN IF NOT EXISTS reverted_at timestamptz, ' +
        'ADD COLUMN IF NOT EXISTS before_images boolean NOT NULL ' +
        'DEFAULT false',
    );
    const images = beforeImagesTableName(schema);
    await client.query(
      [
        `CREATE TABLE IF NOT EXISTS ${images} (`,
        '  import_id text NOT NULL,',
        '  entity text NOT NULL,',
        '  table_name text NOT NULL,',
        '  key jsonb NOT NULL,',
        '  image jsonb,',
        "  op text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),",
        '  created_at timestamptz NOT NULL DEFAULT now()',
        ')',
      ].join('\n'),
    );
    await client.query(
      'CREATE INDEX IF NOT EXISTS before_images_import ' +
        `ON ${images} (import_id)`,
    );
    await client.query(
      'CREATE INDEX IF NOT EXISTS before_images_row ' +
        `ON ${images} (table_name, key)`,
    );
    await client.query(
      'CREATE INDEX IF NOT EXISTS before_images_created ' +
        `ON ${images} (created_at)`,
    );
  } finally {
    await client.query(
      'SELECT pg_advisory_unlock(hashtext($1), hashtext($2))',
      lock,
    );
  }
}

// The ledger exists and has every column this version writes.
async function ledgerIsCurrent(
  client: PgClientLike,
  table: string,
): Promise<boolean> {
  const result = await client.query(
    [
      'SELECT EXISTS (',
      '  SELECT 1 FROM pg_catalog.pg_attribute',
      "  WHERE attrelid = to_regclass($1) AND attname = 'before_images'",
      '    AND NOT attisdropped',
      ') AS "exists"',
    ].join('\n'),
    [table],
  );
  return (result.rows[0] as { exists: boolean } | undefined)?.exists === true;
}

/**
 * The newest export timestamp applied for a tenant and entity, as ISO
 * text, or undefined when none carried one.
 */
export async function latestExportApplied(
  client: PgClientLike,
  schema: string,
  tenant: string,
  entity: string,
): Promise<string | undefined> {
  const result = await client.query(
    `SELECT max(exported_at) AS "latest" FROM ${ledgerTableName(schema)} ` +
      // A reverted import's export no longer stands.
      'WHERE tenant = $1 AND entity = $2 AND reverted_at IS NULL',
    [tenant, entity],
  );
  const latest = (result.rows[0] as { latest: Date | string | null }).latest;
  if (latest === null || latest === undefined) return undefined;
  return latest instanceof Date ? latest.toISOString() : String(latest);
}

/** The counts an import was applied with, or undefined if it was not. */
export async function findAppliedImport(
  client: PgClientLike,
  schema: string,
  importId: string,
): Promise<Record<string, EntityCounts> | undefined> {
  const result = await client.query(
    `SELECT counts FROM ${ledgerTableName(schema)} WHERE import_id = $1`,
    [importId],
  );
  const row = result.rows[0] as
    { counts: Record<string, EntityCounts> } | undefined;
  return row?.counts;
}

/**
 * Records an import as applied. Answers false when another transaction
 * recorded it first; the caller's transaction is then aborted and must
 * roll back.
 */
export async function recordAppliedImport(
  client: PgClientLike,
  schema: string,
  entry: LedgerEntry,
): Promise<boolean> {
  try {
    await client.query(
      `INSERT INTO ${ledgerTableName(schema)} ` +
        '(import_id, tenant, entity, counts, exported_at, before_images) ' +
        'VALUES ($1, $2, $3, $4::jsonb, $5, $6)',
      [
        entry.importId,
        entry.tenant,
        entry.entity,
        JSON.stringify(entry.counts),
        entry.exportedAt ?? null,
        entry.beforeImages === true,
      ],
    );
    return true;
  } catch (error) {
    if (sqlStateOf(error) === uniqueViolation) return false;
    throw error;
  }
}
