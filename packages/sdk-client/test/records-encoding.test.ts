import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { encodeRecords, type RecordsSource } from '../src/index.js';
import type { EncodeRecordsOptions } from '../src/records-encoding.js';

// Records as CSV or NDJSON text, checked by reading the text back.

async function encoded(
  records: RecordsSource,
  options: EncodeRecordsOptions,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of encodeRecords(records, options)) {
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

describe('CSV', () => {
  it('quotes what must be quoted and tells null from empty', async () => {
    const text = await encoded(
      [
        {
          code: '00123',
          name: 'Quote " and , comma',
          note: 'two\nlines',
          empty: '',
          none: null,
        },
        {
          code: '0E68',
          name: 'plain',
          note: 'cr\r',
          empty: '',
          none: undefined,
        },
      ],
      { format: 'csv' },
    );

    expect(text).toBe(
      'code,name,note,empty,none\n' +
        '00123,"Quote "" and , comma","two\nlines","",\n' +
        '0E68,plain,"cr\r","",\n',
    );
    // csv-parse reads an unquoted empty field as '' too; the quotes are
    // what the server's reader uses to keep '' apart from NULL.
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows[0]?.name).toBe('Quote " and , comma');
    expect(rows[0]?.note).toBe('two\nlines');
  });

  it('writes numbers, bigints, booleans, dates and objects', async () => {
    const text = await encoded(
      [
        {
          n: 12.5,
          big: 9007199254740993n,
          yes: true,
          at: new Date('2024-02-29T10:00:00Z'),
          json: { a: [1, 'x,y'] },
        },
      ],
      { format: 'csv' },
    );
    expect(text).toBe(
      'n,big,yes,at,json\n' +
        '12.5,9007199254740993,true,2024-02-29T10:00:00.000Z,' +
        '"{""a"":[1,""x,y""]}"\n',
    );
  });

  it('takes the columns given, in their order, and leaves missing ones empty', async () => {
    async function* records() {
      yield { b: '2', a: '1' };
      yield { a: '3' };
    }
    const text = await encoded(records(), {
      format: 'csv',
      columns: ['a', 'b', 'c'],
    });
    expect(text).toBe('a,b,c\n1,2,\n3,,\n');
  });

  it('refuses a member that has no column, rather than drop it', async () => {
    await expect(
      encoded([{ a: '1' }, { a: '2', extra: 'lost?' }], { format: 'csv' }),
    ).rejects.toThrow(/record 2 has "extra"/);
  });

  it('refuses a number with no CSV form', async () => {
    await expect(
      encoded([{ a: Number.NaN }], { format: 'csv' }),
    ).rejects.toThrow(/record 1, a: NaN/);
  });

  it('writes many records in few chunks', async () => {
    const records = Array.from({ length: 20_000 }, (_, i) => ({ i }));
    let chunks = 0;
    for await (const _chunk of encodeRecords(records, { format: 'csv' })) {
      chunks += 1;
    }
    expect(chunks).toBeLessThan(10);
  });
});

describe('NDJSON', () => {
  it('writes one JSON object per line, bigints as text', async () => {
    const text = await encoded(
      [
        { a: 1, b: 'x\ny' },
        { big: 12345678901234567890n, nested: { c: null } },
      ],
      { format: 'ndjson' },
    );
    expect(text).toBe(
      '{"a":1,"b":"x\\ny"}\n' +
        '{"big":"12345678901234567890","nested":{"c":null}}\n',
    );
    expect(
      text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { a: 1, b: 'x\ny' },
      { big: '12345678901234567890', nested: { c: null } },
    ]);
  });

  it('refuses a record that is not an object', async () => {
    await expect(
      encoded([{ a: 1 }, 'text' as never], { format: 'ndjson' }),
    ).rejects.toThrow(/record 2 is not an object/);
  });
});
