import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';
import {
  jsonOrdersDefinition,
  recreateOrderTables,
  storedLines,
  storedOrders,
  xmlOrdersDefinition,
} from './order-lines-fixtures.js';

// Case 15's kind in nested records: a parent whose key comes twice keeps
// its last occurrence, and that occurrence's children alone. The lines of
// the superseded occurrence must not be mixed into the winner's.

const jsonOrders = jsonOrdersDefinition('orders', 'order_lines');

const database = useTestDatabase('nested_parent_repeated');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  harness = await startEngineHarness(pool, [
    jsonOrders,
    xmlOrdersDefinition('xml_orders', 'xml_order_lines'),
  ]);
});
afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});
beforeEach(async () => {
  await recreateOrderTables(pool, { linesReferenceOrders: true });
});

const line = (sku: string, qty: number) => ({ Sku: sku, Qty: qty });

describe('a parent repeated in one file', () => {
  it('keeps its last occurrence with that occurrence’s children', async () => {
    const orders = [
      { number: 'PO-1', customer: 'C1', details: [line('A', 1), line('B', 2)] },
      { number: 'PO-2', customer: 'C2', details: [line('X', 9)] },
      { number: 'PO-1', customer: 'C9', details: [line('Z', 3)] },
    ];
    const record = await harness.run({
      entity: 'orders',
      format: 'json',
      body: JSON.stringify(orders),
    });

    expect(record.state).toBe('completed');
    expect(await storedOrders(pool)).toEqual([
      ['PO-1', 'C9'],
      ['PO-2', 'C2'],
    ]);
    expect(await storedLines(pool)).toEqual([
      ['PO-1', 1, 'Z', 3],
      ['PO-2', 1, 'X', 9],
    ]);
    expect(record.counts.entities).toMatchObject({
      orders: { read: 3, inserted: 2, superseded: 1 },
      order_lines: { read: 4, inserted: 2, superseded: 2 },
    });

    const errors = await harness.errors(record);
    expect(
      errors.map((issue) => [issue.entity ?? null, issue.code, issue.severity]),
    ).toEqual([
      ['orders', 'duplicate_key_superseded', 'warning'],
      ['order_lines', 'parent_superseded', 'warning'],
      ['order_lines', 'parent_superseded', 'warning'],
    ]);
  });

  it('does the same in XML, and a rejected last occurrence applies nothing', async () => {
    await pool.query(`
      INSERT INTO orders VALUES ('PO-1', 'OLD');
      INSERT INTO order_lines VALUES ('PO-1', 1, 'OLD-1', 1);
    `);
    // PO-1's last occurrence has no customer: rejected, it takes its line
    // with it, and the earlier PO-1 (and its lines) must not apply either.
    const xml = `<Orders>
  <Order number="PO-1"><Customer>C1</Customer>
    <Lines><Line><Sku>A</Sku><Qty>1</Qty></Line>
      <Line><Sku>B</Sku><Qty>2</Qty></Line></Lines></Order>
  <Order number="PO-1">
    <Lines><Line><Sku>Z</Sku><Qty>3</Qty></Line></Lines></Order>
</Orders>`;
    const record = await harness.run({
      entity: 'xml_orders',
      format: 'xml',
      body: xml,
    });

    expect(record.state).toBe('completed');
    expect(await storedOrders(pool)).toEqual([['PO-1', 'OLD']]);
    expect(await storedLines(pool)).toEqual([['PO-1', 1, 'OLD-1', 1]]);
    expect(record.counts.entities).toMatchObject({
      xml_orders: { read: 2, superseded: 1, rejected: 1 },
      xml_order_lines: { read: 3, superseded: 2, rejected: 1 },
    });
  });
});
