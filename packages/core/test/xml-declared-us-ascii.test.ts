import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import type { ImportError } from '../src/errors/import-error.js';
import { normalizeEncodingName } from '../src/readers/decode.js';
import type { ReadItem } from '../src/readers/record-reader.js';
import { createXmlReader } from '../src/readers/xml-reader.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// `encoding="US-ASCII"` in an XML declaration (or `ascii` declared with
// the import) was refused as an unsupported encoding. ASCII is the first
// 128 characters of UTF-8, byte for byte: it is read as UTF-8, so a byte
// above 0x7F reads as UTF-8 reads it, or fails as invalid UTF-8 fails.

const orders: ImportDefinitionInput = {
  entity: 'orders',
  table: 'ascii_orders',
  key: ['order_number'],
  records: { xmlPath: '/Orders/Order' },
  columns: [
    { name: 'order_number', type: 'text', path: '@number' },
    { name: 'customer_code', type: 'text', path: 'Customer' },
  ],
};

async function read(bytes: Buffer) {
  const reader = createXmlReader(Readable.from([bytes]), {
    definition: defineImport(orders),
  });
  const items: ReadItem[] = [];
  try {
    for await (const item of reader.items()) items.push(item);
    return { items, failure: undefined, detected: reader.detected() };
  } catch (error) {
    return { items, failure: error as ImportError, detected: {} };
  }
}

const declared = (encoding: string, customer: Buffer | string) =>
  Buffer.concat([
    Buffer.from(
      `<?xml version="1.0" encoding="${encoding}"?>` +
        '<Orders><Order number="1"><Customer>',
    ),
    Buffer.from(customer),
    Buffer.from('</Customer></Order></Orders>'),
  ]);

describe('an XML document that declares ASCII', () => {
  it.each(['US-ASCII', 'us-ascii', 'ASCII', 'ANSI_X3.4-1968'])(
    'reads encoding="%s" as UTF-8',
    async (encoding) => {
      const { items, failure, detected } = await read(declared(encoding, 'C'));
      expect(failure).toBeUndefined();
      expect(detected).toEqual({ encoding: 'utf-8' });
      expect(items).toMatchObject([
        { kind: 'record', record: { values: ['1', 'C'] } },
      ]);
    },
  );

  it('fails a byte that is not UTF-8, as UTF-8 does', async () => {
    const { failure } = await read(
      declared('US-ASCII', Buffer.from([0x63, 0x61, 0x66, 0xe9])),
    );
    expect(failure?.code).toBe('ENCODING_ERROR');
  });

  it('takes the names of ASCII as UTF-8 wherever an encoding is declared', () => {
    expect(normalizeEncodingName('US-ASCII')).toBe('utf-8');
    expect(normalizeEncodingName('ascii')).toBe('utf-8');
  });
});

const database = useTestDatabase('xml_declared_us_ascii');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE ascii_orders (order_number text PRIMARY KEY, customer_code text)',
  );
  harness = await startEngineHarness(pool, [orders]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

describe('an import that declares ASCII', () => {
  it('is accepted and read, in the document or with the import', async () => {
    const inDocument = await harness.run({
      entity: 'orders',
      format: 'xml',
      body: declared('US-ASCII', 'C1'),
    });
    expect(inDocument.state).toBe('completed');
    expect(inDocument.detected).toMatchObject({ encoding: 'utf-8' });

    const withImport = await harness.run({
      entity: 'orders',
      format: 'xml',
      encoding: 'US-ASCII',
      body: '<Orders><Order number="2"><Customer>C2</Customer></Order></Orders>',
    });
    expect(withImport.state).toBe('completed');
    const stored = await pool.query(
      'SELECT order_number, customer_code FROM ascii_orders ORDER BY 1',
    );
    expect(stored.rows).toEqual([
      { order_number: '1', customer_code: 'C1' },
      { order_number: '2', customer_code: 'C2' },
    ]);
  });
});
