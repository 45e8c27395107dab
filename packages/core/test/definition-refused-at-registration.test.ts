import { describe, expect, it } from 'vitest';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import { ImportError } from '../src/errors/import-error.js';
import {
  createImporter,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
} from '../src/index.js';

// Definitions that registered and then failed every import (a time zone
// Intl does not know, two columns one CSV header name answers to) or
// misread numbers (`,` as both separators reads 1,234,56 as 1234.56), and
// members zod dropped without a word (a typo such as `recrods`, a child's
// own `children`). Registration refuses them all, naming the problem.

const base = {
  entity: 'orders',
  table: 'orders',
  key: ['k'],
  columns: [
    { name: 'k', type: 'text' },
    { name: 'placed', type: 'timestamptz' },
  ],
} satisfies ImportDefinitionInput;

/** The INVALID_DEFINITION message of `input`, or undefined if it registers. */
function refusal(input: unknown): string | undefined {
  try {
    defineImport(input as ImportDefinitionInput);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ImportError);
    expect((error as ImportError).code).toBe('INVALID_DEFINITION');
    return (error as ImportError).message;
  }
}

const child = {
  entity: 'order-lines',
  table: 'order_lines',
  key: ['k', 'n'],
  path: 'lines',
  columns: [
    { name: 'k', type: 'text', fromParent: 'k' },
    { name: 'n', type: 'integer', ordinal: true },
  ],
} as const;

describe('locales registration refuses', () => {
  it('a time zone that is not an IANA zone, at createImporter too', () => {
    const input = { ...base, locale: { timeZone: 'Nope/Zone' } };
    expect(refusal(input)).toMatch(
      /locale\.timeZone: the time zone "Nope\/Zone" is not an IANA zone/,
    );
    expect(() =>
      createImporter({
        definitions: [input],
        database: { connect: () => Promise.reject(new Error('unused')) },
        queue: createMemoryQueue(),
        statusStore: createMemoryStatusStore(),
        errorLog: createMemoryErrorLog(),
        fileStore: createMemoryFileStore(),
      }),
    ).toThrow(/Nope\/Zone/);
    expect(
      refusal({
        ...base,
        children: [{ ...child, locale: { timeZone: 'Mars/Olympus' } }],
      }),
    ).toMatch(/children\.0\.locale\.timeZone: .*"Mars\/Olympus"/);
    expect(refusal({ ...base, locale: { timeZone: 'Asia/Kolkata' } })).toBe(
      undefined,
    );
  });

  it('the same character as decimal and grouping separator', () => {
    for (const separator of [',', '.'] as const) {
      expect(
        refusal({
          ...base,
          locale: { decimalSeparator: separator, groupSeparator: separator },
        }),
      ).toMatch(/locale\.groupSeparator: .* both decimals and groups/);
    }
    expect(
      refusal({
        ...base,
        locale: { decimalSeparator: ',', groupSeparator: '.' },
      }),
    ).toBe(undefined);
  });
});

describe('columns registration refuses', () => {
  it('two columns one header name answers to once normalized', () => {
    expect(
      refusal({
        ...base,
        columns: [
          { name: 'k', type: 'text' },
          { name: 'codigo', type: 'text' },
          { name: 'other', type: 'text', source: 'Código' },
        ],
      }),
    ).toMatch(/columns "codigo" and "other" both answer to .*"Código"/);
    expect(
      refusal({
        ...base,
        columns: [
          { name: 'k', type: 'text' },
          { name: 'Code', type: 'text' },
          { name: 'code', type: 'text' },
        ],
      }),
    ).toMatch(/columns "Code" and "code" both answer to the header name/);
    expect(
      refusal({
        ...base,
        columns: [
          { name: 'k', type: 'text' },
          { name: 'a', type: 'text', source: [' ', 'A2'] },
        ],
      }),
    ).toMatch(/column "a": the name " " is blank/);
  });

  it('not a column that names itself among its sources', () => {
    expect(
      refusal({
        ...base,
        columns: [
          { name: 'k', type: 'text' },
          { name: 'codigo', type: 'text', source: ['Código', 'CODIGO'] },
        ],
      }),
    ).toBe(undefined);
  });
});

describe('unknown members registration refuses', () => {
  it('at every level, naming the member', () => {
    expect(refusal({ ...base, recrods: { jsonPath: 'items' } })).toMatch(
      /\(root\): unknown member "recrods"/,
    );
    expect(
      refusal({
        ...base,
        columns: [{ name: 'k', type: 'text', pth: 'code' }],
      }),
    ).toMatch(/columns\.0: unknown member "pth"/);
    expect(refusal({ ...base, locale: { timezone: 'UTC' } })).toMatch(
      /locale: unknown member "timezone"/,
    );
    expect(refusal({ ...base, records: { xmlpath: '/a/b' } })).toMatch(
      /records: unknown member "xmlpath"/,
    );
    expect(
      refusal({ ...base, children: [{ ...child, tenantColum: 'tenant' }] }),
    ).toMatch(/children\.0: unknown member "tenantColum"/);
    expect(
      refusal({
        ...base,
        mode: 'sync',
        softDelete: { column: 'gone', mrak: 'false' },
      }),
    ).toMatch(/softDelete: unknown member "mrak"/);
    expect(
      refusal({ ...base, scope: [{ name: 'company', typ: 'text' }] }),
    ).toMatch(/scope\.0: unknown member "typ"/);
  });

  it('children of a child, saying they are not supported', () => {
    expect(
      refusal({
        ...base,
        children: [{ ...child, children: [{ ...child, entity: 'deeper' }] }],
      }),
    ).toMatch(
      /children\.0\.children: a child record cannot have children of its own/,
    );
  });
});
