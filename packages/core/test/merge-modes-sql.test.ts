import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import {
  buildMergeSql,
  buildSkipSql,
  buildStagingTableSql,
  buildSyncCountSql,
  buildSyncDeleteSql,
} from '../src/loader/merge-sql.js';

// The exact SQL of issue 8's statements; merge-modes.test.ts runs them.

const definition = defineImport({
  entity: 'prices',
  table: 'prices',
  tenantColumn: 'tenant_id',
  key: ['sku'],
  mode: 'sync',
  scope: [{ name: 'company_id', type: 'integer' }],
  softDelete: { column: 'deleted_at' },
  versionColumn: 'version',
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'name', type: 'text', emptyMeansKeep: true },
    { name: 'version', type: 'bigint' },
  ],
});

const names = {
  staging: 'erp_import_staging_0',
  superseded: 'erp_import_superseded_0',
  skipped: 'erp_import_skipped_0',
  rejected: 'erp_import_rejected_0',
  unread: 'erp_import_unread_0',
};

const match =
  't."tenant_id" = s."tenant_id" AND t."company_id" = s."company_id" ' +
  'AND t."sku" = s."sku"';
const keepName =
  'CASE WHEN substr(s."__keep", 1, 1) = \'1\' THEN t."name" ELSE s."name" END';
const absent = (indent: string) =>
  ['staging', 'skipped', 'rejected', 'unread']
    .map(
      (table, index) =>
        `${indent}${index === 0 ? '' : 'AND '}NOT EXISTS (SELECT 1 FROM ` +
        `pg_temp."erp_import_${table}_0" AS s WHERE ${match})`,
    )
    .join('\n');

describe('the SQL of modes, scope, keep, versions and sync', () => {
  it('stages the keep flags and the scope', () => {
    expect(buildStagingTableSql(definition, names)).toBe(
      `CREATE TEMPORARY TABLE pg_temp."erp_import_staging_0" (
  "__seq" bigint NOT NULL,
  "__record" bigint NOT NULL,
  "__line" bigint,
  "__path" text,
  "__keep" text,
  "__key_only" boolean NOT NULL,
  "tenant_id" text NOT NULL,
  "company_id" integer NOT NULL,
  "sku" text,
  "name" text,
  "version" bigint
) ON COMMIT DROP`,
    );
  });

  it('merges a __seq range, keeping values and reviving soft-deleted rows', () => {
    expect(
      buildMergeSql(definition, {
        ...names,
        supportsReturning: false,
        seqRange: true,
      }),
    ).toBe(`MERGE INTO "prices" AS t
USING (SELECT * FROM pg_temp."erp_import_staging_0" WHERE "__seq" BETWEEN $1 AND $2) AS s
ON ${match}
WHEN MATCHED AND (
  t."name" IS DISTINCT FROM ${keepName}
  OR t."version" IS DISTINCT FROM s."version"
  OR t."deleted_at" IS NOT NULL
) THEN
  UPDATE SET
    "name" = ${keepName},
    "version" = s."version",
    "deleted_at" = NULL
WHEN NOT MATCHED THEN
  INSERT ("tenant_id", "company_id", "sku", "name", "version")
  VALUES (s."tenant_id", s."company_id", s."sku", s."name", s."version")`);
  });

  it('leaves out the clause a mode does not use', () => {
    const { softDelete: _soft, ...rest } = definition;
    expect(
      buildMergeSql(
        { ...rest, mode: 'update' },
        {
          ...names,
          supportsReturning: false,
        },
      ),
    ).toBe(`MERGE INTO "prices" AS t
USING pg_temp."erp_import_staging_0" AS s
ON ${match}
WHEN MATCHED AND (
  t."name" IS DISTINCT FROM ${keepName}
  OR t."version" IS DISTINCT FROM s."version"
) THEN
  UPDATE SET
    "name" = ${keepName},
    "version" = s."version"`);
    expect(
      buildMergeSql(
        { ...rest, mode: 'insert' },
        {
          ...names,
          supportsReturning: false,
        },
      ),
    ).not.toContain('WHEN MATCHED');
  });

  it('moves stale rows to the skipped table', () => {
    expect(buildSkipSql(definition, names, 'stale_row')).toBe(`WITH moved AS (
  DELETE FROM pg_temp."erp_import_staging_0" AS s
  USING "prices" AS t
  WHERE ${match}
    AND t."version" IS NOT NULL
    AND (s."version" IS NULL OR s."version" < t."version")
  RETURNING s.*
)
INSERT INTO pg_temp."erp_import_skipped_0"
SELECT moved.*, 'stale_row' FROM moved`);
  });

  it('counts and marks the rows of the tenant and scope the file lacks', () => {
    const scope =
      'WHERE t."tenant_id" = $1 AND t."company_id" = $2 ' +
      'AND t."deleted_at" IS NULL';
    expect(buildSyncCountSql(definition, names)).toBe(
      `SELECT count(*) AS "total",
  count(*) FILTER (WHERE
${absent('    ')}
  ) AS "absent"
FROM "prices" AS t
${scope}`,
    );
    expect(buildSyncDeleteSql(definition, names)).toBe(
      `UPDATE "prices" AS t
SET "deleted_at" = now()
${scope}
  AND
${absent('  ')}`,
    );
    const { softDelete: _soft, ...hard } = definition;
    expect(buildSyncDeleteSql(hard, names)).toBe(
      `DELETE FROM "prices" AS t
WHERE t."tenant_id" = $1 AND t."company_id" = $2
  AND
${absent('  ')}`,
    );
  });
});
