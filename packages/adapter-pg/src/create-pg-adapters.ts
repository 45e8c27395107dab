import { silentLogger, type ErrorLog, type Logger } from '@erp-import/core';
import { migrate } from './migrate.js';
import { createPgErrorLog } from './pg-error-log.js';
import { createPgFileStore, type PgFileStore } from './pg-file-store.js';
import { createPgQueue, type PgQueue } from './pg-queue.js';
import { createPgStatusStore, type PgStatusStore } from './pg-status-store.js';
import type { PgPool } from './pg-types.js';
import { defaultSchema } from './schema-name.js';

export interface CreatePgAdaptersOptions {
  /**
   * The pool every adapter uses; the host owns it and ends it. Pass the
   * same pool as the engine's `database` so that `completed` commits in
   * the MERGE's transaction.
   */
  pool: PgPool;
  /** `erp_import` by default; pg-boss uses `<schema>_queue`. */
  schema?: string;
  logger?: Logger;
  queue?: {
    redeliveryAfterSeconds?: number;
    pollIntervalSeconds?: number;
    maxAttempts?: number;
  };
  /**
   * Stored files of imports that ended longer ago than this are deleted
   * by a sweep that runs every tenth of it (at most hourly, at least
   * every second). Off when left out.
   */
  fileRetentionMs?: number;
}

export interface PgAdapters {
  queue: PgQueue;
  statusStore: PgStatusStore;
  errorLog: ErrorLog;
  fileStore: PgFileStore;
  /** Stops the queue and the sweep; the pool stays open. */
  close(): Promise<void>;
}

/** Runs the migrations, then builds all four adapters on one pool. */
export async function createPgAdapters(
  options: CreatePgAdaptersOptions,
): Promise<PgAdapters> {
  const { pool } = options;
  const schema = options.schema ?? defaultSchema;
  const logger = options.logger ?? silentLogger;

  await migrate(pool, { schema });

  const statusStore = createPgStatusStore({ pool, schema });
  const errorLog = createPgErrorLog({ pool, schema });
  const fileStore = createPgFileStore({ pool, schema });
  const queue = await createPgQueue({
    pool,
    schema,
    logger,
    ...options.queue,
  });

  const sweep = startRetentionSweep(fileStore, options.fileRetentionMs, logger);

  return {
    queue,
    statusStore,
    errorLog,
    fileStore,
    async close() {
      await sweep?.stop();
      await queue.close();
    },
  };
}

function startRetentionSweep(
  fileStore: PgFileStore,
  retentionMs: number | undefined,
  logger: Logger,
) {
  if (retentionMs === undefined) return undefined;
  const everyMs = Math.min(3_600_000, Math.max(1000, retentionMs / 10));
  let running: Promise<void> = Promise.resolve();

  const timer = setInterval(() => {
    running = running.then(async () => {
      try {
        const deleted = await fileStore.deleteFilesOlderThan(retentionMs);
        if (deleted > 0) logger.info({ deleted }, 'deleted expired files');
      } catch (error) {
        logger.warn({ err: error }, 'the file retention sweep failed');
      }
    });
  }, everyMs);
  // The sweep alone never keeps a process alive.
  timer.unref();

  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
