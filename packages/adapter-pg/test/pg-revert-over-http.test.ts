import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  createImporter,
  type ImportDefinitionInput,
  type Importer,
  type PublicImportRecord,
} from '@erp-import/core';
import { createImportRouter } from '@erp-import/core/express';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgAdapters, type PgAdapters } from '../src/index.js';

// `POST /imports/:id/revert` with the PostgreSQL stores: the revert and
// the `reverted` state commit in one transaction, a second revert is a
// 409, and a revert under a later import's changes is a 409
// REVERT_CONFLICT naming that import.

const items = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  tenantColumn: 'tenant_id',
  keepBeforeImages: true,
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'qty', type: 'integer' },
  ],
} satisfies ImportDefinitionInput;

const database = useTestDatabase('adapter_pg_revert');
let pool: pg.Pool;
let adapters: PgAdapters;
let importer: Importer;
let server: Server;
let base: string;

beforeAll(async () => {
  pool = createTestPool(database.url, 6);
  await pool.query(`
    CREATE TABLE items (
      tenant_id text NOT NULL,
      sku text NOT NULL,
      qty integer,
      PRIMARY KEY (tenant_id, sku)
    )`);
  adapters = await createPgAdapters({ pool });
  importer = createImporter({
    definitions: [items],
    database: pool,
    ...adapters,
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
  await adapters?.close();
  await pool?.end();
});

const auth = { authorization: 'Bearer t' };

async function load(csv: string) {
  const response = await fetch(`${base}/imports?entity=items&format=csv`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'text/csv' },
    body: csv,
  });
  const queued = (await response.json()) as PublicImportRecord;
  const done = await importer.process(queued.id);
  expect(done.state).toBe('completed');
  return done;
}

const revert = (id: string) =>
  fetch(`${base}/imports/${id}/revert`, { method: 'POST', headers: auth });

async function table(): Promise<string[]> {
  const result = await pool.query<{ row: string }>(
    "SELECT sku || '=' || qty AS row FROM items ORDER BY sku",
  );
  return result.rows.map((row) => row.row);
}

describe('revert over HTTP with the PostgreSQL stores', () => {
  it('reverts, marks the import reverted, and refuses a second time', async () => {
    await load('sku,qty\na,1\nb,2\n');
    const second = await load('sku,qty\na,10\nc,3\n');
    expect(await table()).toEqual(['a=10', 'b=2', 'c=3']);

    const response = await revert(second.id);
    expect(response.status).toBe(200);
    expect(((await response.json()) as PublicImportRecord).state).toBe(
      'reverted',
    );
    expect(await table()).toEqual(['a=1', 'b=2']);
    expect((await adapters.statusStore.getById(second.id))?.state).toBe(
      'reverted',
    );

    const again = await revert(second.id);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'INVALID_STATE' });
  });

  it('answers 409 REVERT_CONFLICT naming the later import', async () => {
    const first = await load('sku,qty\nb,20\n');
    const later = await load('sku,qty\nb,21\n');

    const response = await revert(first.id);
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({
      code: 'REVERT_CONFLICT',
      laterImports: [later.id],
    });
    expect(await table()).toEqual(['a=1', 'b=21']);
    expect((await adapters.statusStore.getById(first.id))?.state).toBe(
      'completed',
    );
  });
});
