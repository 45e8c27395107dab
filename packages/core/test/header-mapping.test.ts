import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { ImportError } from '../src/errors/import-error.js';
import {
  mapHeader,
  normalizeFieldName,
  pickValues,
} from '../src/readers/header-mapping.js';

const definition = defineImport({
  entity: 'customers',
  table: 'customers',
  key: ['customer_code'],
  columns: [
    { name: 'customer_code', type: 'text', source: 'Código' },
    { name: 'name', type: 'text', nullable: false, source: ['Razão Social'] },
    { name: 'city', type: 'text' },
    { name: 'region', type: 'text' },
  ],
});

function failure(run: () => unknown): ImportError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ImportError);
    return error as ImportError;
  }
  throw new Error('did not throw');
}

describe('mapHeader', () => {
  it('matches trimmed, case- and accent-insensitively, without a BOM', () => {
    const mapping = mapHeader(
      ['\uFEFFcodigo', ' RAZAO SOCIAL ', 'City'],
      definition,
    );
    expect(mapping.fieldIndexByColumn).toEqual([0, 1, 2, -1]);
    expect(mapping.absentColumns).toEqual(['region']);
    expect(pickValues(mapping, ['C1', 'Acme', null])).toEqual([
      'C1',
      'Acme',
      null,
      undefined,
    ]);
  });

  it('normalizes names', () => {
    expect(normalizeFieldName('\uFEFF  Descrição ')).toBe('descricao');
    expect(normalizeFieldName('CÓDIGO')).toBe('codigo');
  });

  it('fails with MISSING_COLUMNS listing the key and required columns', () => {
    const error = failure(() => mapHeader(['city', 'region'], definition));
    expect(error.code).toBe('MISSING_COLUMNS');
    expect(error.details.missing).toEqual(['customer_code', 'name']);
    // The message names what the sender must put in the header.
    expect(error.message).toContain(
      'a field for "customer_code" or "Código", "name" or "Razão Social"',
    );
    expect(error.message).toContain('it has "city", "region"');
  });

  it('ignores unknown fields unless the definition says fail', () => {
    const mapping = mapHeader(
      ['customer_code', 'name', 'phone', ''],
      definition,
    );
    expect(mapping.unknownFields).toEqual(['phone']);
    expect(mapping.columnIndexByField).toEqual([0, 1, -1, -1]);

    const strict = defineImport({
      entity: 'customers',
      table: 'customers',
      key: ['customer_code'],
      columns: [{ name: 'customer_code', type: 'text' }],
      unknownFields: 'fail',
    });
    const error = failure(() => mapHeader(['customer_code', 'phone'], strict));
    expect(error.code).toBe('UNKNOWN_COLUMNS');
    expect(error.details.unknown).toEqual(['phone']);
  });

  it('refuses two fields naming the same column', () => {
    const error = failure(() =>
      mapHeader(['customer_code', 'name', 'Razão Social'], definition),
    );
    expect(error.code).toBe('MALFORMED_FILE');
    expect(error.message).toMatch(/names column "name" twice/);
  });
});
