import { performance } from 'node:perf_hooks';
import type { CoercedRow } from '../coercion/coerced-row.js';
import type { ImportDefinition } from '../definitions/import-definition.js';
import {
  ErrorCodes,
  ImportError,
  toImportError,
} from '../errors/import-error.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { RowIssue } from '../ports/error-log.js';
import { copyRows } from './copy-stream.js';
import { quoteIdentifier } from './identifiers.js';
import {
  ensureLedger,
  findAppliedImport,
  recordAppliedImport,
  type EntityCounts,
} from './ledger.js';
import {
  buildCopySql,
  buildCountSql,
  buildDedupeSql,
  buildMergeSql,
  buildStagingTableSql,
  buildSupersededCursorSql,
  buildSupersededTableSql,
  targetName,
  type DedupeNames,
} from './merge-sql.js';
import type { PgClientLike } from './pg-client.js';
import { detectServerCapabilities } from './server-capabilities.js';
import { checkTargetTable } from './target-table.js';

/**
 * Applies one import in one transaction on a connection the caller checked
 * out: stage the rows with COPY, drop superseded duplicate keys, MERGE
 * each entity (parents first), record the import in the ledger, let the
 * engine mark it completed, commit. A reader of the targets sees all of it
 * or none of it, and an import id already in the ledger applies nothing.
 *
 * Concurrency: the transaction takes an advisory lock per target table and
 * tenant (every tenant at once for a table without a tenant column), so
 * two imports that write the same rows never merge at the same time and
 * the second sees the first's ledger row.
 *
 * Counting: on PostgreSQL 17+ the MERGE counts its own inserts and updates
 * with `RETURNING merge_action()`. On 15 and 16 one query over staging
 * and target counts them just before the MERGE, in the same transaction.
 * No table lock is taken for it: `LOCK TABLE ... SHARE ROW EXCLUSIVE`
 * would stop every other tenant's writes to the table for the whole
 * import, and row locks (`FOR UPDATE`) would write to every unchanged row,
 * which is what the unchanged check exists to avoid. The advisory lock
 * already serializes imports of the rows in question; only a writer
 * outside erp-import changing the same rows between the two statements
 * can skew the split between inserted and updated (never the data; the
 * MERGE decides per row). The MERGE's row count is checked against the
 * count and a mismatch is logged.
 */

export interface ApplyImportOptions {
  /**
   * A checked-out connection, idle (not inside a transaction): a
   * `pg.Client` or `pg.PoolClient`. applyImport runs BEGIN ... COMMIT on
   * it itself.
   */
  client: PgClientLike;
  importId: string;
  tenant: string;
  /**
   * The entities this import writes, parents first. A file may feed
   * several tables; `row.entity` says which (undefined = the first).
   */
  definitions: readonly ImportDefinition[];
  /**
   * The rows, streamed into staging. Not read at all when the import is
   * already in the ledger, nor when a check fails before copying: the
   * caller then closes its source itself.
   */
  rows: AsyncIterable<CoercedRow>;
  /** The schema of the ledger of applied imports; `erp_import` by default. */
  ledgerSchema?: string;
  /** Receives the warnings (superseded duplicate keys) in batches. */
  onIssues?: (issues: RowIssue[]) => Promise<void>;
  /**
   * Runs inside the transaction after the ledger row is written and
   * before COMMIT; the engine marks the import completed here. Throwing
   * rolls the whole import back.
   */
  beforeCommit?: (client: PgClientLike, result: ApplyResult) => Promise<void>;
  logger?: Logger;
  /**
   * Aborting rolls back and rejects with ImportError CANCELLED. It is
   * checked between COPY buffers and between steps.
   * TODO: a long MERGE runs to its end before the abort is seen; stopping
   * it needs pg_cancel_backend from a second connection.
   */
  signal?: AbortSignal;
  /**
   * Overrides the detected `MERGE ... RETURNING` capability; false runs
   * the PostgreSQL 15 path on any server (tests use it).
   */
  mergeReturning?: boolean;
  /** COPY buffer size per entity; 256 KiB by default. */
  copyChunkBytes?: number;
}

