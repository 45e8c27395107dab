import { describe, expect, it } from 'vitest';
import iconv from 'iconv-lite';
import { ImportError } from '../src/errors/import-error.js';
import {
  completeUtf8Length,
  decodeToUtf8,
  detectEncoding,
  normalizeEncodingName,
} from '../src/readers/decode.js';
import { chunked } from './csv-test-helpers.js';

async function decodeAll(
  bytes: Uint8Array,
  options: { encoding?: string; chunkSize?: number; sniffBytes?: number } = {},
): Promise<{ text: string; encoding: string | undefined }> {
  const decoded = decodeToUtf8(chunked(bytes, options.chunkSize ?? 65536), {
    ...(options.encoding !== undefined && { encoding: options.encoding }),
    ...(options.sniffBytes !== undefined && { sniffBytes: options.sniffBytes }),
  });
  const parts: Buffer[] = [];
  for await (const chunk of decoded.chunks) parts.push(chunk);
  return {
    text: Buffer.concat(parts).toString('utf8'),
    encoding: decoded.encoding(),
  };
}

async function decodeError(
  bytes: Uint8Array,
  options: { encoding?: string; chunkSize?: number; sniffBytes?: number } = {},
): Promise<ImportError> {
  try {
    await decodeAll(bytes, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ImportError);
    return error as ImportError;
  }
  throw new Error('decoding did not fail');
}

const sample = 'código;descrição\r\nA1;Preço – “ótimo” …\r\n';

describe('encoding detection', () => {
  it('reads a UTF-8 BOM, strips it and says utf-8', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(sample),
    ]);
    expect(await decodeAll(bytes)).toEqual({ text: sample, encoding: 'utf-8' });
  });

  it('detects UTF-8 without a BOM', async () => {
    expect(await decodeAll(Buffer.from(sample))).toEqual({
      text: sample,
      encoding: 'utf-8',
    });
  });

  it('reads UTF-16LE and UTF-16BE with their BOM', async () => {
    const le = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(sample, 'utf16le'),
    ]);
    expect(await decodeAll(le, { chunkSize: 7 })).toEqual({
      text: sample,
      encoding: 'utf-16le',
    });
    const be = Buffer.from(le);
    be.swap16();
    expect(await decodeAll(be, { chunkSize: 5 })).toEqual({
      text: sample,
      encoding: 'utf-16be',
    });
  });

  it('recognises UTF-16LE without a BOM by its NUL bytes', () => {
    expect(
      detectEncoding(Buffer.from('sku;name\r\nA;B\r\n', 'utf16le')).encoding,
    ).toBe('utf-16le');
  });

  it('falls back to windows-1252 when the start is not UTF-8', async () => {
    const bytes = iconv.encode(sample, 'windows-1252');
    expect(await decodeAll(bytes)).toEqual({
      text: sample,
      encoding: 'windows-1252',
    });
  });

  it('reads ISO-8859-1 only when declared, byte for byte', async () => {
    const bytes = Buffer.from([0x63, 0xe9, 0x80, 0x0a]); // c é <C1 control> LF
    expect(await decodeAll(bytes, { encoding: 'latin1' })).toEqual({
      text: 'cé\u0080\n',
      encoding: 'iso-8859-1',
    });
    // Undeclared, the same bytes read as windows-1252, where 0x80 is the
    // euro sign.
    expect((await decodeAll(bytes)).text).toBe('cé€\n');
  });

  it('normalizes declared names', () => {
    expect(normalizeEncodingName('UTF8')).toBe('utf-8');
    expect(normalizeEncodingName('CP1252')).toBe('windows-1252');
    expect(normalizeEncodingName('ISO_8859-1')).toBe('iso-8859-1');
    expect(() => normalizeEncodingName('ebcdic')).toThrow(
      /unsupported encoding/,
    );
  });

  it('lets a BOM win over a contradicting declaration', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('ção'),
    ]);
    expect(await decodeAll(bytes, { encoding: 'windows-1252' })).toEqual({
      text: 'ção',
      encoding: 'utf-8',
    });
  });
});

describe('split multi-byte sequences', () => {
  it('keeps characters cut between chunks whole, at every chunk size', async () => {
    const text = 'ação 😀 – ü'.repeat(50);
    for (const size of [1, 2, 3, 5, 7]) {
      expect(
        (await decodeAll(Buffer.from(text), { chunkSize: size, sniffBytes: 4 }))
          .text,
      ).toBe(text);
    }
  });

  it('finds where a cut sequence ends', () => {
    const euro = Buffer.from('a€'); // 61 e2 82 ac
    expect(completeUtf8Length(euro.subarray(0, 2))).toBe(1);
    expect(completeUtf8Length(euro.subarray(0, 3))).toBe(1);
    expect(completeUtf8Length(euro)).toBe(4);
  });
});

describe('bytes that do not decode', () => {
  it('fails on invalid UTF-8 when utf-8 is declared, naming offset and line', async () => {
    const bytes = Buffer.concat([
      Buffer.from('a,b\nc,d\ne,'),
      Buffer.from([0xe9, 0x0a]),
    ]);
    const error = await decodeError(bytes, { encoding: 'utf-8' });
    expect(error.code).toBe('ENCODING_ERROR');
    expect(error.details).toMatchObject({
      encoding: 'utf-8',
      offset: 10,
      line: 3,
    });
    expect(error.message).toContain('0xe9');
  });

  it('fails on a Windows-1252 byte that comes after the sniff window', async () => {
    const head = 'codigo;descricao\n' + 'X;plain ascii text\n'.repeat(5000); // ~95 KB
    const bytes = Buffer.concat([
      Buffer.from(head),
      iconv.encode('Y;Ação\n', 'windows-1252'),
    ]);
    const error = await decodeError(bytes, { chunkSize: 4096 });
    expect(error.code).toBe('ENCODING_ERROR');
    expect(error.details).toMatchObject({
      encoding: 'utf-8',
      offset: head.length + 3,
      line: 5002,
    });
    expect(error.message).toMatch(/detected from the first 65536 bytes/);
  });

  it('fails when the file ends inside a multi-byte character', async () => {
    const bytes = Buffer.from('abc€').subarray(0, 5);
    const error = await decodeError(bytes, { encoding: 'utf-8' });
    expect(error.details).toMatchObject({ offset: 3 });
  });

  it('fails on bytes windows-1252 leaves unassigned', async () => {
    const error = await decodeError(Buffer.from([0x61, 0x0a, 0x62, 0x81]), {
      encoding: 'windows-1252',
    });
    expect(error.details).toMatchObject({ offset: 3, line: 2 });
  });

  it('fails on an unpaired surrogate in UTF-16', async () => {
    const units = Buffer.from('ab\uD800cd', 'utf16le');
    const error = await decodeError(
      Buffer.concat([Buffer.from([0xff, 0xfe]), units]),
    );
    expect(error.details).toMatchObject({ encoding: 'utf-16le', offset: 6 });
  });

  it('fails on an odd byte at the end of UTF-16', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('ab', 'utf16le'),
      Buffer.from([0x41]),
    ]);
    const error = await decodeError(bytes);
    expect(error.details).toMatchObject({ offset: 6 });
  });

  it('never yields a replacement character', async () => {
    const bytes = Buffer.from([0x61, 0xff, 0x62]);
    const error = await decodeError(bytes, { encoding: 'utf-8' });
    expect(error.code).toBe('ENCODING_ERROR');
  });
});
