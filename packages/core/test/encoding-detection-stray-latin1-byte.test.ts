import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import { ImportError } from '../src/errors/import-error.js';
import { decodeToUtf8, detectEncoding } from '../src/readers/decode.js';
import { createJsonReader } from '../src/readers/json-reader.js';
import type { RecordReader } from '../src/readers/record-reader.js';
import { createXmlReader } from '../src/readers/xml-reader.js';
import { chunked, sharedPath } from './csv-test-helpers.js';

/**
 * A UTF-8 file (`Preço`) with one stray Latin-1 byte in its first 64 KiB
 * was detected as Windows-1252, and the whole file was read as mojibake
 * (`PreÃ§o`), silently; the same byte after 64 KiB failed the import.
 * A sample with valid multi-byte sequences is now UTF-8 unless the bytes
 * that are not UTF-8 outnumber them, so the stray byte fails the import.
 */

async function decode(
  bytes: Buffer,
): Promise<{ text: string; encoding: string | undefined }> {
  const decoded = decodeToUtf8(chunked(bytes, 4096));
  const parts: Buffer[] = [];
  for await (const chunk of decoded.chunks) parts.push(chunk);
  return {
    text: Buffer.concat(parts).toString('utf8'),
    encoding: decoded.encoding(),
  };
}

async function decodeFailure(bytes: Buffer): Promise<ImportError> {
  const failure = await decode(bytes).catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(ImportError);
  return failure as ImportError;
}

async function readFailure(reader: RecordReader): Promise<unknown> {
  try {
    for await (const item of reader.items()) void item;
  } catch (error) {
    return error;
  }
  return undefined;
}

const stray = (before: string, after: string) =>
  Buffer.concat([Buffer.from(before), Buffer.from([0xe9]), Buffer.from(after)]);

describe('a stray Latin-1 byte in a UTF-8 file', () => {
  it('fails the import naming the byte, within the first 64 KiB', async () => {
    const bytes = stray('code;name\nP1;Preço\nP2;caf', '\nP3;ação\n');

    const error = await decodeFailure(bytes);

    expect(error.code).toBe('ENCODING_ERROR');
    expect(error.details).toMatchObject({
      encoding: 'utf-8',
      offset: 'code;name\nP1;Preço\nP2;caf'.length + 1,
      line: 3,
    });
  });

  it('fails the same way after the first 64 KiB', async () => {
    const head = 'code;name\nP1;Preço\n' + 'X;plain ascii text\n'.repeat(4000);
    const error = await decodeFailure(stray(`${head}P2;caf`, '\n'));

    expect(error.details).toMatchObject({ encoding: 'utf-8', line: 4003 });
  });

  it('fails a JSON document, not reads it as mojibake', async () => {
    const definition = defineImport({
      entity: 'items',
      table: 'items',
      key: ['code'],
      columns: [
        { name: 'code', type: 'text' },
        { name: 'note', type: 'text' },
      ],
    });
    const bytes = stray('[{"code":"Preço","note":"caf', '"}]');

    const failure = await readFailure(
      createJsonReader(Readable.from([bytes]), { definition, format: 'json' }),
    );

    expect(failure).toMatchObject({ code: 'ENCODING_ERROR' });
  });

  it('fails an XML document, not reads it as mojibake', async () => {
    const orders: ImportDefinitionInput = {
      entity: 'orders',
      table: 'orders',
      key: ['order_number'],
      records: { xmlPath: '/Orders/Order' },
      columns: [
        { name: 'order_number', type: 'text', path: '@number' },
        { name: 'customer_code', type: 'text', path: 'Customer' },
      ],
    };
    const bytes = stray(
      '<Orders><Order number="Preço"><Customer>caf',
      '</Customer></Order></Orders>',
    );

    const failure = await readFailure(
      createXmlReader(Readable.from([bytes]), {
        definition: defineImport(orders),
      }),
    );

    expect(failure).toMatchObject({ code: 'ENCODING_ERROR' });
  });
});

describe('Windows-1252 files are still detected', () => {
  it('detects the IBPT table, which holds no valid UTF-8 sequence', async () => {
    const bytes = await readFile(sharedPath('data/TabelaIBPTaxSP23.2.A.csv'));

    expect(detectEncoding(bytes.subarray(0, 64 * 1024)).encoding).toBe(
      'windows-1252',
    );
  });

  it('reads a file whose accented capital before a curly quote looks like UTF-8', async () => {
    // `É”` is C9 94, a valid UTF-8 sequence (U+0254); the other accented
    // letters are bytes that are not UTF-8, and they outnumber it.
    const text = 'code;name\r\nC1;“JOSÉ” da Conceição\r\nC2;Café\r\n';
    const bytes = iconv.encode(text, 'windows-1252');

    expect(await decode(bytes)).toEqual({ text, encoding: 'windows-1252' });
  });
});