export interface ApplyResult {
  /** True when the ledger already held this import: nothing was done. */
  alreadyApplied: boolean;
  /** By entity. */
  counts: Record<string, EntityCounts>;
  timings: { copyMs: number; mergeMs: number };
}

export type { EntityCounts } from './ledger.js';

/** Superseded records reported to `onIssues` per batch. */
const issueBatchSize = 1000;

interface StagedEntity extends DedupeNames {
  definition: ImportDefinition;
}

export async function applyImport(
  options: ApplyImportOptions,
): Promise<ApplyResult> {
  const { client, importId, tenant, definitions, signal } = options;
  const ledgerSchema = options.ledgerSchema ?? 'erp_import';
  const logger = (options.logger ?? silentLogger).child({ importId });
  checkDefinitions(definitions);

  try {
    signal?.throwIfAborted();
    const capabilities = await detectServerCapabilities(client);
    const mergeReturning =
      options.mergeReturning ?? capabilities.mergeReturning;
    await ensureLedger(client, ledgerSchema);

    // READ COMMITTED whatever the server default: each statement must see
    // what committed while this one waited for its lock.
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    try {
      await lockTargets(client, tenant, definitions);
      const stored = await findAppliedImport(client, ledgerSchema, importId);
      if (stored !== undefined) {
        await client.query('ROLLBACK');
        logger.info({ counts: stored }, 'import already applied; skipped');
        return alreadyApplied(stored);
      }

      for (const definition of definitions) {
        await checkTargetTable(client, definition);
      }
      const entities = definitions.map((definition, index): StagedEntity => ({
        definition,
        staging: `erp_import_staging_${index}`,
        superseded: `erp_import_superseded_${index}`,
      }));
      for (const entity of entities) {
        await client.query(buildStagingTableSql(entity.definition, entity));
        await client.query(buildSupersededTableSql(entity));
      }

      const copyStart = performance.now();
      const staged = await copyRows({
        client,
        rows: options.rows,
        targets: entities.map((entity) => ({
          definition: entity.definition,
          copySql: buildCopySql(entity.definition, entity),
        })),
        tenant,
        ...(options.copyChunkBytes !== undefined && {
          chunkBytes: options.copyChunkBytes,
        }),
        ...(signal !== undefined && { signal }),
      });
      const copyMs = elapsedSince(copyStart);
      logger.debug({ staged, copyMs }, 'rows staged');

      const mergeStart = performance.now();
      const counts: Record<string, EntityCounts> = {};
      for (const [index, entity] of entities.entries()) {
        signal?.throwIfAborted();
        counts[entity.definition.entity] = await applyEntity({
          client,
          entity,
          staged: staged[index] ?? 0,
          mergeReturning,
          multiEntity: entities.length > 1,
          onIssues: options.onIssues,
          logger,
        });
      }
      const result: ApplyResult = {
        alreadyApplied: false,
        counts,
        timings: { copyMs, mergeMs: elapsedSince(mergeStart) },
      };

      const recorded = await recordAppliedImport(client, ledgerSchema, {
        importId,
        tenant,
        entity: definitions[0]!.entity,
        counts,
      });
      if (!recorded) {
        // Another worker applied it while this one staged: keep theirs.
        await client.query('ROLLBACK');
        const theirs = await findAppliedImport(client, ledgerSchema, importId);
        logger.info('import applied concurrently by another worker');
        return alreadyApplied(theirs ?? {});
      }

      await options.beforeCommit?.(client, result);
      signal?.throwIfAborted();
      await client.query('COMMIT');
      logger.info({ counts, timings: result.timings }, 'import applied');
      return result;
    } catch (error) {
      await rollbackQuietly(client, logger);
      throw error;
    }
  } catch (error) {
    const failure = signal?.aborted
      ? new ImportError(ErrorCodes.CANCELLED, 'the import was cancelled', {
          cause: error,
        })
      : toImportError(error);
    logger.error({ error: failure.toJSON() }, 'import not applied');
    throw failure;
  }
}

