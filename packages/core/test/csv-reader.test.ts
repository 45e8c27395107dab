import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import { defineImport } from '../src/definitions/import-definition.js';
import { ImportError } from '../src/errors/import-error.js';
import { createCsvReader } from '../src/readers/csv-reader.js';
import { chunked, readAll } from './csv-test-helpers.js';

const definition = defineImport({
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'name', type: 'text' },
    { name: 'note', type: 'text' },
  ],
});

async function readError(
  text: string | Buffer,
  chunkSize?: number,
): Promise<ImportError> {
  try {
    await readAll(chunked(text, chunkSize), { definition });
  } catch (error) {
    expect(error).toBeInstanceOf(ImportError);
    return error as ImportError;
  }
  throw new Error('reading did not fail');
}

describe('createCsvReader', () => {
  it('gives the physical start line of records after multi-line ones', async () => {
    const text =
      'sku,name,note\r\n' +
      'A,"two\r\nlines",x\r\n' + // lines 2-3 (CRLF inside quotes counts once)
      'B,"three\nlines\rhere",y\r\n' + // lines 4-6 (LF and bare CR)
      '\r\n' + // line 7, empty
      'C,plain,z\r\n'; // line 8
    for (const size of [3, 65536]) {
      const { records } = await readAll(chunked(text, size), { definition });
      expect(records.map((record) => record.position)).toEqual([
        { recordNumber: 1, line: 2, endLine: 3 },
        { recordNumber: 2, line: 4, endLine: 6 },
        { recordNumber: 3, line: 8 },
      ]);
      expect(records[1]?.values[1]).toBe('three\nlines\rhere');
    }
  });

  it('reads an unquoted empty field as null and a quoted one as an empty string', async () => {
    const { records } = await readAll(
      chunked('sku,name,note\nA,,""\nB,"",\n"",x,""""\n'),
      { definition },
    );
    expect(records.map((record) => record.values)).toEqual([
      ['A', null, ''],
      ['B', '', null],
      ['', 'x', '"'],
    ]);
  });

  it('leaves absent nullable columns undefined', async () => {
    const { records } = await readAll(chunked('name,sku\nN,S\n'), {
      definition,
    });
    expect(records[0]?.values).toEqual(['S', 'N', undefined]);
  });

  it('rejects a ragged row as an issue and reads on', async () => {
    const { records, issues } = await readAll(
      chunked('sku,name,note\nA,a,1\nB,b\nC,c,3,extra\nD,d,4\n'),
      { definition },
    );
    expect(records.map((record) => record.values[0])).toEqual(['A', 'D']);
    expect(issues).toMatchObject([
      {
        code: 'ragged_row',
        position: { recordNumber: 2, line: 3 },
        rawValue: 'B,b',
      },
      { code: 'ragged_row', position: { recordNumber: 3, line: 4 } },
    ]);
    expect(issues[0]?.message).toMatch(/2 field\(s\) where the header has 3/);
  });

  it('rejects a record with a NUL character in a read field', async () => {
    const { records, issues } = await readAll(
      chunked('sku,name,note\nA,a\u0000b,1\nB,b,2\n'),
      { definition },
    );
    expect(records.map((record) => record.values[0])).toEqual(['B']);
    expect(issues).toMatchObject([
      {
        code: 'nul_character',
        column: 'name',
        position: { line: 2 },
        rawValue: 'a\\0b',
      },
    ]);
  });

  it('fails with MALFORMED_FILE naming the line where an unclosed quote opens', async () => {
    let text = 'sku,name,note\n';
    for (let i = 0; i < 2000; i++) text += `S${i},n,x\n`;
    text += 'Z,"never closed,x\nmore\nlines\n';
    const error = await readError(text, 1000);
    expect(error.code).toBe('MALFORMED_FILE');
    expect(error.details.line).toBe(2002);
    expect(error.message).toContain('line 2002');
  });

  it('keeps a quote inside an unquoted value as written', async () => {
    const { records } = await readAll(
      chunked('sku,name,note\nA,12" tube,x\n'),
      { definition },
    );
    expect(records[0]?.values).toEqual(['A', '12" tube', 'x']);
  });

  it('skips empty lines, before the header too', async () => {
    const { records } = await readAll(
      chunked('\n\nsku,name,note\n\nA,a,1\n\n'),
      { definition },
    );
    expect(records).toEqual([
      { position: { recordNumber: 1, line: 5 }, values: ['A', 'a', '1'] },
    ]);
  });

  it('gives zero records for a header alone, and EMPTY_FILE for no bytes', async () => {
    expect(
      (await readAll(chunked('sku,name,note\r\n'), { definition })).records,
    ).toEqual([]);
    expect((await readError('')).code).toBe('EMPTY_FILE');
    expect((await readError('\n\n')).code).toBe('EMPTY_FILE');
  });

  it('fails the file when the header lacks the key', async () => {
    expect((await readError('name,note\nx,y\n')).code).toBe('MISSING_COLUMNS');
  });

  it('reads a gzip body and counts the compressed bytes', async () => {
    const text = 'sku;name;note\n' + 'A;Ação;x\n'.repeat(1000);
    const gzip = gzipSync(iconv.encode(text, 'windows-1252'));
    const { records, reader } = await readAll(chunked(gzip, 100), {
      definition,
    });
    expect(records).toHaveLength(1000);
    expect(records[999]?.values).toEqual(['A', 'Ação', 'x']);
    expect(reader.detected()).toEqual({
      encoding: 'windows-1252',
      delimiter: ';',
    });
    expect(reader.bytesRead()).toBe(gzip.length);
  });

  it('fails a truncated gzip body with TRUNCATED_FILE', async () => {
    const gzip = gzipSync(
      Buffer.from('sku,name,note\n' + 'A,b,c\n'.repeat(5000)),
    );
    const error = await readError(gzip.subarray(0, gzip.length - 20));
    expect(error.code).toBe('TRUNCATED_FILE');
  });

  it('uses the declared delimiter and encoding', async () => {
    const bytes = iconv.encode('sku|name|note\nA|é|x\n', 'latin1');
    const reader = createCsvReader(chunked(bytes), {
      definition,
      delimiter: '|',
      encoding: 'ISO-8859-1',
    });
    const items = [];
    for await (const item of reader.items()) items.push(item);
    expect(items).toMatchObject([
      { kind: 'record', record: { values: ['A', 'é', 'x'] } },
    ]);
    expect(reader.detected()).toEqual({
      encoding: 'iso-8859-1',
      delimiter: '|',
    });
  });

  it('fails with ENCODING_ERROR on bytes that do not decode', async () => {
    const bytes = Buffer.concat([
      Buffer.from('sku,name,note\nA,'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(',x\n'),
    ]);
    // Undeclared, such a file reads as windows-1252 (Ã then "(").
    const { records } = await readAll(chunked(bytes), { definition });
    expect(records[0]?.values[1]).toBe('Ã(');

    const reader = createCsvReader(chunked(bytes), {
      definition,
      encoding: 'utf-8',
    });
    await expect(async () => {
      for await (const item of reader.items()) void item;
    }).rejects.toMatchObject({
      code: 'ENCODING_ERROR',
      details: { offset: 16, line: 2 },
    });
  });

  it('stops reading the input when the consumer stops early', async () => {
    const input = chunked('sku,name,note\n' + 'A,b,c\n'.repeat(100000), 1024);
    const reader = createCsvReader(input, { definition });
    let seen = 0;
    for await (const item of reader.items()) {
      if (item.kind === 'record' && ++seen === 10) break;
    }
    expect(seen).toBe(10);
    await new Promise((resolve) => setImmediate(resolve));
    expect(input.destroyed).toBe(true);
  });
});
