import express from 'express';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import iconv from 'iconv-lite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import { createImportRouter } from '../src/express.js';
import {
  createImporter,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
  type ImportDefinitionInput,
  type Importer,
  type PublicImportRecord,
} from '../src/index.js';
import {
  jsonOrdersDefinition,
  recreateOrderTables,
  storedLines,
} from './order-lines-fixtures.js';

// The fix file (`GET /imports/:id/errors?format=original`) of JSON,
// NDJSON and XML imports: the rejected records in the file's own format
// and encoding, each with its errors (an `_errors` member, an XML
// comment), placed where the definition finds records; corrected, the
// same file imports cleanly.

const nfeFile = sharedPath(
  'data',
  'nfe-35180834128745000152550010000476861118934859.xml',
);

const itemColumns = [
  { name: 'sku', type: 'text' },
  { name: 'name', type: 'text' },
  { name: 'qty', type: 'integer', nullable: false },
  { name: 'ean', type: 'numeric' },
] satisfies ImportDefinitionInput['columns'];

const jsonItems = {
  entity: 'json_items',
  table: 'json_items',
  key: ['sku'],
  records: { jsonPath: 'data.items' },
  columns: itemColumns,
} satisfies ImportDefinitionInput;

const ndjsonItems = {
  entity: 'ndjson_items',
  table: 'ndjson_items',
  key: ['sku'],
  columns: itemColumns,
} satisfies ImportDefinitionInput;

const xmlOrders = {
  entity: 'xml_orders',
  table: 'xml_orders',
  key: ['id'],
  namespaces: { o: 'urn:orders' },
  records: { xmlPath: '/o:Orders/o:Order' },
  columns: [
    { name: 'id', type: 'text', path: '@id' },
    { name: 'sku', type: 'text', path: 'o:sku' },
    { name: 'qty', type: 'integer', path: 'o:qty', nullable: false },
    { name: 'note', type: 'text', path: 'o:note' },
  ],
} satisfies ImportDefinitionInput;

const jsonOrders = jsonOrdersDefinition();

const NFE = 'http://www.portalfiscal.inf.br/nfe';
const invoices = {
  entity: 'nfe_invoices',
  table: 'nfe_invoices',
  key: ['access_key'],
  namespaces: { nfe: NFE },
  records: { xmlPath: '/nfe:nfeProc/nfe:NFe/nfe:infNFe' },
  columns: [
    { name: 'access_key', type: 'text', path: '@Id', stripPrefix: 'NFe' },
    { name: 'number', type: 'integer', path: 'nfe:ide/nfe:nNF' },
  ],
  children: [
    {
      entity: 'nfe_invoice_items',
      table: 'nfe_invoice_items',
      path: 'nfe:det',
      key: ['access_key', 'item_number'],
      columns: [
        { name: 'access_key', type: 'text', fromParent: 'access_key' },
        { name: 'item_number', type: 'integer', path: '@nItem' },
        { name: 'quantity', type: 'numeric', path: 'nfe:prod/nfe:qCom' },
      ],
    },
  ],
} satisfies ImportDefinitionInput;

const database = useTestDatabase('fix_file_json_xml');
let pool: pg.Pool;
let importer: Importer;
let server: Server;
let base: string;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 3 });
  for (const table of ['json_items', 'ndjson_items']) {
    await pool.query(`
      CREATE TABLE ${table} (
        sku text PRIMARY KEY, name text, qty integer NOT NULL, ean numeric
      )`);
  }
  await pool.query(`
    CREATE TABLE xml_orders (
      id text PRIMARY KEY, sku text, qty integer NOT NULL, note text
    );
    CREATE TABLE nfe_invoices (access_key text PRIMARY KEY, number integer);
    CREATE TABLE nfe_invoice_items (
      access_key text, item_number integer, quantity numeric,
      PRIMARY KEY (access_key, item_number)
    )`);
  await recreateOrderTables(pool);
  importer = createImporter({
    definitions: [jsonItems, ndjsonItems, jsonOrders, xmlOrders, invoices],
    database: pool,
    queue: createMemoryQueue(),
    statusStore: createMemoryStatusStore(),
    errorLog: createMemoryErrorLog(),
    fileStore: createMemoryFileStore(),
  });
  const app = express();
  app.use(
    '/api',
    createImportRouter(importer, { authenticate: () => ({ tenant: 'acme' }) }),
  );
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await pool?.end();
});

