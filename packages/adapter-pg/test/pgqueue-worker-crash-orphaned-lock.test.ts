// Case 19 of ../shared/cases: a worker killed after staging and before its
// MERGE must not leave the import locked for hours, nor let the dead
// attempt's staged rows be merged with the next attempt's.
import { createReadStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

const caseDir = fileURLToPath(
  new URL(
    '../../../../shared/cases/19-pgqueue-worker-crash-orphaned-lock/',
    import.meta.url,
  ),
);
// The case's lock timeout is 30 s and its bound 60 s; a shorter expiry
// keeps the test quick and the bound is the queue's own.
const redeliveryAfterSeconds = 10;

const database = useTestDatabase('case19_orphaned_lock');
let pool: pg.Pool;
let adapters: PgAdapters;
let importer: Importer;
const children: ChildWorker[] = [];

beforeAll(async () => {
  pool = createTestPool(database.url, 4);
  await pool.query(itemsTableSql);
  adapters = await createPgAdapters({
    pool,
    queue: { redeliveryAfterSeconds, pollIntervalSeconds: 0.5, maxAttempts: 3 },
  });
  importer = createImporter({ definitions, database: pool, ...adapters });
});

afterAll(async () => {
  await Promise.all(children.map((child) => child.kill()));
  await adapters.close();
  await pool.end();
});

const worker = (env: Record<string, string> = {}) => {
  const child = startChild(importWorkerScript, {
    DATABASE_URL: database.url,
    REDELIVERY_AFTER_SECONDS: String(redeliveryAfterSeconds),
    ...env,
  });
  children.push(child);
  return child;
};

describe('case 19: a worker SIGKILLed between staging and MERGE', () => {
  it('is taken up again within the bound and applied once', async () => {
    const doomed = worker({ FAULT: 'kill-before-merge' });
    await waitForLine(doomed, 'ready');

    const { record } = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: createReadStream(`${caseDir}items.csv`),
      fileName: 'items.csv',
      idempotencyKey: 'import-run-0002',
    });
    await waitForLine(doomed, 'merging');
    await waitFor(() => doomed.process.signalCode === 'SIGKILL', {
      description: 'the worker to die',
    });

    // Right after the kill: no partial MERGE, and not reported completed.
    expect((await pool.query('SELECT * FROM items')).rows).toEqual([]);
    expect((await importer.get('acme', record.id)).state).toBe('processing');

    // A new worker a second later; the job comes back within the bound.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const rescuer = worker();
    await waitForLine(rescuer, 'ready');
    await waitForLine(
      rescuer,
      `taken ${record.id} 2`,
      adapters.queue.capabilities.redeliveryAfterMs ?? 0,
    );
    const done = await waitFor(
      async () => {
        const current = await importer.get('acme', record.id);
        return current.state === 'completed' && current;
      },
      { timeoutMs: 30_000, description: 'completion' },
    );

    expect(
      (await pool.query('SELECT sku, name, qty FROM items ORDER BY sku')).rows,
    ).toEqual([
      { sku: 'Q-1', name: 'Grampo', qty: 10 },
      { sku: 'Q-2', name: 'Clipe', qty: 20 },
      { sku: 'Q-3', name: 'Fita', qty: 30 },
    ]);
    expect(done.attempts).toBe(2);
    expect(done.counts).toMatchObject({ read: 3, inserted: 3, rejected: 0 });
    expect(await adapters.errorLog.count(record.id)).toEqual({
      errors: 0,
      warnings: 0,
    });
    const ledger = await pool.query(
      'SELECT import_id FROM erp_import.applied_imports',
    );
    expect(ledger.rows).toEqual([{ import_id: record.id }]);
    const staging = await pool.query(
      `SELECT c.relname FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname LIKE 'pg_temp%' AND c.relname LIKE 'erp_import_%'`,
    );
    expect(staging.rows).toEqual([]);
  }, 120_000);
});
