import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { readAndCoerce, sharedPath } from './csv-test-helpers.js';

// Case 03: a pt-BR export: `;`, decimal comma, grouping dot, dd/MM/yyyy.
const file = sharedPath('cases/03-csv-semicolon-decimal-comma/prices_ptbr.csv');

const definition = defineImport({
  entity: 'prices',
  table: 'prices',
  key: ['sku'],
  locale: 'pt-BR',
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'descricao', type: 'text', nullable: false },
    {
      name: 'preco',
      type: 'numeric',
      precision: 12,
      scale: 2,
      nullable: false,
    },
    { name: 'estoque', type: 'integer', nullable: false },
    { name: 'vigencia', type: 'date', nullable: false },
  ],
});

const expectedRows = [
  ['P-100', 'Parafuso sextavado M8', '1234.56', '1200', '2024-12-31'],
  ['P-101', 'Arruela lisa 8mm', '9.99', '15', '2025-02-01'],
  ['P-102', 'Porca, trava nylon', '0.50', '0', '2025-03-15'],
];

describe('case 03: semicolon, decimal comma, day-first dates', () => {
  for (const delimiter of [undefined, ';']) {
    it(`reads 3 rows and rejects 12.5 (delimiter ${delimiter ?? 'sniffed'})`, async () => {
      const { rows, allIssues, reader } = await readAndCoerce(file, {
        definition,
        ...(delimiter !== undefined && { delimiter }),
      });
      expect(reader.detected().delimiter).toBe(';');
      expect(rows.map((row) => row.values)).toEqual(expectedRows);
      expect(allIssues).toHaveLength(1);
      expect(allIssues[0]).toMatchObject({
        severity: 'error',
        position: { recordNumber: 4, line: 5 },
        column: 'preco',
        code: 'invalid_number',
        rawValue: '12.5',
      });
      expect(allIssues[0]?.message).toContain('"12.5"');
    });
  }
});
