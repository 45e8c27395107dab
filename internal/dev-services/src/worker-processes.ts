// What runs inside the child processes of the adapters' crash tests.
// Each adapter's fixture builds its own queue and stores and hands them
// here, so every fixture speaks the same lines to the test. A worker
// prints `ready` once consuming, `taken <importId> <attempt>` as it takes
// a job and `settled <importId>` when the engine is done with it, so a
// test knows whom to kill and how often an import ran. An enqueuing host
// that crashes prints `enqueue <importId>` as it dies.
import { Readable } from 'node:stream';
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
  const findHeldJobs = ports.queue.findHeldJobs?.bind(ports.queue);
  const queue: ImportQueue = {
    capabilities: ports.queue.capabilities,
    enqueue: (job, options) => ports.queue.enqueue(job, options),
    ...(findHeldJobs && { findHeldJobs }),
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
    ...(process.env.LOST_JOB_AFTER_MS !== undefined && {
      lostJobAfterMs: Number(process.env.LOST_JOB_AFTER_MS),
    }),
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

/** The upload a crashing host sends, and a test resends: two items. */
export function crashUploadCsv(): Readable {
  return Readable.from([
    Buffer.from('sku,name,qty\nQ-1,Grampo,10\nQ-2,Clipe,20\n'),
  ]);
}

/**
 * A host that SIGKILLs itself inside `queue.enqueue`, after the import
 * record is written and before its job reaches the queue. With
 * FAULT=kill-in-retry it retries import IMPORT_ID of tenant acme; with
 * FAULT=kill-in-enqueue it accepts `crashUploadCsv` for acme's items,
 * under the idempotency key IDEMPOTENCY_KEY when set. It prints `enqueue
 * <importId>` as it dies, or `no enqueue` and exits 1 if it got through.
 */
export async function runEnqueueCrashProcess(
  pool: pg.Pool,
  ports: WorkerProcessPorts,
): Promise<void> {
  const queue: ImportQueue = {
    capabilities: ports.queue.capabilities,
    async enqueue(job) {
      process.stdout.write(`enqueue ${job.importId}\n`);
      process.kill(process.pid, 'SIGKILL');
      await new Promise(() => undefined);
    },
    consume: (handler, options) => ports.queue.consume(handler, options),
    close: () => ports.queue.close(),
  };
  const importer = createImporter({
    definitions,
    database: pool,
    queue,
    statusStore: ports.statusStore,
    errorLog: ports.errorLog,
    fileStore: ports.fileStore,
  });

  if (process.env.FAULT === 'kill-in-retry') {
    await importer.retry('acme', process.env.IMPORT_ID ?? '');
  } else {
    const key = process.env.IDEMPOTENCY_KEY;
    await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: crashUploadCsv(),
      ...(key !== undefined && { idempotencyKey: key }),
    });
  }
  process.stdout.write('no enqueue\n');
  process.exit(1);
}
