import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { useModernTestDatabase } from '@erp-import/dev-services/vitest';
import type { CoercedRow } from '../src/coercion/coerced-row.js';
import { defineImport } from '../src/definitions/import-definition.js';
import { applyImport } from '../src/loader/apply-import.js';
import type { RowIssue } from '../src/ports/error-log.js';

// The loader on a server with MERGE ... RETURNING (an embedded PostgreSQL
// 18 when the tests' own server is older): the MERGE counts its own
// inserts and updates there, and the counts must be the same as on 15.

const database = useModernTestDatabase('loader_modern');

const prices = defineImport({
  entity: 'prices',
  table: 'prices',
  tenantColumn: 'tenant',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'price', type: 'numeric', precision: 12, scale: 2 },
  ],
});

let client: pg.Client;
let imports = 0;

beforeAll(async () => {
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query(`
    CREATE TABLE prices (
      tenant text NOT NULL,
      sku    text NOT NULL,
      price  numeric(12,2) NOT NULL CHECK (price >= 0),
      PRIMARY KEY (tenant, sku)
    )`);
});
afterAll(async () => {
  await client?.end();
});

async function* rows(
  values: Array<[string, string]>,
): AsyncGenerator<CoercedRow> {
  let recordNumber = 0;
  for (const [sku, price] of values) {
    recordNumber += 1;
    yield {
      position: { recordNumber, line: recordNumber + 1 },
      values: [sku, price],
    };
  }
}

async function load(values: Array<[string, string]>, issues: RowIssue[]) {
  imports += 1;
  return applyImport({
    client,
    importId: `modern-${imports}`,
    tenant: 'acme',
    definitions: [prices],
    rows: rows(values),
    onIssues: async (batch) => {
      issues.push(...batch);
    },
  });
}

it('runs on PostgreSQL 17 or later', () => {
  expect(database.major).toBeGreaterThanOrEqual(17);
});

it('counts inserts, updates, unchanged, superseded and refused rows', async () => {
  const issues: RowIssue[] = [];
  const first = await load(
    [
      ['A', '1.00'],
      ['B', '2.00'],
      ['A', '1.50'],
    ],
    issues,
  );
  expect(first.counts.prices).toMatchObject({
    inserted: 2,
    updated: 0,
    unchanged: 0,
    superseded: 1,
    rejected: 0,
  });

  const second = await load(
    [
      ['A', '1.50'],
      ['B', '2.50'],
      ['C', '-1.00'],
      ['D', '4.00'],
    ],
    issues,
  );
  expect(second.counts.prices).toMatchObject({
    inserted: 1,
    updated: 1,
    unchanged: 1,
    rejected: 1,
  });
  expect(issues.map((issue) => issue.code)).toEqual([
    'duplicate_key_superseded',
    'check_violation',
  ]);

  const table = await client.query(
    'SELECT sku, price::text AS price FROM prices ORDER BY sku',
  );
  expect(table.rows).toEqual([
    { sku: 'A', price: '1.50' },
    { sku: 'B', price: '2.50' },
    { sku: 'D', price: '4.00' },
  ]);
});
