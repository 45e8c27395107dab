import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { describeQueueConformance } from '@erp-import/core/testing';
import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createPgQueue } from '../src/index.js';

const database = useTestDatabase('adapter_pg_queue');
let pool: pg.Pool;

beforeAll(async () => {
  pool = createTestPool(database.url, 10);
});

afterAll(async () => {
  await pool.end();
});

// The suite's jobs share one pg-boss queue; it ignores jobs of earlier
// tests that a consumer picks up, and each test names fresh keys.
describeQueueConformance(
  'PostgreSQL (pg-boss)',
  async () => {
    const queue = await createPgQueue({
      pool,
      redeliveryAfterSeconds: 5,
      pollIntervalSeconds: 0.5,
    });
    return { queue, cleanup: () => queue.close() };
  },
  { timeoutMs: 20_000 },
);
