import type { ImportDefinition } from '../definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import { buildTargetColumnsSql, targetName } from './merge-sql.js';
import type { PgClientLike } from './pg-client.js';

/**
 * Checks, before any row is copied, that the target table exists and has
 * every column the definition writes (and its tenant column), so a
 * definition out of step with the schema fails with a clear code instead
 * of a MERGE error after the whole file was staged.
 */
export async function checkTargetTable(
  client: PgClientLike,
  definition: ImportDefinition,
): Promise<void> {
  const table = targetName(definition);
  const result = await client.query(buildTargetColumnsSql(), [table]);
  const present = new Set(
    (result.rows as Array<{ name: string }>).map((row) => row.name),
  );

  if (present.size === 0) {
    throw new ImportError(
      ErrorCodes.TARGET_TABLE_MISMATCH,
      `the target table ${table} of entity "${definition.entity}" does not ` +
        'exist (or is not on the search path)',
      { details: { entity: definition.entity, table } },
    );
  }

  const wanted = [
    ...(definition.tenantColumn === undefined ? [] : [definition.tenantColumn]),
    ...definition.columns.map((column) => column.name),
  ];
  const missing = wanted.filter((name) => !present.has(name));
  if (missing.length > 0) {
    throw new ImportError(
      ErrorCodes.TARGET_TABLE_MISMATCH,
      `the target table ${table} of entity "${definition.entity}" has no ` +
        `column ${missing.map((name) => `"${name}"`).join(', ')}`,
      { details: { entity: definition.entity, table, missing } },
    );
  }
}
