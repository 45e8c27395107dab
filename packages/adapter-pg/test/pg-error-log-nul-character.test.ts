import { Readable } from 'node:stream';
import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  createImporter,
  createMemoryFileStore,
  createMemoryQueue,
  type Importer,
  type ImportRecord,
  type ImportWorker,
} from '@erp-import/core';
import { waitFor } from '@erp-import/core/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPgErrorLog,
  createPgStatusStore,
  migrate,
} from '../src/index.js';

/**
 * PostgreSQL text cannot hold NUL, and what the engine writes about a bad
 * file quotes the file: a ragged row's raw text, a header cell in the
 * MISSING_COLUMNS message. Once those broke the store: the import failed
 * DATABASE_ERROR ("invalid byte sequence for encoding UTF8: 0x00") instead
 * of logging the row, or stayed `processing` for good because its failure
 * could not be written. The memory adapters never showed it.
 */

const database = useTestDatabase('adapter_pg_nul_character');
let pool: pg.Pool;
let importer: Importer;
let worker: ImportWorker;

beforeAll(async () => {
  pool = createTestPool(database.url, 6);
  await migrate(pool);
  await pool.query('CREATE TABLE codes (code text PRIMARY KEY, name text)');
  importer = createImporter({
    definitions: [
      {
        entity: 'codes',
        table: 'codes',
        key: ['code'],
        columns: [
          { name: 'code', type: 'text' },
          { name: 'name', type: 'text' },
        ],
      },
    ],
    database: pool,
    queue: createMemoryQueue({ retryDelayMs: 10 }),
    statusStore: createPgStatusStore({ pool }),
    errorLog: createPgErrorLog({ pool }),
    fileStore: createMemoryFileStore(),
  });
  worker = await importer.startWorker({ concurrency: 1 });
});

afterAll(async () => {
  await worker.stop();
  await pool.end();
});

async function run(body: string): Promise<ImportRecord> {
  await pool.query('TRUNCATE codes');
  const { record } = await importer.enqueue({
    tenant: 'acme',
    entity: 'codes',
    format: 'csv',
    body: Readable.from([Buffer.from(body, 'utf8')]),
  });
  return waitFor(
    async () => {
      const current = await importer.get('acme', record.id);
      return current.state === 'completed' || current.state === 'failed'
        ? current
        : undefined;
    },
    { timeoutMs: 15_000, description: `import ${record.id} to settle` },
  );
}

describe('a NUL character in what the PostgreSQL stores keep', () => {
  it('logs a ragged row holding a NUL with its raw text, and applies the rest', async () => {
    const done = await run('code,name\nA,ok\nB,x\u0000y,extra\nC,ok\n');

    expect(done.state).toBe('completed');
    expect(done.counts).toMatchObject({ read: 3, inserted: 2, rejected: 1 });
    const errors = await importer.errors('acme', done.id, { limit: 10 });
    expect(
      errors.items.map((issue) => [
        issue.position.line,
        issue.code,
        issue.rawValue,
      ]),
    ).toEqual([[3, 'ragged_row', 'B,x\u0000y,extra']]);
  });

  it('logs a line of NUL bytes as a rejected row', async () => {
    const done = await run('code,name\nA,ok\n\u0000\u0000\u0000\u0000\nC,ok\n');

    expect(done.state).toBe('completed');
    expect(done.counts).toMatchObject({ read: 3, inserted: 2, rejected: 1 });
    const errors = await importer.errors('acme', done.id, { limit: 10 });
    expect(errors.items.map((issue) => issue.rawValue)).toEqual([
      '\u0000\u0000\u0000\u0000',
    ]);
  });

  it('fails a header cell holding a NUL with MISSING_COLUMNS, quoting it', async () => {
    const done = await run('co\u0000de,name\nA,ok\n');

    expect(done.state).toBe('failed');
    expect(done.failure?.code).toBe('MISSING_COLUMNS');
    expect(done.failure?.message).toContain('co\u0000de');
  });

  it('keeps the NUL in the documented stored form: U+FFFF and its code', async () => {
    const done = await run('code,name\nB,x\u0000y,extra\n');

    const { rows } = await pool.query(
      'SELECT raw_value FROM erp_import.import_errors WHERE import_id = $1',
      [done.id],
    );
    expect(rows).toEqual([{ raw_value: 'B,x\uffff0000y,extra' }]);
  });
});
