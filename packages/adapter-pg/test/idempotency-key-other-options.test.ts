import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { createImporter, type ImportDefinitionInput } from '@erp-import/core';
import { problemSchema } from '@erp-import/core/contract';
import { createImportRouter } from '@erp-import/core/express';
import express from 'express';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgAdapters, type PgAdapters } from '../src/index.js';

// An Idempotency-Key reused with the same bytes but another delimiter
// (or encoding, format, mode, scope...) answered 200 with the first
// import and silently dropped the new options. It is a 409
// IDEMPOTENCY_CONFLICT now, like other bytes or another entity; options
// that mean the same (`utf8` and `UTF-8`, the default mode named) are
// the same request. The checksum is over the bytes as stored, so the
// same file gzipped under the key is another request too.

const prices = {
  entity: 'prices',
  table: 'prices',
  key: ['sku'],
  tenantColumn: 'tenant_id',
  allowedModes: ['insert'],
  scope: ['company'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'price', type: 'numeric', precision: 12, scale: 2 },
  ],
} satisfies ImportDefinitionInput;

const csv = 'sku;price\nA-1;1.50\n';

const database = useTestDatabase('idempotency_other_options');
let pool: pg.Pool;
let adapters: PgAdapters;
let server: Server;
let base: string;

beforeAll(async () => {
  pool = createTestPool(database.url, 6);
  adapters = await createPgAdapters({ pool });
  const importer = createImporter({
    definitions: [prices],
    database: pool,
    ...adapters,
  });
  const app = express();
  app.use(
    createImportRouter(importer, { authenticate: () => ({ tenant: 'acme' }) }),
  );
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await adapters?.close();
  await pool?.end();
});

function upload(
  key: string,
  query: string,
  body: string | Buffer = csv,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}/imports?entity=prices&${query}`, {
    method: 'POST',
    headers: {
      authorization: 'Bearer t',
      'content-type': 'text/csv',
      'idempotency-key': key,
      ...headers,
    },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
}

const first = 'format=csv&delimiter=%3B&encoding=utf-8&param.company=12';

async function conflict(response: Response) {
  expect(response.status).toBe(409);
  const problem = problemSchema.parse(await response.json());
  expect(problem.code).toBe('IDEMPOTENCY_CONFLICT');
  return problem;
}

describe('a known Idempotency-Key with the same bytes', () => {
  it('answers 200 with the first import when the options are the same', async () => {
    const key = randomUUID();
    const created = await upload(key, first);
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };

    // The same options, spelled otherwise and in another order.
    const again = await upload(
      key,
      'param.company=12&encoding=UTF8&delimiter=%3B&mode=upsert&format=csv',
    );
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(id);
  });

  it.each([
    ['delimiter', 'format=csv&delimiter=%2C&encoding=utf-8&param.company=12'],
    ['delimiter', 'format=csv&encoding=utf-8&param.company=12'],
    ['encoding', 'format=csv&delimiter=%3B&encoding=latin1&param.company=12'],
    ['mode', `${first}&mode=insert`],
    ['params', 'format=csv&delimiter=%3B&encoding=utf-8&param.company=13'],
    ['exportedAt', `${first}&exportedAt=2024-06-01T10%3A00%3A00Z`],
    ['maxRejected', `${first}&maxRejected=0`],
  ])('answers 409 when the %s differs: %s', async (option, query) => {
    const key = randomUUID();
    expect((await upload(key, first)).status).toBe(202);

    const problem = await conflict(await upload(key, query));
    expect(problem.detail).toContain(option);
  });

  it('answers 409 when the format differs', async () => {
    const key = randomUUID();
    expect((await upload(key, first)).status).toBe(202);
    const problem = await conflict(
      await upload(key, first.replace('format=csv', 'format=ndjson')),
    );
    expect(problem.detail).toContain('ndjson');
  });

  it('answers 409 to the same file gzipped, with Content-Encoding or without', async () => {
    const key = randomUUID();
    expect((await upload(key, first)).status).toBe(202);

    const declared = await conflict(
      await upload(key, first, gzipSync(csv), { 'content-encoding': 'gzip' }),
    );
    expect(declared.detail).toContain('compression');
    // Known by its magic bytes only: the stored bytes are other bytes.
    const sniffed = await conflict(await upload(key, first, gzipSync(csv)));
    expect(sniffed.detail).toContain('other bytes');
  });

  it('keeps one import when two requests with other options race', async () => {
    const key = randomUUID();
    const answers = await Promise.all([
      upload(key, first),
      upload(key, first.replace('%3B', '%2C')),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([202, 409]);
    const { rows } = await pool.query(
      'SELECT count(*)::int AS n FROM erp_import.imports WHERE idempotency_key = $1',
      [key],
    );
    expect(rows[0].n).toBe(1);
  });
});
