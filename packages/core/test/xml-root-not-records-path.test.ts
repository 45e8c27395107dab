import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import type { ImportError } from '../src/errors/import-error.js';
import type { ReadItem } from '../src/readers/record-reader.js';
import { createXmlReader } from '../src/readers/xml-reader.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// An XML file whose root is not the one `records.xmlPath` starts with
// (another entity's export, `<Customers>` sent as `/Orders/Order`)
// completed with 0 records, and in sync mode deleted every row of the
// tenant. It now fails MALFORMED_FILE, as JSON without its records' array
// does, while a file that reaches the records' container and holds none
// (`<Orders/>`) still completes with 0 records.

const orders: ImportDefinitionInput = {
  entity: 'orders',
  table: 'root_orders',
  key: ['order_number'],
  tenantColumn: 'tenant_id',
  allowedModes: ['upsert', 'sync'],
  records: { xmlPath: '/Orders/Order' },
  columns: [
    { name: 'order_number', type: 'text', path: '@number' },
    { name: 'customer_code', type: 'text', path: 'Customer' },
  ],
};

async function read(text: string, records?: { xmlPath?: string }) {
  const definition = defineImport({
    ...orders,
    ...(records !== undefined && { records }),
  });
  const reader = createXmlReader(Readable.from([Buffer.from(text)]), {
    definition,
  });
  const items: ReadItem[] = [];
  try {
    for await (const item of reader.items()) items.push(item);
    return { items, failure: undefined };
  } catch (error) {
    return { items, failure: error as ImportError };
  }
}

const customers = '<Customers><Customer><Code>C1</Code></Customer></Customers>';

describe('an XML document and its records path', () => {
  it('fails a document whose root is not the path first step', async () => {
    const { failure } = await read(customers);
    expect(failure?.code).toBe('MALFORMED_FILE');
    expect(failure?.message).toBe(
      'the document has no element at "/Orders", where the records of ' +
        '"/Orders/Order" sit (its root is <Customers>); it is not a file ' +
        'of entity "orders"',
    );
    expect(failure?.details).toEqual({
      recordsPath: '/Orders/Order',
      root: 'Customers',
    });
  });

  it('fails a path that stops short inside the right root', async () => {
    const { failure } = await read('<Export><Header/></Export>', {
      xmlPath: '/Export/Invoices/Invoice',
    });
    expect(failure?.message).toMatch(
      /^the document has no element at "\/Export\/Invoices"/,
    );
  });

  it('completes an empty container, or one without records, with none', async () => {
    for (const text of [
      '<Orders/>',
      '<?xml version="1.0"?>\n<Orders>\n</Orders>',
      '<Orders><Header created="2024-01-01"/></Orders>',
    ]) {
      expect(await read(text)).toEqual({ items: [], failure: undefined });
    }
  });

  it('finds the container at any depth for a path that starts with //', async () => {
    const anywhere = { xmlPath: '//Batch/Order' };
    expect(
      (await read('<Export><Batch/></Export>', anywhere)).failure,
    ).toBeUndefined();
    expect((await read(customers, anywhere)).failure?.message).toMatch(
      /^the document has no element at "\/\/Batch"/,
    );
  });

  it('needs a record itself when the path names no container', async () => {
    // `//Order` and `/Order` leave nothing to tell an empty export from
    // another document: the file must hold a record.
    for (const xmlPath of ['//Order', '/Order']) {
      const { failure } = await read(customers, { xmlPath });
      expect(failure?.code).toBe('MALFORMED_FILE');
      expect(failure?.message).toBe(
        `the document holds no element at "${xmlPath}" (its root is ` +
          '<Customers>); it is not a file of entity "orders"',
      );
    }
    const found = await read(
      '<Order number="1"><Customer>C</Customer></Order>',
      { xmlPath: '/Order' },
    );
    expect(found.items).toHaveLength(1);
  });

  it('takes the root as the container when no path is declared', async () => {
    // Every child of the root is then a record: any root will do.
    const { failure } = await read('<Anything/>', {});
    expect(failure).toBeUndefined();
  });
});

const database = useTestDatabase('xml_root_not_records_path');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE root_orders (tenant_id text NOT NULL, order_number text ' +
      'NOT NULL, customer_code text, PRIMARY KEY (tenant_id, order_number))',
  );
  harness = await startEngineHarness(pool, [orders]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

describe('a sync of another document', () => {
  it('fails, and leaves every row of the tenant in place', async () => {
    const first = await harness.run({
      entity: 'orders',
      format: 'xml',
      body:
        '<Orders><Order number="PO-1"><Customer>C1</Customer></Order>' +
        '<Order number="PO-2"><Customer>C2</Customer></Order></Orders>',
    });
    expect(first.state).toBe('completed');

    const wrong = await harness.run({
      entity: 'orders',
      format: 'xml',
      body: customers,
      load: { mode: 'sync' },
    });
    expect(wrong.state).toBe('failed');
    expect(wrong.failure?.code).toBe('MALFORMED_FILE');
    const stored = await pool.query(
      'SELECT order_number FROM root_orders ORDER BY 1',
    );
    expect(stored.rows).toEqual([
      { order_number: 'PO-1' },
      { order_number: 'PO-2' },
    ]);
  });

  it('still empties the tenant with a sync of an empty container', async () => {
    const empty = await harness.run({
      entity: 'orders',
      format: 'xml',
      body: '<Orders/>',
      load: { mode: 'sync' },
    });
    expect(empty.state).toBe('completed');
    expect(empty.counts).toMatchObject({ read: 0, deleted: 2 });
  });
});
