import {
  createImporter,
  type ErrorLog,
  type FileStore,
  type ImportQueue,
  type ImportRecord,
  type Importer,
  type StatusStore,
} from '@erp-import/core';
import { waitFor } from '@erp-import/core/testing';
import pg from 'pg';
import { expect } from 'vitest';
import {
  startChild,
  waitForLine,
  type ChildWorker,
} from './child-processes.js';
import { definitions, itemsCsv } from './import-fixtures.js';

/**
 * A pool for a test file. The file's database is dropped WITH (FORCE)
 * right after the pool ends, and a connection still closing then reports
 * "terminating connection" as an error event; the pool swallows those so
 * teardown does not fail a passing file.
 */
export function createTestPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  return pool;
}

/** The adapters an engine harness opens on its pool. */
export interface HarnessAdapters {
  queue: ImportQueue;
  statusStore: StatusStore;
  errorLog: ErrorLog;
  fileStore?: FileStore;
  close(): Promise<void>;
}

/** The database an engine harness imports into. */
export interface HarnessDatabaseOptions {
  databaseUrl: string;
  /** SQL run once on the target database (the tables). */
  setupSql: readonly string[];
  /** The test's importer's `lostJobAfterMs`; the engine's default if unset. */
  lostJobAfterMs?: number;
}

export interface EngineHarnessOptions<
  A extends HarnessAdapters,
> extends HarnessDatabaseOptions {
  openAdapters(pool: pg.Pool): Promise<A>;
  /** Where files go; the adapters' own file store when left out. */
  fileStore?: FileStore;
  /** The worker fixture the child processes run, and its environment. */
  workerScript: string | URL;
  workerEnv: Record<string, string>;
  /** Run last by `close`, after the workers, adapters and pool. */
  cleanup?: () => Promise<void>;
}

/**
 * The enqueue side of the engine in the test process (no worker here) on
 * an adapter's ports, with worker child processes that a test can kill.
 */
export interface EngineHarness<A extends HarnessAdapters> {
  pool: pg.Pool;
  adapters: A;
  importer: Importer;
  workers: ChildWorker[];
  /** The environment worker processes get; other fixtures can share it. */
  workerEnv: Readonly<Record<string, string>>;
  /** Starts `count` workers (with `env` added) and waits until ready. */
  startWorkers(
    count: number,
    env?: Record<string, string>,
  ): Promise<ChildWorker[]>;
  /** The `n` of a `SELECT count(*) AS n ...`. */
  count(sql: string, values?: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export async function openEngineHarness<A extends HarnessAdapters>(
  options: EngineHarnessOptions<A>,
): Promise<EngineHarness<A>> {
  const pool = createTestPool(options.databaseUrl, 4);
  for (const sql of options.setupSql) await pool.query(sql);
  const adapters = await options.openAdapters(pool);
  const fileStore = options.fileStore ?? adapters.fileStore;
  if (!fileStore) throw new Error('the harness needs a file store');
  const importer = createImporter({
    definitions,
    database: pool,
    queue: adapters.queue,
    statusStore: adapters.statusStore,
    errorLog: adapters.errorLog,
    fileStore,
    ...(options.lostJobAfterMs !== undefined && {
      lostJobAfterMs: options.lostJobAfterMs,
    }),
  });
  const workers: ChildWorker[] = [];

  return {
    pool,
    adapters,
    importer,
    workers,
    workerEnv: options.workerEnv,
    async startWorkers(count, env = {}) {
      const started = Array.from({ length: count }, () =>
        startChild(options.workerScript, { ...options.workerEnv, ...env }),
      );
      workers.push(...started);
      await Promise.all(
        started.map((worker) => waitForLine(worker, 'ready', 60_000)),
      );
      return started;
    },
    async count(sql, values = []) {
      const { rows } = await pool.query(sql, values);
      return Number((rows[0] as { n: string }).n);
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.kill()));
      await adapters.close();
      await pool.end();
      await options.cleanup?.();
    },
  };
}

/**
 * Waits for a worker to take `record`'s first attempt and to start
 * reading the file, then SIGKILLs that worker; answers the others, one
 * of which must take the import again.
 */
async function killTakerOnceReading(
  importer: Importer,
  workers: readonly ChildWorker[],
  record: ImportRecord,
): Promise<ChildWorker[]> {
  const taken = `taken ${record.id} 1`;
  const victim = await waitFor(
    () => workers.find((worker) => worker.lines.includes(taken)),
    { timeoutMs: 30_000, description: 'a worker to take the import' },
  );
  await waitFor(
    async () =>
      (await importer.get(record.tenant, record.id)).progress.recordsRead > 0,
    { timeoutMs: 30_000, intervalMs: 20, description: 'reading to start' },
  );
  await victim.kill();
  return workers.filter((worker) => worker !== victim);
}

