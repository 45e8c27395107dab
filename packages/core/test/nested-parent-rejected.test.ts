import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';
import {
  issuePlaces,
  jsonOrdersDefinition,
  recreateOrderTables,
  storedLines,
  xmlOrdersDefinition,
} from './order-lines-fixtures.js';

// A parent record rejected, by the reader or by a column type, takes its
// children with it, each logged as `parent_rejected` and counted in its
// own entity; a child rejected alone leaves its parent and siblings in.
// Errors name where they are: the record number (per entity) and path in
// JSON, the element path with its indexes and the line in XML.

const xmlOrders = xmlOrdersDefinition('xml_orders', 'xml_order_lines');

const jsonOrders = jsonOrdersDefinition();

const database = useTestDatabase('nested_parent_rejected');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  harness = await startEngineHarness(pool, [xmlOrders, jsonOrders]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

beforeEach(async () => {
  await recreateOrderTables(pool, { linesReferenceOrders: true });
});

describe('a rejected parent takes its children with it', () => {
  it('in XML, whether the reader or a column type rejects it', async () => {
    // PO-A has no customer (a column type rejects it), PO-B two (the
    // reader does), PO-C is good but for one line's quantity.
    const xml = `<?xml version="1.0"?>
<Orders>
  <Order number="PO-A">
    <Lines>
      <Line><Sku>A-1</Sku><Qty>1</Qty></Line>
      <Line><Sku>A-2</Sku><Qty>2</Qty></Line>
    </Lines>
  </Order>
  <Order number="PO-B">
    <Customer>C1</Customer><Customer>C2</Customer>
    <Lines><Line><Sku>B-1</Sku><Qty>1</Qty></Line></Lines>
  </Order>
  <Order number="PO-C">
    <Customer>C3</Customer>
    <Lines>
      <Line><Sku>C-1</Sku><Qty>3</Qty></Line>
      <Line><Sku>C-2</Sku><Qty>x</Qty></Line>
    </Lines>
  </Order>
</Orders>
`;
    const record = await harness.run({
      entity: 'xml_orders',
      format: 'xml',
      body: xml,
    });

    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({
      read: 8,
      inserted: 2,
      rejected: 6,
      entities: {
        xml_orders: { read: 3, inserted: 1, rejected: 2 },
        xml_order_lines: { read: 5, inserted: 1, rejected: 4 },
      },
    });
    expect(await storedLines(pool)).toEqual([['PO-C', 1, 'C-1', 3]]);

    const errors = await harness.errors(record);
    expect(issuePlaces(errors)).toEqual([
      [null, 'required', 1, '/Orders/Order[1]', 3],
      [
        'xml_order_lines',
        'parent_rejected',
        1,
        '/Orders/Order[1]/Lines/Line[1]',
        5,
      ],
      [
        'xml_order_lines',
        'parent_rejected',
        2,
        '/Orders/Order[1]/Lines/Line[2]',
        6,
      ],
      [null, 'repeated_element', 2, '/Orders/Order[2]', 9],
      [
        'xml_order_lines',
        'parent_rejected',
        3,
        '/Orders/Order[2]/Lines/Line[1]',
        11,
      ],
      [
        'xml_order_lines',
        expect.any(String),
        5,
        '/Orders/Order[3]/Lines/Line[2]',
        17,
      ],
    ]);
    expect(errors.at(-1)).toMatchObject({ column: 'qty', rawValue: 'x' });
  });

  it('in JSON, with record numbers per entity and paths', async () => {
    const json = [
      '[',
      '  {"number": "J-1", "customer": "C1", "details": [',
      '    {"Sku": "J1-1", "Qty": 1}, {"Sku": "J1-2", "Qty": "x"}]},',
      '  {"number": "J-2", "details": [{"Sku": "J2-1", "Qty": 1}]},',
      '  {"number": "J-3", "customer": {"code": "C3"},',
      '   "details": [{"Sku": "J3-1", "Qty": 1}]},',
      '  {"number": "J-4", "customer": "C4"}',
      ']',
    ].join('\n');
    const record = await harness.run({
      entity: 'json_orders',
      format: 'json',
      body: json,
    });

    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({
      read: 8,
      inserted: 3,
      rejected: 5,
      entities: {
        json_orders: { read: 4, inserted: 2, rejected: 2 },
        json_order_lines: { read: 4, inserted: 1, rejected: 3 },
      },
    });
    expect(await storedLines(pool)).toEqual([['J-1', 1, 'J1-1', 1]]);

    const errors = await harness.errors(record);
    expect(issuePlaces(errors)).toEqual([
      ['json_order_lines', expect.any(String), 2, '$[0].details[1]', 2],
      [null, 'required', 2, '$[1]', 4],
      ['json_order_lines', 'parent_rejected', 3, '$[1].details[0]', 4],
      [null, 'unexpected_structure', 3, '$[2]', 5],
      ['json_order_lines', 'parent_rejected', 4, '$[2].details[0]', 5],
    ]);
    expect(errors[0]).toMatchObject({ column: 'qty', rawValue: 'x' });
  });
});
