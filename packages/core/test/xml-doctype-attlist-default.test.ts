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

// A DOCTYPE whose internal subset gives an attribute default
// (`<!ATTLIST Order number CDATA "PO-7">`) was read with the default
// ignored, so a key attribute the document leaves out read NULL instead
// of PO-7. saxes does not apply defaults, and applying them after it
// would miss a defaulted `xmlns`: such a DOCTYPE is refused with
// HOSTILE_XML, like entity declarations. And `<!ENTITY` inside a comment
// of the subset was taken for a declaration: the subset is now scanned,
// so comments and quoted literals declare nothing.

const orders: ImportDefinitionInput = {
  entity: 'orders',
  table: 'doctype_orders',
  key: ['order_number'],
  records: { xmlPath: '/Orders/Order' },
  columns: [
    { name: 'order_number', type: 'text', path: '@number' },
    { name: 'customer_code', type: 'text', path: 'Customer' },
  ],
};

async function read(text: string) {
  const reader = createXmlReader(Readable.from([Buffer.from(text)]), {
    definition: defineImport(orders),
  });
  const items: ReadItem[] = [];
  try {
    for await (const item of reader.items()) items.push(item);
    return { items, failure: undefined };
  } catch (error) {
    return { items, failure: error as ImportError };
  }
}

const document = (subset: string) =>
  `<!DOCTYPE Orders [${subset}]><Orders><Order number="1">` +
  '<Customer>C</Customer></Order></Orders>';

describe('a DOCTYPE with attribute defaults', () => {
  it('is refused with HOSTILE_XML, naming the declaration', async () => {
    const { items, failure } = await read(
      '<!DOCTYPE Orders [<!ATTLIST Order number CDATA "PO-7">]>' +
        '<Orders><Order><Customer>C</Customer></Order></Orders>',
    );
    expect(items).toEqual([]);
    expect(failure?.code).toBe('HOSTILE_XML');
    expect(failure?.message).toBe(
      'the DOCTYPE gives attribute defaults (<!ATTLIST Order number CDATA ' +
        '"PO-7">), which this reader does not apply; the document is ' +
        'refused rather than read without them',
    );
    expect(failure?.details).toEqual({
      declaresEntities: false,
      external: false,
      attributeDefaults: true,
    });
  });

  it.each([
    ['a #FIXED value', '<!ATTLIST Order kind CDATA #FIXED "sale">'],
    ['a default of an enumeration', "<!ATTLIST Order kind (a|b) 'a'>"],
    [
      'a default after others',
      '<!ATTLIST Order id ID #REQUIRED\n  kind CDATA "sale">',
    ],
  ])('refuses %s', async (_, declaration) => {
    expect((await read(document(declaration))).failure?.code).toBe(
      'HOSTILE_XML',
    );
  });

  it.each([
    [
      '#IMPLIED and #REQUIRED attributes',
      '<!ATTLIST Order note CDATA #IMPLIED number CDATA #REQUIRED>',
    ],
    ['element declarations', '<!ELEMENT Orders (Order*)><!ELEMENT Order ANY>'],
    ['a comment that mentions <!ENTITY', '<!-- no <!ENTITY here -->'],
    [
      'a comment that mentions a default',
      '<!-- <!ATTLIST Order number CDATA "x"> -->',
    ],
    ['a processing instruction', '<?note <!ENTITY x "y"> ?>'],
  ])('accepts %s', async (_, subset) => {
    const { items, failure } = await read(document(subset));
    expect(failure).toBeUndefined();
    expect(items).toMatchObject([
      { kind: 'record', record: { values: ['1', 'C'] } },
    ]);
  });

  it('still refuses entities, whatever follows them', async () => {
    for (const subset of [
      '<!ENTITY lol "lol">',
      '<!-- c --><!entity lol "lol">',
      '<!ENTITY % pe SYSTEM "http://x/y.dtd"> %pe;',
      '%pe;',
    ]) {
      const { failure } = await read(document(subset));
      expect(failure?.code).toBe('HOSTILE_XML');
      expect(failure?.details).toMatchObject({ declaresEntities: true });
    }
  });
});

const database = useTestDatabase('xml_doctype_attlist_default');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE doctype_orders (order_number text PRIMARY KEY, customer_code text)',
  );
  harness = await startEngineHarness(pool, [orders]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

describe('an import with an attribute default', () => {
  it('fails HOSTILE_XML and stores nothing', async () => {
    const record = await harness.run({
      entity: 'orders',
      format: 'xml',
      body:
        '<!DOCTYPE Orders [<!ATTLIST Order number CDATA "PO-7">]>' +
        '<Orders><Order><Customer>C</Customer></Order></Orders>',
    });
    expect(record.state).toBe('failed');
    expect(record.failure?.code).toBe('HOSTILE_XML');
    const stored = await pool.query(
      'SELECT count(*)::int AS n FROM doctype_orders',
    );
    expect(stored.rows[0].n).toBe(0);
  });
});
