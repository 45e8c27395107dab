import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ErrorCodes, ImportError } from '../errors/import-error.js';

/**
 * Opens a stored upload for reading: a gzip body (recognised by its magic
 * bytes, whatever the file is called) is inflated on the way, anything else
 * passes through. The byte counter counts the input as stored, so progress
 * matches the file size the status record holds.
 */

export type Compression = 'gzip' | 'none';

export interface OpenInputOptions {
  /** Treat the body as plain bytes even when it starts like gzip. */
  noDecompression?: boolean;
  /** The bound on inflation (see `inflationLimit`); for tests. */
  inflation?: InflationLimit;
}

/**
 * A gzip body that inflates past `floorBytes` to more than `maxRatio`
 * times its own size fails the import: ERP exports compress five to
 * twenty times, and a body that inflates hundreds of times is made to
 * keep a worker busy for hours (an upload limit counts the compressed
 * bytes). Below the floor no body is refused, however well it
 * compresses.
 */
export interface InflationLimit {
  floorBytes: number;
  maxRatio: number;
}

export const inflationLimit: InflationLimit = {
  floorBytes: 1024 * 1024 * 1024,
  maxRatio: 250,
};

export interface OpenedInput {
  /** The file's content, inflated when it was gzip. */
  stream: Readable;
  /** Bytes of the input (compressed, as stored) consumed so far. */
  bytesRead(): number;
  /** Known once the first bytes were read. */
  compression(): Compression | undefined;
}

const GZIP_MAGIC_1 = 0x1f;
const GZIP_MAGIC_2 = 0x8b;

export function openInput(
  input: Readable,
  options: OpenInputOptions = {},
): OpenedInput {
  let consumed = 0;
  let compression: Compression | undefined;

  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of input) {
      const bytes = toBuffer(chunk);
      consumed += bytes.length;
      yield bytes;
    }
  }

  async function* content(): AsyncGenerator<Buffer> {
    const source = counted();

    // The magic number may arrive split over chunks: gather two bytes first.
    const head: Buffer[] = [];
    let headLength = 0;
    while (headLength < 2) {
      const next = await source.next();
      if (next.done) break;
      head.push(next.value);
      headLength += next.value.length;
    }
    const start = Buffer.concat(head);
    const gzip =
      options.noDecompression !== true &&
      start[0] === GZIP_MAGIC_1 &&
      start[1] === GZIP_MAGIC_2;
    compression = gzip ? 'gzip' : 'none';

    async function* replay(): AsyncGenerator<Buffer> {
      if (start.length > 0) yield start;
      yield* source;
    }

    if (!gzip) {
      yield* replay();
      return;
    }
    yield* gunzip(
      replay(),
      () => consumed,
      options.inflation ?? inflationLimit,
    );
  }

  const stream = Readable.from(content(), { objectMode: false });
  // Destroying the opened stream (a reader giving up early) releases the
  // caller's input too, as a pipeline would.
  stream.once('close', () => {
    if (!input.destroyed) input.destroy();
  });

  return {
    stream,
    bytesRead: () => consumed,
    compression: () => compression,
  };
}

async function* gunzip(
  source: AsyncIterable<Buffer>,
  compressedBytes: () => number,
  limit: InflationLimit,
): AsyncGenerator<Buffer> {
  const inflater = createGunzip();
  const feeder = Readable.from(source, { objectMode: false });
  feeder.on('error', (error) => inflater.destroy(error));
  feeder.pipe(inflater);

  let inflated = 0;
  try {
    for await (const chunk of inflater) {
      inflated += (chunk as Buffer).length;
      if (
        inflated > limit.floorBytes &&
        inflated > limit.maxRatio * compressedBytes()
      ) {
        throw new ImportError(
          ErrorCodes.PAYLOAD_TOO_LARGE,
          `the gzip body inflates to more than ${limit.maxRatio} times ` +
            `its size (${inflated} bytes from ${compressedBytes()}), as ` +
            'no export does; upload the file uncompressed if it is one',
          {
            details: {
              inflatedBytes: inflated,
              compressedBytes: compressedBytes(),
              maxRatio: limit.maxRatio,
            },
          },
        );
      }
      yield chunk as Buffer;
    }
  } catch (error) {
    throw gzipError(error);
  } finally {
    feeder.destroy();
    inflater.destroy();
  }
}

function gzipError(error: unknown): unknown {
  if (error instanceof ImportError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'Z_BUF_ERROR') {
    return new ImportError(
      ErrorCodes.TRUNCATED_FILE,
      `the gzip body ends before its end marker (${message}): the upload looks truncated`,
      { cause: error },
    );
  }
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new ImportError(
      ErrorCodes.MALFORMED_FILE,
      `the gzip body is corrupt: ${message}`,
      { cause: error },
    );
  }
  return error;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) {
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new ImportError(
    ErrorCodes.INTERNAL,
    'the input stream must yield bytes (Buffer or Uint8Array)',
  );
}
