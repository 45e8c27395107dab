import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import type { ImportError } from '../src/errors/import-error.js';
import type { ImportRecord } from '../src/index.js';
import type { DocumentLimits } from '../src/readers/document-limits.js';
import { createJsonReader } from '../src/readers/json-reader.js';
import type { ReadItem } from '../src/readers/record-reader.js';
import { createXmlReader } from '../src/readers/xml-reader.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// One huge value or record in a JSON or XML file (a 40 MB string, a
// 96 MB attribute) took the parse thread past its 64 MB heap, and V8
// aborted the whole worker process with every import in it. The readers
// now stop at a record limit (and the same limit on anything outside the
// records) with MALFORMED_FILE, before the memory is taken.

const orders: ImportDefinitionInput = {
  entity: 'orders',
  table: 'big_orders',
  key: ['order_number'],
  records: { xmlPath: '/Orders/Order' },
  columns: [
    { name: 'order_number', type: 'text', path: '@number' },
    { name: 'customer_code', type: 'text', path: 'Customer' },
  ],
};
const jsonOrders: ImportDefinitionInput = {
  entity: 'json_orders',
  table: 'big_orders',
  key: ['order_number'],
  columns: [
    { name: 'order_number', type: 'text' },
    { name: 'customer_code', type: 'text' },
  ],
};

function chunked(text: string, size = 64 * 1024): Readable {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) {
    chunks.push(bytes.subarray(offset, offset + size));
  }
  return Readable.from(chunks);
}

async function read(
  format: 'xml' | 'json',
  text: string,
  limits?: Partial<DocumentLimits>,
  definition = format === 'xml' ? orders : jsonOrders,
) {
  const reader =
    format === 'xml'
      ? createXmlReader(chunked(text), {
          definition: defineImport(definition),
          ...(limits && { limits }),
        })
      : createJsonReader(chunked(text), {
          definition: defineImport(definition),
          format: 'json',
          ...(limits && { limits }),
        });
  const items: ReadItem[] = [];
  try {
    for await (const item of reader.items()) items.push(item);
    return { items, failure: undefined };
  } catch (error) {
    return { items, failure: error as ImportError };
  }
}

const small = { maxRecordChars: 256 * 1024, maxRecordNodes: 1000 };
const big = (length: number) => 'A'.repeat(length);
/** One order, with `attributes` written as they are. */
const xmlOrder = (customer: string, attributes = 'number="1"') =>
  `<Orders><Order ${attributes}><Customer>${customer}</Customer></Order></Orders>`;

