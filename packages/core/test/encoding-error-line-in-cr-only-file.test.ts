import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { ImportError } from '../src/errors/import-error.js';
import { decodeToUtf8 } from '../src/readers/decode.js';
import { chunked, readAll } from './csv-test-helpers.js';

/**
 * The line an ENCODING_ERROR names counted LF bytes only, so in a file
 * whose lines end in CR alone (old Mac exports, which the CSV reader
 * accepts) every bad byte was on "line 1". Lines are physical and count
 * CR, LF and CRLF once each, as the CSV reader counts them.
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

async function decodeFailure(
  bytes: Buffer,
  encoding: string,
  chunkSize = 65536,
): Promise<ImportError> {
  try {
    const decoded = decodeToUtf8(chunked(bytes, chunkSize), { encoding });
    for await (const chunk of decoded.chunks) void chunk;
  } catch (error) {
    expect(error).toBeInstanceOf(ImportError);
    return error as ImportError;
  }
  throw new Error('decoding did not fail');
}

const withByte = (before: string, byte: number, after: string) =>
  Buffer.concat([Buffer.from(before), Buffer.from([byte]), Buffer.from(after)]);

describe('the line of an ENCODING_ERROR', () => {
  it.each([
    ['utf-8', 0xe7],
    ['windows-1252', 0x81],
  ])('%s: names line 4 in a CR-only file', async (encoding, byte) => {
    const bytes = withByte('code,name\rA,x\rB,y\rC,', byte, '\r');

    const error = await decodeFailure(bytes, encoding);

    expect(error.code).toBe('ENCODING_ERROR');
    expect(error.details).toMatchObject({ line: 4 });
  });

  it('names the line the CSV reader gives the record', async () => {
    const bytes = withByte('code,name\rA,x\rB,y\rC,', 0xe7, '\r');

    const failure = await readAll(chunked(bytes), {
      definition,
      encoding: 'utf-8',
    }).catch((error: unknown) => error);

    expect(failure).toMatchObject({
      code: 'ENCODING_ERROR',
      details: { line: 4 },
    });
  });

  it('counts CRLF once, also when a chunk ends between CR and LF', async () => {
    const before = 'code,name\r\nA,x\r\nB,y\rC,z\nD,';
    const bytes = withByte(before, 0xe7, '\r\n');
    const cutAfterCr = before.indexOf('\r\n') + 1;

    for (const size of [1, 2, 3, cutAfterCr, 65536]) {
      const error = await decodeFailure(bytes, 'utf-8', size);
      expect(error.details).toMatchObject({ line: 5 });
    }
  });

  it('counts CR in UTF-16 too', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('code,name\rA,x\rB,\ud800\r', 'utf16le'),
    ]);

    const error = await decodeFailure(bytes, 'utf-16le', 5);

    expect(error.details).toMatchObject({ encoding: 'utf-16le', line: 3 });
  });
});
