import { Readable } from 'node:stream';
import { createImporter, type Importer } from '@erp-import/core';
import { waitFor } from '@erp-import/core/testing';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgAdapters, type PgAdapters } from '../src/index.js';
import { definitions, itemsTableSql } from './fixtures/definitions.js';
import {
  createTestPool,
  importWorkerScript,
  startChild,
  waitForLine,
  type ChildWorker,
} from './helpers.js';

const database = useTestDatabase('adapter_pg_sigkill');
const rowCount = 300_000;
const redeliveryAfterSeconds = 10;

let pool: pg.Pool;
let adapters: PgAdapters;
let importer: Importer;
const children: ChildWorker[] = [];

beforeAll(async () => {
  pool = createTestPool(database.url, 4);
  await pool.query(itemsTableSql);
  // The enqueue side: no worker runs in this process.
  adapters = await createPgAdapters({
    pool,
    queue: { redeliveryAfterSeconds, pollIntervalSeconds: 0.5 },
  });
  importer = createImporter({ definitions, database: pool, ...adapters });
});

afterAll(async () => {
  await Promise.all(children.map((child) => child.kill()));
  await adapters.close();
  await pool.end();
});

// sku,name,qty for `rowCount` items, generated as it is read.
function largeCsv(): Readable {
  return Readable.from(
    (function* () {
      yield 'sku,name,qty\n';
      const batch = 5_000;
      for (let start = 1; start <= rowCount; start += batch) {
        let text = '';
        for (let n = start; n < start + batch && n <= rowCount; n += 1) {
          text += `SKU-${n},Item ${n},${n % 1000}\n`;
        }
        yield text;
      }
    })(),
  );
}

const count = async (sql: string, values: unknown[] = []) =>
  Number(((await pool.query(sql, values)).rows[0] as { n: string }).n);

describe('a worker killed with SIGKILL in the middle of an import', () => {
  it('leaves the table as it was; another worker applies the import once', async () => {
    const workers = [1, 2].map(() =>
      startChild(importWorkerScript, {
        DATABASE_URL: database.url,
        REDELIVERY_AFTER_SECONDS: String(redeliveryAfterSeconds),
      }),
    );
    children.push(...workers);
    await Promise.all(workers.map((worker) => waitForLine(worker, 'ready')));

    const { record } = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: largeCsv(),
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
      async () => {
        const current = await importer.get('acme', record.id);
        return current.progress.recordsRead > 0;
      },
      { timeoutMs: 30_000, intervalMs: 20, description: 'reading to start' },
    );
    await victim.kill();

    const killed = await importer.get('acme', record.id);
    expect(killed.state).toBe('processing');
    expect(await count('SELECT count(*) AS n FROM items')).toBe(0);

    // The survivor takes it again within the queue's stated bound.
    await waitForLine(
      survivor,
      `taken ${record.id} 2`,
      adapters.queue.capabilities.redeliveryAfterMs ?? 0,
    );
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
      (await pool.query(`SELECT name, qty FROM items WHERE sku = 'SKU-123457'`))
        .rows,
    ).toEqual([{ name: 'Item 123457', qty: 457 }]);
    expect(
      await count(
        'SELECT count(*) AS n FROM erp_import.applied_imports WHERE import_id = $1',
        [record.id],
      ),
    ).toBe(1);
    // Staging tables are temporary: the dead session's went with it.
    await waitFor(
      async () =>
        (await count(
          `SELECT count(*) AS n FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname LIKE 'pg_temp%' AND c.relname LIKE 'erp_import_%'`,
        )) === 0,
      { description: 'no staging table left' },
    );
  }, 240_000);
});
