import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { readAndCoerce, sharedPath } from './csv-test-helpers.js';

// Case 05: quoted fields with bare-LF line breaks in a CRLF file; the error
// after a multi-line record must name the physical line it starts on.
const file = sharedPath(
  'cases/05-csv-multiline-quoted-field/products_multiline.csv',
);

const definition = defineImport({
  entity: 'products',
  table: 'products',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'name', type: 'text', nullable: false },
    { name: 'description', type: 'text' },
    {
      name: 'weight_kg',
      type: 'numeric',
      precision: 8,
      scale: 3,
      nullable: false,
    },
  ],
});

describe('case 05: multi-line quoted fields', () => {
  it('reads the records whole, un-doubles quotes and reports A-3 at line 5', async () => {
    const { rows, allIssues } = await readAndCoerce(file, { definition });

    expect(rows.map((row) => row.values)).toEqual([
      [
        'A-1',
        'Cadeira',
        'Cadeira de escritório\ncom rodízios, "giratória"',
        '7.500',
      ],
      ['A-2', 'Mesa', 'Tampo 120x60', '18.000'],
      ['A-4', 'Estante', 'Cinco nichos', '12.000'],
    ]);
    expect(rows.map((row) => row.position)).toEqual([
      { recordNumber: 1, line: 2, endLine: 3 },
      { recordNumber: 2, line: 4 },
      { recordNumber: 4, line: 8 },
    ]);

    expect(allIssues).toHaveLength(1);
    expect(allIssues[0]).toMatchObject({
      position: { recordNumber: 3, line: 5, endLine: 7 },
      column: 'weight_kg',
      code: 'invalid_number',
      rawValue: 'abc',
    });
  });
});
