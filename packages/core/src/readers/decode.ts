import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { ErrorCodes, ImportError } from '../errors/import-error.js';

/**
 * Turns a file's bytes into validated UTF-8 bytes, whatever the file was
 * written in, so every parser downstream reads one encoding.
 *
 * The encoding is the declared one or is detected: a byte-order mark
 * first, then a sniff of the first bytes (see `detectEncoding`;
 * ISO-8859-1 only when declared). Bytes that do not decode fail the
 * import with ENCODING_ERROR naming their offset and line: no replacement
 * character ever reaches a value. The BOM is dropped.
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

/**
 * The encoding a byte-order mark at the start of `bytes` announces. A
 * UTF-32 mark fails with ENCODING_ERROR: read as UTF-16 (`FF FE` starts
 * both), the file would be a header of NULs that fails for the wrong
 * reason.
 */
export function encodingFromBom(bytes: Uint8Array): DetectedEncoding | null {
  const utf32 = utf32Bom(bytes);
  if (utf32 !== undefined) {
    throw new ImportError(
      ErrorCodes.ENCODING_ERROR,
      `the file starts with a ${utf32} byte-order mark; UTF-32 is not ` +
        'supported: save the file as UTF-8',
      { details: { encoding: utf32, offset: 0, line: 1 } },
    );
  }
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

function utf32Bom(bytes: Uint8Array): string | undefined {
  const [a, b, c, d] = bytes;
  if (a === 0xff && b === 0xfe && c === 0 && d === 0) return 'utf-32le';
  if (a === 0 && b === 0 && c === 0xfe && d === 0xff) return 'utf-32be';
  return undefined;
}

/**
 * Detects the encoding of a file from its first bytes. `complete` says the
 * sample is the whole file, so a multi-byte sequence cut at its end is an
 * error rather than the start of the next chunk.
 *
 * A sample that is valid UTF-8 is UTF-8. One that is not is Windows-1252
 * only when its bytes that are not UTF-8 outnumber its valid multi-byte
 * sequences; otherwise it is UTF-8 with stray bytes, and the first of
 * them fails the import with its offset and line, instead of the whole
 * file turning into mojibake (`Preço` read as `PreÃ§o`). Evidence for
 * the line: in Windows-1252 a valid sequence needs an accented capital
 * (0xC2-0xDF) right before a typographic sign (0x80-0xBF: curly quotes,
 * dashes, a no-break space, º, ™), as in `JOSÉ”`, while every accented
 * letter before a letter, digit, space or ASCII sign is a byte that is
 * not UTF-8: the IBPT table (1.8 MB of Windows-1252) holds 158 such bytes
 * and no valid sequence. A tie goes to UTF-8, whose stray byte fails
 * loudly, because silent mojibake is the worse mistake.
 *
 * TODO: a UTF-8 file whose first 64 KiB hold more stray Latin-1 bytes
 * than multi-byte characters is still read as Windows-1252, silently:
 * telling it from a Windows-1252 file takes more than byte counts.
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
  const body = sample.subarray(0, end);
  if (isUtf8(body)) return { encoding: 'utf-8', bomLength: 0 };
  const { sequences, invalid } = countUtf8Evidence(body);
  return {
    encoding: invalid > sequences ? 'windows-1252' : 'utf-8',
    bomLength: 0,
  };
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
          line: lines.lineAt(body, bad),
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
          line: lines.lineAt(carry, 0),
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
        const before = Buffer.from(decoder.decode(body.subarray(0, bad)));
        throw encodingError(encoding, {
          byte: body[bad],
          offset: start + bad,
          line: lines.lineAt(before, before.length),
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
          line: lines.lineAt(Buffer.alloc(0), 0),
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
          line: lines.lineAt(bytes, bad),
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

/**
 * Counts the line breaks decoded so far, so an error can name its line as
 * the CSV reader numbers lines: CRLF, LF and CR are one break each. A CR
 * that ends a chunk counts at once, and an LF opening the next chunk is
 * then the rest of it.
 */
interface LineCounter {
  count(bytes: Uint8Array): void;
  /** The line of `bytes[index]`, where `bytes` follows what was counted. */
  lineAt(bytes: Uint8Array, index: number): number;
}

const LF = 0x0a;
const CR = 0x0d;

function createLineCounter(): LineCounter {
  let breaks = 0;
  let afterCr = false;
  return {
    count(bytes) {
      if (bytes.length === 0) return;
      breaks += countLineBreaks(bytes, bytes.length, afterCr);
      afterCr = bytes[bytes.length - 1] === CR;
    },
    lineAt: (bytes, index) =>
      breaks + countLineBreaks(bytes, index, afterCr) + 1,
  };
}

// Each CR, and each LF that no CR comes right before. indexOf keeps this
// at memchr speed on the whole-file path.
function countLineBreaks(
  bytes: Uint8Array,
  end: number,
  afterCr: boolean,
): number {
  let count = 0;
  let at = bytes.indexOf(CR);
  while (at !== -1 && at < end) {
    count++;
    at = bytes.indexOf(CR, at + 1);
  }
  at = bytes.indexOf(LF);
  while (at !== -1 && at < end) {
    if (at === 0 ? !afterCr : bytes[at - 1] !== CR) count++;
    at = bytes.indexOf(LF, at + 1);
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
    const length = utf8CharLength(bytes, i);
    if (length === 0) return i;
    i += length;
  }
  return bytes.length;
}

/**
 * The valid multi-byte sequences of `bytes`, and the bytes that start no
 * valid character (slow; detection of a sample that is not UTF-8 only).
 */
function countUtf8Evidence(bytes: Uint8Array): {
  sequences: number;
  invalid: number;
} {
  let sequences = 0;
  let invalid = 0;
  let i = 0;
  while (i < bytes.length) {
    const length = utf8CharLength(bytes, i);
    if (length === 0) {
      invalid++;
      i++;
      continue;
    }
    if (length > 1) sequences++;
    i += length;
  }
  return { sequences, invalid };
}

/**
 * The length of the UTF-8 character starting at `bytes[i]` (1 to 4), or 0
 * when no valid character starts there (an overlong form, a surrogate, a
 * continuation byte out of place, a sequence cut short).
 */
function utf8CharLength(bytes: Uint8Array, i: number): number {
  const byte = bytes[i] as number;
  let needed: number;
  let min: number;
  if (byte < 0x80) {
    return 1;
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
    return 0;
  }
  let code = byte & (0x3f >> needed);
  for (let k = 1; k <= needed; k++) {
    const next = bytes[i + k];
    if (next === undefined || (next & 0xc0) !== 0x80) return 0;
    code = (code << 6) | (next & 0x3f);
  }
  if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
    return 0;
  }
  return needed + 1;
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
