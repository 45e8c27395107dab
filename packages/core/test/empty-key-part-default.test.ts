import { describe, expect, it } from 'vitest';
import { createRowCoercer } from '../src/coercion/row-coercer.js';
import { defineImport } from '../src/definitions/import-definition.js';
import type { RawValue } from '../src/readers/record-reader.js';

// The IBPT table's key is (codigo, ex, tipo) and `ex` is empty in most
// rows: an unquoted empty field reads as NULL, which a key refuses, so
// 11,516 of its 12,096 rows were rejected until a column could declare
// a `default` to read in place of nothing.

const definition = defineImport({
  entity: 'rates',
  table: 'rates',
  key: ['codigo', 'ex'],
  nullTokens: ['NULL'],
  columns: [
    { name: 'codigo', type: 'text' },
    { name: 'ex', type: 'text', default: '' },
    { name: 'rate', type: 'numeric', default: '0' },
  ],
});
const coerce = createRowCoercer(definition);

function values(...raw: RawValue[]) {
  const result = coerce({
    position: { recordNumber: 1, line: 2 },
    values: raw,
  });
  return result.ok ? result.row.values : result.issues.map((i) => i.code);
}

describe('a column default', () => {
  it('stands in for an empty, absent or null-token field', () => {
    expect(values('0101', null, null)).toEqual(['0101', '', '0']);
    expect(values('0101', undefined, undefined)).toEqual(['0101', '', '0']);
    expect(values('0101', 'NULL', 'NULL')).toEqual(['0101', '', '0']);
  });

  it('leaves a written value alone', () => {
    expect(values('0101', '01', '13.45')).toEqual(['0101', '01', '13.45']);
  });

  it('is read by the column type like a value from the file', () => {
    const broken = createRowCoercer(
      defineImport({
        entity: 'rates',
        table: 'rates',
        key: ['codigo'],
        columns: [
          { name: 'codigo', type: 'text' },
          { name: 'rate', type: 'numeric', default: 'abc' },
        ],
      }),
    );
    const result = broken({
      position: { recordNumber: 1, line: 2 },
      values: ['0101', null],
    });
    expect(result.ok).toBe(false);
  });

  it('does not make a key without one accept NULL', () => {
    expect(values(null, null, null)).toEqual(['required']);
  });
});
