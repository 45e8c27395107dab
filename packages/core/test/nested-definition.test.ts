import { describe, expect, it } from 'vitest';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import { ErrorCodes } from '../src/errors/import-error.js';

const invoice: ImportDefinitionInput = {
  entity: 'invoices',
  table: 'invoices',
  key: ['access_key'],
  tenantColumn: 'tenant',
  locale: 'pt-BR',
  namespaces: { nfe: 'http://www.portalfiscal.inf.br/nfe' },
  records: { xmlPath: '//nfe:infNFe' },
  columns: [
    { name: 'access_key', type: 'text', path: '@Id', stripPrefix: 'NFe' },
  ],
  children: [
    {
      entity: 'invoice-items',
      table: 'invoice_items',
      path: 'nfe:det',
      key: ['access_key', 'item_number'],
      columns: [
        { name: 'access_key', type: 'text', fromParent: 'access_key' },
        { name: 'item_number', type: 'integer', path: '@nItem' },
        { name: 'line_no', type: 'integer', ordinal: true },
      ],
    },
  ],
};

function problemsOf(input: ImportDefinitionInput): string {
  try {
    defineImport(input);
  } catch (error) {
    expect(error).toMatchObject({ code: ErrorCodes.INVALID_DEFINITION });
    return (error as Error).message;
  }
  throw new Error('the definition was accepted');
}

describe('definitions with records nested in records', () => {
  it('normalizes children, which inherit tenant column and locale', () => {
    const definition = defineImport(invoice);
    expect(definition.records).toEqual({ xmlPath: '//nfe:infNFe' });
    expect(definition.repeated).toEqual([]);
    expect(definition.columns[0]).toMatchObject({ stripPrefix: 'NFe' });
    const [child] = definition.children ?? [];
    expect(child).toMatchObject({
      entity: 'invoice-items',
      path: 'nfe:det',
      parentEntity: 'invoices',
      tenantColumn: 'tenant',
      children: [],
    });
    expect(child?.locale.decimalSeparator).toBe(',');
    expect(child?.columns.map((c) => [c.name, c.isKey, c.nullable])).toEqual([
      ['access_key', true, false],
      ['item_number', true, false],
      ['line_no', false, true],
    ]);
    expect(child?.columns[0]?.fromParent).toBe('access_key');
    expect(child?.columns[2]?.ordinal).toBe(true);
  });

  it('keeps definitions without the new fields as they were', () => {
    const definition = defineImport({
      entity: 'customers',
      table: 'customers',
      key: ['id'],
      columns: [{ name: 'id', type: 'text' }],
    });
    expect(definition.children).toEqual([]);
    expect(definition.namespaces).toEqual({});
  });

  it('refuses a child key column that is not declared', () => {
    const [child] = invoice.children ?? [];
    expect(
      problemsOf({
        ...invoice,
        children: [{ ...child!, key: ['access_key', 'missing'] }],
      }),
    ).toMatch(/key column "missing"/);
  });

  it('refuses fromParent naming no parent column, and outside children', () => {
    const [child] = invoice.children ?? [];
    expect(
      problemsOf({
        ...invoice,
        children: [
          {
            ...child!,
            columns: [
              { name: 'access_key', type: 'text', fromParent: 'nope' },
              { name: 'item_number', type: 'integer', ordinal: true },
            ],
          },
        ],
      }),
    ).toMatch(/the parent has no column "nope"/);
    expect(
      problemsOf({
        ...invoice,
        columns: [{ name: 'access_key', type: 'text', fromParent: 'x' }],
        children: [],
      }),
    ).toMatch(/fromParent and ordinal are for children/);
  });

  it('refuses an undeclared prefix and a bad path', () => {
    expect(
      problemsOf({ ...invoice, records: { xmlPath: '//other:infNFe' } }),
    ).toMatch(/prefix "other" is not declared/);
    expect(
      problemsOf({
        ...invoice,
        columns: [{ name: 'access_key', type: 'text', path: '@Id/x' }],
      }),
    ).toMatch(/an attribute must come last/);
  });

  it('refuses a child entity named twice', () => {
    const [child] = invoice.children ?? [];
    expect(problemsOf({ ...invoice, children: [child!, child!] })).toMatch(
      /entity "invoice-items" is declared twice/,
    );
  });
});
