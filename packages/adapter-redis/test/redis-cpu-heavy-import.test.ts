import { waitFor } from '@erp-import/core/testing';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  itemsCsv,
  linesFor,
  openEngineHarness,
  type EngineHarness,
} from './engine-harness.js';
import { itemsTableSql } from './fixtures/definitions.js';
import { describeWithRedis, uniquePrefix } from './redis-test-support.js';

const database = useTestDatabase('adapter_redis_cpu_heavy');
const rowCount = 600_000;
const badEvery = 10;
// Short on purpose: the import runs many times longer than this.
const lockDurationMs = 1_000;

describeWithRedis(
  'Redis queue: a CPU-heavy import longer than the lock',
  (redisUrl) => {
    let harness: EngineHarness;

    beforeAll(async () => {
      harness = await openEngineHarness({
        databaseUrl: database.url,
        redisUrl: redisUrl(),
        prefix: uniquePrefix('cpu-heavy'),
        lockDurationMs,
        stalledIntervalMs: 500,
        setupSql: [itemsTableSql],
      });
    });

    afterAll(async () => {
      await harness?.close();
    });

    it('completes once, with one run and one set of errors', async () => {
      const { importer, count } = harness;
      // Two workers: the idle one runs stall checks and would take the
      // import over if the busy one let its lock run out.
      const workers = await harness.startWorkers(2);

      const { record } = await importer.enqueue({
        tenant: 'acme',
        entity: 'items',
        format: 'csv',
        body: itemsCsv(rowCount, badEvery),
        fileName: 'items-with-errors.csv',
      });
      const done = await waitFor(
        async () => {
          const current = await importer.get('acme', record.id);
          return current.state === 'completed' && current;
        },
        { timeoutMs: 180_000, intervalMs: 200, description: 'completion' },
      );

      // The premise: the import outlasted the lock many times over.
      const tookMs = Date.parse(done.finishedAt!) - Date.parse(done.startedAt!);
      expect(tookMs).toBeGreaterThan(lockDurationMs * 3);

      const bad = rowCount / badEvery;
      expect(linesFor(workers, 'taken', record.id)).toEqual([
        `taken ${record.id} 1`,
      ]);
      expect(linesFor(workers, 'settled', record.id)).toHaveLength(1);
      expect(done.attempts).toBe(1);
      expect(done.counts).toMatchObject({
        read: rowCount,
        inserted: rowCount - bad,
        rejected: bad,
      });
      expect(await harness.adapters.errorLog.count(record.id)).toEqual({
        errors: bad,
        warnings: 0,
      });
      const firstPage = await importer.errors('acme', record.id, { limit: 3 });
      expect(firstPage.items.map((item) => item.position.recordNumber)).toEqual(
        [badEvery, badEvery * 2, badEvery * 3],
      );
      expect(await count('SELECT count(*) AS n FROM items')).toBe(
        rowCount - bad,
      );
      expect(
        await count(
          'SELECT count(*) AS n FROM erp_import.applied_imports WHERE import_id = $1',
          [record.id],
        ),
      ).toBe(1);
    }, 240_000);
  },
);