describe('the record limit of the readers', () => {
  it('fails an XML record over the limit, naming it and the limit', async () => {
    const text =
      '<Orders>\n<Order number="1"><Customer>C1</Customer></Order>\n' +
      `<Order number="2"><Customer>${big(300 * 1024)}</Customer></Order>\n` +
      '</Orders>';
    const { items, failure } = await read('xml', text, small);
    expect(items).toHaveLength(1);
    expect(failure?.code).toBe('MALFORMED_FILE');
    expect(failure?.message).toBe(
      'the record at /Orders/Order[2] (line 3) holds more than 256 KiB of ' +
        'XML, more than one record may hold',
    );
    expect(failure?.details).toMatchObject({
      path: '/Orders/Order[2]',
      line: 3,
      maxRecordChars: 256 * 1024,
    });
  });

  it('fails a JSON record over the limit, naming it and the limit', async () => {
    const second = `{"order_number":"2","customer_code":"${big(300 * 1024)}"}`;
    const text = `[{"order_number":"1"},\n${second}]`;
    const { items, failure } = await read('json', text, small);
    expect(items).toHaveLength(1);
    expect(failure?.code).toBe('MALFORMED_FILE');
    expect(failure?.message).toBe(
      'record 2 (line 2) holds more than 256 KiB of JSON, more than one ' +
        'record may hold',
    );
    expect(failure?.details).toMatchObject({ recordNumber: 2, line: 2 });
  });

  it('counts escapes as the characters they are written with', async () => {
    // 100 000 escapes make 200 KiB of text: under the limit, read whole.
    const escapes = '\\\\'.repeat(100_000);
    const text = `[{"order_number":"1","customer_code":"${escapes}"}]`;
    const { items, failure } = await read('json', text, small);
    expect(failure).toBeUndefined();
    expect(items).toMatchObject([
      { kind: 'record', record: { values: ['1', '\\'.repeat(100_000)] } },
    ]);
  });

  it('fails a record of too many elements or values', async () => {
    const elements = '<Item>x</Item>'.repeat(600);
    const xml = await read(
      'xml',
      `<Orders><Order number="1">${elements}</Order></Orders>`,
      small,
    );
    expect(xml.failure?.message).toBe(
      'the record at /Orders/Order[1] (line 1) holds more than 1000 ' +
        'elements, attributes and texts, more than one record may hold',
    );

    const values = Array.from({ length: 1200 }, () => '1').join(',');
    const json = await read(
      'json',
      `[{"order_number":"1","extra":[${values}]}]`,
      small,
    );
    expect(json.failure?.message).toBe(
      'record 1 (line 1) holds more than 1000 values, more than one record ' +
        'may hold',
    );
  });

  it('does not count the indentation between elements', async () => {
    const lines = '\n    <Line><Sku>S</Sku></Line>'.repeat(300);
    const order = `\n  <Order number="1">${lines}\n  </Order>\n`;
    const text = `<Orders>${order}</Orders>`;
    const { failure } = await read('xml', text, small);
    expect(failure).toBeUndefined();
  });

  it('limits any one text, tag or value outside the records too', async () => {
    const xmlText = await read(
      'xml',
      `<Orders><Note>${big(300 * 1024)}</Note></Orders>`,
      small,
    );
    expect(xmlText.failure?.code).toBe('MALFORMED_FILE');
    expect(xmlText.failure?.message).toBe(
      'a text, tag, comment or DOCTYPE running past line 1 is longer than ' +
        '256 KiB, the most one may hold',
    );

    const attribute = await read(
      'xml',
      `<Orders note="${big(300 * 1024)}"><Order number="1"/></Orders>`,
      small,
    );
    expect(attribute.failure?.code).toBe('MALFORMED_FILE');

    const comment = await read(
      'xml',
      `<Orders><!--${big(300 * 1024)}--></Orders>`,
      small,
    );
    expect(comment.failure?.code).toBe('MALFORMED_FILE');

    const jsonValue = await read(
      'json',
      `{"note":"${big(300 * 1024)}","items":[]}`,
      small,
      { ...jsonOrders, records: { jsonPath: 'items' } },
    );
    expect(jsonValue.failure?.code).toBe('MALFORMED_FILE');
    expect(jsonValue.failure?.message).toMatch(
      /^a value running past line 1 is longer than 256 KiB/,
    );
  });
});

// The probe's inputs, through the whole engine: files of at least 1 MiB
// are read in a parse thread, whose heap the value would have exhausted.
const database = useTestDatabase('document_record_too_large');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE big_orders (order_number text PRIMARY KEY, ' +
      'customer_code text)',
  );
  harness = await startEngineHarness(pool, [orders, jsonOrders]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

describe('a huge value through the engine', () => {
  const huge = big(40 * 1024 * 1024);

  async function expectRefused(record: ImportRecord) {
    expect(record.state).toBe('failed');
    expect(record.failure?.code).toBe('MALFORMED_FILE');
    expect(record.failure?.message).toMatch(/more than 4 MiB/);
    const stored = await pool.query(
      'SELECT count(*)::int AS n FROM big_orders',
    );
    expect(stored.rows[0].n).toBe(0);
  }

  it('fails a JSON string of 40 MB, and the worker goes on', async () => {
    const record = await harness.run({
      entity: 'json_orders',
      format: 'json',
      body: `[{"order_number":"1","customer_code":"${huge}"}]`,
    });
    await expectRefused(record);
    expect(record.failure?.message).toMatch(/^record 1 \(line 1\)/);
  }, 120_000);

  it('fails an XML text of 40 MB, and the worker goes on', async () => {
    const record = await harness.run({
      entity: 'orders',
      format: 'xml',
      body: xmlOrder(huge),
    });
    await expectRefused(record);
    expect(record.failure?.message).toMatch(
      /^the record at \/Orders\/Order\[1\]/,
    );
  }, 120_000);

  it('fails an XML attribute of 96 MB as MALFORMED_FILE', async () => {
    const record = await harness.run({
      entity: 'orders',
      format: 'xml',
      body: xmlOrder('C', `number="${big(96 * 1024 * 1024)}"`),
    });
    expect(record.state).toBe('failed');
    expect(record.failure?.code).toBe('MALFORMED_FILE');

    const next = await harness.run({
      entity: 'orders',
      format: 'xml',
      body: xmlOrder('C', 'number="PO-1"'),
    });
    expect(next.state).toBe('completed');
    expect(next.counts).toMatchObject({ read: 1, inserted: 1 });
  }, 180_000);
});
