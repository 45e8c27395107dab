import {
  createDefinitionRegistry,
  type DefinitionRegistry,
} from '../definitions/definition-registry.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import { silentLogger } from '../logging/logger.js';
import { emptyCounts, type ImportRecord } from '../ports/import-record.js';
import type { EngineContext } from './engine-context.js';
import { enqueueImport, enqueueJob } from './enqueue-import.js';
import { errorLogCsv } from './errors-csv.js';
import { openFixFile } from './fix-file.js';
import type { QueueConsumer } from '../ports/queue.js';
import type {
  CreateImporterOptions,
  Importer,
  ImportWorker,
} from './importer-types.js';
import { processImport } from './process-import.js';
import {
  purgeExpiredBeforeImages,
  revertCompletedImport,
} from './revert-completed-import.js';
import { canFindLostJobs } from './lost-jobs.js';
import { durableStaleAfterMs, recoverStaleImports } from './stale-imports.js';

const defaultProgressIntervalMs = 500;
const maxProgressIntervalMs = 1000;
const defaultStaleAfterMs = 60_000;
const defaultParseThreadMinBytes = 1024 * 1024;
const defaultBeforeImageRetentionMs = 7 * 24 * 3_600_000;
const defaultLostJobAfterMs = 10_000;
const defaultMergeWorkMem = '128MB';

/**
 * The engine over its ports. One importer serves both sides: a host that
 * only accepts uploads never calls `startWorker`, and a worker process
 * never calls `enqueue`.
 */
export function createImporter(options: CreateImporterOptions): Importer {
  const engine: EngineContext = {
    definitions: registryOf(options.definitions),
    database: options.database,
    queue: options.queue,
    statusStore: options.statusStore,
    errorLog: options.errorLog,
    fileStore: options.fileStore,
    logger: options.logger ?? silentLogger,
    maxUploadBytes: options.maxUploadBytes,
    progressIntervalMs: Math.min(
      Math.max(10, options.progressIntervalMs ?? defaultProgressIntervalMs),
      maxProgressIntervalMs,
    ),
    ledgerSchema: options.ledgerSchema ?? 'erp_import',
    parseThreadMinBytes:
      options.parseThreadMinBytes ?? defaultParseThreadMinBytes,
    keepBeforeImages: options.keepBeforeImages === true,
    mergeWorkMem: checkedWorkMem(options.mergeWorkMem),
    beforeImageRetentionMs:
      options.beforeImageRetentionMs ?? defaultBeforeImageRetentionMs,
    lostJobAfterMs: Math.max(
      0,
      options.lostJobAfterMs ?? defaultLostJobAfterMs,
    ),
  };

  // Reads are scoped by tenant: another tenant's id is simply not found.
  const get = async (tenant: string, id: string): Promise<ImportRecord> => {
    const record = await engine.statusStore.get(tenant, id);
    if (!record) {
      throw new ImportError(ErrorCodes.NOT_FOUND, `no import ${id}`, {
        details: { importId: id },
      });
    }
    return record;
  };

  const importer: Importer = {
    definitions: engine.definitions,

    enqueue: (request) => enqueueImport(engine, request),

    get,

    list: (query) => engine.statusStore.list(query),

    async errors(tenant, id, query) {
      await get(tenant, id);
      return engine.errorLog.page(id, query);
    },

    async *errorsCsv(tenant, id) {
      await get(tenant, id);
      yield* errorLogCsv(engine.errorLog, id);
    },

    async fixFile(tenant, id) {
      return openFixFile(engine, await get(tenant, id));
    },

    async cancel(tenant, id) {
      const record = await get(tenant, id);
      const cancelled = await engine.statusStore.transition(id, ['queued'], {
        state: 'cancelled',
        finishedAt: new Date().toISOString(),
      });
      if (!cancelled) throw invalidState(id, 'cancelled', record);
      // Nothing will read the bytes again: cancelled is final.
      await engine.fileStore.delete(record.fileKey).catch(() => undefined);
      return cancelled;
    },

    async retry(tenant, id) {
      const record = await get(tenant, id);
      const now = new Date().toISOString();
      const queued = await engine.statusStore.transition(id, ['failed'], {
        state: 'queued',
        counts: emptyCounts(),
        failure: null,
        startedAt: null,
        finishedAt: null,
        progress: {
          bytesRead: 0,
          bytesTotal: record.byteSize,
          recordsRead: 0,
          recordsRejected: 0,
          phase: 'waiting',
          updatedAt: now,
        },
      });
      if (!queued) throw invalidState(id, 'retried', record);
      await enqueueJob(engine, queued);
      return queued;
    },

    async revert(tenant, id) {
      return revertCompletedImport(engine, await get(tenant, id));
    },

    purgeBeforeImages: () => purgeExpiredBeforeImages(engine),

    process: (importId, context) => processImport(engine, importId, context),

    recoverStale: (recoverOptions = {}) =>
      recoverStaleImports(
        engine,
        recoverOptions.olderThanMs ?? defaultStaleAfterMs,
        recoverOptions.lostJobAfterMs ?? engine.lostJobAfterMs,
      ),

    async startWorker(workerOptions = {}) {
      const concurrency = Math.max(1, workerOptions.concurrency ?? 1);
      const logger = engine.logger;
      if (!engine.queue.capabilities.ordered) {
        logger.warn(
          'the queue does not keep order per tenant and entity, and the engine does not yet either',
        );
      }

      // A queue that forgets jobs leaves imports no one will take; a
      // durable one does too once a job's last attempt dies, so its sweep
      // waits for every redelivery it could still make first. A job that
      // never reached the queue is looked for much sooner.
      const staleAfterMs = workerOptions.staleAfterMs ?? defaultStaleAfterMs;
      const olderThanMs = engine.queue.capabilities.durable
        ? durableStaleAfterMs(engine, staleAfterMs)
        : staleAfterMs;
      const intervalMs =
        Math.min(
          olderThanMs,
          canFindLostJobs(engine) ? engine.lostJobAfterMs : Infinity,
        ) / 2;
      // The first sweep ends before the first job is taken, so an import
      // whose job was lost before this start is back in its place first.
      const sweep = await startSweep(importer, logger, {
        olderThanMs,
        intervalMs,
      });

      let consumer: QueueConsumer;
      try {
        consumer = await engine.queue.consume(
          async (job, context) => {
            try {
              await processImport(engine, job.importId, context);
            } catch (error) {
              // A job for an import that does not exist is done, not
              // retried.
              if (error instanceof ImportError && error.code === 'NOT_FOUND') {
                logger.warn({ importId: job.importId }, 'job for no import');
                return;
              }
              throw error;
            }
          },
          { concurrency },
        );
      } catch (error) {
        await sweep.stop();
        throw error;
      }

      const worker: ImportWorker = {
        async stop() {
          await sweep.stop();
          await consumer.stop();
        },
      };
      logger.info({ concurrency }, 'worker started');
      return worker;
    },
  };
  return importer;
}

