import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { ErrorCodes, ImportError } from '../errors/import-error.js';

/**
 * Turns a file's bytes into validated UTF-8 bytes, whatever the file was
 * written in, so every parser downstream reads one encoding.
 *
 * The encoding is the declared one or is detected: a byte-order mark
 * first, then a sniff of the first bytes (valid UTF-8 reads as UTF-8,
 * anything else as Windows-1252; ISO-8859-1 only when declared). Bytes
 * that do not decode fail the import with ENCODING_ERROR naming their
 * offset and line: no replacement character ever reaches a value. The
 * BOM is dropped.
 */

export const textEncodings = [
  'utf-8',
  'utf-16le',
  'utf-16be',
  'windows-1252',
  'iso-8859-1',
] as const;

export type TextEncoding = (typeof textEncodings)[number];

/** How many bytes detection looks at when no BOM decides. */
export const DEFAULT_SNIFF_BYTES = 64 * 1024;

const aliases: Record<string, TextEncoding | 'utf-16'> = {
  utf8: 'utf-8',
  // ASCII is UTF-8's first 128 characters, byte for byte: read as UTF-8,
  // a byte above 0x7F reads as UTF-8 reads it, or fails as UTF-8 fails.
  ascii: 'utf-8',
  usascii: 'utf-8',
  ansix341968: 'utf-8',
  iso646us: 'utf-8',
  csascii: 'utf-8',
  utf16le: 'utf-16le',
  utf16be: 'utf-16be',
  utf16: 'utf-16',
  ucs2: 'utf-16le',
  windows1252: 'windows-1252',
  cp1252: 'windows-1252',
  win1252: 'windows-1252',
  iso88591: 'iso-8859-1',
  latin1: 'iso-8859-1',
  l1: 'iso-8859-1',
};

/**
 * The canonical name of a declared encoding (`UTF8`, `cp1252`, `latin1`...).
 * `utf-16` without an order reads the BOM and defaults to little-endian.
 */
export function normalizeEncodingName(name: string): TextEncoding | 'utf-16' {
  const key = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  const found = aliases[key];
  if (found === undefined) {
    throw new ImportError(
      ErrorCodes.ENCODING_ERROR,
      `unsupported encoding "${name}"; use one of ${textEncodings.join(', ')}`,
      { details: { encoding: name } },
    );
  }
  return found;
}

export interface DetectedEncoding {
  encoding: TextEncoding;
  /** Length of the byte-order mark at the start, 0 when there is none. */
  bomLength: number;
}

/** The encoding a byte-order mark at the start of `bytes` announces. */
export function encodingFromBom(bytes: Uint8Array): DetectedEncoding | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return { encoding: 'utf-8', bomLength: 3 };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    return { encoding: 'utf-16le', bomLength: 2 };
  }
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    return { encoding: 'utf-16be', bomLength: 2 };
  }
  return null;
}

/**
 * Detects the encoding of a file from its first bytes. `complete` says the
 * sample is the whole file, so a multi-byte sequence cut at its end is an
 * error rather than the start of the next chunk.
 */
export function detectEncoding(
  sample: Uint8Array,
  complete = false,
): DetectedEncoding {
  const bom = encodingFromBom(sample);
  if (bom) return bom;

  const utf16 = sniffUtf16(sample);
  if (utf16) return { encoding: utf16, bomLength: 0 };

  const end = complete ? sample.length : completeUtf8Length(sample);
  const valid = isUtf8(sample.subarray(0, end));
  return { encoding: valid ? 'utf-8' : 'windows-1252', bomLength: 0 };
}

/**
 * UTF-16 without a BOM is rare but valid UTF-8 byte-wise (ASCII plus NUL
 * bytes), so it would read as text full of NULs: recognise it by the NUL
 * bytes falling on one side of each pair.
 */
