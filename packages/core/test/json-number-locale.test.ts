import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput } from '../src/index.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// JSON number tokens went through the definition's locale: under pt-BR
// (decimal ',', grouping '.') `{"price":1.234}` was stored as 1234.000
// and `12.5` was rejected. A JSON number has one syntax whatever the
// locale; a JSON string still follows the locale (ERP JSON often carries
// "1.234,56" as a string), and so does XML text, which has no numbers.

const columns = [
  { name: 'code', type: 'text' },
  { name: 'price', type: 'numeric', precision: 12, scale: 3 },
  { name: 'quantity', type: 'integer' },
] as const;

const jsonItems: ImportDefinitionInput = {
  entity: 'json_items',
  table: 'number_items',
  key: ['code'],
  locale: 'pt-BR',
  columns: [...columns],
};
const xmlItems: ImportDefinitionInput = {
  entity: 'xml_items',
  table: 'number_items',
  key: ['code'],
  locale: 'pt-BR',
  records: { xmlPath: '/Items/Item' },
  columns: [...columns],
};
// Child lines take the parent's number as their key: it stays a number.
const jsonOrders: ImportDefinitionInput = {
  entity: 'json_orders',
  table: 'number_orders',
  key: ['number'],
  locale: 'pt-BR',
  columns: [{ name: 'number', type: 'numeric', precision: 8, scale: 1 }],
  children: [
    {
      entity: 'json_order_lines',
      table: 'number_order_lines',
      path: 'lines',
      key: ['number', 'line'],
      columns: [
        {
          name: 'number',
          type: 'numeric',
          precision: 8,
          scale: 1,
          fromParent: 'number',
        },
        { name: 'line', type: 'integer', ordinal: true },
        { name: 'amount', type: 'numeric', precision: 12, scale: 2 },
      ],
    },
  ],
};

// A sync keeps the row of a record it rejects, by the record's key.
const jsonPrices: ImportDefinitionInput = {
  entity: 'json_prices',
  table: 'number_prices',
  key: ['id'],
  allowedModes: ['upsert', 'sync'],
  locale: 'pt-BR',
  columns: [
    { name: 'id', type: 'numeric', precision: 8, scale: 1 },
    { name: 'price', type: 'numeric', precision: 12, scale: 2 },
  ],
};

const database = useTestDatabase('json_number_locale');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(`
    CREATE TABLE number_items (code text PRIMARY KEY, price numeric(12,3),
      quantity integer);
    CREATE TABLE number_orders (number numeric(8,1) PRIMARY KEY);
    CREATE TABLE number_order_lines (number numeric(8,1) NOT NULL
      REFERENCES number_orders, line integer NOT NULL,
      amount numeric(12,2), PRIMARY KEY (number, line));
    CREATE TABLE number_prices (id numeric(8,1) PRIMARY KEY,
      price numeric(12,2));
  `);
  harness = await startEngineHarness(pool, [
    jsonItems,
    xmlItems,
    jsonOrders,
    jsonPrices,
  ]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

async function stored() {
  const result = await pool.query(
    'SELECT code, price::text, quantity FROM number_items ORDER BY code',
  );
  await pool.query('TRUNCATE number_items');
  return result.rows;
}

describe('numbers in JSON under a pt-BR locale', () => {
  it('reads a number token as JSON, and a string by the locale', async () => {
    const record = await harness.run({
      entity: 'json_items',
      format: 'json',
      body: JSON.stringify([
        { code: 'A', price: 1.234, quantity: 1000 },
        { code: 'B', price: 12.5, quantity: -0 },
        { code: 'C', price: '1.234,5', quantity: '1.000' },
      ]),
    });
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({ read: 3, rejected: 0 });
    expect(await stored()).toEqual([
      { code: 'A', price: '1.234', quantity: 1000 },
      { code: 'B', price: '12.500', quantity: 0 },
      { code: 'C', price: '1234.500', quantity: 1000 },
    ]);
  });

  it('refuses an exponent, and a fraction in an integer, on their rows', async () => {
    const record = await harness.run({
      entity: 'json_items',
      format: 'json',
      body:
        '[{"code":"A","price":1e3},{"code":"B","quantity":1.5},' +
        '{"code":"C","price":0.5}]',
    });
    expect(record.state).toBe('completed');
    const errors = await harness.errors(record);
    expect(
      errors.map((error) => [
        error.position.recordNumber,
        error.column,
        error.code,
      ]),
    ).toEqual([
      [1, 'price', 'invalid_number'],
      [2, 'quantity', 'invalid_integer'],
    ]);
    expect(errors[0]?.message).toBe(
      'price: "1e3" is not a number (decimal separator ".", no grouping)',
    );
    expect(await stored()).toEqual([
      { code: 'C', price: '0.500', quantity: null },
    ]);
  });

  it('keeps a parent number a number in the child that copies it', async () => {
    const record = await harness.run({
      entity: 'json_orders',
      format: 'json',
      body: '[{"number":1234.5,"lines":[{"amount":10.25},{"amount":"1.000,5"}]}]',
    });
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({ read: 3, rejected: 0 });
    const lines = await pool.query(
      'SELECT number::text, line, amount::text FROM number_order_lines ' +
        'ORDER BY line',
    );
    expect(lines.rows).toEqual([
      { number: '1234.5', line: 1, amount: '10.25' },
      { number: '1234.5', line: 2, amount: '1000.50' },
    ]);
  });

  it('reads the key of a record a sync rejects as a number too', async () => {
    await harness.run({
      entity: 'json_prices',
      format: 'json',
      body: '[{"id":1234.5,"price":1},{"id":2,"price":2}]',
    });
    const record = await harness.run({
      entity: 'json_prices',
      format: 'json',
      body: '[{"id":1234.5,"price":"no price"}]',
      load: { mode: 'sync' },
    });
    expect(record.failure ?? null).toBeNull();
    expect(record.counts).toMatchObject({ read: 1, rejected: 1, deleted: 1 });
    const rows = await pool.query(
      'SELECT id::text, price::text FROM number_prices',
    );
    expect(rows.rows).toEqual([{ id: '1234.5', price: '1.00' }]);
  });
});

describe('numbers in XML under a pt-BR locale', () => {
  it('reads element text by the locale: XML has no number type', async () => {
    const record = await harness.run({
      entity: 'xml_items',
      format: 'xml',
      body:
        '<Items><Item><code>A</code><price>1.234</price></Item>' +
        '<Item><code>B</code><price>12.5</price></Item>' +
        '<Item><code>C</code><price>1.234,5</price></Item></Items>',
    });
    expect(record.state).toBe('completed');
    const errors = await harness.errors(record);
    expect(
      errors.map((error) => [error.position.recordNumber, error.code]),
    ).toEqual([[2, 'invalid_number']]);
    expect(await stored()).toEqual([
      { code: 'A', price: '1234.000', quantity: null },
      { code: 'C', price: '1234.500', quantity: null },
    ]);
  });
});
