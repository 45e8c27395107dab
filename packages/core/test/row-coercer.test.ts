import { describe, expect, it } from 'vitest';
import { createRowCoercer } from '../src/coercion/row-coercer.js';
import {
  defineImport,
  type ColumnInput,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import type { RawValue } from '../src/readers/record-reader.js';

/** Coerces one value in a one-column (plus key) definition. */
function coerceWith(
  column: Omit<ColumnInput, 'name'>,
  extra: Partial<ImportDefinitionInput> = {},
) {
  const definition = defineImport({
    entity: 'things',
    table: 'things',
    key: ['id'],
    columns: [
      { name: 'id', type: 'text' },
      { name: 'v', ...column },
    ],
    ...extra,
  });
  const coerce = createRowCoercer(definition);
  return (value: RawValue) => {
    const result = coerce({
      position: { recordNumber: 7, line: 9 },
      values: ['k', value],
    });
    if (result.ok) return result.row.values[1];
    const issue = result.issues[0];
    return { code: issue?.code, message: issue?.message };
  };
}

describe('text', () => {
  it('keeps values as written, spaces and leading zeros included', () => {
    const text = coerceWith({ type: 'text' });
    expect(text('  00123 ')).toBe('  00123 ');
    expect(text('1e5')).toBe('1e5');
    expect(text('0E68')).toBe('0E68');
    expect(text('')).toBe('');
    expect(text(null)).toBe(null);
    expect(text(undefined)).toBe(null);
  });

  it('counts characters, not UTF-16 units, against the length', () => {
    const text = coerceWith({ type: 'text', length: 3 });
    expect(text('😀😀😀')).toBe('😀😀😀');
    expect(text('abcd')).toMatchObject({ code: 'too_long' });
    expect(text('abc   ')).toBe('abc'); // like varchar: only spaces overflow
  });

  it('refuses NUL', () => {
    expect(coerceWith({ type: 'text' })('a\u0000b')).toMatchObject({
      code: 'nul_character',
    });
  });
});

describe('null tokens', () => {
  it('read as NULL as written or trimmed, in any type', () => {
    const text = coerceWith({ type: 'text' }, { nullTokens: ['NULL', '\\N'] });
    expect(text('NULL')).toBe(null);
    expect(text(' NULL ')).toBe(null);
    expect(text('\\N')).toBe(null);
    expect(text('null')).toBe('null');
    expect(
      coerceWith({ type: 'integer' }, { nullTokens: ['NULL'] })('NULL'),
    ).toBe(null);
  });
});

describe('column default', () => {
  it('stands in for an empty, absent or null-token field', () => {
    const ex = coerceWith(
      { type: 'text', nullable: false, default: '' },
      { nullTokens: ['NULL'] },
    );
    expect(ex(null)).toBe('');
    expect(ex(undefined)).toBe('');
    expect(ex('NULL')).toBe('');
    expect(ex('01')).toBe('01');
    const qty = coerceWith({ type: 'integer', default: '0' });
    expect(qty('')).toBe('0');
    expect(qty(null)).toBe('0');
  });
});

describe('integer and bigint', () => {
  it('checks the int4 range exactly', () => {
    const integer = coerceWith({ type: 'integer' });
    expect(integer('2147483647')).toBe('2147483647');
    expect(integer('-2147483648')).toBe('-2147483648');
    expect(integer('2147483648')).toMatchObject({ code: 'out_of_range' });
    expect(integer('-2147483649')).toMatchObject({ code: 'out_of_range' });
    expect(integer(' +0042 ')).toBe('42');
    expect(integer('-0')).toBe('0');
  });

  it('checks the int8 range beyond 2^53 without a float', () => {
    const bigint = coerceWith({ type: 'bigint' });
    expect(bigint('9007199254740993')).toBe('9007199254740993');
    expect(bigint('9223372036854775807')).toBe('9223372036854775807');
    expect(bigint('-9223372036854775808')).toBe('-9223372036854775808');
    expect(bigint('9223372036854775808')).toMatchObject({
      code: 'out_of_range',
    });
  });

  it('reads locale grouping and refuses fractions and junk', () => {
    const ptBR = coerceWith({ type: 'integer' }, { locale: 'pt-BR' });
    expect(ptBR('1.200')).toBe('1200');
    expect(ptBR('15,00')).toBe('15');
    expect(ptBR('1,5')).toMatchObject({ code: 'invalid_integer' });
    expect(ptBR('12.5')).toMatchObject({ code: 'invalid_integer' });
    const iso = coerceWith({ type: 'integer' });
    expect(iso('1e5')).toMatchObject({ code: 'invalid_integer' });
    expect(iso('NaN')).toMatchObject({ code: 'invalid_integer' });
    expect(iso('abc')).toMatchObject({ code: 'invalid_integer' });
    expect(iso('')).toBe(null);
  });
});

describe('numeric', () => {
  it('reads pt-BR numbers and refuses what does not fit the locale', () => {
    const price = coerceWith(
      { type: 'numeric', precision: 12, scale: 2 },
      { locale: 'pt-BR' },
    );
    expect(price('1.234,56')).toBe('1234.56');
    expect(price('9,99')).toBe('9.99');
    expect(price('0,5')).toBe('0.50');
    expect(price('-1.234.567,1')).toBe('-1234567.10');
    expect(price('12.5')).toMatchObject({ code: 'invalid_number' });
    expect(price('1.23,4')).toMatchObject({ code: 'invalid_number' });
    expect(price('1234.56')).toMatchObject({ code: 'invalid_number' });
    expect(price('12.5')).toMatchObject({
      message: expect.stringContaining('"12.5"'),
    });
  });

  it('reads en-US numbers', () => {
    const price = coerceWith(
      { type: 'numeric', precision: 12, scale: 2 },
      { locale: 'en-US' },
    );
    expect(price('1,234.56')).toBe('1234.56');
    expect(price('.5')).toBe('0.50');
    expect(price('1,2345.6')).toMatchObject({ code: 'invalid_number' });
  });

  it('refuses NaN, Infinity and exponents', () => {
    const value = coerceWith({ type: 'numeric' });
    for (const text of [
      'NaN',
      'nan',
      'Infinity',
      '-Infinity',
      '1e5',
      '1.5E-3',
      '0x10',
    ]) {
      expect(value(text)).toMatchObject({ code: 'invalid_number' });
    }
  });

  it('keeps 20-digit decimals exact', () => {
    const value = coerceWith({ type: 'numeric', precision: 38, scale: 10 });
    expect(value('12345678901234567890.1234567891')).toBe(
      '12345678901234567890.1234567891',
    );
    const free = coerceWith({ type: 'numeric' });
    expect(free('0.10000000000000000001')).toBe('0.10000000000000000001');
    expect(free('2.50')).toBe('2.50');
  });

  it('refuses extra decimal places instead of rounding, and overflow', () => {
    const value = coerceWith({ type: 'numeric', precision: 5, scale: 2 });
    expect(value('1.234')).toMatchObject({ code: 'numeric_scale' });
    expect(value('1.230')).toBe('1.23');
    expect(value('999.99')).toBe('999.99');
    expect(value('1000')).toMatchObject({ code: 'numeric_overflow' });
    expect(value('-0.00')).toBe('0.00');
    const whole = coerceWith({ type: 'numeric', precision: 3 });
    expect(whole('123')).toBe('123');
    expect(whole('1.5')).toMatchObject({ code: 'numeric_scale' });
  });

  it('reads a quoted empty string as NULL', () => {
    expect(coerceWith({ type: 'numeric' })('')).toBe(null);
    expect(coerceWith({ type: 'numeric' })('   ')).toBe(null);
  });
});

describe('boolean', () => {
  it('reads the usual words, case-insensitively', () => {
    const flag = coerceWith({ type: 'boolean' });
    for (const word of ['true', 'T', '1', 'S', 'sim', 'Yes', 'y'])
      expect(flag(word)).toBe('t');
    for (const word of ['FALSE', 'f', '0', 'N', 'não', 'NÃO', 'nao', 'no'])
      expect(flag(word)).toBe('f');
    expect(flag('talvez')).toMatchObject({ code: 'invalid_boolean' });
  });

  it('takes the column words, which win over the defaults', () => {
    const flag = coerceWith({
      type: 'boolean',
      trueValues: ['Ativo', 'N'],
      falseValues: ['Inativo'],
    });
    expect(flag('ATIVO')).toBe('t');
    expect(flag('inativo')).toBe('f');
    expect(flag('N')).toBe('t');
  });
});

describe('date', () => {
  it('reads the declared formats and writes ISO', () => {
    const date = coerceWith({ type: 'date' }, { locale: 'pt-BR' });
    expect(date('31/12/2024')).toBe('2024-12-31');
    expect(date('2024-12-31')).toBe('2024-12-31');
    expect(date('29/02/2024')).toBe('2024-02-29');
    const custom = coerceWith({
      type: 'date',
      formats: ['d.M.yy', 'yyyyMMdd'],
    });
    expect(custom('1.2.24')).toBe('2024-02-01');
    expect(custom('20240201')).toBe('2024-02-01');
  });

  it('refuses impossible dates', () => {
    const date = coerceWith({ type: 'date' }, { locale: 'pt-BR' });
    for (const text of [
      '31/02/2024',
      '29/02/2023',
      '00/01/2024',
      '12/13/2024',
      '2024-02-30',
      '1/1/2024',
    ]) {
      expect(date(text)).toMatchObject({ code: 'invalid_date' });
    }
    expect(date('31/02/2024')).toMatchObject({
      message: expect.stringContaining('dd/MM/yyyy'),
    });
  });
});

describe('timestamp and timestamptz', () => {
  it('reads formats and ISO 8601 into a plain timestamp', () => {
    const timestamp = coerceWith({ type: 'timestamp' }, { locale: 'pt-BR' });
    expect(timestamp('31/12/2024 23:59:58')).toBe('2024-12-31 23:59:58');
    expect(timestamp('31/12/2024 23:59')).toBe('2024-12-31 23:59:00');
    expect(timestamp('31/12/2024')).toBe('2024-12-31 00:00:00');
    expect(timestamp('2024-06-01T10:00:00.1234560')).toBe(
      '2024-06-01 10:00:00.123456',
    );
    expect(timestamp('31/12/2024 24:00:00')).toMatchObject({
      code: 'invalid_timestamp',
    });
    expect(timestamp('2024-02-30T10:00:00')).toMatchObject({
      code: 'invalid_timestamp',
    });
  });

  it('turns an offset into the zone wall time for a plain timestamp', () => {
    const timestamp = coerceWith({ type: 'timestamp' }, { locale: 'pt-BR' });
    expect(timestamp('2024-06-01T13:00:00Z')).toBe('2024-06-01 10:00:00');
  });

  it('keeps an offset that is given', () => {
    const tz = coerceWith({ type: 'timestamptz' }, { locale: 'pt-BR' });
    expect(tz('2024-06-01T10:00:00Z')).toBe('2024-06-01 10:00:00+00:00');
    expect(tz('2024-06-01T10:00:00+0530')).toBe('2024-06-01 10:00:00+05:30');
    expect(tz('2024-06-01 10:00:00.5-03:00')).toBe(
      '2024-06-01 10:00:00.5-03:00',
    );
  });

  it('reads a value without offset in the locale zone, whatever TZ the process has', () => {
    const saved = process.env.TZ;
    try {
      for (const tz of ['UTC', 'Asia/Tokyo', 'America/Los_Angeles']) {
        process.env.TZ = tz;
        const spTz = coerceWith({ type: 'timestamptz' }, { locale: 'pt-BR' });
        expect(spTz('01/06/2024 10:00:00')).toBe('2024-06-01 10:00:00-03:00');
        // Brazil kept summer time until 2019.
        expect(spTz('15/01/2018 10:00:00')).toBe('2018-01-15 10:00:00-02:00');
        const date = coerceWith({ type: 'date' }, { locale: 'pt-BR' });
        expect(date('01/01/2024')).toBe('2024-01-01');
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it('handles DST gaps and overlaps like PostgreSQL', () => {
    const locale = {
      decimalSeparator: '.' as const,
      dateFormats: ['yyyy-MM-dd'],
      timeZone: 'America/New_York',
    };
    const tz = coerceWith({ type: 'timestamptz' }, { locale });
    expect(tz('2024-07-01 12:00')).toBe('2024-07-01 12:00:00-04:00');
    expect(tz('2024-01-01 12:00')).toBe('2024-01-01 12:00:00-05:00');
    // 02:30 does not exist on 2024-03-10: read with the offset before the gap.
    expect(tz('2024-03-10 02:30')).toBe('2024-03-10 02:30:00-05:00');
    // 01:30 happens twice on 2024-11-03: the later one (standard time).
    expect(tz('2024-11-03 01:30')).toBe('2024-11-03 01:30:00-05:00');
  });

  it('refuses a locale zone Intl does not know', () => {
    expect(() =>
      coerceWith(
        { type: 'timestamptz' },
        {
          locale: { decimalSeparator: '.', timeZone: 'Mars/Olympus' },
        },
      ),
    ).toThrow(/not an IANA zone/);
  });
});

describe('uuid and jsonb', () => {
  it('validates UUIDs and writes them lower-case', () => {
    const uuid = coerceWith({ type: 'uuid' });
    expect(uuid('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11')).toBe(
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    );
    expect(uuid('{a0eebc999c0b4ef8bb6d6bb9bd380a11}')).toBe(
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    );
    expect(uuid('a0eebc99-9c0b-4ef8-bb6d')).toMatchObject({
      code: 'invalid_uuid',
    });
    expect(uuid('{a0eebc999c0b4ef8bb6d6bb9bd380a11')).toMatchObject({
      code: 'invalid_uuid',
    });
  });

  it('validates JSON and passes it through as written', () => {
    const json = coerceWith({ type: 'jsonb' });
    expect(json('{"a": 1.10, "big": 12345678901234567890}')).toBe(
      '{"a": 1.10, "big": 12345678901234567890}',
    );
    expect(json('{a:1}')).toMatchObject({ code: 'invalid_json' });
    expect(json('"\\u0000"')).toMatchObject({ code: 'invalid_json' });
    expect(json('"\\\\u0000"')).toBe('"\\\\u0000"');
  });
});

describe('row level', () => {
  const definition = defineImport({
    entity: 'products',
    table: 'products',
    key: ['sku'],
    columns: [
      { name: 'sku', type: 'text' },
      { name: 'name', type: 'text', nullable: false },
      { name: 'qty', type: 'integer' },
      { name: 'price', type: 'numeric', precision: 10, scale: 2 },
    ],
  });
  const coerce = createRowCoercer(definition);

  it('collects every issue of a record, with position, column and raw value', () => {
    const position = { recordNumber: 3, line: 5, endLine: 6 };
    const result = coerce({ position, values: [null, '', 'x', '1.234'] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      expect.objectContaining({
        severity: 'error',
        position,
        column: 'sku',
        code: 'required',
        rawValue: null,
      }),
      expect.objectContaining({
        column: 'qty',
        code: 'invalid_integer',
        rawValue: 'x',
      }),
      expect.objectContaining({
        column: 'price',
        code: 'numeric_scale',
        rawValue: '1.234',
      }),
    ]);
    // A quoted empty string is a value in a text column, so `name` passes.
    expect(result.issues.some((issue) => issue.column === 'name')).toBe(false);
  });

  it('gives a row of canonical strings', () => {
    const result = coerce({
      position: { recordNumber: 1, line: 2 },
      values: ['A', 'Pen', '007', '2.5'],
      entity: 'products',
    });
    expect(result).toEqual({
      ok: true,
      row: {
        position: { recordNumber: 1, line: 2 },
        values: ['A', 'Pen', '7', '2.50'],
        entity: 'products',
      },
    });
  });
});
