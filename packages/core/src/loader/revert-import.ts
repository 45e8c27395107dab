import type { ImportDefinition } from '../definitions/import-definition.js';
import {
  ErrorCodes,
  ImportError,
  toImportError,
} from '../errors/import-error.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import { lockTargets } from './apply-import.js';
import {
  buildKeyConflictSql,
  buildRevertDeletesSql,
  buildRevertInsertsSql,
  buildRevertUpdatesSql,
  buildUntrackedLaterSql,
  buildWritableColumnsSql,
  type TargetColumn,
} from './before-image-sql.js';
import {
  beforeImagesTableName,
  ensureLedger,
  ledgerTableName,
} from './ledger.js';
import { targetName } from './merge-sql.js';
import type { PgClientLike } from './pg-client.js';

/**
 * Undoes an applied import from the before-images it kept, in one
 * transaction under the same advisory locks as an import of its tables:
 * the rows it inserted are deleted (children first), the rows it updated
 * or soft-deleted get their images back, the rows a sync deleted are
 * inserted again whole. The ledger row stays (the import id is never
 * applied again) and is marked reverted; the images go.
 *
 * Refused with REVERT_CONFLICT, changing nothing, when a later import
 * (not itself reverted) kept before-images of any of the same rows, or
 * changed rows of the entity without keeping images (which rows is then
 * unknown). TODO: a write to the same rows from outside erp-import is not
 * seen; comparing each row with an after-image would catch it, at the
 * cost of storing that image too.
 */
export interface RevertImportOptions {
  /** A checked-out, idle connection; revertImport runs BEGIN ... COMMIT. */
  client: PgClientLike;
  importId: string;
  /** The import's tenant: another tenant's import is not found. */
  tenant: string;
  /** The import's definitions, parents first, as it was applied with. */
  definitions: readonly ImportDefinition[];
  ledgerSchema?: string;
  /** Runs before COMMIT; the engine marks the import reverted here. */
  beforeCommit?: (client: PgClientLike) => Promise<void>;
  /** Scoped here with the import id: pass one without it. */
  logger?: Logger;
}

/** Rows put back, by entity. */
export interface RevertResult {
  entities: Record<string, RevertCounts>;
}

export interface RevertCounts {
  /** Rows the import had inserted, deleted again. */
  removed: number;
  /** Rows the import had updated (or soft-deleted), restored. */
  restored: number;
  /** Rows the import's sync had deleted, inserted again. */
  reinserted: number;
}

interface LedgerRow {
  seq: string;
  tenant: string;
  before_images: boolean;
  reverted_at: Date | null;
}

export async function revertImport(
  options: RevertImportOptions,
): Promise<RevertResult> {
  const { client, importId, tenant, definitions } = options;
  const schema = options.ledgerSchema ?? 'erp_import';
  const logger = (options.logger ?? silentLogger).child({ importId });
  const ledger = ledgerTableName(schema);
  const images = beforeImagesTableName(schema);
  await ensureLedger(client, schema);

  await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  try {
    await lockTargets(client, tenant, definitions);
    const found = await client.query(
      'SELECT seq, tenant, before_images, reverted_at ' +
        `FROM ${ledger} WHERE import_id = $1 FOR UPDATE`,
      [importId],
    );
    const entry = found.rows[0] as LedgerRow | undefined;
    checkRevertible(importId, tenant, entry);
    await refuseConflicts(client, {
      importId,
      seq: entry.seq,
      tenant,
      definition: definitions[0]!,
      ledger,
      images,
    });

    const counts: Record<string, RevertCounts> = {};
    for (const definition of definitions) {
      counts[definition.entity] = { removed: 0, restored: 0, reinserted: 0 };
    }
    const params = (definition: ImportDefinition) => [
      importId,
      targetName(definition),
    ];
    // Inserted rows go first, children before their parents.
    for (const definition of [...definitions].reverse()) {
      const result = await client.query(
        buildRevertInsertsSql(definition, images),
        params(definition),
      );
      counts[definition.entity]!.removed = result.rowCount ?? 0;
    }
    for (const definition of definitions) {
      const columns = await writableColumns(client, definition);
      const updated = await client.query(
        buildRevertUpdatesSql(definition, images, columns),
        params(definition),
      );
      const inserted = await client.query(
        buildRevertDeletesSql(definition, images, columns),
        params(definition),
      );
      counts[definition.entity]!.restored = updated.rowCount ?? 0;
      counts[definition.entity]!.reinserted = inserted.rowCount ?? 0;
    }

    await client.query(
      `UPDATE ${ledger} SET reverted_at = now(), before_images = false ` +
        'WHERE import_id = $1',
      [importId],
    );
    await client.query(`DELETE FROM ${images} WHERE import_id = $1`, [
      importId,
    ]);
    await options.beforeCommit?.(client);
    await client.query('COMMIT');
    logger.info({ counts }, 'import reverted');
    return { entities: counts };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    const failure = toImportError(error);
    logger.warn({ error: failure.toJSON() }, 'import not reverted');
    throw failure;
  }
}

