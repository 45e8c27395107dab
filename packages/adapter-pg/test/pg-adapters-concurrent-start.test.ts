import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgAdapters, type PgAdapters } from '../src/index.js';

// A server and a worker starting at the same moment on a fresh database
// once collided inside pg-boss's CREATE SCHEMA (duplicate pg_namespace).
const database = useTestDatabase('adapter_pg_concurrent_start');
let pools: pg.Pool[];

beforeAll(() => {
  pools = Array.from({ length: 3 }, () => createTestPool(database.url, 4));
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
});

describe('createPgAdapters', () => {
  it('starts in several processes at once on a fresh database', async () => {
    const started: PgAdapters[] = await Promise.all(
      pools.map((pool) => createPgAdapters({ pool, schema: 'erp_start' })),
    );
    try {
      expect(started).toHaveLength(3);
      for (const adapters of started) {
        expect(adapters.queue.capabilities.durable).toBe(true);
      }
    } finally {
      await Promise.all(started.map((adapters) => adapters.close()));
    }
  });
});
