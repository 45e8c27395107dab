import type { Readable } from 'node:stream';
import type { CoercedRow } from '../coercion/coerced-row.js';
import { createRowCoercer } from '../coercion/row-coercer.js';
import type { ImportDefinition } from '../definitions/import-definition.js';
import {
  ErrorCodes,
  ImportError,
  toImportError,
} from '../errors/import-error.js';
import { applyImport, type ApplyResult } from '../loader/apply-import.js';
import type { PgClientLike } from '../loader/pg-client.js';
import type { Logger } from '../logging/logger.js';
import {
  emptyCounts,
  type ImportCounts,
  type ImportProgress,
  type ImportRecord,
  type ImportState,
} from '../ports/import-record.js';
import type { JobContext } from '../ports/queue.js';
import type { ImportTransition } from '../ports/status-store.js';
import { parentRejected } from '../readers/nested-records.js';
import type {
  DetectedFormat,
  MappedRecord,
  RecordReader,
} from '../readers/record-reader.js';
import type { RecordPosition, RowIssue } from '../ports/error-log.js';
import type { EngineContext } from './engine-context.js';
import { importCountsOf, RecordTally } from './import-counts.js';
import {
  checkRejectThresholds,
  rejectThresholdsOf,
} from './reject-thresholds.js';
import { createIssueWriter, type IssueWriter } from './issue-writer.js';
import { startProgressReporter } from './progress-reporter.js';
import type { PgPoolClientLike } from './importer-types.js';
import { createReaderFor } from './reader-factory.js';
import { openRowSource, type RowSourceHandle } from './row-source.js';
import { isRetryableFailure } from './retryable-failure.js';
import { connectHeard } from './heard-client.js';

/**
 * The worker side of one import: claim, read, coerce, load, report.
 *
 * Claiming is a compare-and-set from `queued` to `processing`. On a
 * redelivery (`attempt > 1`) the claim also takes an import left in
 * `processing`: the queue redelivers only a job whose handler failed or
 * whose worker died, so the attempt that left it there is over. (A stalled
 * worker that comes back cannot apply the import twice: the loader's
 * ledger sees to that.)
 *
 * A failure of the file or the definition ends the import `failed`; the
 * call resolves and the job is done. A failure of the infrastructure (the
 * database unreachable, the job taken back) rejects while the queue has
 * attempts left, leaving the import in `processing` for the next one.
 *
 * TODO: the queue port lets a queue say `ordered: false` and leave the
 * order of one tenant's and entity's imports to the engine. Every adapter
 * so far is ordered, and the engine does not keep order itself yet: it
 * would take a lock per ordering key (an advisory lock in the target
 * database) and processing older queued imports of the key first.
 * `startWorker` warns when given an unordered queue.
 */
export async function processImport(
  engine: EngineContext,
  importId: string,
  context?: JobContext,
): Promise<ImportRecord> {
  const claim = await claimImport(engine, importId, context?.attempt ?? 1);
  if (!claim.claimed) return claim.record;
  const { record, previous } = claim;
  // The loader scopes the logger it is given with the import id, as it
  // does for hosts that call it themselves: it gets the logger without.
  const entityLogger = engine.logger.child({
    tenant: record.tenant,
    entity: record.entity,
  });
  const logger = entityLogger.child({ importId });
  logger.info({ attempt: record.attempts }, 'import started');

  const run: RunState = { committed: false };
  try {
    return await runImport(engine, {
      record,
      previous,
      logger,
      entityLogger,
      run,
      context,
    });
  } catch (error) {
    const failure = toImportError(error);
    const attemptsLeft =
      context !== undefined &&
      context.attempt < engine.queue.capabilities.maxAttempts;
    // After COMMIT only the status write failed: the next delivery finds
    // the import in the ledger and marks it completed (with no attempt
    // left, the worker's sweep does, from the ledger too).
    // A job the queue took back (a lost lock) belongs to another worker
    // now: this attempt says nothing about the import's outcome.
    const takenBack = context?.signal.aborted === true;
    if (
      run.committed ||
      takenBack ||
      (attemptsLeft && isRetryableFailure(failure))
    ) {
      logger.warn(
        { error: failure.toJSON(), committed: run.committed, takenBack },
        'import interrupted; left for the next delivery',
      );
      throw failure;
    }
    return await markFailed(engine, record, failure, run, logger);
  }
}

