import { performance } from 'node:perf_hooks';
import type { ImportDefinition } from '../definitions/import-definition.js';
import {
  ErrorCodes,
  ImportError,
  sqlStateOf,
  toImportError,
} from '../errors/import-error.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { RowIssue } from '../ports/error-log.js';
import type { ImportLoadOptions } from '../ports/import-record.js';
import {
  buildCaptureChangesSql,
  buildCaptureDeletesSql,
  buildDropRefusedImagesSql,
} from './before-image-sql.js';
import { copyRows } from './copy-stream.js';
import type { RowSource, StagedItem } from './encoded-rows.js';
import { quoteIdentifier } from './identifiers.js';
import {
  beforeImagesTableName,
  ensureLedger,
  findAppliedImport,
  latestExportApplied,
  recordAppliedImport,
  type EntityCounts,
} from './ledger.js';
import { resolveLoadPlan, type LoadPlan } from './load-plan.js';
import {
  buildCopySql,
  buildDedupeSql,
  buildInsertCounterSql,
  buildSupersedeWithParentSql,
  isChildDefinition,
  type MergedDefinition,
  buildMergeSql,
  buildOutcomeTablesSql,
  buildRejectedCursorSql,
  buildRejectRowSql,
  buildSeqRangeSql,
  buildSetAsideUnreadSql,
  buildSeqIndexSql,
  buildSkippedCursorSql,
  buildSkipSql,
  buildStagingTableSql,
  buildSupersededCursorSql,
  buildSupersededTableSql,
  buildSyncCountSql,
  buildSyncDeleteSql,
  keepColumnIndexes,
  targetName,
  type DedupeNames,
  type OutcomeNames,
  type SkipReason,
} from './merge-sql.js';
import type { PgClientLike } from './pg-client.js';
import { loadDirectly, mayLoadDirectly } from './direct-load.js';
import { detectServerCapabilities } from './server-capabilities.js';
import { checkTargetTable } from './target-table.js';

/**
 * Applies one import in one transaction on a connection the caller checked
 * out: stage the rows with COPY, drop superseded duplicate keys, MERGE
 * each entity (parents first), record the import in the ledger, let the
 * engine mark it completed, commit. Into an empty table, and when the
 * caller can read the rows again, the rows may instead go straight into
 * the table (direct-load.ts), with the same outcome. A reader of the
 * targets sees all of it or none of it, and an import id already in the
 * ledger applies nothing.
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
 *
 * Modes (the first entity's; children always upsert): rows an insert or
 * update must not apply, and rows older than the stored version, leave
 * staging for a skipped table before the MERGE and are reported as
 * warnings. A sync counts what it would delete before merging (the brake)
 * and deletes after, in a separate statement of the same transaction.
 * Records the engine rejected while reading arrive in a sync as key-only
 * rows; they leave staging for an unread table first, and keep their
 * stored rows from the delete. One without a readable key makes a sync
 * that would delete anything fail with SYNC_UNSAFE: it cannot be told
 * which absent row was meant.
 *
 * Rows the database refuses: the MERGE runs inside a savepoint, which
 * costs an import without such rows nothing measurable. When it fails
 * with a data or integrity error (SQLSTATE class 22 or 23), the loader
 * rolls back to the savepoint and merges `__seq` ranges of staging, each
 * in its own savepoint, halving a range that fails until the failing row
 * stands alone; that row moves to a rejected table with the database's
 * answer, and every range that merges stays merged. Staging is indexed
 * by `__seq` once the search begins, so a range's MERGE costs its rows.
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
   * caller then closes its source itself. A `RowSource` is called with
   * the staging layout when copying starts.
   */
  rows: AsyncIterable<StagedItem> | RowSource;
  /**
   * The rows again from the start, for a second reading of the file.
   * Given, an import into an empty table may first try to copy its rows
   * straight into it (direct-load.ts) and, when that cannot stand, rolls
   * it back and stages the rows read anew; `rows` is then not read on.
   */
  reopenRows?: () => Promise<AsyncIterable<StagedItem> | RowSource>;
  /** The schema of the ledger of applied imports; `erp_import` by default. */
  ledgerSchema?: string;
  /** Receives the warnings (superseded duplicate keys) in batches. */
  onIssues?: (issues: RowIssue[]) => Promise<void>;
  /** Told when every row is staged and merging begins (for progress). */
  onMergeStart?: () => void;
  /**
   * Runs inside the transaction after the ledger row is written and
   * before COMMIT; the engine marks the import completed here. Throwing
   * rolls the whole import back.
   */
  beforeCommit?: (client: PgClientLike, result: ApplyResult) => Promise<void>;
  /** Scoped here with the import id: pass one without it. */
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
  /**
   * By entity, the columns the file does not have at all (a CSV header
   * without them), asked once the rows are staged: the MERGE leaves them
   * alone (see `MergedDefinition`).
   */
  absentColumns?: () => Readonly<Record<string, readonly string[]>>;
  /**
   * The import's mode, scope parameters, export timestamp and brake
   * release, for the first definition. Checked with `resolveLoadPlan`:
   * a request the definition does not allow fails INVALID_REQUEST.
   */
  load?: ImportLoadOptions;
  /**
   * Runs inside the transaction once every entity is merged, before the
   * ledger row: throwing (the engine's reject thresholds) rolls the whole
   * import back.
   */
  checkMerged?: (result: ApplyResult) => Promise<void> | void;
  /**
   * Keep the before-images of every row the import changes, in the
   * ledger schema's `before_images`, so that `revertImport` can undo it.
   */
  keepBeforeImages?: boolean;
  /**
   * `work_mem` for the transaction (`SET LOCAL`), such as `128MB`: a hash
   * join or sort of a large import that outgrows the server's default
   * (often 4 MB) spills to disk in batches. The server's setting when
   * left out.
   */
  workMem?: string;
  /**
   * Isolate rows the database refuses (true by default). False merges
   * without the savepoint: a refused row fails the whole import with
   * the database's error. The bench compares the two.
   */
  isolateRefusals?: boolean;
}