interface ApplyEntityOptions {
  client: PgClientLike;
  entity: StagedEntity;
  staged: number;
  mergeReturning: boolean;
  multiEntity: boolean;
  onIssues: ApplyImportOptions['onIssues'];
  logger: Logger;
}

// One entity's steps after COPY: analyze, dedupe, report, merge.
async function applyEntity(options: ApplyEntityOptions): Promise<EntityCounts> {
  const { client, entity, staged } = options;
  const { definition } = entity;

  // Fresh statistics cost little on a temporary table and let the
  // planner pick a hash join for the MERGE instead of guessing.
  await client.query(`ANALYZE pg_temp.${quoteIdentifier(entity.staging)}`);

  const dedupe = await client.query(buildDedupeSql(definition, entity));
  const superseded = dedupe.rowCount ?? 0;
  if (superseded > 0 && options.onIssues !== undefined) {
    await reportSuperseded(
      client,
      entity,
      options.multiEntity,
      options.onIssues,
    );
  }

  const merged = await mergeEntity(
    client,
    entity,
    options.mergeReturning,
    options.logger,
  );
  const counts: EntityCounts = {
    staged,
    inserted: merged.inserted,
    updated: merged.updated,
    unchanged: staged - superseded - merged.inserted - merged.updated,
    superseded,
    // TODO: sync mode (delete the tenant's rows the file no longer holds)
    // is not built yet; until then nothing is ever deleted.
    deleted: 0,
  };
  options.logger.debug({ entity: definition.entity, counts }, 'entity merged');
  return counts;
}

/**
 * The MERGE of one entity, kept in one function so that isolating rows
 * the database refuses can wrap it.
 *
 * TODO: a row the target refuses (a foreign key, a check constraint, a
 * NOT NULL) fails the whole import for now. Isolating those rows to the
 * error log while the rest apply (a savepoint around this MERGE, then a
 * search for the refused rows) is still to be built.
 */
async function mergeEntity(
  client: PgClientLike,
  entity: StagedEntity,
  mergeReturning: boolean,
  logger: Logger,
): Promise<{ inserted: number; updated: number }> {
  const { definition } = entity;
  try {
    if (mergeReturning) {
      const result = await client.query(
        buildMergeSql(definition, { ...entity, supportsReturning: true }),
      );
      const row = result.rows[0] as CountRow | undefined;
      return { inserted: Number(row?.inserted), updated: Number(row?.updated) };
    }

    const counted = await client.query(buildCountSql(definition, entity));
    const row = counted.rows[0] as CountRow | undefined;
    const inserted = Number(row?.inserted);
    const updated = Number(row?.updated);
    const result = await client.query(
      buildMergeSql(definition, { ...entity, supportsReturning: false }),
    );
    if (result.rowCount !== null && result.rowCount !== inserted + updated) {
      logger.warn(
        {
          entity: definition.entity,
          counted: inserted + updated,
          merged: result.rowCount,
        },
        'the target changed between counting and merging; counts are off',
      );
    }
    return { inserted, updated };
  } catch (error) {
    throw stepError(error, definition, 'merge');
  }
}

interface CountRow {
  inserted: string | number;
  updated: string | number;
}

interface SupersededRow {
  __record: string;
  __line: string | null;
  __path: string | null;
  winner_record: string;
  winner_line: string | null;
}

