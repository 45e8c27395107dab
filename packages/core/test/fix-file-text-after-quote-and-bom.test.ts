import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput, ImportRecord } from '../src/index.js';
import { aliasedCustomers, sharedPath } from './csv-test-helpers.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// Through the engine: records with text after a closing quote, a
// byte-order mark inside the file, or the header line repeated were
// stored silently. They are now rejected, the counts still add up, the
// stored table holds only the good records, and the fix file hands the
// rejected records back as written, with their codes.

const customers: ImportDefinitionInput = aliasedCustomers;
const case01: ImportDefinitionInput = {
  entity: 'case01_customers',
  table: 'case01_customers',
  key: ['customer_code'],
  columns: [
    { name: 'customer_code', type: 'text' },
    { name: 'name', type: 'text', nullable: false },
    { name: 'city', type: 'text' },
  ],
};

const database = useTestDatabase('csv_record_faults');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(`
    CREATE TABLE customers (
      customer_id text PRIMARY KEY, company_name text, city text
    );
    CREATE TABLE case01_customers (
      customer_code text PRIMARY KEY, name text NOT NULL, city text
    )`);
  harness = await startEngineHarness(pool, [customers, case01]);
});
afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

function expectCountsAddUp(record: ImportRecord): void {
  const { counts } = record;
  expect(counts.read).toBe(
    counts.inserted +
      counts.updated +
      counts.unchanged +
      counts.superseded +
      counts.skipped +
      counts.rejected,
  );
}

async function fixFileLines(record: ImportRecord): Promise<string[]> {
  const text = await harness.fixFileText(record);
  return text.split('\n').filter((line) => line !== '');
}

describe('CSV records rejected for their quotes or a byte-order mark', () => {
  it('stores none of them, counts them, and gives them back in the fix file', async () => {
    const body =
      'customerID,companyName,city\n' +
      'Z13,"Acme, Inc" ,Sao Paulo\n' +
      'Z14,"Acme ""Big"" Inc"x,Rio\n' +
      '"Z8" ,space after quote\n' +
      'Z15,12" tube,Santos\n' +
      '\uFEFFZ16,BOM in middle,Y\n' +
      '\uFEFFcustomerID,companyName,city\n' +
      'Z17,"Fine, Ltd",Natal\n';
    const record = await harness.run({
      entity: 'customers',
      format: 'csv',
      body,
    });
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({ read: 7, inserted: 2, rejected: 5 });
    expectCountsAddUp(record);

    const stored = await pool.query(
      'SELECT customer_id, company_name, city FROM customers ORDER BY 1',
    );
    expect(stored.rows).toEqual([
      { customer_id: 'Z15', company_name: '12" tube', city: 'Santos' },
      { customer_id: 'Z17', company_name: 'Fine, Ltd', city: 'Natal' },
    ]);

    const errors = await harness.errors(record);
    expect(
      errors.map((issue) => [issue.position.line, issue.column, issue.code]),
    ).toEqual([
      [2, 'company_name', 'text_after_quote'],
      [3, 'company_name', 'text_after_quote'],
      [4, 'customer_id', 'text_after_quote'],
      [6, undefined, 'byte_order_mark'],
      [7, undefined, 'repeated_header'],
    ]);

    const [header, ...rows] = await fixFileLines(record);
    expect(header).toBe(
      'customerID,companyName,city,_line,_column,_code,_message',
    );
    expect(rows).toHaveLength(5);
    expect(rows[0]).toMatch(
      /^Z13,"Acme, Inc" ,Sao Paulo,2,company_name,text_after_quote,/,
    );
    expect(rows[1]).toMatch(
      /^Z14,"Acme ""Big"" Inc"x,Rio,3,company_name,text_after_quote,/,
    );
    expect(rows[2]).toMatch(
      /^"Z8" ,space after quote,,4,customer_id,text_after_quote,/,
    );
    expect(rows[3]).toMatch(/^\uFEFFZ16,BOM in middle,Y,6,,byte_order_mark,/);
    expect(rows[4]).toMatch(
      /^\uFEFFcustomerID,companyName,city,7,,repeated_header,/,
    );
  });

  it('imports two Excel exports joined (case 01 twice) without the second header', async () => {
    const file = readFileSync(
      sharedPath('cases/01-csv-bom-crlf-header/customers.csv'),
    );
    const record = await harness.run({
      entity: 'case01_customers',
      format: 'csv',
      body: Buffer.concat([file, file]),
    });
    expect(record.state).toBe('completed');
    // The second file's three rows repeat the first's keys.
    expect(record.counts).toMatchObject({
      read: 7,
      inserted: 3,
      superseded: 3,
      rejected: 1,
    });
    expectCountsAddUp(record);
    const stored = await pool.query(
      'SELECT customer_code FROM case01_customers ORDER BY 1',
    );
    expect(stored.rows.map((row) => row.customer_code)).toEqual([
      'C001',
      'C002',
      'C003',
    ]);
    const errors = (await harness.errors(record)).filter(
      (issue) => issue.severity === 'error',
    );
    expect(errors.map((issue) => [issue.position.line, issue.code])).toEqual([
      [5, 'repeated_header'],
    ]);
  });
});
