import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { chunked, readAll } from './csv-test-helpers.js';

/**
 * A UTF-32LE byte-order mark (`FF FE 00 00`) starts like UTF-16LE's, so
 * the file was read as UTF-16 and failed with MISSING_COLUMNS over a
 * header of NULs. UTF-32 is not supported, and says so.
 */

const definition = defineImport({
  entity: 'codes',
  table: 'codes',
  key: ['code'],
  columns: [
    { name: 'code', type: 'text' },
    { name: 'name', type: 'text' },
  ],
});

function utf32(text: string, order: 'le' | 'be'): Buffer {
  const bytes = Buffer.alloc((text.length + 1) * 4);
  [0xfeff, ...Array.from(text, (char) => char.charCodeAt(0))].forEach(
    (code, index) =>
      order === 'le'
        ? bytes.writeUInt32LE(code, index * 4)
        : bytes.writeUInt32BE(code, index * 4),
  );
  return bytes;
}

async function failureOf(bytes: Buffer, encoding?: string): Promise<unknown> {
  return readAll(chunked(bytes), {
    definition,
    ...(encoding !== undefined && { encoding }),
  }).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('a UTF-32 byte-order mark', () => {
  it.each(['le', 'be'] as const)(
    'UTF-32%s fails with ENCODING_ERROR, not MISSING_COLUMNS',
    async (order) => {
      const failure = await failureOf(utf32('code,name\nA,x\n', order));

      expect(failure).toMatchObject({
        code: 'ENCODING_ERROR',
        message: expect.stringContaining('UTF-32 is not supported'),
        details: { encoding: `utf-32${order}` },
      });
    },
  );

  it('fails even when the import declares another encoding', async () => {
    const failure = await failureOf(utf32('code,name\n', 'le'), 'utf-16le');

    expect(failure).toMatchObject({ code: 'ENCODING_ERROR' });
  });

  it('leaves a UTF-16LE mark followed by text as UTF-16LE', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('code,name\nA,x\n', 'utf16le'),
    ]);

    const read = await readAll(chunked(bytes), { definition });

    expect(read.records.map((record) => record.values)).toEqual([['A', 'x']]);
    expect(read.reader.detected().encoding).toBe('utf-16le');
  });
});
