import { linesFor } from '@erp-import/dev-services/child-processes';
import {
  enqueueItems,
  expectOneSetOfErrors,
  waitForCompleted,
} from '@erp-import/dev-services/engine-harness';
import { itemsTableSql } from '@erp-import/dev-services/import-fixtures';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { expect, it } from 'vitest';
import { useEngineHarness } from './engine-harness.js';
import { describeWithRedis, uniquePrefix } from './redis-test-support.js';

const database = useTestDatabase('adapter_redis_cpu_heavy');
const rowCount = 900_000;
const badEvery = 10;
// Short on purpose: the import runs many times longer than this.
const lockDurationMs = 500;

describeWithRedis(
  'Redis queue: a CPU-heavy import longer than the lock',
  (redisUrl) => {
    const harness = useEngineHarness({
      database,
      redisUrl,
      prefix: uniquePrefix('cpu-heavy'),
      lockDurationMs,
      stalledIntervalMs: 250,
      setupSql: [itemsTableSql],
    });

    it('completes once, with one run and one set of errors', async () => {
      const { importer } = harness();
      // Two workers: the idle one runs stall checks and would take the
      // import over if the busy one let its lock run out.
      const workers = await harness().startWorkers(2);

      const record = await enqueueItems(importer, rowCount, badEvery);
      const done = await waitForCompleted(importer, record, 180_000);

      // The premise: the import outlasted the lock many times over.
      const tookMs = Date.parse(done.finishedAt!) - Date.parse(done.startedAt!);
      expect(tookMs).toBeGreaterThan(lockDurationMs * 3);

      expect(linesFor(workers, 'taken', record.id)).toEqual([
        `taken ${record.id} 1`,
      ]);
      expect(linesFor(workers, 'settled', record.id)).toHaveLength(1);
      expect(done.attempts).toBe(1);
      await expectOneSetOfErrors(harness(), done, { rowCount, badEvery });
      const firstPage = await importer.errors('acme', record.id, { limit: 3 });
      expect(firstPage.items.map((item) => item.position.recordNumber)).toEqual(
        [badEvery, badEvery * 2, badEvery * 3],
      );
    }, 240_000);
  },
);
