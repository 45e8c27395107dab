import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';
import {
  recreateOrderTables,
  storedLines,
  storedOrders,
  xmlOrdersDefinition,
  xmlSingleVsArrayCase,
} from './order-lines-fixtures.js';

// Case 11 through the whole engine into PostgreSQL: an order with one
// <Line> gets one line, an empty <Lines/> none (no bogus empty line), a
// file with a single <Order> one order; orders and lines land in their
// own tables in one import.

const database = useTestDatabase('xml_single_vs_array_import');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  harness = await startEngineHarness(pool, [xmlOrdersDefinition()]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

beforeEach(async () => {
  // The tables of case.md, as written there.
  await recreateOrderTables(pool);
});

/** Imports one of the case's files as `orders`, and waits until it ends. */
async function importCaseFile(name: string) {
  return harness.run({
    entity: 'orders',
    format: 'xml',
    body: await readFile(xmlSingleVsArrayCase + name),
  });
}

async function tables() {
  return { orders: await storedOrders(pool), lines: await storedLines(pool) };
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
    const record = await importCaseFile('orders.xml');

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
    const again = await importCaseFile('orders.xml');
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
    const record = await importCaseFile('orders_single.xml');

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
