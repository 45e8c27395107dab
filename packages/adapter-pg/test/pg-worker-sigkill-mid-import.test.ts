import { waitFor } from '@erp-import/core/testing';
import {
  expectAppliedOnceAfterKill,
  killWorkerMidImport,
} from '@erp-import/dev-services/engine-harness';
import { itemsTableSql } from '@erp-import/dev-services/import-fixtures';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { openEngineHarness, type EngineHarness } from './engine-harness.js';

const database = useTestDatabase('adapter_pg_sigkill');
const rowCount = 300_000;

let harness: EngineHarness;

beforeAll(async () => {
  harness = await openEngineHarness({
    databaseUrl: database.url,
    redeliveryAfterSeconds: 10,
    setupSql: [itemsTableSql],
  });
});

afterAll(async () => {
  await harness?.close();
});

describe('a worker killed with SIGKILL in the middle of an import', () => {
  it('leaves the table as it was; another worker applies the import once', async () => {
    // The survivor takes it again within the queue's stated bound.
    const outcome = await killWorkerMidImport(harness, {
      rowCount,
      retakeWithinMs:
        harness.adapters.queue.capabilities.redeliveryAfterMs ?? 0,
    });

    expectAppliedOnceAfterKill(outcome, rowCount);
    // Staging tables are temporary: the dead session's went with it.
    await waitFor(
      async () =>
        (await harness.count(
          `SELECT count(*) AS n FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname LIKE 'pg_temp%' AND c.relname LIKE 'erp_import_%'`,
        )) === 0,
      { description: 'no staging table left' },
    );
  }, 240_000);
});
