import { createReadStream, readFileSync } from 'node:fs';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { createJsonReader } from '../src/readers/json-reader.js';
import type { MappedRecord } from '../src/readers/record-reader.js';

const productsFile = sharedPath('data', 'northwind-products.json');

const products = defineImport({
  entity: 'products',
  table: 'products',
  key: ['product_id'],
  columns: [
    { name: 'product_id', type: 'integer', path: 'productID' },
    { name: 'name', type: 'text' },
    { name: 'supplier_id', type: 'integer', path: 'supplierID' },
    { name: 'category_id', type: 'integer', path: 'categoryID' },
    { name: 'quantity_per_unit', type: 'text', path: 'quantityPerUnit' },
    {
      name: 'unit_price',
      type: 'numeric',
      precision: 10,
      scale: 2,
      path: 'unitPrice',
    },
    { name: 'units_in_stock', type: 'integer', path: 'unitsInStock' },
    { name: 'units_on_order', type: 'integer', path: 'unitsOnOrder' },
    { name: 'reorder_level', type: 'integer', path: 'reorderLevel' },
    { name: 'discontinued', type: 'boolean' },
  ],
});

describe('Northwind products (JSON array)', () => {
  it('gives 77 products with unit prices as written', async () => {
    const reader = createJsonReader(createReadStream(productsFile), {
      definition: products,
      format: 'json',
    });
    const records: MappedRecord[] = [];
    for await (const item of reader.items()) {
      expect(item.kind).toBe('record');
      if (item.kind === 'record') records.push(item.record);
    }
    expect(records).toHaveLength(77);
    expect(reader.detected().encoding).toBe('utf-8');

    const gumbo = records.find((record) => record.values[0] === '5');
    expect(gumbo?.values).toEqual([
      '5',
      "Chef Anton's Gumbo Mix",
      '2',
      '2',
      '36 boxes',
      '21.35',
      '0',
      '0',
      '0',
      'true',
    ]);
    expect(gumbo?.position.path).toBe('$[1]');

    // Every price is the literal the file holds, digit for digit.
    const written = [
      ...readFileSync(productsFile, 'utf8').matchAll(
        /"unitPrice" : ([^,\s]+)/g,
      ),
    ].map(([, price]) => price);
    expect(records.map((record) => record.values[5])).toEqual(written);
  });
});
