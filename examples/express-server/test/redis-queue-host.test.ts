import {
  useTestDatabase,
  redisUrlOrNull,
} from '@erp-import/dev-services/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sharedData,
  startExample,
  type RunningExample,
} from './example-harness.js';

// ERP_IMPORT_QUEUE=redis: the example host takes its queue from BullMQ and
// keeps the status store, error log and files in PostgreSQL.

const redisUrl = redisUrlOrNull();
const database = useTestDatabase('example_redis_queue');

describe.skipIf(redisUrl === null)(
  redisUrl === null
    ? 'SKIPPED: no Redis (set REDIS_URL): the example host on the Redis queue'
    : 'the example host on the Redis queue',
  () => {
    let example: RunningExample;

    beforeAll(async () => {
      example = await startExample(database.url, {
        kind: 'redis',
        url: redisUrl!,
      });
    });

    afterAll(async () => {
      await example?.close();
    });

    it('imports Northwind customers through BullMQ', async () => {
      const accepted = await example.upload(
        sharedData('northwind-customers.csv'),
        'customers',
      );
      const record = await example.finish(accepted.id);
      expect(record.state).toBe('completed');
      expect(record.counts).toMatchObject({ read: 91, inserted: 91 });

      // The job travelled through Redis, not pg-boss.
      const boss = await example.host.pool.query(
        `SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'job'
           AND schemaname LIKE 'erp_import%'`,
      );
      const jobs =
        boss.rows[0].n === 0
          ? 0
          : (
              await example.host.pool.query(
                'SELECT count(*)::int AS n FROM erp_import_queue.job',
              )
            ).rows[0].n;
      expect(jobs).toBe(0);
    });
  },
);
