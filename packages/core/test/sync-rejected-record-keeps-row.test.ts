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
  type ImportDefinitionInput,
  type Importer,
} from '../src/index.js';

// A record rejected while reading (a value that does not coerce, a
// ragged row) never reached staging, so a sync deleted the stored row of
// its key as if the file no longer held it. Its key is now staged apart
// and kept out of the delete; a record whose key cannot be read makes a
// sync that would delete anything fail with SYNC_UNSAFE.

const stock = {
  entity: 'stock',
  table: 'stock',
  tenantColumn: 'tenant_id',
  key: ['code'],
  mode: 'sync',
  columns: [
    { name: 'code', type: 'integer' },
    { name: 'qty', type: 'integer' },
    { name: 'name', type: 'text' },
  ],
} satisfies ImportDefinitionInput;

const database = useTestDatabase('sync_rejected_keys');
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 3 });
  await pool.query(`
    CREATE TABLE stock (
      tenant_id text NOT NULL,
      code integer NOT NULL,
      qty integer,
      name text,
      PRIMARY KEY (tenant_id, code)
    )`);
});

afterAll(async () => {
  await pool?.end();
});

beforeEach(async () => {
  await pool.query('TRUNCATE stock');
  await pool.query(`
    INSERT INTO stock VALUES
      ('acme', 1, 10, 'one'), ('acme', 2, 20, 'two'),
      ('acme', 3, 30, 'three'), ('acme', 4, 40, 'four')`);
});

async function rows(): Promise<string[]> {
  const result = await pool.query<{ row: string }>(
    `SELECT code || ':' || qty || ':' || name AS row FROM stock
     WHERE tenant_id = 'acme' ORDER BY code`,
  );
  return result.rows.map((row) => row.row);
}

describe.each([
  ['read in the worker thread', Infinity],
  ['read in a parse thread', 0],
] as const)('a sync with rejected records (%s)', (_label, threadBytes) => {
  let importer: Importer;

  beforeAll(() => {
    importer = createImporter({
      definitions: [stock],
      database: pool,
      queue: createMemoryQueue(),
      statusStore: createMemoryStatusStore(),
      errorLog: createMemoryErrorLog(),
      fileStore: createMemoryFileStore(),
      parseThreadMinBytes: threadBytes,
    });
  });

  async function sync(text: string) {
    const { record } = await importer.enqueue({
      tenant: 'acme',
      entity: 'stock',
      format: 'csv',
      body: Readable.from([Buffer.from(text)]),
    });
    return importer.process(record.id);
  }

  it('keeps the stored row of a record whose value did not read', async () => {
    // 2 has a quantity that is no integer; 3 is gone from the file.
    const done = await sync('code,qty,name\n1,11,one\n2,lots,two\n4,40,four\n');

    expect(done.state).toBe('completed');
    expect(done.counts).toMatchObject({
      read: 3,
      updated: 1,
      unchanged: 1,
      rejected: 1,
      deleted: 1,
    });
    expect(await rows()).toEqual(['1:11:one', '2:20:two', '4:40:four']);
  });

  it('keeps the rows of every rejected record with a readable key', async () => {
    const done = await sync(
      'code,qty,name\n1,x,one\n2,y,two\n3,z,three\n4,w,four\n',
    );

    expect(done.state).toBe('completed');
    expect(done.counts).toMatchObject({ read: 4, rejected: 4, deleted: 0 });
    expect(await rows()).toEqual([
      '1:10:one',
      '2:20:two',
      '3:30:three',
      '4:40:four',
    ]);
  });

  it('fails with SYNC_UNSAFE when a ragged row hides a key and rows would go', async () => {
    const before = await rows();
    const failed = await sync('code,qty,name\n1,10,one\n2,20\n4,40,four\n');

    expect(failed.state).toBe('failed');
    expect(failed.failure).toMatchObject({
      code: 'SYNC_UNSAFE',
      details: { keylessRecords: 1, wouldDelete: 2 },
    });
    expect(await rows()).toEqual(before);
  });

  it('fails with SYNC_UNSAFE when the key itself does not read', async () => {
    const before = await rows();
    const failed = await sync(
      'code,qty,name\n1,10,one\ntwo,20,two\n4,40,four\n',
    );

    expect(failed.state).toBe('failed');
    expect(failed.failure).toMatchObject({
      code: 'SYNC_UNSAFE',
      details: { keylessRecords: 1, wouldDelete: 2 },
    });
    expect(await rows()).toEqual(before);
  });

  it('completes when a keyless reject would delete nothing', async () => {
    const done = await sync(
      'code,qty,name\n1,10,one\n2,20,two\n3,30,three\n4,40,four\n9,9\n',
    );

    expect(done.state).toBe('completed');
    expect(done.counts).toMatchObject({
      read: 5,
      unchanged: 4,
      rejected: 1,
      deleted: 0,
    });
  });

  it('still deletes the absent rows when nothing is rejected', async () => {
    const done = await sync('code,qty,name\n1,10,one\n4,40,four\n');

    expect(done.state).toBe('completed');
    expect(done.counts).toMatchObject({ read: 2, unchanged: 2, deleted: 2 });
    expect(await rows()).toEqual(['1:10:one', '4:40:four']);
  });
});
