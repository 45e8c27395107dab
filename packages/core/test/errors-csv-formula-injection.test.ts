import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { parse } from 'csv-parse/sync';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

// The audit CSV of rejected rows (`GET /imports/:id/errors?format=csv`)
// once wrote raw values such as `=HYPERLINK("http://evil")` as they came,
// and spreadsheets opening it ran them as formulas. Every cell that
// begins with = + - @, a tab or a carriage return now starts with a
// single quote (OWASP's rule). The fix file (`?format=original`) must
// still give the sender's own values back untouched, for re-upload.

const codes = {
  entity: 'codes',
  table: 'codes',
  key: ['code'],
  columns: [
    { name: 'code', type: 'text', length: 4 },
    { name: 'note', type: 'text' },
  ],
} satisfies ImportDefinitionInput;

// Each too long for `code`, so each is logged with its raw value.
const hostile = [
  '=HYPERLINK("http://evil")',
  "+cmd|' /C calc'!A0",
  '-2+3+cmd',
  '@SUM(1+1)',
  '\t=1+23456',
  '\r=1+23456',
];

const database = useTestDatabase('errors_csv_formula_injection');
let pool: pg.Pool;
let importer: Importer;
let server: Server;
let base: string;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 3 });
  await pool.query('CREATE TABLE codes (code text PRIMARY KEY, note text)');
  importer = createImporter({
    definitions: [codes],
    database: pool,
    queue: createMemoryQueue(),
    statusStore: createMemoryStatusStore(),
    errorLog: createMemoryErrorLog(),
    fileStore: createMemoryFileStore(),
  });
  const app = express();
  app.use(
    createImportRouter(importer, { authenticate: () => ({ tenant: 'a' }) }),
  );
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await pool?.end();
});

const auth = { authorization: 'Bearer t' };

function csvOf(rows: string[][]): string {
  const field = (value: string) => `"${value.replaceAll('"', '""')}"`;
  return rows.map((row) => row.map(field).join(',')).join('\r\n') + '\r\n';
}

const upload = csvOf([
  ['code', 'note'],
  ['OK1', 'fine'],
  ...hostile.map((value, index) => [value, `hostile ${index}`]),
]);

async function importUpload(): Promise<PublicImportRecord> {
  const response = await fetch(`${base}/imports?entity=codes&format=csv`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'text/csv' },
    body: upload,
  });
  expect(response.status).toBe(202);
  const queued = (await response.json()) as PublicImportRecord;
  const done = await importer.process(queued.id);
  expect(done.state).toBe('completed');
  expect(done.counts).toMatchObject({
    read: hostile.length + 1,
    rejected: hostile.length,
  });
  return done as PublicImportRecord;
}

describe('the audit CSV of rejected rows', () => {
  it('starts every cell that would run as a formula with a single quote', async () => {
    const record = await importUpload();
    const response = await fetch(`${base}/imports/${record.id}/errors`, {
      headers: { ...auth, accept: 'text/csv' },
    });
    expect(response.status).toBe(200);
    const rows = parse(await response.text(), {
      columns: true,
    }) as Record<string, string>[];

    expect(rows.map((row) => row.raw_value)).toEqual(
      hostile.map((value) => `'${value}`),
    );
    const cells = rows.flatMap((row) => Object.values(row));
    expect(cells.filter((cell) => /^[=+\-@\t\r]/.test(cell))).toEqual([]);
  });

  it('leaves the fix file with the values as they were sent', async () => {
    const record = await importUpload();
    const response = await fetch(
      `${base}/imports/${record.id}/errors?format=original`,
      { headers: auth },
    );
    expect(response.status).toBe(200);
    const rows = parse(await response.text(), {
      columns: true,
    }) as Record<string, string>[];
    expect(rows.map((row) => row.code)).toEqual(hostile);
  });
});
