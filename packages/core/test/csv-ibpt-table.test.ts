import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { readAndCoerce, sharedPath } from './csv-test-helpers.js';

// The real IBPT tax table for São Paulo: 12,096 rows, Windows-1252, CRLF,
// `;`, dd/MM/yyyy dates, codes with leading zeros. Nothing is declared:
// encoding and delimiter are detected.
const file = sharedPath('data/TabelaIBPTaxSP23.2.A.csv');

const rate = { type: 'numeric', precision: 7, scale: 2, nullable: false } as const;
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
  nullTokens: [],
  columns: [
    { name: 'codigo', type: 'text' },
    // `ex` is empty on most rows; an empty key part is kept as ''.
    { name: 'ex', type: 'text', nullable: true },
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
  it('reads every record with the detected encoding and delimiter', async () => {
    const { rows, records, allIssues, reader } = await readAndCoerce(file, { definition });

    expect(reader.detected()).toEqual({ encoding: 'windows-1252', delimiter: ';' });
    expect(records).toHaveLength(12096);
    const keyIssues = allIssues.filter((issue) => issue.column !== 'ex');
    expect(keyIssues).toEqual([]);

    // `ex` is a key column left empty (unquoted) on most rows.
    const byCode = new Map<string, (string | null)[]>();
    for (const record of records) byCode.set(record.values[0] as string, record.values);
    expect(byCode.get('03049211')?.[3]).toBe(
      'Outros carnes de merluzas negras, congeladas – bochechas (cheeks)',
    );
    expect(byCode.get('03049211')?.[3]).toContain('\u2013');
    expect(byCode.get('03023500')?.[3]).toBe('Atuns azuis (thunnus thinnus (…)');
    expect(byCode.get('03023500')?.[3]).toContain('\u2026');

    const zero = rows.find((row) => row.values[0] === '00000000') ??
      records.find((record) => record.values[0] === '00000000');
    expect(zero?.values[0]).toBe('00000000');
    expect(rows.length + allIssues.length).toBe(12096);
    expect(reader.bytesRead()).toBeGreaterThan(0);
  });
});
