import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { sampleImportRecord } from '@erp-import/core/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgStatusStore, migrate } from '../src/index.js';

const database = useTestDatabase('adapter_pg_status_tx');
let pool: pg.Pool;

beforeAll(async () => {
  pool = createTestPool(database.url, 4);
  await migrate(pool);
});

afterAll(async () => {
  await pool.end();
});

describe('the PostgreSQL status store inside the MERGE transaction', () => {
  it('names its pool as its database', () => {
    expect(createPgStatusStore({ pool }).database).toBe(pool);
  });

  it('commits a transition with the transaction, and drops it on rollback', async () => {
    const store = createPgStatusStore({ pool });
    const kept = sampleImportRecord({ state: 'processing' });
    const dropped = sampleImportRecord({ state: 'processing' });
    await store.create(kept);
    await store.create(dropped);

    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const inside = await store.transitionInTransaction(
        client,
        dropped.id,
        ['processing'],
        { state: 'completed' },
      );
      expect(inside?.state).toBe('completed');
      // Another connection does not see it before the commit.
      expect((await store.getById(dropped.id))?.state).toBe('processing');
      await client.query('ROLLBACK');

      await client.query('BEGIN');
      await store.transitionInTransaction(client, kept.id, ['processing'], {
        state: 'completed',
      });
      await client.query('COMMIT');
    } finally {
      client.release();
    }

    expect((await store.getById(dropped.id))?.state).toBe('processing');
    expect((await store.getById(kept.id))?.state).toBe('completed');
  });
});
