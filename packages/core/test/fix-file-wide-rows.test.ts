import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput, ImportRecord } from '../src/index.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// A rejected record with more fields than the header keeps them all in
// the fix file, under columns added for them, so that `_line` and the
// other added columns stand under their own names in every row; and the
// fix file, corrected, imports with the same definition.

const customers: ImportDefinitionInput = {
  entity: 'customers',
  table: 'customers',
  key: ['customerID'],
  columns: [
    { name: 'customerID', type: 'text' },
    { name: 'companyName', type: 'text' },
    { name: 'city', type: 'text' },
  ],
};

const items: ImportDefinitionInput = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'qty', type: 'integer', nullable: false },
  ],
};

const database = useTestDatabase('fix_file_wide_rows');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE customers ("customerID" text PRIMARY KEY, ' +
      '"companyName" text, city text)',
  );
  await pool.query('CREATE TABLE items (sku text PRIMARY KEY, qty integer)');
  harness = await startEngineHarness(pool, [customers, items]);
});
afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

const fixFileText = (record: ImportRecord) => harness.fixFileText(record);

// Strict: csv-parse refuses a row whose width differs from the header's.
function parseFixFile(text: string, delimiter: string) {
  return parse(text, { columns: true, delimiter }) as Record<string, string>[];
}

it('keeps the fields of a row wider than the header, the added columns under their names', async () => {
  const record = await harness.run({
    entity: 'customers',
    format: 'csv',
    body:
      'customerID,companyName,city\r\n' +
      'A1,Alfreds,Berlin\r\n' +
      'A2,Too,many,fields\r\n' +
      'A3,few\r\n' +
      'A4,Way,too,many,fields\r\n',
  });
  expect(record.state).toBe('completed');
  expect(record.counts).toMatchObject({ read: 4, inserted: 1, rejected: 3 });

  const text = await fixFileText(record);
  const lines = text.split('\r\n');
  expect(lines[0]).toBe(
    'customerID,companyName,city,_field4,_field5,' +
      '_line,_column,_code,_message',
  );
  // The sender's text, as written, then padding to the widest row.
  expect(lines[1]).toMatch(/^A2,Too,many,fields,,3,,ragged_row,/);
  expect(lines[2]).toMatch(/^A3,few,,,,4,,ragged_row,/);
  expect(lines[3]).toMatch(/^A4,Way,too,many,fields,5,,ragged_row,/);

  const rows = parseFixFile(text, ',');
  expect(rows.map((row) => [row['customerID'], row['_line']])).toEqual([
    ['A2', '3'],
    ['A3', '4'],
    ['A4', '5'],
  ]);
  for (const row of rows) {
    expect(row['_code']).toBe('ragged_row');
    expect(row['_message']).toMatch(/^line \d+ has \d field\(s\)/);
  }

  // Corrected (the commas in a name quoted, the row kept as wide as the
  // header), it imports cleanly: the added columns are unknown fields,
  // which the definition ignores.
  const corrected = text
    .replace('A2,Too,many,fields,', 'A2,"Too, many",fields,,')
    .replace('A4,Way,too,many,fields,', 'A4,"Way, too, many",fields,,,');
  const again = await harness.run({
    entity: 'customers',
    format: 'csv',
    body: corrected,
  });
  expect(again.state).toBe('completed');
  expect(again.counts).toMatchObject({ read: 3, inserted: 3, rejected: 0 });
  const stored = await pool.query(
    'SELECT "customerID", "companyName", city FROM customers ' +
      'ORDER BY "customerID"',
  );
  expect(stored.rows).toEqual([
    { customerID: 'A1', companyName: 'Alfreds', city: 'Berlin' },
    { customerID: 'A2', companyName: 'Too, many', city: 'fields' },
    { customerID: 'A3', companyName: 'few', city: null },
    { customerID: 'A4', companyName: 'Way, too, many', city: 'fields' },
  ]);
});

it('keeps a closing delimiter of a record rejected for a value', async () => {
  // The reader drops the empty field a closing `;` adds; the fix file
  // keeps the text as sent, so that field needs a column too.
  const record = await harness.run({
    entity: 'items',
    format: 'csv',
    body: 'sku;qty\r\nA;1\r\nB;x;\r\nC;y\r\n',
  });
  expect(record.counts).toMatchObject({ read: 3, inserted: 1, rejected: 2 });

  const text = await fixFileText(record);
  expect(text.split('\r\n')[0]).toBe(
    'sku;qty;_field3;_line;_column;_code;_message',
  );
  const rows = parseFixFile(text, ';');
  expect(
    rows.map((row) => [row['sku'], row['_line'], row['_column'], row['_code']]),
  ).toEqual([
    ['B', '3', 'qty', 'invalid_integer'],
    ['C', '4', 'qty', 'invalid_integer'],
  ]);

  const corrected = text.replace('B;x;', 'B;2;').replace('C;y;', 'C;3;');
  const again = await harness.run({
    entity: 'items',
    format: 'csv',
    body: corrected,
  });
  expect(again.counts).toMatchObject({ read: 2, inserted: 2, rejected: 0 });
});

it('adds no column when no rejected record is wider than the header', async () => {
  // A wide row that was not rejected is not in the fix file.
  const record = await harness.run({
    entity: 'items',
    format: 'csv',
    body: 'sku;qty\r\nD;1;\r\nE;z\r\n',
  });
  expect(record.counts).toMatchObject({ read: 2, inserted: 1, rejected: 1 });
  const text = await fixFileText(record);
  expect(text).toMatch(/^sku;qty;_line;_column;_code;_message\r\nE;z;3;qty;/);
});
