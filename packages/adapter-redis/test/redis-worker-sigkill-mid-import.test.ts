import { waitFor } from '@erp-import/core/testing';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitForLine } from './child-process.js';
import {
  itemsCsv,
  openEngineHarness,
  type EngineHarness,
} from './engine-harness.js';
import { itemsTableSql } from './fixtures/definitions.js';
import { describeWithRedis, uniquePrefix } from './redis-test-support.js';

const database = useTestDatabase('adapter_redis_sigkill');
const rowCount = 300_000;

describeWithRedis(
  'a Redis-queue worker killed with SIGKILL mid-import',
  (redisUrl) => {
    let harness: EngineHarness;

    beforeAll(async () => {
      harness = await openEngineHarness({
        databaseUrl: database.url,
        redisUrl: redisUrl(),
        prefix: uniquePrefix('sigkill'),
        lockDurationMs: 5_000,
        stalledIntervalMs: 2_500,
        setupSql: [itemsTableSql],
      });
    });

    afterAll(async () => {
      await harness?.close();
    });

    it('leaves the table as it was; another worker applies the import once', async () => {
      const { importer, count } = harness;
      const workers = await harness.startWorkers(2);

      const { record } = await importer.enqueue({
        tenant: 'acme',
        entity: 'items',
        format: 'csv',
        body: itemsCsv(rowCount),
        fileName: 'items-300k.csv',
      });

      // Whoever took it, kill it once it is well into reading the file.
      const taken = `taken ${record.id} 1`;
      const victim = await waitFor(
        () => workers.find((worker) => worker.lines.includes(taken)),
        { timeoutMs: 30_000, description: 'a worker to take the import' },
      );
      const survivor = workers.find((worker) => worker !== victim)!;
      await waitFor(
        async () =>
          (await importer.get('acme', record.id)).progress.recordsRead > 0,
        { timeoutMs: 30_000, intervalMs: 20, description: 'reading to start' },
      );
      await victim.kill();

      const killed = await importer.get('acme', record.id);
      expect(killed.state).toBe('processing');
      expect(await count('SELECT count(*) AS n FROM items')).toBe(0);

      // The survivor takes it again within the queue's stated bound, which
      // the issue wants at 60 s or less in the tests.
      const bound = harness.adapters.queue.capabilities.redeliveryAfterMs ?? 0;
      expect(bound).toBeLessThanOrEqual(60_000);
      await waitForLine(survivor, `taken ${record.id} 2`, bound + 5_000);
      const done = await waitFor(
        async () => {
          const current = await importer.get('acme', record.id);
          return current.state === 'completed' && current;
        },
        { timeoutMs: 120_000, intervalMs: 200, description: 'completion' },
      );

      expect(done.attempts).toBe(2);
      expect(done.counts).toMatchObject({
        read: rowCount,
        inserted: rowCount,
        updated: 0,
        unchanged: 0,
        rejected: 0,
      });
      expect(await count('SELECT count(*) AS n FROM items')).toBe(rowCount);
      expect(
        (
          await harness.pool.query(
            `SELECT name, qty FROM items WHERE sku = 'SKU-123457'`,
          )
        ).rows,
      ).toEqual([{ name: 'Item 123457', qty: 457 }]);
      expect(
        await count(
          'SELECT count(*) AS n FROM erp_import.applied_imports WHERE import_id = $1',
          [record.id],
        ),
      ).toBe(1);
      expect(await harness.adapters.errorLog.count(record.id)).toEqual({
        errors: 0,
        warnings: 0,
      });
    }, 240_000);
  },
);