function sniffUtf16(sample: Uint8Array): TextEncoding | null {
  const pairs = Math.min(sample.length, 4096) >> 1;
  if (pairs < 2) return null;
  let evenZeros = 0;
  let oddZeros = 0;
  for (let i = 0; i < pairs; i++) {
    if (sample[2 * i] === 0) evenZeros++;
    if (sample[2 * i + 1] === 0) oddZeros++;
  }
  if (oddZeros > pairs * 0.4 && evenZeros < pairs * 0.05) return 'utf-16le';
  if (evenZeros > pairs * 0.4 && oddZeros < pairs * 0.05) return 'utf-16be';
  return null;
}

export interface DecodeOptions {
  /** The declared encoding; detected when absent. */
  encoding?: string;
  /** How many bytes detection looks at; 64 KiB by default. */
  sniffBytes?: number;
}

export interface DecodedText {
  /** The content as validated UTF-8, without a BOM. Iterate once. */
  chunks: AsyncIterable<Buffer>;
  /** The encoding used; known once the first chunk is out. */
  encoding(): TextEncoding | undefined;
  /** Decoded bytes of input seen so far, BOM included. */
  bytesDecoded(): number;
}

/**
 * Decodes `source` into UTF-8 chunks. The first failure (a byte that is not
 * valid in the encoding, a sequence cut by the end of the file) rejects the
 * iteration with ENCODING_ERROR.
 */
export function decodeToUtf8(
  source: AsyncIterable<Uint8Array>,
  options: DecodeOptions = {},
): DecodedText {
  let used: TextEncoding | undefined;
  let offset = 0;
  const declared =
    options.encoding === undefined
      ? undefined
      : normalizeEncodingName(options.encoding);
  const sniffBytes = options.sniffBytes ?? DEFAULT_SNIFF_BYTES;

  async function* chunks(): AsyncGenerator<Buffer> {
    const iterator = source[Symbol.asyncIterator]();

    // Gather enough bytes to see a BOM, or to sniff when nothing is declared.
    const wanted = declared === undefined ? sniffBytes : 4;
    const head: Buffer[] = [];
    let headLength = 0;
    let ended = false;
    while (headLength < wanted) {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        break;
      }
      const bytes = asBuffer(next.value);
      head.push(bytes);
      headLength += bytes.length;
    }
    const start = Buffer.concat(head);

    const chosen = chooseEncoding(start, declared, ended);
    used = chosen.encoding;
    const decoder = createChunkDecoder(chosen.encoding, sniffBytes, declared);
    offset = chosen.bomLength;

    const first = decoder.decode(start.subarray(chosen.bomLength), offset);
    offset = start.length;
    if (first.length > 0) yield first;

    if (!ended) {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        const bytes = asBuffer(next.value);
        const text = decoder.decode(bytes, offset);
        offset += bytes.length;
        if (text.length > 0) yield text;
      }
    }
    decoder.end(offset);
  }

  return {
    chunks: { [Symbol.asyncIterator]: chunks },
    encoding: () => used,
    bytesDecoded: () => offset,
  };
}

function chooseEncoding(
  start: Uint8Array,
  declared: TextEncoding | 'utf-16' | undefined,
  complete: boolean,
): DetectedEncoding {
  // A BOM is stronger evidence than a declaration: a UTF-8 BOM read as
  // Windows-1252 would only glue `ï»¿` onto the first header.
  const bom = encodingFromBom(start);
  if (bom) return bom;
  if (declared === 'utf-16') return { encoding: 'utf-16le', bomLength: 0 };
  if (declared !== undefined) return { encoding: declared, bomLength: 0 };
  return detectEncoding(start, complete);
}

/**
 * Decodes one encoding chunk by chunk. `decode` gets the absolute offset of
 * the chunk's first byte so an error can name where it is; `end` fails on
 * a sequence the file cut short.
 */
interface ChunkDecoder {
  decode(bytes: Buffer, offset: number): Buffer;
  end(offset: number): void;
}

