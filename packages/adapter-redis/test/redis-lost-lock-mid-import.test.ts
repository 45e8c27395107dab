import { Redis } from 'ioredis';
import type { ImportWorker } from '@erp-import/core';
import { waitFor } from '@erp-import/core/testing';
import {
  enqueueItems,
  expectOneSetOfErrors,
} from '@erp-import/dev-services/engine-harness';
import { itemsTableSql } from '@erp-import/dev-services/import-fixtures';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { afterAll, expect, it } from 'vitest';
import { useEngineHarness } from './engine-harness.js';
import { describeWithRedis, uniquePrefix } from './redis-test-support.js';

const database = useTestDatabase('adapter_redis_lost_lock');
const prefix = uniquePrefix('lost-lock-import');
const rowCount = 300_000;
const badEvery = 10;

describeWithRedis('an import whose worker loses its lock', (redisUrl) => {
  const harness = useEngineHarness({
    database,
    redisUrl,
    prefix,
    lockDurationMs: 2_000,
    stalledIntervalMs: 1_000,
    setupSql: [itemsTableSql],
  });
  let worker: ImportWorker | undefined;

  // Registered after the harness, so it runs before the harness closes.
  afterAll(async () => {
    await worker?.stop();
  });

  it('is aborted, taken back, and applied once with one set of errors', async () => {
    const { importer } = harness();
    // The worker runs in this process, on the same queue object.
    worker = await importer.startWorker({ concurrency: 1 });

    const record = await enqueueItems(importer, rowCount, badEvery);
    await waitFor(
      async () =>
        (await importer.get('acme', record.id)).progress.recordsRead > 0,
      { timeoutMs: 30_000, intervalMs: 20, description: 'reading to start' },
    );

    // As if the worker's event loop had been blocked past the lock.
    const redis = new Redis(redisUrl());
    try {
      const locks = await redis.keys(`${prefix}:imports:${record.id}.*:lock`);
      expect(locks).toHaveLength(1);
      await redis.del(...locks);
    } finally {
      await redis.quit();
    }

    const done = await waitFor(
      async () => {
        const current = await importer.get('acme', record.id);
        return ['completed', 'failed'].includes(current.state) && current;
      },
      { timeoutMs: 120_000, intervalMs: 200, description: 'the end' },
    );
    expect(done).toMatchObject({ state: 'completed', attempts: 2 });
    await expectOneSetOfErrors(harness(), done, { rowCount, badEvery });
  }, 180_000);
});
