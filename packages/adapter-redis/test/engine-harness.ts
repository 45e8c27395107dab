import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalFileStore } from '@erp-import/core';
import {
  openEngineHarness as openHarness,
  type EngineHarness as Harness,
  type HarnessDatabaseOptions,
} from '@erp-import/dev-services/engine-harness';
import { afterAll, beforeAll } from 'vitest';
import { createRedisAdapters, type RedisAdapters } from '../src/index.js';
import { deleteKeys } from './redis-test-support.js';

export interface EngineHarnessOptions extends HarnessDatabaseOptions {
  redisUrl: string;
  prefix: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
}

/**
 * The enqueue side of the engine in the test process (no worker here),
 * on the Redis adapters and a local file directory that worker child
 * processes share.
 */
export type EngineHarness = Harness<RedisAdapters>;

export async function openEngineHarness(
  options: EngineHarnessOptions,
): Promise<EngineHarness> {
  const filesDir = await mkdtemp(path.join(tmpdir(), 'erp-redis-files-'));
  const queueSettings = {
    lockDurationMs: options.lockDurationMs,
    stalledIntervalMs: options.stalledIntervalMs,
  };

  const { lostJobAfterMs } = options;
  return openHarness({
    databaseUrl: options.databaseUrl,
    setupSql: options.setupSql,
    ...(lostJobAfterMs !== undefined && { lostJobAfterMs }),
    openAdapters: () =>
      createRedisAdapters({
        connection: { url: options.redisUrl },
        prefix: options.prefix,
        queue: queueSettings,
      }),
    fileStore: createLocalFileStore({ directory: filesDir }),
    workerScript: new URL(
      './fixtures/import-worker-process.ts',
      import.meta.url,
    ),
    workerEnv: {
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      KEY_PREFIX: options.prefix,
      FILES_DIR: filesDir,
      LOCK_DURATION_MS: String(options.lockDurationMs),
      STALLED_INTERVAL_MS: String(options.stalledIntervalMs),
      ...(lostJobAfterMs !== undefined && {
        LOST_JOB_AFTER_MS: String(lostJobAfterMs),
      }),
    },
    async cleanup() {
      await rm(filesDir, { recursive: true, force: true });
      await deleteKeys(options.redisUrl, options.prefix);
    },
  });
}

/**
 * Opens a harness before the tests of the calling describe block and
 * closes it after them; call the answer inside tests.
 */
export function useEngineHarness(
  options: Omit<EngineHarnessOptions, 'databaseUrl' | 'redisUrl'> & {
    database: { readonly url: string };
    redisUrl: () => string;
  },
): () => EngineHarness {
  let harness: EngineHarness | undefined;

  beforeAll(async () => {
    const { database, redisUrl, ...settings } = options;
    harness = await openEngineHarness({
      ...settings,
      databaseUrl: database.url,
      redisUrl: redisUrl(),
    });
  });
  afterAll(async () => {
    await harness?.close();
  });

  return () => {
    if (!harness) throw new Error('the engine harness is not open yet');
    return harness;
  };
}
