import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { createRepeatedKeyFilter } from '../src/loader/repeated-keys.js';

// The filter lets the loader skip the dedupe step; it may take a new key
// for a repeated one, but must never miss a key that came twice.

const prices = defineImport({
  entity: 'prices',
  table: 'prices',
  key: ['sku', 'store'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'store', type: 'integer' },
    { name: 'price', type: 'numeric', precision: 12, scale: 2 },
  ],
});

describe('the repeated-key filter', () => {
  it('sees no repeat among 200,000 distinct keys', () => {
    const filter = createRepeatedKeyFilter(prices)!;
    for (let i = 0; i < 200_000; i++) {
      filter.add([`SKU-${i}`, String(i % 7), '1.00']);
    }
    expect(filter.mayRepeat).toBe(false);
  });

  it('takes a million distinct codes for distinct, as the bench writes them', () => {
    // Blocks badly spread would fill a few of them and cry repeat early.
    const codes = defineImport({
      entity: 'customers',
      table: 'customers',
      key: ['code'],
      columns: [{ name: 'code', type: 'text' }],
    });
    const filter = createRepeatedKeyFilter(codes)!;
    for (let i = 1; i <= 1_000_000; i++) {
      filter.add([`C${String(i).padStart(9, '0')}`]);
    }
    expect(filter.mayRepeat).toBe(false);
  });

  it('never misses a repeated key, wherever it comes', () => {
    for (const repeatAt of [1, 500, 99_999]) {
      const filter = createRepeatedKeyFilter(prices)!;
      for (let i = 0; i < 100_000; i++) {
        filter.add([`SKU-${i}`, '1', '1.00']);
        if (i === repeatAt) filter.add([`SKU-${repeatAt - 1}`, '1', '2.00']);
      }
      expect(filter.mayRepeat).toBe(true);
    }
  });

  it('tells the parts of a key apart', () => {
    const filter = createRepeatedKeyFilter(prices)!;
    filter.add(['A1', '1', null]);
    filter.add(['A', '11', null]);
    filter.add(['A1', null, null]);
    filter.add(['A', null, null]);
    expect(filter.mayRepeat).toBe(false);
  });

  it('gives no filter for a key whose equal values may be written apart', () => {
    for (const type of ['timestamptz', 'timestamp', 'jsonb'] as const) {
      const definition = defineImport({
        entity: 'events',
        table: 'events',
        key: ['at'],
        columns: [{ name: 'at', type }],
      });
      expect(createRepeatedKeyFilter(definition)).toBeUndefined();
    }
    // A numeric without a scale keeps the digits it was written with.
    const unscaled = defineImport({
      entity: 'rates',
      table: 'rates',
      key: ['rate'],
      columns: [{ name: 'rate', type: 'numeric' }],
    });
    expect(createRepeatedKeyFilter(unscaled)).toBeUndefined();
  });
});