/** One reading of the stored file, with what it counted and found. */
interface Reading {
  input: Readable;
  tally: RecordTally;
  issues: IssueWriter;
  source: RowSourceHandle;
}

interface RunState {
  committed: boolean;
  detected?: ImportRecord['detected'];
  counts?: ImportCounts;
  /** Where reading stood when the attempt ended. */
  progress?: ImportProgress;
}

type Claim =
  | { claimed: false; record: ImportRecord }
  | { claimed: true; record: ImportRecord; previous: ImportRecord };

async function claimImport(
  engine: EngineContext,
  importId: string,
  attempt: number,
): Promise<Claim> {
  const { statusStore } = engine;
  const previous = await statusStore.getById(importId);
  if (!previous) {
    throw new ImportError(ErrorCodes.NOT_FOUND, `no import ${importId}`, {
      details: { importId },
    });
  }

  const from: ImportState[] =
    attempt > 1 ? ['queued', 'processing'] : ['queued'];
  const now = new Date().toISOString();
  const claimed = await statusStore.transition(importId, from, {
    state: 'processing',
    attempts: previous.attempts + 1,
    startedAt: now,
    finishedAt: null,
    failure: null,
    counts: emptyCounts(),
    progress: {
      bytesRead: 0,
      bytesTotal: previous.byteSize,
      recordsRead: 0,
      recordsRejected: 0,
      phase: 'reading',
      updatedAt: now,
    },
  });
  if (!claimed) {
    // Cancelled, finished, or claimed by another worker: nothing to do.
    const current = await statusStore.getById(importId);
    return { claimed: false, record: current ?? previous };
  }
  return { claimed: true, record: claimed, previous };
}

interface RunOptions {
  record: ImportRecord;
  previous: ImportRecord;
  logger: Logger;
  /** `logger` without the import id, for the loader to scope. */
  entityLogger: Logger;
  run: RunState;
  context: JobContext | undefined;
}