const auth = { authorization: 'Bearer t' };

// Uploads through the API, then processes the import in this process.
async function upload(body: Buffer | string, query: string) {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const response = await fetch(`${base}/imports?${query}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(bytes),
  });
  expect(response.status).toBe(202);
  const queued = (await response.json()) as PublicImportRecord;
  return importer.process(queued.id);
}

async function fixFile(id: string): Promise<Response> {
  const response = await fetch(`${base}/imports/${id}/errors?format=original`, {
    headers: auth,
  });
  expect(response.status).toBe(200);
  return response;
}

describe('the fix file of a JSON import', () => {
  it('holds the rejected records as written, with `_errors`, at the same path', async () => {
    const source =
      '{"meta": {"exported": "2025-01-01"},\n' +
      ' "data": {"items": [\n' +
      '  {"sku": "J-1", "name": "ok", "qty": 1, "ean": 1},\n' +
      '  {"sku": "J-2", "qty": "abc", "name": "aspas \\" e \\\\ e\\nção",' +
      ' "ean": 12345678901234567890123, "extra": {"z": 1.50, "a": [true, null]}},\n' +
      '  {"sku": "J-3", "name": "ok", "qty": 3},\n' +
      '  {"sku": "J-4", "name": "x", "qty": 1.5, "ean": 7}\n' +
      ' ]}}\n';
    const first = await upload(
      source,
      'entity=json_items&format=json&fileName=items.json',
    );
    expect(first.counts).toMatchObject({ read: 4, inserted: 2, rejected: 2 });

    const response = await fixFile(first.id);
    expect(response.headers.get('content-type')).toBe(
      'application/json; charset=utf-8',
    );
    expect(response.headers.get('content-disposition')).toContain(
      'items-fix.json',
    );
    const text = await response.text();
    // The big integer and the decimal keep their written digits.
    expect(text).toContain('"ean": 12345678901234567890123,');
    expect(text).toContain('"z": 1.50,');
    const parsed = JSON.parse(text) as {
      data: { items: Array<Record<string, unknown>> };
    };
    expect(Object.keys(parsed)).toEqual(['data']);
    const [second, fourth, ...rest] = parsed.data.items;
    expect(rest).toEqual([]);
    expect(Object.keys(second ?? {})).toEqual([
      'sku',
      'qty',
      'name',
      'ean',
      'extra',
      '_errors',
    ]);
    expect(second).toMatchObject({
      sku: 'J-2',
      qty: 'abc',
      name: 'aspas " e \\ e\nção',
      extra: { z: 1.5, a: [true, null] },
      _errors: [
        {
          path: '$.data.items[1]',
          column: 'qty',
          code: 'invalid_integer',
          message: expect.any(String),
        },
      ],
    });
    expect(fourth).toMatchObject({
      sku: 'J-4',
      qty: 1.5,
      _errors: [{ path: '$.data.items[3]', column: 'qty' }],
    });

    const corrected = text
      .replace('"qty": "abc"', '"qty": 20')
      .replace('"qty": 1.5', '"qty": 40');
    const again = await upload(corrected, 'entity=json_items&format=json');
    expect(again.state).toBe('completed');
    expect(again.counts).toMatchObject({ read: 2, inserted: 2, rejected: 0 });
    const stored = await pool.query(
      'SELECT sku, name, qty, ean::text AS ean FROM json_items ORDER BY sku',
    );
    expect(stored.rows).toEqual([
      { sku: 'J-1', name: 'ok', qty: 1, ean: '1' },
      {
        sku: 'J-2',
        name: 'aspas " e \\ e\nção',
        qty: 20,
        ean: '12345678901234567890123',
      },
      { sku: 'J-3', name: 'ok', qty: 3, ean: null },
      { sku: 'J-4', name: 'x', qty: 40, ean: '7' },
    ]);
  });
});

describe('the fix file of a JSON import with child records', () => {
  it('gives a rejected parent once, and the parent of a rejected child', async () => {
    const source = JSON.stringify([
      {
        number: 'O-1',
        customer: null,
        details: [
          { Sku: 'a', Qty: 1 },
          { Sku: 'b', Qty: 2 },
        ],
      },
      { number: 'O-2', customer: 'c2', details: [{ Sku: 'c', Qty: 'x' }] },
      { number: 'O-3', customer: 'c3', details: [{ Sku: 'd', Qty: 4 }] },
    ]);
    const first = await upload(source, 'entity=json_orders&format=json');
    expect(first.counts).toMatchObject({ read: 7, rejected: 4 });

    const parsed = JSON.parse(await (await fixFile(first.id)).text()) as Array<{
      number: string;
      customer: string | null;
      _errors: Array<{ path: string; column: string; code: string }>;
    }>;
    expect(parsed.map((order) => order.number)).toEqual(['O-1', 'O-2']);
    // The children's `parent_rejected` adds nothing to the parent's own.
    expect(parsed[0]?._errors).toEqual([
      expect.objectContaining({ path: '$[0]', column: 'customer_code' }),
    ]);
    expect(parsed[1]?._errors).toEqual([
      expect.objectContaining({
        path: '$[1].details[0]',
        column: 'qty',
        code: 'invalid_integer',
      }),
    ]);

    const corrected = JSON.stringify(
      parsed.map((order) => ({
        ...order,
        customer: order.customer ?? 'c1',
        details: (order as unknown as { details: unknown[] }).details.map(
          (line) => ({ ...(line as object), Qty: 9 }),
        ),
      })),
    );
    const again = await upload(corrected, 'entity=json_orders&format=json');
    expect(again.counts).toMatchObject({ read: 5, rejected: 0 });
    expect(await storedLines(pool)).toEqual([
      ['O-1', 1, 'a', 9],
      ['O-1', 2, 'b', 9],
      ['O-2', 1, 'c', 9],
      ['O-3', 1, 'd', 4],
    ]);
  });
});

describe('the fix file of an NDJSON import', () => {
  it('is one line a rejected record, in the file line ends, `_errors` replaced', async () => {
    const source =
      '{"sku":"N-1","name":"a","qty":1}\r\n' +
      '{"sku":"N-2","name":"b","qty":"x","_errors":[{"old":true}],"ean":9}\r\n' +
      '{"sku":"N-3","name":"c","qty":3}\r\n';
    const first = await upload(source, 'entity=ndjson_items&format=ndjson');
    expect(first.counts).toMatchObject({ read: 3, inserted: 2, rejected: 1 });

    const response = await fixFile(first.id);
    expect(response.headers.get('content-type')).toBe(
      'application/x-ndjson; charset=utf-8',
    );
    const text = await response.text();
    const lines = text.split('\r\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    const errors = await importer.errors('acme', first.id, { limit: 10 });
    const message = JSON.stringify(errors.items[0]?.message);
    expect(lines[0]).toBe(
      '{"sku":"N-2","name":"b","qty":"x","ean":9,"_errors":[{"path":"$[1]",' +
        `"column":"qty","code":"invalid_integer","message":${message}}]}`,
    );

    const again = await upload(
      text.replace('"qty":"x"', '"qty":2'),
      'entity=ndjson_items&format=ndjson',
    );
    expect(again.counts).toMatchObject({ read: 1, inserted: 1, rejected: 0 });
    const stored = await pool.query(
      "SELECT qty, ean::text AS ean FROM ndjson_items WHERE sku = 'N-2'",
    );
    expect(stored.rows).toEqual([{ qty: 2, ean: '9' }]);
  });
});

describe('the fix file of an XML import', () => {
  it('keeps the root, its namespaces and the encoding, with the rejected record only', async () => {
    const badOrder =
      '<o:Order id="2" x:flag="a&lt;b &amp; &quot;c&quot;">\n' +
      '    <o:sku>Pão &amp; "queijo" &lt;1kg&gt;</o:sku>\n' +
      '    <o:qty>abc</o:qty>\n' +
      '    <o:note><![CDATA[ <b>ação</b> ]]></o:note>\n' +
      '    <!-- conferir -->\n' +
      '    <x:extra xmlns:y="urn:y" y:z="1"/>\n' +
      '  </o:Order>';
    const source =
      '<?xml version="1.0" encoding="ISO-8859-1"?>\n' +
      '<o:Orders xmlns:o="urn:orders" xmlns:x="urn:ext" o:batch="7">\n' +
      '  <o:Header>não é um pedido</o:Header>\n' +
      '  <o:Order id="1"><o:sku>A&amp;B</o:sku><o:qty>3</o:qty></o:Order>\n' +
      `  ${badOrder}\n` +
      '  <o:Order id="3"><o:sku>C</o:sku><o:qty>5</o:qty><o:note/></o:Order>\n' +
      '</o:Orders>\n';
    const first = await upload(
      iconv.encode(source, 'latin1'),
      'entity=xml_orders&format=xml&fileName=orders.xml',
    );
    expect(first.detected.encoding).toBe('iso-8859-1');
    expect(first.counts).toMatchObject({ read: 3, inserted: 2, rejected: 1 });

    const response = await fixFile(first.id);
    expect(response.headers.get('content-type')).toBe(
      'application/xml; charset=iso-8859-1',
    );
    expect(response.headers.get('content-disposition')).toContain(
      'orders-fix.xml',
    );
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.includes(Buffer.from('P\xe3o', 'latin1'))).toBe(true);
    const text = iconv.decode(bytes, 'latin1');
    const errors = await importer.errors('acme', first.id, { limit: 10 });
    expect(errors.items).toHaveLength(1);
    expect(text).toBe(
      '<?xml version="1.0" encoding="ISO-8859-1"?>\n' +
        '<o:Orders xmlns:o="urn:orders" xmlns:x="urn:ext" o:batch="7">\n' +
        '  <!-- _errors:\n' +
        '    /o:Orders/o:Order[2] | qty | invalid_integer | ' +
        `${errors.items[0]?.message}\n` +
        '  -->\n' +
        `  ${badOrder}\n` +
        '</o:Orders>\n',
    );

    const corrected = text.replace('<o:qty>abc</o:qty>', '<o:qty>4</o:qty>');
    const again = await upload(
      iconv.encode(corrected, 'latin1'),
      'entity=xml_orders&format=xml',
    );
    expect(again.counts).toMatchObject({ read: 1, inserted: 1, rejected: 0 });
    const stored = await pool.query(
      "SELECT sku, qty, note FROM xml_orders WHERE id = '2'",
    );
    expect(stored.rows).toEqual([
      { sku: 'Pão & "queijo" <1kg>', qty: 4, note: ' <b>ação</b> ' },
    ]);
  });

  it('gives back a whole NF-e for one bad item, under its ancestors', async () => {
    const original = await readFile(nfeFile, 'utf8');
    // Item 3's quantity made unreadable.
    const thirdItem = /<det nItem="3">[\s\S]*?<qCom>([^<]*)<\/qCom>/.exec(
      original,
    );
    const quantity = thirdItem?.[1] as string;
    const at = (thirdItem?.index ?? 0) + (thirdItem?.[0].length ?? 0);
    const broken =
      original
        .slice(0, at)
        .replace(/<qCom>[^<]*<\/qCom>$/, '<qCom>3,x</qCom>') +
      original.slice(at);
    const first = await upload(broken, 'entity=nfe_invoices&format=xml');
    expect(first.counts).toMatchObject({ read: 42, inserted: 41, rejected: 1 });

    const text = await (await fixFile(first.id)).text();
    expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(
      true,
    );
    expect(text).toContain(
      `<nfeProc xmlns="${NFE}" versao="4.00">\n  <NFe xmlns="${NFE}">\n` +
        '    <!-- _errors:\n' +
        '      /nfeProc/NFe/infNFe[1]/det[3] | quantity | invalid_number | ',
    );
    expect(text).not.toContain('Signature');
    expect(text.match(/<infNFe /g)).toHaveLength(1);
    // The invoice element comes back exactly as the file wrote it.
    const invoice = (document: string) =>
      /<infNFe [\s\S]*<\/infNFe>/.exec(document)?.[0];
    expect(invoice(text)).toBe(invoice(broken));
    expect(text.endsWith('</infNFe>\n  </NFe>\n</nfeProc>\n')).toBe(true);

    const corrected = text.replace(
      '<qCom>3,x</qCom>',
      `<qCom>${quantity}</qCom>`,
    );
    const again = await upload(corrected, 'entity=nfe_invoices&format=xml');
    expect(again.counts).toMatchObject({ read: 42, rejected: 0 });
    expect(again.counts.entities?.nfe_invoice_items).toMatchObject({
      read: 41,
      inserted: 1,
      rejected: 0,
    });
    const stored = await pool.query(
      'SELECT count(*)::int AS items FROM nfe_invoice_items',
    );
    expect(stored.rows).toEqual([{ items: 41 }]);
  });
});
