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

// The fix file (`GET /imports/:id/errors?format=original`): case 03's
// rejected record comes back `;`-delimited, in its encoding, line ends
// and column order, with `_line`, `_column`, `_code` and `_message`
// added; corrected, the same file imports cleanly (the added columns are
// unknown fields, which the definition ignores).

const case03 = sharedPath(
  'cases',
  '03-csv-semicolon-decimal-comma',
  'prices_ptbr.csv',
);

const prices = {
  entity: 'prices',
  table: 'prices',
  key: ['sku'],
  locale: 'pt-BR',
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'descricao', type: 'text', nullable: false },
    {
      name: 'preco',
      type: 'numeric',
      precision: 12,
      scale: 2,
      nullable: false,
    },
    { name: 'estoque', type: 'integer', nullable: false },
    { name: 'vigencia', type: 'date', nullable: false },
  ],
} satisfies ImportDefinitionInput;

const database = useTestDatabase('fix_file');
let pool: pg.Pool;
let importer: Importer;
let server: Server;
let base: string;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 3 });
  await pool.query(`
    CREATE TABLE prices (
      sku text PRIMARY KEY,
      descricao text NOT NULL,
      preco numeric(12, 2) NOT NULL,
      estoque integer NOT NULL,
      vigencia date NOT NULL
    )`);
  importer = createImporter({
    definitions: [prices],
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
async function upload(body: Buffer, query = 'entity=prices&format=csv') {
  const response = await fetch(`${base}/imports?${query}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'text/csv' },
    body: new Uint8Array(body),
  });
  expect(response.status).toBe(202);
  const queued = (await response.json()) as PublicImportRecord;
  return importer.process(queued.id);
}

async function fixFile(id: string): Promise<Response> {
  return fetch(`${base}/imports/${id}/errors?format=original`, {
    headers: auth,
  });
}

describe('the fix file of case 03', () => {
  it('is `;`-delimited in the original column order, and imports cleanly once corrected', async () => {
    const first = await upload(await readFile(case03));
    expect(first.state).toBe('completed');
    expect(first.counts).toMatchObject({ inserted: 3, rejected: 1 });

    const response = await fixFile(first.id);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(
      'text/csv; charset=utf-8',
    );
    expect(response.headers.get('content-disposition')).toContain('-fix.csv');
    const text = await response.text();
    const lines = text.split('\r\n');
    // A header, one rejected record, and the final line end.
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(lines[0]).toBe(
      'sku;descricao;preco;estoque;vigencia;_line;_column;_code;_message',
    );
    expect(lines[1]).toMatch(
      /^P-103;Bucha 6mm;12\.5;10;28\/02\/2025;5;preco;invalid_number;.*12\.5/,
    );

    const corrected = text.replace(';12.5;', ';12,50;');
    const second = await upload(Buffer.from(corrected, 'utf8'));
    expect(second.state).toBe('completed');
    expect(second.detected.delimiter).toBe(';');
    expect(second.counts).toMatchObject({ read: 1, inserted: 1, rejected: 0 });
    const stored = await pool.query(
      "SELECT preco::text AS preco FROM prices WHERE sku = 'P-103'",
    );
    expect(stored.rows).toEqual([{ preco: '12.50' }]);

    // With nothing rejected there is nothing to fix: said as such (its
    // stored file is gone, and the file store's key is not named).
    const none = await fixFile(second.id);
    expect(none.status).toBe(409);
    const problem = (await none.json()) as { detail: string };
    expect(problem.detail).toBe(
      `import ${second.id} rejected no record: it has no fix file`,
    );
  });

  it('keeps Windows-1252, LF line ends and several errors of one record', async () => {
    const text =
      'sku,descricao,preco,estoque,vigencia\n' +
      'W-1,Ação,"1,00",1,01/01/2025\n' +
      'W-2,Pão de açúcar,abc,x,01/01/2025\n';
    const done = await upload(
      iconv.encode(text, 'windows-1252'),
      'entity=prices&format=csv&delimiter=,',
    );
    expect(done.detected.encoding).toBe('windows-1252');
    expect(done.counts).toMatchObject({ read: 2, inserted: 1, rejected: 1 });

    const response = await fixFile(done.id);
    expect(response.headers.get('content-type')).toBe(
      'text/csv; charset=windows-1252',
    );
    const bytes = Buffer.from(await response.arrayBuffer());
    const lines = iconv.decode(bytes, 'windows-1252').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      /^W-2,Pão de açúcar,abc,x,01\/01\/2025,3,preco \| estoque,invalid_number \| invalid_integer,/,
    );
    expect(bytes.includes(Buffer.from('P\xe3o', 'latin1'))).toBe(true);
  });

  it('pads a ragged row so the added columns stand under their names', async () => {
    const text =
      'sku;descricao;preco;estoque;vigencia\r\n' +
      'R-1;Curta;1,00\r\n' +
      'R-2;Certa;2,00;2;01/01/2025\r\n';
    const done = await upload(Buffer.from(text));
    expect(done.counts).toMatchObject({ read: 2, inserted: 1, rejected: 1 });

    const lines = (await (await fixFile(done.id)).text()).split('\r\n');
    const header = lines[0]!.split(';');
    const row = lines[1]!.split(';');
    expect(row).toHaveLength(header.length);
    expect(row[header.indexOf('_line')]).toBe('2');
    expect(row[header.indexOf('_code')]).toBe('ragged_row');
  });
});
