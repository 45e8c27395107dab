import { Readable } from 'node:stream';
import {
  createImporter,
  type Importer,
  type ImportWorker,
} from '@erp-import/core';
import { waitFor } from '@erp-import/core/testing';
import { createTestPool } from '@erp-import/dev-services/engine-harness';
import {
  definitions,
  snapshotsTableSql,
} from '@erp-import/dev-services/import-fixtures';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPgAdapters,
  createPgQueue,
  type PgAdapters,
  type PgQueue,
} from '../src/index.js';

const database = useTestDatabase('adapter_pg_order');
const snapshots = 20;
const itemsPerSnapshot = 2_000;

let pool: pg.Pool;
let adapters: PgAdapters;
let importer: Importer;
// Four workers, each with its own pool and pg-boss instance, as four
// processes would have.
const workerPools: pg.Pool[] = [];
const workerQueues: PgQueue[] = [];
const workers: ImportWorker[] = [];

beforeAll(async () => {
  pool = createTestPool(database.url, 4);
  await pool.query(snapshotsTableSql);
  adapters = await createPgAdapters({
    pool,
    queue: { redeliveryAfterSeconds: 30, pollIntervalSeconds: 0.5 },
  });
  importer = createImporter({ definitions, database: pool, ...adapters });
});

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  await Promise.all(workerQueues.map((queue) => queue.close()));
  await Promise.all(workerPools.map((workerPool) => workerPool.end()));
  await adapters.close();
  await pool.end();
});

// Every item at `version`, with a quantity that changes each time.
function snapshot(version: number): Readable {
  let text = 'sku,version,qty\n';
  for (let n = 1; n <= itemsPerSnapshot; n += 1) {
    text += `S-${n},${version},${(n * version) % 997}\n`;
  }
  return Readable.from([text]);
}

describe('imports of one tenant and entity', () => {
  it('apply in enqueue order across four workers', async () => {
    const enqueued: string[] = [];
    for (let version = 1; version <= snapshots; version += 1) {
      const { record } = await importer.enqueue({
        tenant: 'acme',
        entity: 'snapshots',
        format: 'csv',
        body: snapshot(version),
      });
      enqueued.push(record.id);
    }

    // Started after the enqueues, so all twenty wait for four idle workers.
    for (let index = 0; index < 4; index += 1) {
      const workerPool = createTestPool(database.url, 4);
      const queue = await createPgQueue({
        pool: workerPool,
        redeliveryAfterSeconds: 30,
        pollIntervalSeconds: 0.5,
      });
      workerPools.push(workerPool);
      workerQueues.push(queue);
      const workerImporter = createImporter({
        definitions,
        database: workerPool,
        ...adapters,
        queue,
      });
      workers.push(await workerImporter.startWorker({ concurrency: 2 }));
    }

    const records = await waitFor(
      async () => {
        const all = await Promise.all(
          enqueued.map((id) => importer.get('acme', id)),
        );
        return all.every((record) => record.state === 'completed') && all;
      },
      { timeoutMs: 120_000, intervalMs: 200, description: 'all twenty' },
    );

    // The table holds the last snapshot.
    const { rows } = await pool.query(
      `SELECT min(version) AS low, max(version) AS high, count(*) AS n,
         sum(qty) AS qty FROM snapshot_items WHERE tenant = 'acme'`,
    );
    const expectedQty = Array.from(
      { length: itemsPerSnapshot },
      (_, i) => ((i + 1) * snapshots) % 997,
    ).reduce((a, b) => a + b, 0);
    expect(rows[0]).toEqual({
      low: snapshots,
      high: snapshots,
      n: String(itemsPerSnapshot),
      qty: String(expectedQty),
    });

    // Applied one after another, in enqueue order: the ledger's commit
    // times and the records' start and finish times all follow it.
    const ledger = await pool.query(
      `SELECT import_id FROM erp_import.applied_imports
       ORDER BY applied_at, import_id`,
    );
    expect(
      ledger.rows.map((row) => (row as { import_id: string }).import_id),
    ).toEqual(enqueued);
    for (let index = 1; index < records.length; index += 1) {
      const before = records[index - 1]!;
      const after = records[index]!;
      expect(Date.parse(after.startedAt ?? '')).toBeGreaterThanOrEqual(
        Date.parse(before.finishedAt ?? ''),
      );
    }
    expect(records.map((record) => record.counts.updated)).toEqual([
      0,
      ...Array.from({ length: snapshots - 1 }, () => itemsPerSnapshot),
    ]);
  }, 180_000);
});