async function runImport(
  engine: EngineContext,
  options: RunOptions,
): Promise<ImportRecord> {
  const { record, logger, run } = options;
  const definition = engine.definitions.get(record.entity);
  // The parent first: the loader merges in this order.
  const definitions = [definition, ...(definition.children ?? [])];
  // An unknown format fails here, before the file is opened.
  createReaderFor(record.format);

  // Read, coerce and stage form one stream: the loader pulls rows, rows
  // pull records, records pull bytes. Nothing holds the file. A large
  // file is read in a parse thread (see row-source.ts).
  const openReading = async (): Promise<Reading> => {
    const input = await engine.fileStore.open(record.fileKey);
    const tally = new RecordTally();
    const issues = createIssueWriter(engine.errorLog, record.id);
    const source = openRowSource({
      engine,
      record,
      definition,
      input,
      issues,
      tally,
      logger,
      readInProcess: (reader) =>
        readRows({
          engine,
          record,
          definitions,
          reader,
          issues,
          tally,
        }),
    });
    return { input, tally, issues, source };
  };
  const closeReading = async ({ input, source }: Reading) => {
    input.destroy();
    await source.close();
  };
  // The loader may read the file a second time (a direct load it gave up,
  // see direct-load.ts): counts, issues and progress then start again.
  let reading = await openReading();
  const progress = startProgressReporter({
    statusStore: engine.statusStore,
    importId: record.id,
    bytesTotal: record.byteSize,
    intervalMs: engine.progressIntervalMs,
    counters: () => ({
      bytesRead: reading.source.bytesRead(),
      recordsRead: reading.tally.read,
      recordsRejected: reading.tally.rejected,
    }),
    logger,
  });
  // `completed` commits with the rows when the status store lives in the
  // target database; otherwise it is written right after COMMIT.
  const store = engine.statusStore;
  const inTransaction =
    store.transitionInTransaction !== undefined &&
    store.database === engine.database;
  let completed: ImportRecord | undefined;
  const complete = async (
    client: PgClientLike | undefined,
    result: ApplyResult,
  ) => {
    await reading.issues.flush();
    run.detected = recordedFormat(reading.source.detected());
    run.counts = importCountsOf(result, reading.tally, definitions);
    // No progress write may land after the final one below.
    await progress.stop();
    progress.setPhase('done');
    const patch: ImportTransition = {
      state: 'completed',
      counts: run.counts,
      detected: run.detected,
      // Rows the database refused count as rejected too, once merged.
      progress: { ...progress.current(), recordsRejected: run.counts.rejected },
      failure: null,
      finishedAt: new Date().toISOString(),
    };
    const done =
      client && store.transitionInTransaction
        ? await store.transitionInTransaction(
            client,
            record.id,
            ['processing'],
            patch,
          )
        : // After COMMIT the rows are in; a sweep that meanwhile called the
          // import lost was wrong, so `failed` is corrected too.
          await store.transition(record.id, ['processing', 'failed'], patch);
    if (!done) {
      throw new ImportError(
        ErrorCodes.INVALID_STATE,
        'the import stopped being processing before it completed',
      );
    }
    return done;
  };

  let client: PgPoolClientLike | undefined;
  let broken = false;
  try {
    client = await connectHeard(engine.database).catch((error: unknown) => {
      throw toImportError(error, ErrorCodes.DATABASE_ERROR);
    });
    const result = await applyImport({
      client,
      importId: record.id,
      tenant: record.tenant,
      definitions,
      rows: reading.source.rows,
      // A second reading from the start: the first one's issues, sent
      // or not, are cleared with the error log when it begins.
      reopenRows: async () => {
        await closeReading(reading);
        await reading.issues.flush();
        reading = await openReading();
        progress.setPhase('reading');
        return reading.source.rows;
      },
      ledgerSchema: engine.ledgerSchema,
      onMergeStart: () => progress.setPhase('merging'),
      absentColumns: () => ({
        [definition.entity]: reading.source.detected().absentColumns ?? [],
      }),
      // Mode, scope, export timestamp: what the request asked, checked
      // again against the definition by the loader.
      load: record.options,
      keepBeforeImages:
        engine.keepBeforeImages || definition.keepBeforeImages === true,
      ...(engine.mergeWorkMem !== null && { workMem: engine.mergeWorkMem }),
      // Too many rejects roll the import back before it is recorded.
      checkMerged: (applied: ApplyResult) =>
        checkRejectThresholds(
          importCountsOf(applied, reading.tally, definitions),
          rejectThresholdsOf(definition, record.options),
        ),
      onIssues: (batch) => reading.issues.add(batch),
      ...(inTransaction && {
        beforeCommit: async (
          transaction: PgClientLike,
          applied: ApplyResult,
        ) => {
          completed = await complete(transaction, applied);
        },
      }),
      logger: options.entityLogger,
      ...(options.context && { signal: options.context.signal }),
    });
    run.committed = !result.alreadyApplied;

    if (result.alreadyApplied) {
      completed = await completeAlreadyApplied(engine, options, result);
    } else if (!completed) {
      completed = await complete(undefined, result);
    }
    logger.info(
      {
        counts: completed.counts,
        timings: { ...result.timings, parseMs: reading.source.parseMs() },
        alreadyApplied: result.alreadyApplied,
        ...(result.loadedDirectly === true && { loadedDirectly: true }),
      },
      'import finished',
    );
    // An import with rejected records keeps its file for the fix file
    // (`openFixFile`) until the file store's retention removes it.
    if (completed.counts.rejected === 0) {
      await deleteFile(engine, record, logger);
    }
    return completed;
  } catch (error) {
    broken = isRetryableFailure(toImportError(error));
    // What the loader reported before failing (the rows that made it fail
    // by a threshold) stays in the error log for the user to read.
    await reading.issues.flush().catch(() => undefined);
    throw error;
  } finally {
    // A source the loader did not read to its end is closed here; the
    // connection goes back to the pool whatever closing it says.
    try {
      await closeReading(reading);
      await progress.stop();
    } finally {
      client?.release(broken);
    }
    run.detected ??= recordedFormat(reading.source.detected());
    run.progress ??= { ...progress.current(), phase: 'done' };
  }
}

