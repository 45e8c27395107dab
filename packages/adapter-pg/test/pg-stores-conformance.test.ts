import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  describeErrorLogConformance,
  describeFileStoreConformance,
  describeStatusStoreConformance,
} from '@erp-import/core/testing';
import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import {
  createPgErrorLog,
  createPgFileStore,
  createPgStatusStore,
  migrate,
} from '../src/index.js';

// One database for the file, migrated once; the suites keep their tests
// apart with fresh tenants, import ids and keys.
const database = useTestDatabase('adapter_pg_stores');
let pool: pg.Pool;

beforeAll(async () => {
  pool = createTestPool(database.url, 8);
  await migrate(pool);
});

afterAll(async () => {
  await pool.end();
});

const nothingToClean = async () => undefined;

describeStatusStoreConformance('PostgreSQL', async () => ({
  store: createPgStatusStore({ pool }),
  cleanup: nothingToClean,
}));

describeErrorLogConformance('PostgreSQL', async () => ({
  errorLog: createPgErrorLog({ pool }),
  cleanup: nothingToClean,
}));

// Small chunks, so that the suite's files span many rows.
describeFileStoreConformance('PostgreSQL', async () => ({
  fileStore: createPgFileStore({ pool, chunkBytes: 64 * 1024 + 7 }),
  cleanup: nothingToClean,
}));