function registryOf(
  definitions: CreateImporterOptions['definitions'],
): DefinitionRegistry {
  return Array.isArray(definitions)
    ? createDefinitionRegistry(definitions)
    : definitions;
}

function invalidState(id: string, action: string, record: ImportRecord) {
  return new ImportError(
    ErrorCodes.INVALID_STATE,
    `import ${id} is ${record.state} and cannot be ${action}`,
    { details: { importId: id, state: record.state } },
  );
}

async function startSweep(
  importer: Importer,
  logger: CreateImporterOptions['logger'] & object,
  options: { olderThanMs: number; intervalMs: number },
): Promise<{ stop(): Promise<void> }> {
  let running: Promise<unknown> | undefined;
  const sweep = () => {
    if (running) return;
    running = importer
      .recoverStale({ olderThanMs: options.olderThanMs })
      .catch((error: unknown) => {
        logger.warn({ error: String(error) }, 'sweep for lost imports failed');
      })
      .finally(() => {
        running = undefined;
      });
  };
  sweep();
  await running;
  const timer = setInterval(sweep, Math.max(1000, options.intervalMs));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

// A malformed size would fail every import at its first statement; it
// fails here instead, where the host sees it at start.
function checkedWorkMem(value: string | null | undefined): string | null {
  if (value === undefined) return defaultMergeWorkMem;
  if (value === null || /^\d+\s*(kB|MB|GB|TB)?$/.test(value)) return value;
  throw new ImportError(
    ErrorCodes.INVALID_REQUEST,
    `mergeWorkMem "${value}" is not a PostgreSQL memory size such as 128MB`,
    { details: { mergeWorkMem: value } },
  );
}