function createChunkDecoder(
  encoding: TextEncoding,
  sniffBytes: number,
  declared: string | undefined,
): ChunkDecoder {
  const lines = createLineCounter();
  const hint =
    declared === undefined
      ? `; ${encoding} was detected from the first ${sniffBytes} bytes, ` +
        "declare the file's encoding if it is another"
      : '';

  switch (encoding) {
    case 'utf-8':
      return createUtf8Validator(lines, hint);
    case 'utf-16le':
    case 'utf-16be':
      return createUtf16Decoder(encoding, lines, hint);
    case 'windows-1252':
      return createWindows1252Decoder(lines, hint);
    case 'iso-8859-1':
      // Every byte is a character in ISO-8859-1: nothing can fail.
      return {
        decode: (bytes) => Buffer.from(bytes.toString('latin1'), 'utf8'),
        end: () => undefined,
      };
  }
}

/**
 * UTF-8 input passes through as it is, once validated: a sequence split
 * between chunks waits in `carry` for the rest of its bytes.
 */
function createUtf8Validator(lines: LineCounter, hint: string): ChunkDecoder {
  let carry: Buffer | undefined;
  return {
    decode(bytes, offset) {
      const start = offset - (carry?.length ?? 0);
      const all = carry ? Buffer.concat([carry, bytes]) : bytes;
      const end = completeUtf8Length(all);
      const body = all.subarray(0, end);
      if (!isUtf8(body)) {
        const bad = firstInvalidUtf8(body);
        throw encodingError('utf-8', {
          byte: body[bad],
          offset: start + bad,
          line: lines.total() + countByte(body, 0x0a, bad) + 1,
          hint,
        });
      }
      lines.count(body);
      carry = end < all.length ? Buffer.from(all.subarray(end)) : undefined;
      return body;
    },
    end(offset) {
      if (carry) {
        throw encodingError('utf-8', {
          byte: carry[0],
          offset: offset - carry.length,
          line: lines.total() + 1,
          hint: `${hint}; the file ends inside a multi-byte character`,
        });
      }
    },
  };
}

function createUtf16Decoder(
  encoding: 'utf-16le' | 'utf-16be',
  lines: LineCounter,
  hint: string,
): ChunkDecoder {
  // Each call decodes whole code units and whole surrogate pairs only; an
  // odd byte or a high surrogate at a chunk's end waits in `carry`.
  const decoder = new TextDecoder(encoding, { fatal: true, ignoreBOM: true });
  const unitAt = (bytes: Uint8Array, i: number): number =>
    encoding === 'utf-16le'
      ? (bytes[i] as number) | ((bytes[i + 1] as number) << 8)
      : ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  let carry: Buffer | undefined;

  return {
    decode(bytes, offset) {
      const start = offset - (carry?.length ?? 0);
      const all = carry ? Buffer.concat([carry, bytes]) : bytes;
      let usable = all.length - (all.length % 2);
      if (usable >= 2) {
        const last = unitAt(all, usable - 2);
        if (last >= 0xd800 && last <= 0xdbff) usable -= 2;
      }
      carry =
        usable < all.length ? Buffer.from(all.subarray(usable)) : undefined;
      const body = all.subarray(0, usable);

      let text: string;
      try {
        text = decoder.decode(body);
      } catch (error) {
        const bad = firstInvalidUtf16(body, unitAt);
        const before = decoder.decode(body.subarray(0, bad));
        throw encodingError(encoding, {
          byte: body[bad],
          offset: start + bad,
          line: lines.total() + countChar(before, '\n') + 1,
          hint,
          cause: error,
        });
      }
      const out = Buffer.from(text, 'utf8');
      lines.count(out);
      return out;
    },
    end(offset) {
      if (carry) {
        throw encodingError(encoding, {
          byte: carry[0],
          offset: offset - carry.length,
          line: lines.total() + 1,
          hint: `${hint}; the file ends inside a character`,
        });
      }
    },
  };
}

// Windows-1252 leaves five bytes unassigned; iconv-lite turns them into
// U+FFFD, which is how they are spotted.
const UNASSIGNED_1252 = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);

