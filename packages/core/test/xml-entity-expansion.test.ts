import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput } from '../src/index.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// A hostile XML document (entity expansion, "billion laughs", or an
// external entity) fails its import with HOSTILE_XML before anything is
// expanded, and the worker that read it goes on to complete the next.

const orders: ImportDefinitionInput = {
  entity: 'orders',
  table: 'hostile_orders',
  key: ['order_number'],
  records: { xmlPath: '/Orders/Order' },
  columns: [
    { name: 'order_number', type: 'text', path: '@number' },
    { name: 'customer_code', type: 'text', path: 'Customer' },
  ],
};

// Ten levels of ten: 10^9 copies of "lol" if anything expanded them.
const entities = Array.from({ length: 9 }, (_, level) => {
  const inner = `&lol${level};`.repeat(10);
  return `  <!ENTITY lol${level + 1} "${inner}">`;
});
const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE Orders [
  <!ENTITY lol0 "lol">
${entities.join('\n')}
]>
<Orders><Order number="PO-1"><Customer>&lol9;</Customer></Order></Orders>
`;

const externalEntity = `<?xml version="1.0"?>
<!DOCTYPE Orders [ <!ENTITY secret SYSTEM "file:///etc/passwd"> ]>
<Orders><Order number="PO-1"><Customer>&secret;</Customer></Order></Orders>
`;

const externalDtd = `<?xml version="1.0"?>
<!DOCTYPE Orders SYSTEM "http://example.com/orders.dtd">
<Orders><Order number="PO-1"><Customer>C1</Customer></Order></Orders>
`;

const goodFile = `<?xml version="1.0"?>
<!DOCTYPE Orders>
<Orders><Order number="PO-1"><Customer>C &amp; 1</Customer></Order></Orders>
`;

const database = useTestDatabase('xml_entity_expansion');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE hostile_orders (order_number text PRIMARY KEY, customer_code text)',
  );
  harness = await startEngineHarness(pool, [orders]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

describe('hostile XML', () => {
  it.each([
    ['an entity expansion', billionLaughs],
    ['an external entity', externalEntity],
    ['an external DTD', externalDtd],
  ])('fails %s with HOSTILE_XML', async (_, body) => {
    const record = await harness.run({ entity: 'orders', format: 'xml', body });
    expect(record.state).toBe('failed');
    expect(record.failure?.code).toBe('HOSTILE_XML');
    expect(record.failure?.message).toMatch(/refused/);
    const stored = await pool.query(
      'SELECT count(*)::int AS n FROM hostile_orders',
    );
    expect(stored.rows[0].n).toBe(0);
  });

  it('lets the same worker complete the next import', async () => {
    const hostile = await harness.run({
      entity: 'orders',
      format: 'xml',
      body: billionLaughs,
    });
    expect(hostile.state).toBe('failed');

    const record = await harness.run({
      entity: 'orders',
      format: 'xml',
      body: goodFile,
    });
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({ read: 1, inserted: 1 });
    // The predefined entity is decoded once: `&amp;` is `&`.
    const stored = await pool.query(
      'SELECT order_number, customer_code FROM hostile_orders',
    );
    expect(stored.rows).toEqual([
      { order_number: 'PO-1', customer_code: 'C & 1' },
    ]);
  });
});
