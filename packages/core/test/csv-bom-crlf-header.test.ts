import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { chunked, readAndCoerce, sharedPath } from './csv-test-helpers.js';

// Case 01: a UTF-8 BOM glued to the first header name, CRLF line endings.
const file = sharedPath('cases/01-csv-bom-crlf-header/customers.csv');

const definition = defineImport({
  entity: 'customers',
  table: 'customers',
  key: ['customer_code'],
  columns: [
    { name: 'customer_code', type: 'text' },
    { name: 'name', type: 'text', nullable: false },
    { name: 'city', type: 'text' },
  ],
});

const expected = [
  ['C001', 'Padaria Estrela Ltda', 'Campinas'],
  ['C002', 'Mercado Bom Preço', 'Recife'],
  ['C003', 'Oficina Ribeiro', 'Santos'],
];

describe('case 01: CSV with a BOM and CRLF', () => {
  it('maps the key column despite the BOM and leaves no \\r on the last column', async () => {
    const { rows, allIssues, reader } = await readAndCoerce(file, {
      definition,
    });
    expect(allIssues).toEqual([]);
    expect(rows.map((row) => row.values)).toEqual(expected);
    expect(rows.map((row) => row.position.line)).toEqual([2, 3, 4]);
    expect(rows[1]?.values[1]?.normalize('NFC')).toBe(rows[1]?.values[1]);
    expect(reader.detected()).toEqual({ encoding: 'utf-8', delimiter: ',' });
  });

  it('gives the same values for the file without BOM and with LF endings', async () => {
    const bytes = readFileSync(file);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const plain = bytes.subarray(3).toString('utf8').replace(/\r\n/g, '\n');
    const { rows, allIssues } = await readAndCoerce(chunked(plain), {
      definition,
    });
    expect(allIssues).toEqual([]);
    expect(rows.map((row) => row.values)).toEqual(expected);
  });
});
