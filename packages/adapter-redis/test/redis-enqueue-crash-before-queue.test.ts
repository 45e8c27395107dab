import { itemsTableSql } from '@erp-import/dev-services/import-fixtures';
import {
  lostRetryIsTakenByAWorker,
  lostUploadIsTakenByAWorker,
  lostUploadKeepsItsPlace,
  resendFindsLostUploadQueuedAgain,
  stopWorkers,
} from '@erp-import/dev-services/lost-job-scenarios';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { afterEach, it } from 'vitest';
import { useEngineHarness } from './engine-harness.js';
import { describeWithRedis, uniquePrefix } from './redis-test-support.js';

/**
 * A host SIGKILLed after it wrote an import record and before the Redis
 * queue had the job used to leave the import `queued` for ever: the
 * chain's reconciler repairs only entries it has, the sweep looked only at
 * `processing`, and a resend answered the stuck record.
 */

const database = useTestDatabase('adapter_redis_enqueue_crash');
const lostJobAfterMs = 2_000;
const crashingHost = new URL(
  './fixtures/enqueue-crash-process.ts',
  import.meta.url,
);

describeWithRedis(
  'Redis queue: a host killed between an import record and its job',
  (redisUrl) => {
    const harness = useEngineHarness({
      database,
      redisUrl,
      prefix: uniquePrefix('enqueue-crash'),
      lockDurationMs: 5_000,
      stalledIntervalMs: 2_500,
      lostJobAfterMs,
      setupSql: [itemsTableSql],
    });

    afterEach(async () => {
      await stopWorkers(harness());
    });

    it('a worker takes the upload', async () => {
      await lostUploadIsTakenByAWorker(harness(), crashingHost);
    }, 120_000);

    it('a resend with the same idempotency key puts its job back', async () => {
      await resendFindsLostUploadQueuedAgain(
        harness(),
        crashingHost,
        lostJobAfterMs,
      );
    }, 120_000);

    it('a worker takes a retry whose job never reached the queue', async () => {
      await lostRetryIsTakenByAWorker(harness(), crashingHost);
    }, 120_000);

    it('the lost upload runs before the imports of its key queued after it', async () => {
      await lostUploadKeepsItsPlace(harness(), crashingHost, lostJobAfterMs);
    }, 120_000);
  },
);
