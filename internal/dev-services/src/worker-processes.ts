// What runs inside the worker child processes of the adapters' crash
// tests. Each adapter's fixture builds its own queue and stores and hands
// them here, so every fixture speaks the same lines to the test: `ready`
// once consuming, `taken <importId> <attempt>` as it takes a job and
// `settled <importId>` when the engine is done with it, so a test knows
// whom to kill and how often an import ran.
import {
  createImporter,
  type ErrorLog,
  type FileStore,
  type ImportQueue,
  type StatusStore,
} from '@erp-import/core';
import type pg from 'pg';
import { definitions } from './import-fixtures.js';

export interface WorkerProcessPorts {
  queue: ImportQueue;
  statusStore: StatusStore;
  errorLog: ErrorLog;
  fileStore: FileStore;
  /** Closes the adapters; the pool is ended after it. */
  close(): Promise<void>;
}

/**
 * Runs the engine's worker, one import at a time, on `ports` and the
 * target tables in `pool`, until SIGTERM (or a SIGKILL from the test).
 */
export async function runImportWorkerProcess(
  pool: pg.Pool,
  ports: WorkerProcessPorts,
): Promise<void> {
  const queue: ImportQueue = {
    capabilities: ports.queue.capabilities,
    enqueue: (job) => ports.queue.enqueue(job),
    consume: (handler, options) =>
      ports.queue.consume(async (job, context) => {
        process.stdout.write(`taken ${job.importId} ${context.attempt}\n`);
        try {
          await handler(job, context);
        } finally {
          process.stdout.write(`settled ${job.importId}\n`);
        }
      }, options),
    close: () => ports.queue.close(),
  };

  const importer = createImporter({
    definitions,
    database: pool,
    queue,
    statusStore: ports.statusStore,
    errorLog: ports.errorLog,
    fileStore: ports.fileStore,
    progressIntervalMs: 100,
  });
  const worker = await importer.startWorker({ concurrency: 1 });
  process.stdout.write('ready\n');

  process.once('SIGTERM', () => {
    void worker
      .stop()
      .then(() => ports.close())
      .then(() => pool.end())
      .then(() => process.exit(0));
  });
}

/**
 * A bare queue consumer that never finishes a job: it prints `ready`
 * once consuming and `taken <importId> <attempt>` when it takes one, so
 * the test knows when to SIGKILL it.
 */
export async function runStuckQueueWorkerProcess(
  queue: ImportQueue,
): Promise<void> {
  await queue.consume(
    async (job, context) => {
      process.stdout.write(`taken ${job.importId} ${context.attempt}\n`);
      await new Promise(() => undefined);
    },
    { concurrency: 1 },
  );
  process.stdout.write('ready\n');
}