export interface ReadRowsOptions {
  engine: { errorLog: Pick<EngineContext['errorLog'], 'clear'> };
  record: Pick<ImportRecord, 'id'>;
  /** The import's definition, then its children's. */
  definitions: readonly ImportDefinition[];
  reader: RecordReader;
  issues: IssueWriter;
  tally: RecordTally;
}

interface RecordRef {
  entity: string;
  recordNumber: number;
}

/** A record the reader rejected, until it is known whether it follows. */
interface PendingKey {
  entity: string;
  position: RecordPosition;
}

/**
 * Records in, valid rows out; everything else into the error log. A
 * record counts once in `read` and at most once in `rejected`, however
 * many issues it has; a reader's issue of severity `error` about a record
 * stands for that record, which the reader then does not hand out (and if
 * it does, it is not loaded). Records are told apart by entity and
 * number, since child records are numbered per entity.
 *
 * Each record is read by its own entity's column types. Child records
 * follow their parent, carrying its record number; when the parent is
 * rejected here, they are rejected with it (`parent_rejected`), as the
 * readers do for a parent they reject themselves.
 *
 * Every rejected record is also handed out as a key-only row
 * (`CoercedRow.keyOnly`): the loader lets it supersede earlier records of
 * its key (a rejected last occurrence applies nothing of that key, as a
 * row the database refuses does) and a sync keeps the stored row of its
 * key. A record whose key does not read, or that the reader rejected
 * without handing it out, gets an all-NULL key.
 *
 * Rows go out in batches, one per batch the reader gives, and the issues
 * of a batch go to the error log together: a million records cost a few
 * thousand awaits, not a million.
 */
export async function* readRowBatches(
  options: ReadRowsOptions,
): AsyncGenerator<CoercedRow[]> {
  const { engine, record, reader, issues, tally, definitions } = options;
  const parentEntity = definitions[0]!.entity;
  const coercers = new Map(
    definitions.map((definition) => [
      definition.entity,
      createRowCoercer(definition),
    ]),
  );
  const keyReaders = new Map(
    definitions.map((definition) => [
      definition.entity,
      createKeyRowReader(definition),
    ]),
  );
  // The record number of the parent the records now read belong to.
  let parentRecord: number | undefined;
  const keyRow = (
    entity: string,
    position: RecordPosition,
    mapped?: MappedRecord,
  ): CoercedRow => {
    const row = keyReaders.get(entity)!(position, mapped);
    if (entity !== parentEntity) {
      row.entity = entity;
      if (parentRecord !== undefined) row.parentRecord = parentRecord;
    }
    return row;
  };
  let pending: PendingKey | undefined;

  // Cleared only once the loader reads rows, so an import that turns out
  // to be applied already keeps the error log of the attempt that did it.
  await engine.errorLog.clear(record.id);

  // The last record rejected, by entity and number (numbers run per
  // entity): its other issues, and the record if the reader hands it
  // out too, are not counted again.
  let lastRejected: RecordRef | undefined;
  const isLastRejected = (entity: string, recordNumber: number) =>
    lastRejected !== undefined &&
    lastRejected.recordNumber === recordNumber &&
    lastRejected.entity === entity;
  let parentWasRejected = false;
  for await (const items of reader.batches()) {
    const rows: CoercedRow[] = [];
    const found: RowIssue[] = [];
    for (const item of items) {
      if (item.kind === 'issue') {
        const { issue } = item;
        const entity = issue.entity ?? parentEntity;
        const { recordNumber } = issue.position;
        if (
          issue.severity === 'error' &&
          recordNumber >= 1 &&
          !isLastRejected(entity, recordNumber)
        ) {
          tally.count(entity, true);
          lastRejected = { entity, recordNumber };
          if (pending !== undefined) {
            rows.push(keyRow(pending.entity, pending.position));
          }
          pending = { entity, position: issue.position };
          if (entity === parentEntity) {
            parentWasRejected = true;
            parentRecord = issue.position.recordNumber;
          }
        }
        found.push(issue);
        continue;
      }

      const { position } = item.record;
      const entity = item.record.entity ?? parentEntity;
      const { recordNumber } = position;
      if (pending !== undefined) {
        // The rejected record itself, or the next one: its key, or none.
        const own =
          pending.entity === entity &&
          pending.position.recordNumber === recordNumber
            ? item.record
            : undefined;
        rows.push(keyRow(pending.entity, pending.position, own));
        pending = undefined;
      }
      if (isLastRejected(entity, recordNumber)) continue;
      if (entity === parentEntity) {
        parentWasRejected = false;
        parentRecord = position.recordNumber;
      } else if (parentWasRejected) {
        tally.count(entity, true);
        lastRejected = { entity, recordNumber };
        found.push(parentRejected(position, entity));
        rows.push(keyRow(entity, position, item.record));
        continue;
      }

      const coerce = coercers.get(entity);
      if (coerce === undefined) {
        throw new ImportError(
          ErrorCodes.UNKNOWN_ENTITY,
          `the reader gave a record of entity "${entity}", which this ` +
            'import does not write',
          { details: { entity, position } },
        );
      }
      const result = coerce(item.record);
      tally.count(entity, !result.ok);
      if (result.ok) {
        if (entity !== parentEntity && parentRecord !== undefined) {
          result.row.parentRecord = parentRecord;
        }
        rows.push(result.row);
      } else {
        lastRejected = { entity, recordNumber };
        if (entity === parentEntity) parentWasRejected = true;
        rows.push(keyRow(entity, position, item.record));
        found.push(...result.issues);
      }
    }
    if (found.length > 0) await issues.add(found);
    if (rows.length > 0) yield rows;
  }
  if (pending !== undefined) yield [keyRow(pending.entity, pending.position)];
  await issues.flush();
}

