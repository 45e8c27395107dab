import { itemsTableSql } from '@erp-import/dev-services/import-fixtures';
import {
  lostRetryIsTakenByAWorker,
  lostUploadIsTakenByAWorker,
  lostUploadKeepsItsPlace,
  resendFindsLostUploadQueuedAgain,
  stopWorkers,
} from '@erp-import/dev-services/lost-job-scenarios';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { openEngineHarness, type EngineHarness } from './engine-harness.js';

/**
 * A host SIGKILLed after it wrote an import record and before pg-boss had
 * the job used to leave the import `queued` for ever: no worker took it,
 * the sweep looked only at `processing`, and a resend answered the stuck
 * record.
 */

const database = useTestDatabase('adapter_pg_enqueue_crash');
const lostJobAfterMs = 2_000;
const crashingHost = new URL(
  './fixtures/enqueue-crash-process.ts',
  import.meta.url,
);
let harness: EngineHarness;

beforeAll(async () => {
  harness = await openEngineHarness({
    databaseUrl: database.url,
    redeliveryAfterSeconds: 10,
    lostJobAfterMs,
    setupSql: [itemsTableSql],
  });
});

afterEach(async () => {
  await stopWorkers(harness);
});

afterAll(async () => {
  await harness?.close();
});

describe('pg queue: a host killed between an import record and its job', () => {
  it('a worker takes the upload', async () => {
    await lostUploadIsTakenByAWorker(harness, crashingHost);
  }, 120_000);

  it('a resend with the same idempotency key puts its job back', async () => {
    await resendFindsLostUploadQueuedAgain(
      harness,
      crashingHost,
      lostJobAfterMs,
    );
  }, 120_000);

  it('a worker takes a retry whose job never reached the queue', async () => {
    await lostRetryIsTakenByAWorker(harness, crashingHost);
  }, 120_000);

  it('the lost upload runs before the imports of its key queued after it', async () => {
    await lostUploadKeepsItsPlace(harness, crashingHost, lostJobAfterMs);
  }, 120_000);
});
