import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { createJsonReader } from '../src/readers/json-reader.js';
import type { ReadItem } from '../src/readers/record-reader.js';
import { createXmlReader } from '../src/readers/xml-reader.js';
import { aliasedCustomers, chunked, readAll } from './csv-test-helpers.js';

// A U+FEFF inside a value (ZERO WIDTH NO-BREAK SPACE, as some ERPs keep
// it in names pasted from elsewhere) vanished when it began a chunk of
// the file, or straddled two: each chunk was decoded as text on its own,
// and the decoder took the character for a byte-order mark and dropped
// it. Stored files come back in 1 MiB chunks and gzip bodies inflate in
// 16 KiB ones, so the value stored depended on where it fell in the
// file, silently. Every split of the file must now read the same value.

const feff = '\uFEFF';
const name = `before${feff}after`;
// Past the first 64 KiB, which are decoded at once to detect the
// encoding: after them, each chunk is decoded as it comes.
const fillers = 3000;
const range = (count: number) => Array.from({ length: count }, (_, i) => i);

// Every way of cutting `bytes` in two around the character's 3 bytes.
function splitsAround(bytes: Buffer, needle: string): Buffer[][] {
  const at = bytes.indexOf(Buffer.from(needle));
  expect(at).toBeGreaterThan(0);
  return [at - 1, at, at + 1, at + 2, at + 3].map((cut) => [
    bytes.subarray(0, cut),
    bytes.subarray(cut),
  ]);
}

async function itemsOf(reader: {
  items(): AsyncIterable<ReadItem>;
}): Promise<unknown[][]> {
  const values: unknown[][] = [];
  for await (const item of reader.items()) {
    if (item.kind === 'record') values.push(item.record.values);
  }
  return values;
}

describe('a U+FEFF inside a value, where a chunk begins', () => {
  it('stays in a CSV value, with and without the fast scanner', async () => {
    const filler = range(fillers).map(
      (i) => `F${i},a filler of some width ${i},X\n`,
    );
    const text = `customerID,companyName,city\n${filler.join('')}A1,"${name}",X\n`;
    const customers = defineImport(aliasedCustomers);
    for (const chunks of splitsAround(Buffer.from(text), feff)) {
      for (const fastScan of [true, false]) {
        const { records, issues } = await readAll(
          Readable.from(chunks, { objectMode: false }),
          { definition: customers, fastScan },
        );
        expect(issues).toEqual([]);
        expect(records.at(-1)?.values).toEqual(['A1', name, 'X']);
        expect(records).toHaveLength(fillers + 1);
      }
    }
  });

  it('stays in a CSV file that starts with a byte-order mark', async () => {
    const text = `${feff}customerID,companyName,city\nA1,"${name}",X\n`;
    const { records } = await readAll(chunked(text, 40), {
      definition: defineImport(aliasedCustomers),
    });
    expect(records.map((record) => record.values)).toEqual([['A1', name, 'X']]);
  });

  const items = defineImport({
    entity: 'items',
    table: 'items',
    key: ['code'],
    records: { xmlPath: '/items/item' },
    columns: [
      { name: 'code', type: 'text' },
      { name: 'name', type: 'text' },
    ],
  });

  it('stays in a JSON string', async () => {
    const filler = range(fillers).map((i) => `{"code": "F${i}", "name": "f"},`);
    const text = `[${filler.join('')}{"code": "A1", "name": "${name}"}]`;
    for (const chunks of splitsAround(Buffer.from(text), feff)) {
      const reader = createJsonReader(Readable.from(chunks), {
        definition: items,
        format: 'json',
      });
      expect((await itemsOf(reader)).at(-1)).toEqual(['A1', name]);
    }
  });

  it('stays in XML text', async () => {
    const filler = range(fillers).map(
      (i) => `<item><code>F${i}</code><name>f</name></item>`,
    );
    const text = `<items>${filler.join('')}<item><code>A1</code><name>${name}</name></item></items>`;
    for (const chunks of splitsAround(Buffer.from(text), feff)) {
      const reader = createXmlReader(Readable.from(chunks), {
        definition: items,
      });
      expect((await itemsOf(reader)).at(-1)).toEqual(['A1', name]);
    }
  });
});