function createWindows1252Decoder(
  lines: LineCounter,
  hint: string,
): ChunkDecoder {
  return {
    decode(bytes, offset) {
      const text = iconv.decode(bytes, 'windows-1252');
      if (text.includes('\uFFFD')) {
        const bad = bytes.findIndex((byte) => UNASSIGNED_1252.has(byte));
        throw encodingError('windows-1252', {
          byte: bytes[bad],
          offset: offset + bad,
          line: lines.total() + countByte(bytes, 0x0a, bad) + 1,
          hint: `${hint}; the byte is unassigned in windows-1252`,
        });
      }
      lines.count(bytes);
      return Buffer.from(text, 'utf8');
    },
    end: () => undefined,
  };
}

interface EncodingFailure {
  byte: number | undefined;
  offset: number;
  line: number;
  hint: string;
  cause?: unknown;
}

function encodingError(
  encoding: TextEncoding,
  failure: EncodingFailure,
): ImportError {
  const { byte, offset, line } = failure;
  const shown =
    byte === undefined ? '' : `byte 0x${byte.toString(16).padStart(2, '0')} `;
  return new ImportError(
    ErrorCodes.ENCODING_ERROR,
    `the file is not valid ${encoding}: ${shown}at byte offset ${offset} ` +
      `(line ${line}) does not decode${failure.hint}`,
    { cause: failure.cause, details: { encoding, offset, line } },
  );
}

/** Counts the line feeds decoded so far, so an error can name its line. */
interface LineCounter {
  count(bytes: Uint8Array): void;
  total(): number;
}

function createLineCounter(): LineCounter {
  let newlines = 0;
  return {
    count(bytes) {
      newlines += countByte(bytes, 0x0a, bytes.length);
    },
    total: () => newlines,
  };
}

function countChar(text: string, char: string): number {
  let count = 0;
  let at = text.indexOf(char);
  while (at !== -1) {
    count++;
    at = text.indexOf(char, at + 1);
  }
  return count;
}

function countByte(bytes: Uint8Array, value: number, end: number): number {
  let count = 0;
  let at = bytes.indexOf(value);
  while (at !== -1 && at < end) {
    count++;
    at = bytes.indexOf(value, at + 1);
  }
  return count;
}

/**
 * The length of `bytes` without a multi-byte sequence cut at its end, so
 * that sequence can wait for the next chunk.
 */
export function completeUtf8Length(bytes: Uint8Array): number {
  const length = bytes.length;
  for (let back = 1; back <= 4 && back <= length; back++) {
    const byte = bytes[length - back] as number;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte
    const needed =
      byte >= 0xf0 && byte <= 0xf7
        ? 4
        : byte >= 0xe0
          ? 3
          : byte >= 0xc0
            ? 2
            : 1;
    return needed > back ? length - back : length;
  }
  return length;
}

/** The index of the first byte that breaks UTF-8 (slow; errors only). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const byte = bytes[i] as number;
    let needed: number;
    let min: number;
    if (byte < 0x80) {
      i++;
      continue;
    } else if (byte >= 0xc2 && byte <= 0xdf) {
      needed = 1;
      min = 0x80;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      needed = 2;
      min = 0x800;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      needed = 3;
      min = 0x10000;
    } else {
      return i;
    }
    let code = byte & (0x3f >> needed);
    for (let k = 1; k <= needed; k++) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) return i;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return i;
    }
    i += needed + 1;
  }
  return bytes.length;
}

/** The byte index of the first unpaired surrogate (slow; errors only). */
function firstInvalidUtf16(
  bytes: Uint8Array,
  unitAt: (bytes: Uint8Array, i: number) => number,
): number {
  let i = 0;
  while (i + 1 < bytes.length) {
    const code = unitAt(bytes, i);
    if (code >= 0xdc00 && code <= 0xdfff) return i;
    if (code >= 0xd800 && code <= 0xdbff) {
      const low = i + 3 < bytes.length ? unitAt(bytes, i + 2) : -1;
      if (low < 0xdc00 || low > 0xdfff) return i;
      i += 4;
      continue;
    }
    i += 2;
  }
  return i;
}

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk)
    ? chunk
    : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