function checkRevertible(
  importId: string,
  tenant: string,
  entry: LedgerRow | undefined,
): asserts entry is LedgerRow {
  if (entry === undefined || entry.tenant !== tenant) {
    throw new ImportError(
      ErrorCodes.INVALID_STATE,
      `import ${importId} was never applied, so there is nothing to revert`,
      { details: { importId } },
    );
  }
  if (entry.reverted_at !== null) {
    throw new ImportError(
      ErrorCodes.INVALID_STATE,
      `import ${importId} is reverted already`,
      { details: { importId, alreadyReverted: true } },
    );
  }
  if (!entry.before_images) {
    throw new ImportError(
      ErrorCodes.INVALID_STATE,
      `import ${importId} has no before-images: it was applied without ` +
        'them, or they expired',
      { details: { importId } },
    );
  }
}

interface ConflictCheck {
  importId: string;
  seq: string;
  tenant: string;
  definition: ImportDefinition;
  ledger: string;
  images: string;
}

async function refuseConflicts(
  client: PgClientLike,
  check: ConflictCheck,
): Promise<void> {
  const { importId, seq, definition } = check;
  const touched = await client.query(
    buildKeyConflictSql(check.images, check.ledger),
    [importId, seq],
  );
  const untracked = await client.query(buildUntrackedLaterSql(check.ledger), [
    seq,
    definition.entity,
    definition.tenantColumn === undefined ? null : check.tenant,
  ]);
  const later = [
    ...new Set(
      [...touched.rows, ...untracked.rows].map(
        (row) => (row as { importId: string }).importId,
      ),
    ),
  ];
  if (later.length === 0) return;
  throw new ImportError(
    ErrorCodes.REVERT_CONFLICT,
    `import ${importId} cannot be reverted: later import(s) ` +
      `${later.join(', ')} changed the same rows (or rows of ` +
      `"${definition.entity}" without keeping before-images); revert ` +
      'those first',
    { details: { importId, laterImports: later } },
  );
}

async function writableColumns(
  client: PgClientLike,
  definition: ImportDefinition,
): Promise<TargetColumn[]> {
  const result = await client.query(buildWritableColumnsSql(), [
    targetName(definition),
  ]);
  return result.rows as TargetColumn[];
}

/**
 * Deletes before-images older than `olderThanMs`, and marks their imports
 * as no longer revertible; answers how many images went. A host or
 * worker calls it now and then (`Importer.purgeBeforeImages`).
 */
export async function purgeBeforeImages(
  client: PgClientLike,
  options: { ledgerSchema?: string; olderThanMs: number },
): Promise<number> {
  const schema = options.ledgerSchema ?? 'erp_import';
  await ensureLedger(client, schema);
  const age = `now() - $1 * interval '1 millisecond'`;
  await client.query('BEGIN');
  try {
    await client.query(
      `UPDATE ${ledgerTableName(schema)} SET before_images = false ` +
        `WHERE before_images AND applied_at < ${age}`,
      [options.olderThanMs],
    );
    const purged = await client.query(
      `DELETE FROM ${beforeImagesTableName(schema)} WHERE created_at < ${age}`,
      [options.olderThanMs],
    );
    await client.query('COMMIT');
    return purged.rowCount ?? 0;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw toImportError(error, ErrorCodes.DATABASE_ERROR);
  }
}
