import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { readAndCoerce, sharedPath } from './csv-test-helpers.js';

// The real IBPT tax table for São Paulo: 12,096 rows, Windows-1252, CRLF,
// `;`, dd/MM/yyyy dates, codes with leading zeros. Nothing is declared:
// encoding and delimiter are detected.
const file = sharedPath('data/TabelaIBPTaxSP23.2.A.csv');

const rate = {
  type: 'numeric',
  precision: 7,
  scale: 2,
  nullable: false,
} as const;
const definition = defineImport({
  entity: 'ibpt',
  table: 'ibpt',
  key: ['codigo', 'ex', 'tipo'],
  locale: {
    decimalSeparator: '.',
    groupSeparator: '',
    dateFormats: ['dd/MM/yyyy'],
    timeZone: 'America/Sao_Paulo',
  },
  columns: [
    { name: 'codigo', type: 'text' },
    // Empty on most rows, yet part of the key: an empty string, not NULL.
    { name: 'ex', type: 'text', default: '' },
    { name: 'tipo', type: 'integer' },
    { name: 'descricao', type: 'text', nullable: false },
    { name: 'nacionalfederal', ...rate },
    { name: 'importadosfederal', ...rate },
    { name: 'estadual', ...rate },
    { name: 'municipal', ...rate },
    { name: 'vigenciainicio', type: 'date', nullable: false },
    { name: 'vigenciafim', type: 'date', nullable: false },
    { name: 'chave', type: 'text' },
    { name: 'versao', type: 'text' },
    { name: 'fonte', type: 'text' },
  ],
});

describe('the IBPT table end to end', () => {
  it('reads and coerces every record with the detected encoding and delimiter', async () => {
    const { rows, records, allIssues, reader } = await readAndCoerce(file, {
      definition,
    });

    expect(reader.detected()).toEqual({
      encoding: 'windows-1252',
      delimiter: ';',
    });
    expect(records).toHaveLength(12096);
    expect(allIssues).toEqual([]);
    expect(rows).toHaveLength(12096);
    expect(rows[12095]?.position).toEqual({ recordNumber: 12096, line: 12097 });

    const byCode = new Map(
      rows
        .filter((row) => row.values[1] === '')
        .map((row) => [row.values[0], row.values]),
    );
    const dash = byCode.get('03049211')?.[3];
    expect(dash).toBe(
      'Outros carnes de merluzas negras, congeladas – bochechas (cheeks)',
    );
    expect(dash).toContain('\u2013');
    const ellipsis = byCode.get('03023500')?.[3];
    expect(ellipsis).toBe('Atuns azuis (thunnus thinnus (…)');
    expect(ellipsis).toContain('\u2026');

    expect(rows[0]?.values).toEqual([
      '00000000',
      '',
      '0',
      'PRODUTO NAO ESPECIFICADO NA LISTA DE NCM',
      '7.85',
      '9.85',
      '18.00',
      '0.00',
      '2023-07-20',
      '2023-08-31',
      'C07872',
      '23.2.A',
      'IBPT/empresometro.com.br',
    ]);
    expect(rows[1]?.values[4]).toBe('13.45');

    // An `ex` that is written keeps its leading zero.
    expect(
      rows
        .filter((row) => row.values[0] === '02109100')
        .map((row) => row.values[1]),
    ).toContain('01');
    expect(reader.bytesRead()).toBe(1_885_662);
  });
});