// Pages through the superseded records with a cursor, so a file full of
// duplicates never sits in memory whole.
async function reportSuperseded(
  client: PgClientLike,
  entity: StagedEntity,
  multiEntity: boolean,
  onIssues: (issues: RowIssue[]) => Promise<void>,
): Promise<void> {
  const cursor = quoteIdentifier('erp_import_superseded_cursor');
  await client.query(
    buildSupersededCursorSql('erp_import_superseded_cursor', entity),
  );
  for (;;) {
    const page = await client.query(
      `FETCH FORWARD ${issueBatchSize} FROM ${cursor}`,
    );
    const rows = page.rows as SupersededRow[];
    if (rows.length === 0) break;
    await onIssues(
      rows.map((row) => supersededIssue(row, entity.definition, multiEntity)),
    );
  }
  await client.query(`CLOSE ${cursor}`);
}

function supersededIssue(
  row: SupersededRow,
  definition: ImportDefinition,
  multiEntity: boolean,
): RowIssue {
  const winner =
    row.winner_line === null
      ? `record ${row.winner_record}`
      : `line ${row.winner_line}`;
  return {
    severity: 'warning',
    code: 'duplicate_key_superseded',
    position: {
      recordNumber: Number(row.__record),
      ...(row.__line !== null && { line: Number(row.__line) }),
      ...(row.__path !== null && { path: row.__path }),
    },
    message:
      `superseded by ${winner}, a later record with the same key ` +
      `(${definition.key.join(', ')})`,
    ...(multiEntity && { entity: definition.entity }),
  };
}

/**
 * One advisory lock per target table and tenant, taken in a fixed order
 * so two imports over the same tables cannot deadlock. A table without a
 * tenant column is shared by all tenants, so its lock is too.
 */
async function lockTargets(
  client: PgClientLike,
  tenant: string,
  definitions: readonly ImportDefinition[],
): Promise<void> {
  const keys = new Map<string, [string, string]>();
  for (const definition of definitions) {
    const scope =
      definition.tenantColumn === undefined
        ? 'erp-import:all-tenants'
        : `erp-import:tenant:${tenant}`;
    const table = targetName(definition);
    keys.set(`${scope}\u0000${table}`, [scope, table]);
  }
  for (const id of [...keys.keys()].sort()) {
    await client.query(
      'SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))',
      keys.get(id),
    );
  }
}

function checkDefinitions(definitions: readonly ImportDefinition[]): void {
  if (definitions.length === 0) {
    throw new ImportError(
      ErrorCodes.INVALID_DEFINITION,
      'applyImport needs at least one definition',
    );
  }
  const entities = new Set<string>();
  for (const definition of definitions) {
    if (entities.has(definition.entity)) {
      throw new ImportError(
        ErrorCodes.INVALID_DEFINITION,
        `entity "${definition.entity}" is listed twice`,
        { details: { entity: definition.entity } },
      );
    }
    entities.add(definition.entity);
  }
}

// Adds the entity and step to a database error, keeping its SQLSTATE.
function stepError(
  error: unknown,
  definition: ImportDefinition,
  step: string,
): ImportError {
  if (error instanceof ImportError) return error;
  const base = toImportError(error);
  return new ImportError(
    base.code,
    `${step} of entity "${definition.entity}" into ` +
      `${targetName(definition)} failed: ${base.message}`,
    {
      cause: error,
      details: { ...base.details, entity: definition.entity, step },
    },
  );
}

async function rollbackQuietly(
  client: PgClientLike,
  logger: Logger,
): Promise<void> {
  try {
    await client.query('ROLLBACK');
  } catch (error) {
    // The connection is likely gone; the server rolls back on its own.
    logger.warn(
      { error: toImportError(error).toJSON() },
      'rollback failed; the connection may be broken',
    );
  }
}

function alreadyApplied(counts: Record<string, EntityCounts>): ApplyResult {
  return { alreadyApplied: true, counts, timings: { copyMs: 0, mergeMs: 0 } };
}

function elapsedSince(start: number): number {
  return Math.round(performance.now() - start);
}
