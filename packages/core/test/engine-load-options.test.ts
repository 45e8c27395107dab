import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  createImporter,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
  type EnqueueRequest,
  type ImportDefinitionInput,
  type Importer,
} from '../src/index.js';

// Issue 8 through the engine: reject thresholds (per definition and per
// import), counts that add up with skipped and database-refused rows,
// empty-means-keep from a CSV file, stale exports, and requests refused
// at enqueue.

const database = useTestDatabase('engine_load_options');
let pool: pg.Pool;

const items = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  tenantColumn: 'tenant',
  allowedModes: ['insert', 'update'],
  maxRejected: 2,
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'name', type: 'text', emptyMeansKeep: true },
    { name: 'qty', type: 'integer' },
  ],
} satisfies ImportDefinitionInput;

let importer: Importer;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 3 });
  importer = createImporter({
    definitions: [items],
    database: pool,
    queue: createMemoryQueue(),
    statusStore: createMemoryStatusStore(),
    errorLog: createMemoryErrorLog(),
    fileStore: createMemoryFileStore(),
  });
});

afterAll(async () => {
  await pool?.end();
});

beforeEach(async () => {
  await pool.query(`
    DROP TABLE IF EXISTS items;
    CREATE TABLE items (
      tenant text NOT NULL,
      sku text NOT NULL,
      name text NOT NULL,
      qty integer CONSTRAINT qty_not_negative CHECK (qty >= 0),
      PRIMARY KEY (tenant, sku)
    );
    INSERT INTO items VALUES ('acme', 'A', 'Apple', 1), ('acme', 'B', 'Banana', 2);
  `);
  // Each test starts the entity's export history afresh.
  await pool.query(`
    DO $$ BEGIN
      IF to_regclass('erp_import.applied_imports') IS NOT NULL THEN
        DELETE FROM erp_import.applied_imports WHERE entity = 'items';
      END IF;
    END $$`);
});

async function run(csv: string, request: Partial<EnqueueRequest> = {}) {
  const { record } = await importer.enqueue({
    tenant: 'acme',
    entity: 'items',
    format: 'csv',
    body: Readable.from([Buffer.from(csv, 'utf8')]),
    ...request,
  });
  const done = await importer.process(record.id);
  const errors = await importer.errors('acme', record.id, { limit: 100 });
  return { done, issues: errors.items };
}

const table = async () =>
  (
    await pool.query(
      "SELECT sku, name, qty FROM items WHERE tenant = 'acme' ORDER BY sku",
    )
  ).rows;

describe('engine load options', () => {
  it('counts rows the database refuses, adding up to the records read', async () => {
    const { done, issues } = await run(
      'sku,name,qty\nA,Apple,5\nC,Cherry,-1\nD,Date,x\nE,Elder,3\n',
    );
    expect(done.failure).toBeNull();
    expect(done.counts).toEqual({
      read: 4,
      inserted: 1,
      updated: 1,
      unchanged: 0,
      deleted: 0,
      rejected: 2,
      superseded: 0,
      skipped: 0,
    });
    expect(issues.map((issue) => [issue.position.line, issue.code])).toEqual([
      [4, 'invalid_integer'],
      [3, 'check_violation'],
    ]);
    expect(issues[1]?.message).toContain('constraint "qty_not_negative"');
  });

  it('fails with nothing applied past the definition threshold', async () => {
    const before = await table();
    const { done, issues } = await run(
      'sku,name,qty\nA,Apple,9\nC,Cherry,-1\nD,Date,x\nE,Elder,-3\n',
    );
    expect(done.state).toBe('failed');
    expect(done.failure?.code).toBe('TOO_MANY_REJECTS');
    expect(await table()).toEqual(before);
    // The rows that made it fail are in the error log.
    expect(issues.filter((issue) => issue.severity === 'error')).toHaveLength(
      3,
    );
  });

  it('takes the import threshold over the definition one; 0 is all or nothing', async () => {
    const csv = 'sku,name,qty\nA,Apple,9\nC,Cherry,-1\n';
    const strict = await run(csv, { load: { maxRejected: 0 } });
    expect(strict.done.failure?.code).toBe('TOO_MANY_REJECTS');
    expect((await table())[0]).toEqual({ sku: 'A', name: 'Apple', qty: 1 });

    const share = await run(csv, { load: { maxRejectedShare: 0.5 } });
    expect(share.done.state).toBe('completed');
    const tooMany = await run(csv, { load: { maxRejectedShare: 0.4 } });
    expect(tooMany.done.failure?.code).toBe('TOO_MANY_REJECTS');
  });

  it('keeps stored values for empty fields, and skips in insert mode', async () => {
    const kept = await run('sku,name,qty\nA,,7\nB,Blueberry,\n', {
      load: { mode: 'update' },
    });
    expect(kept.done.counts).toMatchObject({ read: 2, updated: 2 });
    expect(await table()).toEqual([
      { sku: 'A', name: 'Apple', qty: 7 },
      { sku: 'B', name: 'Blueberry', qty: null },
    ]);

    const inserted = await run('sku,name,qty\nA,Avocado,1\nF,Fig,1\n', {
      load: { mode: 'insert' },
    });
    expect(inserted.done.counts).toMatchObject({
      read: 2,
      inserted: 1,
      skipped: 1,
    });
    expect(inserted.issues).toEqual([
      expect.objectContaining({ code: 'key_exists', severity: 'warning' }),
    ]);
  });

  it('fails a stale export with STALE_EXPORT', async () => {
    const csv = 'sku,name,qty\nA,Apple,3\n';
    const newer = await run(csv, {
      load: { exportedAt: '2024-06-01T12:00:00Z' },
    });
    expect(newer.done.state).toBe('completed');
    const older = await run('sku,name,qty\nA,Old,0\n', {
      load: { exportedAt: '2024-05-31T12:00:00Z' },
    });
    expect(older.done.failure?.code).toBe('STALE_EXPORT');
    expect((await table())[0]).toEqual({ sku: 'A', name: 'Apple', qty: 3 });
  });

  it('refuses at enqueue a mode or parameter the definition does not take', async () => {
    const body = () => Readable.from([Buffer.from('sku\nA\n')]);
    const request = {
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
    } as const;
    await expect(
      importer.enqueue({ ...request, body: body(), load: { mode: 'sync' } }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(
      importer.enqueue({
        ...request,
        body: body(),
        load: { params: { company: '1' } },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(
      importer.enqueue({
        ...request,
        body: body(),
        load: { exportedAt: 'yesterday' },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });
});
