import {
  useTestDatabase,
  redisUrlOrNull,
} from '@erp-import/dev-services/vitest';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readExampleConfig } from '@erp-import/example-definitions';
import {
  sharedData,
  startExample,
  type RunningExample,
} from './example-harness.js';

// ERP_IMPORT_QUEUE=redis: the example host takes its queue from BullMQ and
// keeps the status store, error log and files in PostgreSQL.

const redisUrl = redisUrlOrNull();
const database = useTestDatabase('example_redis_queue');
// A prefix of this run's own (ERP_IMPORT_REDIS_PREFIX): a shared Redis may
// hold another deployment's `erp-import` queue, whose workers would take
// this test's jobs, and this test theirs.
const prefix = `erp-test:example:${randomUUID().slice(0, 8)}`;

describe('ERP_IMPORT_REDIS_PREFIX', () => {
  it('is read, trimmed, by the example configuration', () => {
    const config = (env: Record<string, string>) =>
      readExampleConfig({ DATABASE_URL: 'postgres://x/y', ...env });
    expect(config({ ERP_IMPORT_REDIS_PREFIX: ' acme ' }).redisPrefix).toBe(
      'acme',
    );
    expect(config({}).redisPrefix).toBeUndefined();
  });
});

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
        prefix,
      });
    });

    afterAll(async () => {
      await example?.close();
      const redis = new Redis(redisUrl!);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
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

      // Under the host's own prefix.
      const redis = new Redis(redisUrl!);
      try {
        expect((await redis.keys(`${prefix}:*`)).length).toBeGreaterThan(0);
      } finally {
        await redis.quit();
      }
    });
  },
);