/** `readRowBatches`, a row at a time. */
export async function* readRows(
  options: ReadRowsOptions,
): AsyncGenerator<CoercedRow> {
  for await (const rows of readRowBatches(options)) yield* rows;
}

/**
 * Reads the key columns alone of a rejected record, into a key-only row
 * of the definition's width; without a record, or when a key value does
 * not read, every key column is NULL (the loader counts such rows as
 * keys it cannot tell).
 */
function createKeyRowReader(definition: ImportDefinition) {
  const keyIndexes = definition.key.map((name) =>
    definition.columns.findIndex((column) => column.name === name),
  );
  const coerceKey = createRowCoercer({
    ...definition,
    columns: keyIndexes.map((index) => definition.columns[index]!),
  });
  const width = definition.columns.length;
  return (position: RecordPosition, record?: MappedRecord): CoercedRow => {
    const values = new Array<string | null>(width).fill(null);
    if (record !== undefined) {
      const { numbers } = record;
      const key = coerceKey({
        position,
        values: keyIndexes.map((index) => record.values[index]),
        // A key that was a JSON number reads as one here too.
        ...(numbers !== undefined && {
          numbers: keyIndexes.flatMap((index, at) =>
            numbers.includes(index) ? [at] : [],
          ),
        }),
      });
      if (key.ok) {
        keyIndexes.forEach((index, at) => {
          values[index] = key.row.values[at] ?? null;
        });
      }
    }
    return { position, values, keyOnly: true };
  };
}

// What the import record shows of the detected format; the columns a
// header lacks are told in the error log instead.
function recordedFormat(detected: DetectedFormat): ImportRecord['detected'] {
  const { encoding, delimiter } = detected;
  return {
    ...(encoding !== undefined && { encoding }),
    ...(delimiter !== undefined && { delimiter }),
  };
}

/**
 * A redelivered import whose earlier attempt committed and then died
 * before writing `completed`. The ledger has the loader's counts; the
 * records read and rejected come from that attempt's last progress when
 * it got to merging, or else from its error log.
 */
async function completeAlreadyApplied(
  engine: EngineContext,
  options: RunOptions,
  result: ApplyResult,
): Promise<ImportRecord> {
  const done = await completeFromLedger(
    engine,
    options.record,
    options.previous.progress,
    result.counts,
  );
  if (!done) {
    throw new ImportError(
      ErrorCodes.INVALID_STATE,
      'the import stopped being processing before it completed',
    );
  }
  return done;
}

/**
 * Marks completed an import the ledger says was applied, with the counts
 * the ledger kept. Rejected records come from the progress the attempt
 * wrote (when it got as far as merging) or from the error log.
 */
