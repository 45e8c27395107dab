import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  createImporter,
  createLocalFileStore,
  type Importer,
} from '@erp-import/core';
import pg from 'pg';
import { createRedisAdapters, type RedisAdapters } from '../src/index.js';
import {
  importWorkerScript,
  startChild,
  waitForLine,
  type ChildWorker,
} from './child-process.js';
import { definitions } from './fixtures/definitions.js';
import { deleteKeys } from './redis-test-support.js';

export interface EngineHarnessOptions {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** SQL run once on the target database (the tables). */
  setupSql: string[];
}

/**
 * The enqueue side of the engine in the test process (no worker here),
 * on the Redis adapters and a local file directory that worker child
 * processes share.
 */
export interface EngineHarness {
  pool: pg.Pool;
  adapters: RedisAdapters;
  importer: Importer;
  workers: ChildWorker[];
  startWorkers(count: number): Promise<ChildWorker[]>;
  count(sql: string, values?: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export async function openEngineHarness(
  options: EngineHarnessOptions,
): Promise<EngineHarness> {
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 4 });
  for (const sql of options.setupSql) await pool.query(sql);
  const filesDir = await mkdtemp(path.join(tmpdir(), 'erp-redis-files-'));

  const queueSettings = {
    lockDurationMs: options.lockDurationMs,
    stalledIntervalMs: options.stalledIntervalMs,
  };
  const adapters = await createRedisAdapters({
    connection: { url: options.redisUrl },
    prefix: options.prefix,
    queue: queueSettings,
  });
  const importer = createImporter({
    definitions,
    database: pool,
    queue: adapters.queue,
    statusStore: adapters.statusStore,
    errorLog: adapters.errorLog,
    fileStore: createLocalFileStore({ directory: filesDir }),
  });
  const workers: ChildWorker[] = [];

  return {
    pool,
    adapters,
    importer,
    workers,
    async startWorkers(count) {
      const started = Array.from({ length: count }, () =>
        startChild(importWorkerScript, {
          DATABASE_URL: options.databaseUrl,
          REDIS_URL: options.redisUrl,
          KEY_PREFIX: options.prefix,
          FILES_DIR: filesDir,
          LOCK_DURATION_MS: String(options.lockDurationMs),
          STALLED_INTERVAL_MS: String(options.stalledIntervalMs),
        }),
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
      await rm(filesDir, { recursive: true, force: true });
      await deleteKeys(options.redisUrl, options.prefix);
    },
  };
}

/**
 * sku,name,qty for `rowCount` items, generated as it is read. Every
 * `badEvery`-th record (when given) has a qty that is not an integer.
 */
export function itemsCsv(rowCount: number, badEvery?: number): Readable {
  return Readable.from(
    (function* () {
      yield 'sku,name,qty\n';
      const batch = 5_000;
      for (let start = 1; start <= rowCount; start += batch) {
        let text = '';
        for (let n = start; n < start + batch && n <= rowCount; n += 1) {
          const qty = badEvery && n % badEvery === 0 ? 'x' : String(n % 1000);
          text += `SKU-${n},Item ${n},${qty}\n`;
        }
        yield text;
      }
    })(),
  );
}

/** Lines `prefix <importId>...` printed by every worker, in print order. */
export function linesFor(
  workers: readonly ChildWorker[],
  prefix: string,
  importId: string,
): string[] {
  return workers.flatMap((worker) =>
    worker.lines.filter((line) => line.startsWith(`${prefix} ${importId}`)),
  );
}
