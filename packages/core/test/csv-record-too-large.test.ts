import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { ImportError } from '../src/errors/import-error.js';
import { chunked, readAll } from './csv-test-helpers.js';

// A CSV record over the size limit failed with "larger than the limit; a
// quote that never closes is the usual cause" even when the record had
// no quote at all. The message now names the limit, speaks of a quote
// only when the record is inside one when it reaches the limit, and the
// limit is in the error's details, as the JSON and XML readers give it.

const definition = defineImport({
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'note', type: 'text' },
  ],
});

async function readError(
  text: string,
  options: { fastScan: boolean; maxRecordBytes?: number },
  chunkSize = 512,
): Promise<ImportError> {
  try {
    await readAll(chunked(text, chunkSize), { definition, ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(ImportError);
    return error as ImportError;
  }
  throw new Error('reading did not fail');
}

describe.each([true, false])(
  'a CSV record over the limit (fastScan %s)',
  (fastScan) => {
    it('names the limit and no quote when the record has none open', async () => {
      const text = `sku,note\nA,ok\nB,${'x'.repeat(3000)}\nC,ok\n`;
      const error = await readError(text, { fastScan, maxRecordBytes: 1024 });
      expect(error.code).toBe('MALFORMED_FILE');
      expect(error.message).toBe(
        'the record starting at line 3 is larger than the limit of 1 KiB ' +
          '(1024 bytes) one record may hold',
      );
      expect(error.details).toEqual({
        line: 3,
        csvCode: 'CSV_MAX_RECORD_SIZE',
        maxRecordBytes: 1024,
      });
    });

    it('speaks of the quote only when the record is inside one', async () => {
      const text = `sku,note\nA,ok\nB,"${'x'.repeat(3000)}\nC,ok\n`;
      const error = await readError(text, { fastScan, maxRecordBytes: 1000 });
      expect(error.message).toBe(
        'the record starting at line 3 is larger than the limit of 1000 ' +
          'bytes one record may hold; it is inside a quoted field that has ' +
          'not closed, and a quote that never closes is the usual cause',
      );
      expect(error.details).toMatchObject({ line: 3, maxRecordBytes: 1000 });
    });

    it('does not blame a quoted field that closed before the limit', async () => {
      const text = `sku,note\n"A","${'y'.repeat(100)}",${'x'.repeat(3000)}\n`;
      const error = await readError(text, { fastScan, maxRecordBytes: 1024 });
      expect(error.message).not.toMatch(/quote/);
    });
  },
);

// The scanner's path, as an import reads: the limit csv-parse applies.
it('gives the default limit, 16 MiB, in bytes', async () => {
  const text = `sku,note\nA,${'x'.repeat(16 * 1024 * 1024 + 10)}\n`;
  const error = await readError(text, { fastScan: true }, 65536);
  expect(error.message).toMatch(
    /larger than the limit of 16 MiB \(16777216 bytes\) one record may hold$/,
  );
  expect(error.details).toMatchObject({ maxRecordBytes: 16777216 });
});
