import pg from 'pg';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput } from '../src/index.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// A CSV whose header lacks a nullable column (here a misspelt "cidade")
// must not overwrite the stored values of that column with NULL: the file
// says nothing about it. Stored rows keep their value, new rows get the
// column's default, and the error log says so, with the field it ignored.

const customers: ImportDefinitionInput = {
  entity: 'customers',
  table: 'customers',
  key: ['customer_code'],
  columns: [
    { name: 'customer_code', type: 'text' },
    { name: 'name', type: 'text', nullable: false },
    { name: 'city', type: 'text' },
  ],
};

const database = useTestDatabase('csv_header_column_absent');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  harness = await startEngineHarness(pool, [customers]);
});
afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});
beforeEach(async () => {
  await pool.query(`
    DROP TABLE IF EXISTS customers;
    CREATE TABLE customers (
      customer_code text PRIMARY KEY,
      name text NOT NULL,
      city text DEFAULT 'unknown'
    );
    INSERT INTO customers VALUES ('C1', 'Old', 'Campinas');
  `);
});

async function stored(): Promise<unknown[][]> {
  const result = await pool.query(
    'SELECT customer_code, name, city FROM customers ORDER BY 1',
  );
  return result.rows.map((row) => [row.customer_code, row.name, row.city]);
}

it('keeps the stored values of a column the header lacks', async () => {
  const record = await harness.run({
    entity: 'customers',
    format: 'csv',
    body: 'customer_code,name,cidade\nC1,New,Recife\nC2,Other,Santos\n',
  });

  expect(record.state).toBe('completed');
  expect(record.counts).toMatchObject({ read: 2, inserted: 1, updated: 1 });
  expect(await stored()).toEqual([
    ['C1', 'New', 'Campinas'],
    ['C2', 'Other', 'unknown'],
  ]);

  const errors = await harness.errors(record);
  expect(
    errors.map((issue) => [
      issue.severity,
      issue.code,
      issue.column ?? null,
      issue.position.line,
    ]),
  ).toEqual([['warning', 'column_absent', 'city', 1]]);
  expect(errors[0]?.message).toContain('no field for "city"');
  expect(errors[0]?.message).toContain('fields no column reads: "cidade"');
});

it('counts a row unchanged when only an absent column would differ', async () => {
  const record = await harness.run({
    entity: 'customers',
    format: 'csv',
    body: 'customer_code,name\nC1,Old\n',
  });

  expect(record.counts).toMatchObject({ read: 1, updated: 0, unchanged: 1 });
  expect(await stored()).toEqual([['C1', 'Old', 'Campinas']]);
});

it('still writes NULL from an empty field of a column the header has', async () => {
  const record = await harness.run({
    entity: 'customers',
    format: 'csv',
    body: 'customer_code,name,city\nC1,Old,\n',
  });

  expect(record.counts).toMatchObject({ read: 1, updated: 1 });
  expect(await stored()).toEqual([['C1', 'Old', null]]);
  expect(await harness.errors(record)).toEqual([]);
});

it('names a huge header only in part when it lacks the key', async () => {
  const header = Array.from({ length: 5000 }, (_, i) => `field_${i}`);
  const record = await harness.run({
    entity: 'customers',
    format: 'csv',
    body: `${header.join(',')}\n${header.map(() => 'x').join(',')}\n`,
  });

  expect(record.state).toBe('failed');
  expect(record.failure?.code).toBe('MISSING_COLUMNS');
  // The import record stays small: the message and details cut the list.
  expect(JSON.stringify(record.failure).length).toBeLessThan(4000);
});