export async function completeFromLedger(
  engine: EngineContext,
  record: ImportRecord,
  progressBefore: ImportProgress,
  ledgerCounts: ApplyResult['counts'],
): Promise<ImportRecord | undefined> {
  const loaded = Object.values(ledgerCounts);
  const sum = (pick: (c: (typeof loaded)[number]) => number) =>
    loaded.reduce((total, entry) => total + pick(entry), 0);
  const finalProgress =
    progressBefore.phase === 'merging' || progressBefore.phase === 'done';
  // Rows the database refused are in the ledger's counts, not progress.
  const rejected = finalProgress
    ? progressBefore.recordsRejected + sum((c) => c.rejected ?? 0)
    : (await engine.errorLog.count(record.id)).errors;

  const counts: ImportCounts = {
    inserted: sum((c) => c.inserted),
    updated: sum((c) => c.updated),
    unchanged: sum((c) => c.unchanged),
    deleted: sum((c) => c.deleted),
    superseded: sum((c) => c.superseded),
    // A ledger row from before `skipped` existed has none.
    skipped: sum((c) => c.skipped ?? 0),
    rejected,
    read: 0,
  };
  counts.read =
    counts.inserted +
    counts.updated +
    counts.unchanged +
    counts.superseded +
    counts.skipped +
    counts.rejected;

  const now = new Date().toISOString();
  return engine.statusStore.transition(record.id, ['processing', 'failed'], {
    state: 'completed',
    counts,
    failure: null,
    finishedAt: now,
    progress: {
      ...progressBefore,
      recordsRead: counts.read,
      recordsRejected: rejected,
      phase: 'done',
      updatedAt: now,
    },
  });
}

async function markFailed(
  engine: EngineContext,
  record: ImportRecord,
  failure: ImportError,
  run: RunState,
  logger: Logger,
): Promise<ImportRecord> {
  const now = new Date().toISOString();
  const details = Object.keys(failure.details).length > 0 && {
    details: failure.details,
  };
  const ended: ImportTransition = {
    state: 'failed',
    finishedAt: now,
    progress: {
      ...(run.progress ?? record.progress),
      phase: 'done',
      updatedAt: now,
    },
  };
  let failed: ImportRecord | undefined;
  try {
    failed = await engine.statusStore.transition(record.id, ['processing'], {
      ...ended,
      failure: { code: failure.code, message: failure.message, ...details },
      ...(run.detected && { detected: run.detected }),
    });
  } catch (error) {
    // The failure quotes the file (a header cell with a NUL in it), and a
    // store may refuse that. The import must end `failed` all the same,
    // so it is written again without the details and the detection, with
    // the message's unstorable characters spelt out. Should that fail
    // too, the store itself is down: the job is retried.
    logger.warn(
      { error: toImportError(error).toJSON() },
      'the status store refused the failure; writing it plainly',
    );
    failed = await engine.statusStore.transition(record.id, ['processing'], {
      ...ended,
      failure: { code: failure.code, message: plainText(failure.message) },
    });
  }
  // A bad file is the sender's business (a warning for the operator); a
  // failure of the engine or the database is the operator's own.
  const operational = operationalCodes.has(failure.code);
  logger[operational ? 'error' : 'warn'](
    { code: failure.code, error: failure.message },
    'import failed; nothing was applied',
  );
  return failed ?? (await engine.statusStore.getById(record.id)) ?? record;
}

/**
 * `text` with NUL and lone surrogates (which not every store can hold)
 * written out as `\0` and `\uD800`, so that a failure can always be
 * stored.
 */
function plainText(text: string): string {
  return text.replace(
    /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (unit) =>
      unit === '\u0000'
        ? '\\0'
        : `\\u${unit.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const operationalCodes = new Set<string>([
  ErrorCodes.INTERNAL,
  ErrorCodes.DATABASE_ERROR,
  ErrorCodes.STORE_ERROR,
  ErrorCodes.QUEUE_ERROR,
  ErrorCodes.TARGET_TABLE_MISMATCH,
  ErrorCodes.WORKER_LOST,
]);

async function deleteFile(
  engine: EngineContext,
  record: ImportRecord,
  logger: Logger,
): Promise<void> {
  // The bytes served their purpose; a failed import keeps them for retry.
  try {
    await engine.fileStore.delete(record.fileKey);
  } catch (error) {
    logger.warn({ error: String(error) }, 'stored file not deleted');
  }
}
