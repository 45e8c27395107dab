import { Readable } from 'node:stream';
import type { ImportRecord } from '@erp-import/core';
import { waitFor } from '@erp-import/core/testing';
import { snapshotsTableSql } from '@erp-import/dev-services/import-fixtures';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { expect, it } from 'vitest';
import { useEngineHarness } from './engine-harness.js';
import { describeWithRedis, uniquePrefix } from './redis-test-support.js';

const database = useTestDatabase('adapter_redis_ordering');
const snapshotCount = 20;
const skuCount = 2_000;

/** The whole table at `version`: every sku, its qty rising with it. */
function snapshot(version: number): Readable {
  let text = 'sku,version,qty\n';
  for (let n = 1; n <= skuCount; n += 1) {
    text += `SKU-${n},${version},${version * 1000 + (n % 1000)}\n`;
  }
  return Readable.from([text]);
}

describeWithRedis('Redis queue: order per tenant and entity', (redisUrl) => {
  const harness = useEngineHarness({
    database,
    redisUrl,
    prefix: uniquePrefix('ordering'),
    lockDurationMs: 10_000,
    stalledIntervalMs: 5_000,
    setupSql: [snapshotsTableSql],
  });

  it('applies 20 snapshots of one entity in enqueue order on 4 workers', async () => {
    const { importer, pool, workers } = harness();
    await harness().startWorkers(4);

    const enqueued: string[] = [];
    for (let version = 1; version <= snapshotCount; version += 1) {
      const { record } = await importer.enqueue({
        tenant: 'acme',
        entity: 'snapshots',
        format: 'csv',
        body: snapshot(version),
        fileName: `snapshot-${version}.csv`,
      });
      enqueued.push(record.id);
    }

    const finished = await waitFor(
      async () => {
        const records = await Promise.all(
          enqueued.map((id) => importer.get('acme', id)),
        );
        return (
          records.every((record) => record.state === 'completed') && records
        );
      },
      { timeoutMs: 180_000, intervalMs: 250, description: 'all snapshots' },
    );

    // The table is the last snapshot.
    const { rows } = await pool.query(
      `SELECT min(version) AS low, max(version) AS high, count(*) AS n
         FROM snapshot_items WHERE tenant = 'acme'`,
    );
    expect(rows).toEqual([
      { low: snapshotCount, high: snapshotCount, n: String(skuCount) },
    ]);

    // Applied in enqueue order, one after another.
    const ledger = await pool.query(
      `SELECT import_id FROM erp_import.applied_imports
        WHERE entity = 'snapshots' ORDER BY applied_at, import_id`,
    );
    expect(
      ledger.rows.map((row: { import_id: string }) => row.import_id),
    ).toEqual(enqueued);
    finished.forEach((record: ImportRecord, index: number) => {
      const previous = finished[index - 1];
      if (previous) {
        expect(record.startedAt! >= previous.finishedAt!).toBe(true);
      }
      expect(record.counts).toMatchObject(
        index === 0
          ? { read: skuCount, inserted: skuCount, updated: 0 }
          : { read: skuCount, inserted: 0, updated: skuCount },
      );
    });

    // The four workers shared the work (a key's jobs are not pinned to
    // one worker), which is what makes the order worth testing.
    const takers = workers.filter((worker) =>
      worker.lines.some((line) => line.startsWith('taken ')),
    );
    expect(takers.length).toBeGreaterThan(1);
  }, 300_000);
});
