// Case 19 of ../shared/cases: a worker killed after staging and before its
// MERGE must not leave the import locked for hours, nor let the dead
// attempt's staged rows be merged with the next attempt's.
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@erp-import/core/testing';
import { waitForLine } from '@erp-import/dev-services/child-processes';
import { waitForCompleted } from '@erp-import/dev-services/engine-harness';
import { itemsTableSql } from '@erp-import/dev-services/import-fixtures';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngineHarness, type EngineHarness } from './engine-harness.js';

const caseDir = sharedPath('cases', '19-pgqueue-worker-crash-orphaned-lock');
// The case's lock timeout is 30 s and its bound 60 s; a shorter expiry
// keeps the test quick and the bound is the queue's own.
const redeliveryAfterSeconds = 10;

const database = useTestDatabase('case19_orphaned_lock');
let harness: EngineHarness;

beforeAll(async () => {
  harness = await openEngineHarness({
    databaseUrl: database.url,
    redeliveryAfterSeconds,
    maxAttempts: 3,
    setupSql: [itemsTableSql],
  });
});

afterAll(async () => {
  await harness?.close();
});

describe('case 19: a worker SIGKILLed between staging and MERGE', () => {
  it('is taken up again within the bound and applied once', async () => {
    const { importer, pool, adapters } = harness;
    const [doomed] = await harness.startWorkers(1, {
      FAULT: 'kill-before-merge',
    });

    const { record } = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: createReadStream(join(caseDir, 'items.csv')),
      fileName: 'items.csv',
      idempotencyKey: 'import-run-0002',
    });
    await waitForLine(doomed!, 'merging');
    await waitFor(() => doomed!.process.signalCode === 'SIGKILL', {
      description: 'the worker to die',
    });

    // Right after the kill: no partial MERGE, and not reported completed.
    expect((await pool.query('SELECT * FROM items')).rows).toEqual([]);
    expect((await importer.get('acme', record.id)).state).toBe('processing');

    // A new worker a second later; the job comes back within the bound.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const [rescuer] = await harness.startWorkers(1);
    await waitForLine(
      rescuer!,
      `taken ${record.id} 2`,
      adapters.queue.capabilities.redeliveryAfterMs ?? 0,
    );
    const done = await waitForCompleted(importer, record, 30_000);

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