/**
 * Enqueues `itemsCsv(rowCount, badEvery)` for tenant acme, and answers
 * the accepted record.
 */
export async function enqueueItems(
  importer: Importer,
  rowCount: number,
  badEvery?: number,
): Promise<ImportRecord> {
  const { record } = await importer.enqueue({
    tenant: 'acme',
    entity: 'items',
    format: 'csv',
    body: itemsCsv(rowCount, badEvery),
    fileName: `items-${rowCount}.csv`,
  });
  return record;
}

/** Waits until `record`'s import is completed, and answers it then. */
export function waitForCompleted(
  importer: Importer,
  record: ImportRecord,
  timeoutMs: number,
): Promise<ImportRecord> {
  return waitFor(
    async () => {
      const current = await importer.get(record.tenant, record.id);
      return current.state === 'completed' && current;
    },
    { timeoutMs, intervalMs: 200, description: 'completion' },
  );
}

export interface ItemsTableOutcome {
  rows: number;
  /** The row of SKU-123457, when the file had one. */
  sample: unknown[];
  /** How often the ledger says the import was applied. */
  applied: number;
}

/** What an import of `itemsCsv` left in the items table. */
export async function itemsTableOutcome(
  pool: pg.Pool,
  importId: string,
): Promise<ItemsTableOutcome> {
  const count = async (sql: string, values: unknown[] = []) =>
    Number(((await pool.query(sql, values)).rows[0] as { n: string }).n);
  const sample = await pool.query(
    `SELECT name, qty FROM items WHERE sku = 'SKU-123457'`,
  );
  return {
    rows: await count('SELECT count(*) AS n FROM items'),
    sample: sample.rows,
    applied: await count(
      'SELECT count(*) AS n FROM erp_import.applied_imports WHERE import_id = $1',
      [importId],
    ),
  };
}

export interface KillMidImportOutcome {
  record: ImportRecord;
  /** The import's state and the table's rows right after the kill. */
  afterKill: { state: string; rows: number };
  done: ImportRecord;
  table: ItemsTableOutcome;
}

/**
 * The crash every durable queue must survive: two worker processes, an
 * import of `rowCount` items, and the worker that took it SIGKILLed once
 * it is well into reading the file. The survivor must take the import
 * again within `retakeWithinMs` and complete it.
 */
export async function killWorkerMidImport(
  harness: EngineHarness<HarnessAdapters>,
  options: { rowCount: number; retakeWithinMs: number },
): Promise<KillMidImportOutcome> {
  const { importer } = harness;
  const workers = await harness.startWorkers(2);
  const record = await enqueueItems(importer, options.rowCount);

  const [survivor] = await killTakerOnceReading(importer, workers, record);
  const afterKill = {
    state: (await importer.get(record.tenant, record.id)).state,
    rows: await harness.count('SELECT count(*) AS n FROM items'),
  };

  await waitForLine(survivor!, `taken ${record.id} 2`, options.retakeWithinMs);
  const done = await waitForCompleted(importer, record, 120_000);
  const table = await itemsTableOutcome(harness.pool, record.id);
  return { record, afterKill, done, table };
}

/**
 * What `killWorkerMidImport` must end with: nothing of the import in the
 * table right after the kill, then every row, applied once, on the
 * second attempt.
 */
export function expectAppliedOnceAfterKill(
  outcome: KillMidImportOutcome,
  rowCount: number,
): void {
  expect(outcome.afterKill).toEqual({ state: 'processing', rows: 0 });
  expect(outcome.done.attempts).toBe(2);
  expect(outcome.done.counts).toMatchObject({
    read: rowCount,
    inserted: rowCount,
    updated: 0,
    unchanged: 0,
    rejected: 0,
  });
  expect(outcome.table).toEqual({
    rows: rowCount,
    sample: [{ name: 'Item 123457', qty: 457 }],
    applied: 1,
  });
}

/**
 * What an import of `itemsCsv(rowCount, badEvery)` must end with however
 * often it ran: every bad record rejected and logged once, every other
 * row in the table, the import applied once.
 */
export async function expectOneSetOfErrors(
  harness: EngineHarness<HarnessAdapters>,
  done: ImportRecord,
  options: { rowCount: number; badEvery: number },
): Promise<void> {
  const bad = options.rowCount / options.badEvery;
  expect(done.counts).toMatchObject({
    read: options.rowCount,
    inserted: options.rowCount - bad,
    rejected: bad,
  });
  expect(await harness.adapters.errorLog.count(done.id)).toEqual({
    errors: bad,
    warnings: 0,
  });
  expect(await itemsTableOutcome(harness.pool, done.id)).toMatchObject({
    rows: options.rowCount - bad,
    applied: 1,
  });
}