export interface ApplyResult {
  /** True when the ledger already held this import: nothing was done. */
  alreadyApplied: boolean;
  /** True when the rows went straight into an empty table (no MERGE). */
  loadedDirectly?: boolean;
  /** By entity. */
  counts: Record<string, EntityCounts>;
  timings: { copyMs: number; mergeMs: number };
}

export type { EntityCounts } from './ledger.js';

/** Superseded records reported to `onIssues` per batch. */
const issueBatchSize = 1000;

interface StagedEntity extends DedupeNames, OutcomeNames {
  definition: MergedDefinition;
  /** Where its before-images go, when the import keeps them. */
  images?: { table: string; importId: string };
  /** The scope values (the first entity), bound in sync statements. */
  scopeValues: readonly string[];
  allowMassDelete: boolean;
}

export async function applyImport(
  options: ApplyImportOptions,
): Promise<ApplyResult> {
  const { client, importId, tenant, definitions, signal } = options;
  const ledgerSchema = options.ledgerSchema ?? 'erp_import';
  const logger = (options.logger ?? silentLogger).child({ importId });
  checkDefinitions(definitions);

  try {
    const plan = resolveLoadPlan(definitions[0]!, options.load);
    signal?.throwIfAborted();
    const capabilities = await detectServerCapabilities(client);
    const mergeReturning =
      options.mergeReturning ?? capabilities.mergeReturning;
    await ensureLedger(client, ledgerSchema);

    // READ COMMITTED whatever the server default: each statement must see
    // what committed while this one waited for its lock.
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    try {
      if (options.workMem !== undefined) {
        await client.query("SELECT set_config('work_mem', $1, true)", [
          options.workMem,
        ]);
      }
      await lockTargets(client, tenant, definitions);
      const stored = await findAppliedImport(client, ledgerSchema, importId);
      if (stored !== undefined) {
        await client.query('ROLLBACK');
        logger.info({ counts: stored }, 'import already applied; skipped');
        return alreadyApplied(stored);
      }
      await refuseStaleExport(client, ledgerSchema, tenant, definitions, plan);

      for (const definition of definitions) {
        await checkTargetTable(client, definition);
      }
      const entities = definitions.map((definition, index): StagedEntity => ({
        // The import's mode is the first entity's; children upsert.
        definition:
          index === 0 ? { ...definition, mode: plan.mode } : definition,
        staging: `erp_import_staging_${index}`,
        superseded: `erp_import_superseded_${index}`,
        skipped: `erp_import_skipped_${index}`,
        rejected: `erp_import_rejected_${index}`,
        unread: `erp_import_unread_${index}`,
        scopeValues: index === 0 ? plan.scopeValues : [],
        allowMassDelete: plan.allowMassDelete,
        ...(options.keepBeforeImages === true && {
          images: { table: beforeImagesTableName(ledgerSchema), importId },
        }),
      }));
      for (const entity of entities) {
        await client.query(buildStagingTableSql(entity.definition, entity));
        await client.query(buildSupersededTableSql(entity));
        for (const sql of buildOutcomeTablesSql(entity)) {
          await client.query(sql);
        }
      }

      // An empty table may take the rows directly; else, or when that
      // gives up, they are staged and merged, from a second reading.
      let rows = options.rows;
      const copyStart = performance.now();
      if (
        options.reopenRows !== undefined &&
        (await mayLoadDirectly(
          client,
          // With the import's own mode: an update of an empty table skips.
          entities.map((entity) => entity.definition),
          entities[0]!.staging,
          options.keepBeforeImages === true,
        ))
      ) {
        const direct = await loadDirectly({
          client,
          definition: entities[0]!.definition,
          staging: entities[0]!.staging,
          rows,
          tenant,
          scopeValues: entities[0]!.scopeValues,
          absentColumns: () =>
            options.absentColumns?.()[definitions[0]!.entity] ?? [],
          ...(options.copyChunkBytes !== undefined && {
            chunkBytes: options.copyChunkBytes,
          }),
          ...(signal !== undefined && { signal }),
        });
        if (direct.loaded) {
          // Reading is over either way: clients see the same phases.
          options.onMergeStart?.();
          return await recordAndCommit(options, plan, logger, {
            alreadyApplied: false,
            loadedDirectly: true,
            counts: { [definitions[0]!.entity]: direct.counts },
            timings: { copyMs: elapsedSince(copyStart), mergeMs: 0 },
          });
        }
        logger.debug({ reason: direct.reason }, 'direct load given up');
        rows = await options.reopenRows();
      }
      const copied = await copyRows({
        client,
        rows,
        targets: entities.map((entity) => ({
          definition: entity.definition,
          copySql: buildCopySql(entity.definition, entity),
          scopeValues: entity.scopeValues,
          keepColumns: keepColumnIndexes(entity.definition),
        })),
        tenant,
        ...(options.copyChunkBytes !== undefined && {
          chunkBytes: options.copyChunkBytes,
        }),
        ...(signal !== undefined && { signal }),
      });
      const copyMs = elapsedSince(copyStart);
      logger.debug({ staged: copied.staged, copyMs }, 'rows staged');
      options.onMergeStart?.();

      // Known once the file is read: what its header left out.
      const absent = options.absentColumns?.() ?? {};
      for (const entity of entities) {
        const columns = absent[entity.definition.entity];
        if (columns !== undefined && columns.length > 0) {
          entity.definition = { ...entity.definition, absentColumns: columns };
        }
      }

      const mergeStart = performance.now();
      const counts: Record<string, EntityCounts> = {};
      for (const [index, entity] of entities.entries()) {
        signal?.throwIfAborted();
        counts[entity.definition.entity] = await applyEntity({
          client,
          entity,
          staged: copied.staged[index] ?? 0,
          keyOnly: copied.keyOnly[index] ?? 0,
          keysMayRepeat: copied.keysMayRepeat[index] ?? true,
          ...(index > 0 &&
            isChildDefinition(entity.definition) &&
            copied.keysMayRepeat[0] !== false && { parent: entities[0] }),
          tenant,
          mergeReturning,
          isolateRefusals: options.isolateRefusals !== false,
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
      return await recordAndCommit(options, plan, logger, result);
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
    // The caller gets the error and reports it: the engine logs it once,
    // as a warning for a bad file and an error for its own faults. Here
    // only its details, for whoever traces the loader.
    logger.debug({ error: failure.toJSON() }, 'import not applied');
    throw failure;
  }
}

// The end of an applied import: thresholds, the ledger row, the
// caller's last step, COMMIT.
async function recordAndCommit(
  options: ApplyImportOptions,
  plan: LoadPlan,
  logger: Logger,
  result: ApplyResult,
): Promise<ApplyResult> {
  const { client, importId, tenant, signal } = options;
  const ledgerSchema = options.ledgerSchema ?? 'erp_import';
  await options.checkMerged?.(result);

  const recorded = await recordAppliedImport(client, ledgerSchema, {
    importId,
    tenant,
    entity: options.definitions[0]!.entity,
    counts: result.counts,
    ...(plan.exportedAt !== undefined && { exportedAt: plan.exportedAt }),
    beforeImages: options.keepBeforeImages === true,
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
  logger.info(
    {
      counts: result.counts,
      timings: result.timings,
      ...(result.loadedDirectly === true && { loadedDirectly: true }),
    },
    'import applied',
  );
  return result;
}

interface ApplyEntityOptions {
  client: PgClientLike;
  entity: StagedEntity;
  staged: number;
  /** Of those, key-only rows (records rejected while reading). */
  keyOnly: number;
  /** False when no key came twice: the dedupe step has nothing to do. */
  keysMayRepeat: boolean;
  /**
   * A child entity's parent, when the parent's dedupe may have superseded
   * records (whose children then go too).
   */
  parent?: DedupeNames;
  tenant: string;
  mergeReturning: boolean;
  isolateRefusals: boolean;
  multiEntity: boolean;
  onIssues: ApplyImportOptions['onIssues'];
  logger: Logger;
}

// One entity's steps after COPY: analyze, dedupe, set aside what the
// mode skips, brake, merge, delete what a sync no longer holds.
async function applyEntity(options: ApplyEntityOptions): Promise<EntityCounts> {
  const { client, entity, multiEntity, onIssues, logger } = options;
  const { definition } = entity;
  const mode = definition.mode ?? 'upsert';

  // Fresh statistics let the planner pick a hash join for the MERGE
  // instead of guessing; a small sample (3,000 rows, not 30,000) is all a
  // join's plan needs, and a tenth of the time on a million rows.
  await client.query('SET LOCAL default_statistics_target = 10');
  await client.query(`ANALYZE pg_temp.${quoteIdentifier(entity.staging)}`);

  // A child row that came with a superseded parent record goes with it;
  // then a key repeated within the file keeps its last occurrence (a
  // rejected one included, see readRowBatches).
  let superseded = 0;
  if (options.parent !== undefined) {
    superseded += countOf(
      await client.query(buildSupersedeWithParentSql(entity, options.parent)),
      'superseded',
    );
  }
  if (options.keysMayRepeat) {
    superseded += countOf(
      await client.query(buildDedupeSql(definition, entity)),
      'superseded',
    );
  }
  if (superseded > 0 && onIssues !== undefined) {
    await reportRows(
      client,
      buildSupersededCursorSql(cursorName, entity),
      (row: SupersededRow) => supersededIssue(row, definition, multiEntity),
      onIssues,
    );
  }

  // The keys of records rejected while reading are not rows of this
  // import; a sync keeps their stored rows through the unread table.
  const staged = options.staged - options.keyOnly;
  let keyless = 0;
  if (options.keyOnly > 0) {
    const result = await client.query(
      buildSetAsideUnreadSql(definition, entity),
    );
    keyless = countOf(result, 'keyless');
  }

  let skipped = 0;
  for (const reason of skipReasons(definition)) {
    const moved = await client.query(buildSkipSql(definition, entity, reason));
    skipped += moved.rowCount ?? 0;
  }
  if (skipped > 0 && onIssues !== undefined) {
    await reportRows(
      client,
      buildSkippedCursorSql(cursorName, entity),
      (row: SkippedRow) => skippedIssue(row, definition, multiEntity),
      onIssues,
    );
  }

  const syncParams = [
    ...(definition.tenantColumn === undefined ? [] : [options.tenant]),
    ...entity.scopeValues,
  ];
  if (mode === 'sync') await applySyncBrake(client, entity, syncParams);

  // Before-images: what the MERGE will change, read before it does.
  const images = entity.images;
  const imageParams = [
    images?.importId,
    definition.entity,
    targetName(definition),
  ];
  if (images !== undefined) {
    await client.query(
      buildCaptureChangesSql(definition, entity, images.table),
      imageParams,
    );
  }

  const merged = options.isolateRefusals
    ? await mergeIsolatingRefusals(
        client,
        entity,
        options.mergeReturning,
        logger,
      )
    : {
        ...(await mergeEntity(client, entity, options.mergeReturning, logger)),
        rejected: 0,
      };
  if (merged.rejected > 0 && images !== undefined) {
    await client.query(
      buildDropRefusedImagesSql(definition, entity, images.table),
      [images.importId, targetName(definition)],
    );
  }
  if (merged.rejected > 0 && onIssues !== undefined) {
    await reportRows(
      client,
      buildRejectedCursorSql(cursorName, entity),
      (row: RejectedRow) => rejectedIssue(row, definition, multiEntity),
      onIssues,
    );
  }

  // Records rejected while reading keep their stored rows through the
  // unread table. One whose key did not read could be any absent row:
  // rather than guess, a sync that would delete anything then fails
  // (the transaction rolls the deletes back with the rest).
  let deleted = 0;
  if (mode === 'sync') {
    try {
      if (images !== undefined) {
        await client.query(
          buildCaptureDeletesSql(definition, entity, images.table),
          [...syncParams, ...imageParams],
        );
      }
      const result = await client.query(
        buildSyncDeleteSql(definition, entity),
        syncParams,
      );
      deleted = result.rowCount ?? 0;
    } catch (error) {
      throw stepError(error, definition, 'sync delete');
    }
    if (deleted > 0 && keyless > 0)
      throw syncUnsafe(definition, keyless, deleted);
  }

  const counts: EntityCounts = {
    staged,
    inserted: merged.inserted,
    updated: merged.updated,
    unchanged:
      staged -
      superseded -
      skipped -
      merged.rejected -
      merged.inserted -
      merged.updated,
    superseded,
    skipped,
    rejected: merged.rejected,
    deleted,
  };
  logger.debug({ entity: definition.entity, counts }, 'entity merged');
  return counts;
}

const cursorName = 'erp_import_report_cursor';

// A count a statement answers in its one row.
function countOf(result: { rows: unknown[] }, column: string): number {
  const row = result.rows[0] as Record<string, unknown> | undefined;
  return Number(row?.[column] ?? 0);
}

// Which rows leave staging before the MERGE, by mode and version column.
function skipReasons(definition: ImportDefinition): SkipReason[] {
  const reasons: SkipReason[] = [];
  if (definition.mode === 'insert') reasons.push('key_exists');
  if (definition.mode === 'update') reasons.push('key_not_found');
  if (definition.versionColumn !== undefined && definition.mode !== 'insert') {
    reasons.push('stale_row');
  }
  return reasons;
}

/**
 * Counts, before anything is merged, the rows of the tenant and scope a
 * sync would delete; more than `maxDeleteShare` of them fails the import
 * with SYNC_BRAKE unless the request allowed a mass delete.
 */
async function applySyncBrake(
  client: PgClientLike,
  entity: StagedEntity,
  params: readonly string[],
): Promise<void> {
  const { definition } = entity;
  const share = definition.maxDeleteShare;
  if (share === undefined || entity.allowMassDelete) return;
  const result = await client.query(buildSyncCountSql(definition, entity), [
    ...params,
  ]);
  const row = result.rows[0] as { total: string; absent: string };
  const total = Number(row.total);
  const absent = Number(row.absent);
  if (total > 0 && absent > share * total) {
    throw new ImportError(
      ErrorCodes.SYNC_BRAKE,
      `the sync would delete ${absent} of the ${total} rows of its scope ` +
        `in ${targetName(definition)}, more than the ${share * 100}% ` +
        'allowed; nothing was applied (send allowMassDelete=true if it ' +
        'is meant)',
      {
        details: {
          entity: definition.entity,
          wouldDelete: absent,
          total,
          maxDeleteShare: share,
        },
      },
    );
  }
}

function syncUnsafe(
  definition: ImportDefinition,
  keyless: number,
  wouldDelete: number,
): ImportError {
  return new ImportError(
    ErrorCodes.SYNC_UNSAFE,
    `${keyless} rejected record(s) have no readable key, and the sync ` +
      `would delete ${wouldDelete} row(s) of ${targetName(definition)} ` +
      'it cannot tell apart from them; nothing was applied (correct those ' +
      'records, or send the file as an upsert)',
    {
      details: {
        entity: definition.entity,
        keylessRecords: keyless,
        wouldDelete,
      },
    },
  );
}

interface MergeCounts {
  inserted: number;
  updated: number;
  rejected: number;
}

const mergeSavepoint = 'erp_import_merge';
const insertCounter = 'erp_import_inserted';

/**
 * The MERGE of one entity inside a savepoint; when the database refuses
 * a row, the search described at the top of this module.
 */
async function mergeIsolatingRefusals(
  client: PgClientLike,
  entity: StagedEntity,
  mergeReturning: boolean,
  logger: Logger,
): Promise<MergeCounts> {
  const whole = await tryMerge(client, entity, mergeReturning, logger);
  if (whole.ok) return { ...whole.counts, rejected: 0 };

  logger.info(
    { entity: entity.definition.entity, sqlState: sqlStateOf(whole.error) },
    'the database refused rows; isolating them',
  );
  // Without an index each of the search's many small MERGEs would read
  // all of staging and join the whole target: 303 refused rows in 600,000
  // took ten minutes so.
  for (const sql of buildSeqIndexSql(entity)) await client.query(sql);
  const totals: MergeCounts = { inserted: 0, updated: 0, rejected: 0 };
  const bounds = await seqRange(client, entity, 0, Number.MAX_SAFE_INTEGER);
  // Ranges still to merge, as a stack: memory grows with the depth of the
  // search (the log of the file's size), not with the rows.
  const pending: PendingRange[] =
    bounds.rows === 0 ? [] : [{ low: bounds.first, high: bounds.last }];
  while (pending.length > 0) {
    const next = pending.pop()!;
    const range = await seqRange(client, entity, next.low, next.high);
    if (range.rows === 0) continue;

    // A range whose first half merged whole holds what its whole refused
    // (almost always: a trigger may say otherwise, and then the halves
    // merge, one more statement): it is halved without being tried. A
    // single row is always tried, for the database's own answer.
    const attempt =
      next.holdsRefusal === true && range.rows > 1
        ? undefined
        : await tryMerge(client, entity, mergeReturning, logger, [
            range.first,
            range.last,
          ]);
    if (attempt?.ok === true) {
      totals.inserted += attempt.counts.inserted;
      totals.updated += attempt.counts.updated;
      if (next.sibling !== undefined) next.sibling.holdsRefusal = true;
    } else if (attempt !== undefined && range.rows === 1) {
      await rejectRow(client, entity, range.first, attempt.error);
      totals.rejected += 1;
    } else {
      // The later half is pushed first so ranges merge in file order.
      const middle = Math.floor((range.first + range.last) / 2);
      const later: PendingRange = { low: middle + 1, high: range.last };
      pending.push(later, { low: range.first, high: middle, sibling: later });
    }
  }
  return totals;
}

interface PendingRange {
  low: number;
  high: number;
  /** The later half of the same range, for the earlier half. */
  sibling?: PendingRange;
  /** Its earlier half merged whole: this half holds the refusal. */
  holdsRefusal?: boolean;
}

type MergeAttempt =
  | { ok: true; counts: { inserted: number; updated: number } }
  | { ok: false; error: unknown };

// One MERGE (of a `__seq` range, or of all staging) in a savepoint: kept
// when it succeeds, rolled back when the database refuses a row.
async function tryMerge(
  client: PgClientLike,
  entity: StagedEntity,
  mergeReturning: boolean,
  logger: Logger,
  range?: [number, number],
): Promise<MergeAttempt> {
  await client.query(`SAVEPOINT ${mergeSavepoint}`);
  try {
    const counts = await mergeEntity(
      client,
      entity,
      mergeReturning,
      logger,
      range,
    );
    await client.query(`RELEASE SAVEPOINT ${mergeSavepoint}`);
    return { ok: true, counts };
  } catch (error) {
    const cause = error instanceof ImportError ? error.cause : error;
    if (!isRowRefusal(cause)) throw error;
    await client.query(`ROLLBACK TO SAVEPOINT ${mergeSavepoint}`);
    await client.query(`RELEASE SAVEPOINT ${mergeSavepoint}`);
    return { ok: false, error: cause };
  }
}

// Data exceptions (22: too long, out of range) and integrity violations
// (23: foreign key, check, unique, not null) belong to a row.
function isRowRefusal(error: unknown): boolean {
  const sqlState = sqlStateOf(error);
  return sqlState !== undefined && /^2[23]/.test(sqlState);
}

async function seqRange(
  client: PgClientLike,
  entity: StagedEntity,
  low: number,
  high: number,
): Promise<{ rows: number; first: number; last: number }> {
  const result = await client.query(buildSeqRangeSql(entity), [low, high]);
  const row = result.rows[0] as {
    rows: string;
    first: string | null;
    last: string | null;
  };
  return {
    rows: Number(row.rows),
    first: Number(row.first),
    last: Number(row.last),
  };
}

interface DatabaseRefusal {
  code?: string;
  constraint?: string;
  column?: string;
  detail?: string;
  message?: string;
}

async function rejectRow(
  client: PgClientLike,
  entity: StagedEntity,
  seq: number,
  error: unknown,
): Promise<void> {
  const refusal = (
    typeof error === 'object' && error !== null ? error : {}
  ) as DatabaseRefusal;
  const message =
    (refusal.message ?? String(error)) +
    (refusal.detail === undefined ? '' : ` (${refusal.detail})`);
  await client.query(buildRejectRowSql(entity), [
    seq,
    refusal.code ?? 'XX000',
    refusal.constraint ?? null,
    refusal.column ?? null,
    message,
  ]);
}

/**
 * The MERGE of one entity, or of the `__seq` range given, with its
 * counts of inserted and updated rows.
 */
async function mergeEntity(
  client: PgClientLike,
  entity: StagedEntity,
  mergeReturning: boolean,
  logger: Logger,
  range?: [number, number],
): Promise<{ inserted: number; updated: number }> {
  const { definition } = entity;
  const seqRange = range !== undefined;
  const params = range === undefined ? undefined : [...range];
  try {
    if (mergeReturning) {
      const result = await client.query(
        buildMergeSql(definition, {
          ...entity,
          supportsReturning: true,
          seqRange,
        }),
        params,
      );
      const row = result.rows[0] as CountRow | undefined;
      return { inserted: Number(row?.inserted), updated: Number(row?.updated) };
    }

    // The MERGE counts its inserts on a sequence; the rest of its row
    // count is updates (insert and update modes have one clause each).
    const counter = buildInsertCounterSql(insertCounter);
    await client.query(counter.create);
    const result = await client.query(
      buildMergeSql(definition, {
        ...entity,
        supportsReturning: false,
        insertCounter,
        seqRange,
      }),
      params,
    );
    const read = await client.query(counter.read);
    await client.query(counter.drop);
    const inserted = Number((read.rows[0] as CountRow | undefined)?.inserted);
    const updated = (result.rowCount ?? 0) - inserted;
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
  winner_key_only: boolean;
  by_parent: boolean;
}

interface SkippedRow {
  __seq: string;
  __record: string;
  __line: string | null;
  __path: string | null;
  __reason: SkipReason;
}

interface RejectedRow {
  __seq: string;
  __record: string;
  __line: string | null;
  __path: string | null;
  __sql_state: string;
  __constraint: string | null;
  __column: string | null;
  __message: string;
}

// Pages through rows set aside with a cursor, so a file full of them
// never sits in memory whole.
async function reportRows<Row>(
  client: PgClientLike,
  declareSql: string,
  toIssue: (row: Row) => RowIssue,
  onIssues: (issues: RowIssue[]) => Promise<void>,
): Promise<void> {
  const cursor = quoteIdentifier(cursorName);
  await client.query(declareSql);
  for (;;) {
    const page = await client.query(
      `FETCH FORWARD ${issueBatchSize} FROM ${cursor}`,
    );
    const rows = page.rows as Row[];
    if (rows.length === 0) break;
    await onIssues(rows.map(toIssue));
  }
  await client.query(`CLOSE ${cursor}`);
}

function positionOf(row: {
  __record: string;
  __line: string | null;
  __path: string | null;
}): RowIssue['position'] {
  return {
    recordNumber: Number(row.__record),
    ...(row.__line !== null && { line: Number(row.__line) }),
    ...(row.__path !== null && { path: row.__path }),
  };
}

const skipMessages: Record<SkipReason, (d: ImportDefinition) => string> = {
  key_exists: (d) =>
    `not inserted: a row with this key (${d.key.join(', ')}) exists, and ` +
    'the import only inserts',
  key_not_found: (d) =>
    `not updated: no row has this key (${d.key.join(', ')}), and the ` +
    'import only updates',
  stale_row: (d) =>
    `not applied: the stored row has a newer ${d.versionColumn ?? 'version'}`,
};

function skippedIssue(
  row: SkippedRow,
  definition: ImportDefinition,
  multiEntity: boolean,
): RowIssue {
  return {
    severity: 'warning',
    code: row.__reason,
    position: positionOf(row),
    message: skipMessages[row.__reason](definition),
    ...(multiEntity && { entity: definition.entity }),
  };
}

// Stable codes for the refusals a user can fix in the file.
const refusalCodes: Record<string, string> = {
  '23503': 'foreign_key_violation',
  '23514': 'check_violation',
  '23505': 'unique_violation',
  '23502': 'not_null_violation',
  '23P01': 'exclusion_violation',
  '22001': 'value_too_long',
  '22003': 'numeric_value_out_of_range',
};

function rejectedIssue(
  row: RejectedRow,
  definition: ImportDefinition,
  multiEntity: boolean,
): RowIssue {
  const constraint =
    row.__constraint === null ? '' : `, constraint "${row.__constraint}"`;
  return {
    severity: 'error',
    code: refusalCodes[row.__sql_state] ?? 'database_refused',
    position: positionOf(row),
    ...(row.__column !== null && { column: row.__column }),
    message:
      `the database refused the row (SQLSTATE ${row.__sql_state}` +
      `${constraint}): ${row.__message}`,
    ...(multiEntity && { entity: definition.entity }),
  };
}

/**
 * Refuses an export older than the newest one applied for the tenant and
 * the first entity; runs under the import's advisory lock, so two
 * imports of one entity cannot both pass it out of order.
 */
async function refuseStaleExport(
  client: PgClientLike,
  ledgerSchema: string,
  tenant: string,
  definitions: readonly ImportDefinition[],
  plan: LoadPlan,
): Promise<void> {
  if (plan.exportedAt === undefined) return;
  const entity = definitions[0]!.entity;
  const latest = await latestExportApplied(
    client,
    ledgerSchema,
    tenant,
    entity,
  );
  if (
    latest !== undefined &&
    Date.parse(latest) > Date.parse(plan.exportedAt)
  ) {
    throw new ImportError(
      ErrorCodes.STALE_EXPORT,
      `this export (${plan.exportedAt}) is older than one already applied ` +
        `for entity "${entity}" (${latest}); nothing was applied`,
      { details: { entity, exportedAt: plan.exportedAt, latest } },
    );
  }
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
  const by = row.by_parent
    ? `its parent record was superseded by ${winner}, a later record ` +
      'with the same key'
    : `superseded by ${winner}, a later record with the same key ` +
      `(${definition.key.join(', ')})`;
  // A rejected winner applies nothing: the stored row stays as it was.
  const outcome = row.winner_key_only
    ? `; that record was rejected, so nothing of this key is applied`
    : '';
  return {
    severity: 'warning',
    code: row.by_parent ? 'parent_superseded' : 'duplicate_key_superseded',
    position: positionOf(row),
    message: `${by}${outcome}`,
    ...(multiEntity && { entity: definition.entity }),
  };
}

/**
 * One advisory lock per target table and tenant, taken in a fixed order
 * so two imports over the same tables cannot deadlock. A table without a
 * tenant column is shared by all tenants, so its lock is too.
 */
export async function lockTargets(
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
