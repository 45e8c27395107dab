import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput } from '../src/index.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// Case 11 through the whole engine into PostgreSQL: an order with one
// <Line> gets one line, an empty <Lines/> none (no bogus empty line), a
// file with a single <Order> one order; orders and lines land in their
// own tables in one import.

const caseDirectory = fileURLToPath(
  new URL('../../../../shared/cases/11-xml-single-vs-array/', import.meta.url),
);

const orders: ImportDefinitionInput = {
  entity: 'orders',
  table: 'orders',
  key: ['order_number'],
  records: { xmlPath: '/Orders/Order' },
  columns: [
    { name: 'order_number', type: 'text', path: '@number' },
    { name: 'customer_code', type: 'text', path: 'Customer', nullable: false },
  ],
  children: [
    {
      entity: 'order_lines',
      table: 'order_lines',
      path: 'Lines/Line',
      key: ['order_number', 'line_no'],
      columns: [
        { name: 'order_number', type: 'text', fromParent: 'order_number' },
        // line_no: the 1-based position of <Line> within its order.
        { name: 'line_no', type: 'integer', ordinal: true },
        { name: 'sku', type: 'text', path: 'Sku', nullable: false },
        { name: 'qty', type: 'integer', path: 'Qty', nullable: false },
      ],
    },
  ],
};

const database = useTestDatabase('xml_single_vs_array_import');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  harness = await startEngineHarness(pool, [orders]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

beforeEach(async () => {
  // The tables of case.md, as written there.
  await pool.query(`
    DROP TABLE IF EXISTS order_lines, orders;
    CREATE TABLE orders (
      order_number  text PRIMARY KEY,
      customer_code text NOT NULL
    );
    CREATE TABLE order_lines (
      order_number text    NOT NULL,
      line_no      integer NOT NULL,
      sku          text    NOT NULL,
      qty          integer NOT NULL,
      PRIMARY KEY (order_number, line_no)
    );
  `);
});

const caseFile = (name: string) => readFile(caseDirectory + name);

async function tables() {
  const header = await pool.query(
    'SELECT order_number, customer_code FROM orders ORDER BY 1',
  );
  const lines = await pool.query(
    'SELECT order_number, line_no, sku, qty FROM order_lines ORDER BY 1, 2',
  );
  return {
    orders: header.rows.map((row) => [row.order_number, row.customer_code]),
    lines: lines.rows.map((row) => [
      row.order_number,
      row.line_no,
      row.sku,
      row.qty,
    ]),
  };
}

const zero = {
  updated: 0,
  unchanged: 0,
  deleted: 0,
  rejected: 0,
  superseded: 0,
  skipped: 0,
};

describe('case 11 through the engine', () => {
  it('imports orders.xml: orders with 2, 1 and 0 lines, no errors', async () => {
    const record = await harness.run({
      entity: 'orders',
      format: 'xml',
      body: await caseFile('orders.xml'),
    });

    expect(record.state).toBe('completed');
    expect(record.counts).toEqual({
      read: 6,
      inserted: 6,
      ...zero,
      entities: {
        orders: { read: 3, inserted: 3, ...zero },
        order_lines: { read: 3, inserted: 3, ...zero },
      },
    });
    expect(await harness.errors(record)).toEqual([]);
    expect(await tables()).toEqual({
      orders: [
        ['PO-1', 'C001'],
        ['PO-2', 'C002'],
        ['PO-3', 'C003'],
      ],
      lines: [
        ['PO-1', 1, 'P-100', 2],
        ['PO-1', 2, 'P-101', 1],
        ['PO-2', 1, 'P-102', 5],
      ],
    });

    // The same file again changes nothing, in either table.
    const again = await harness.run({
      entity: 'orders',
      format: 'xml',
      body: await caseFile('orders.xml'),
    });
    expect(again.counts).toMatchObject({
      read: 6,
      inserted: 0,
      updated: 0,
      unchanged: 6,
      entities: {
        orders: { read: 3, unchanged: 3 },
        order_lines: { read: 3, unchanged: 3 },
      },
    });
  });

  it('imports orders_single.xml: one order with one line', async () => {
    const record = await harness.run({
      entity: 'orders',
      format: 'xml',
      body: await caseFile('orders_single.xml'),
    });

    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({
      read: 2,
      inserted: 2,
      rejected: 0,
      entities: {
        orders: { read: 1, inserted: 1 },
        order_lines: { read: 1, inserted: 1 },
      },
    });
    expect(await harness.errors(record)).toEqual([]);
    expect(await tables()).toEqual({
      orders: [['PO-9', 'C009']],
      lines: [['PO-9', 1, 'P-900', 3]],
    });
  });
});
