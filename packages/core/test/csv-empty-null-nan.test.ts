import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { readAndCoerce, sharedPath } from './csv-test-helpers.js';

// Case 08: `,,` is NULL, `,"",` is '' in text and NULL in numeric; NaN and
// junk in a numeric column are row errors, never NaN or 0.
const file = sharedPath('cases/08-csv-empty-null-nan/products_blanks.csv');

const definition = defineImport({
  entity: 'products',
  table: 'products',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'name', type: 'text', nullable: false },
    { name: 'color', type: 'text' },
    { name: 'list_price', type: 'numeric', precision: 10, scale: 2 },
    { name: 'discount_pct', type: 'numeric', precision: 5, scale: 2 },
  ],
});

describe('case 08: empty, quoted empty, NULL and NaN', () => {
  it('tells empty from quoted empty and rejects abc, a blank name and NaN', async () => {
    const { records, rows, allIssues } = await readAndCoerce(file, {
      definition,
    });

    // As read: E-1's color was `""`, E-2's list_price was unquoted empty.
    expect(records[0]?.values).toEqual([
      'E-1',
      'Caneta azul',
      '',
      '2.50',
      null,
    ]);
    expect(records[1]?.values).toEqual(['E-2', 'Caderno', null, null, '10']);

    expect(rows.map((row) => row.values)).toEqual([
      ['E-1', 'Caneta azul', '', '2.50', null],
      ['E-2', 'Caderno', null, null, '10.00'],
    ]);

    expect(
      allIssues.map((issue) => [
        issue.position.line,
        issue.column,
        issue.code,
        issue.rawValue,
      ]),
    ).toEqual([
      [4, 'list_price', 'invalid_number', 'abc'],
      [5, 'name', 'required', null],
      [6, 'list_price', 'invalid_number', 'NaN'],
    ]);
    expect(rows.some((row) => row.values.includes('NaN'))).toBe(false);
  });
});
