import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sharedData,
  startExample,
  type RunningExample,
} from './example-harness.js';
import { importThroughHttp } from './json-xml-upload.js';

// Northwind's products.json (a top-level array, camelCase fields, prices
// as JSON numbers) through HTTP into products: 77 rows, prices exact.

const database = useTestDatabase('northwind_products_import');
const file = sharedData('northwind-products.json');

let example: RunningExample;

beforeAll(async () => {
  example = await startExample(database.url);
});

afterAll(async () => {
  await example?.close();
});

const sendProducts = () =>
  importThroughHttp(example, {
    path: file,
    entity: 'products',
    format: 'json',
  });

describe('Northwind products through HTTP', () => {
  it('imports the 77 products', async () => {
    const record = await sendProducts();
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({
      read: 77,
      inserted: 77,
      rejected: 0,
    });
    // One entity: no breakdown by entity.
    expect(record.counts.entities).toBeUndefined();
  });

  it('keeps every price exact: 21.35 stays 21.35', async () => {
    const gumbo = await example.host.pool.query(
      `SELECT name, unit_price::text, discontinued, quantity_per_unit
         FROM products WHERE tenant_id = 'tenant-a' AND product_id = 5`,
    );
    expect(gumbo.rows).toEqual([
      {
        name: "Chef Anton's Gumbo Mix",
        unit_price: '21.35',
        discontinued: true,
        quantity_per_unit: '36 boxes',
      },
    ]);

    // Each price as the file writes it, at the column's two decimals.
    const text = readFileSync(file, 'utf8');
    const written = new Map(
      [
        ...text.matchAll(
          /"productID" : (\d+),[\s\S]*?"unitPrice" : ([0-9.]+),/g,
        ),
      ].map(([, id, price]) => {
        const [whole, fraction = ''] = (price ?? '').split('.');
        return [Number(id), `${whole}.${fraction.padEnd(2, '0')}`];
      }),
    );
    expect(written.size).toBe(77);
    const stored = await example.host.pool.query(
      `SELECT product_id, unit_price::text FROM products
        WHERE tenant_id = 'tenant-a' ORDER BY product_id`,
    );
    expect(
      new Map(stored.rows.map((row) => [row.product_id, row.unit_price])),
    ).toEqual(written);
  });

  it('reports everything unchanged when the same file comes again', async () => {
    const record = await sendProducts();
    expect(record.counts).toMatchObject({
      read: 77,
      inserted: 0,
      updated: 0,
      unchanged: 77,
      rejected: 0,
    });
  });
});
