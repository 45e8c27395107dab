import { Redis } from 'ioredis';
import type { ImportWorker } from '@erp-import/core';
import { waitFor } from '@erp-import/core/testing';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  itemsCsv,
  openEngineHarness,
  type EngineHarness,
} from './engine-harness.js';
import { itemsTableSql } from './fixtures/definitions.js';
import { describeWithRedis, uniquePrefix } from './redis-test-support.js';

const database = useTestDatabase('adapter_redis_lost_lock');
const prefix = uniquePrefix('lost-lock-import');
const rowCount = 300_000;
const badEvery = 10;

describeWithRedis('an import whose worker loses its lock', (redisUrl) => {
  let harness: EngineHarness;
  let worker: ImportWorker | undefined;

  beforeAll(async () => {
    harness = await openEngineHarness({
      databaseUrl: database.url,
      redisUrl: redisUrl(),
      prefix,
      lockDurationMs: 2_000,
      stalledIntervalMs: 1_000,
      setupSql: [itemsTableSql],
    });
  });

  afterAll(async () => {
    await worker?.stop();
    await harness?.close();
  });

  it('is aborted, taken back, and applied once with one set of errors', async () => {
    const { importer, count } = harness;
    // The worker runs in this process, on the same queue object.
    worker = await importer.startWorker({ concurrency: 1 });

    const { record } = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: itemsCsv(rowCount, badEvery),
      fileName: 'items.csv',
    });
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
    const bad = rowCount / badEvery;
    expect(done).toMatchObject({ state: 'completed', attempts: 2 });
    expect(done.counts).toMatchObject({
      read: rowCount,
      inserted: rowCount - bad,
      rejected: bad,
    });
    expect(await harness.adapters.errorLog.count(record.id)).toEqual({
      errors: bad,
      warnings: 0,
    });
    expect(await count('SELECT count(*) AS n FROM items')).toBe(rowCount - bad);
    expect(
      await count(
        `SELECT count(*) AS n FROM erp_import.applied_imports
          WHERE import_id = $1`,
        [record.id],
      ),
    ).toBe(1);
  }, 180_000);
});
