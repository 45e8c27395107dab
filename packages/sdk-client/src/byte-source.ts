/**
 * An upload's bytes, in a shape the transport can send more than once.
 * A Blob or a byte array opens again from the start for every attempt; a
 * stream or an async iterable can be read once, so it may be opened again
 * only while nothing has been read from it.
 */
export interface ByteSource {
  /** The byte count when known before reading: sent as Content-Length. */
  readonly size: number | null;
  /** A file name the source carries (a File's, a path's base name). */
  readonly name: string | undefined;
  /** A fresh stream for one attempt; each pull reads one chunk. */
  open(): ReadableStream<Uint8Array>;
  /** Whether another attempt can still get every byte. */
  canReopen(): boolean;
  /** Lets go of what the source holds (a one-shot stream's reader). */
  close(): Promise<void>;
  /**
   * The bytes as a body the runtime sends by itself, for a Blob or a byte
   * array: how browsers upload without streaming request bodies.
   */
  whole?(): Blob | Uint8Array;
}

/** What `imports.create` takes as the file in any runtime. */
export type UploadFile =
  | Blob
  | Uint8Array
  | ArrayBuffer
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

// Large enough to keep a socket busy, small enough for smooth progress.
const chunkSize = 64 * 1024;

export function byteSourceOf(file: UploadFile): ByteSource {
  if (typeof Blob !== 'undefined' && file instanceof Blob) {
    return blobSource(file);
  }
  if (file instanceof Uint8Array) return bytesSource(file);
  if (file instanceof ArrayBuffer) return bytesSource(new Uint8Array(file));
  if (isWebStream(file)) return oneShotSource(readerChunks(file));
  if (isAsyncIterable(file)) return oneShotSource(file);
  throw new TypeError(
    'file must be a Blob, a Uint8Array, an ArrayBuffer, a ReadableStream ' +
      'or an async iterable of Uint8Array chunks' +
      (typeof file === 'string'
        ? '; file paths need createClient from @erp-import/sdk-client/node'
        : ''),
  );
}

export function bytesSource(bytes: Uint8Array, name?: string): ByteSource {
  return {
    size: bytes.byteLength,
    name,
    open() {
      let offset = 0;
      return new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            if (offset >= bytes.byteLength) {
              controller.close();
              return;
            }
            // Views, not copies: the caller's array is the only copy.
            controller.enqueue(bytes.subarray(offset, offset + chunkSize));
            offset += chunkSize;
          },
        },
        { highWaterMark: 0 },
      );
    },
    canReopen: () => true,
    close: async () => undefined,
    whole: () => bytes,
  };
}

function blobSource(blob: Blob): ByteSource {
  const name =
    typeof File !== 'undefined' && blob instanceof File && blob.name !== ''
      ? blob.name
      : undefined;
  return {
    size: blob.size,
    name,
    // The runtime reads a Blob lazily, from disk when it is a file.
    open: () => blob.stream() as ReadableStream<Uint8Array>,
    canReopen: () => true,
    close: async () => undefined,
    whole: () => blob,
  };
}

/**
 * Bytes produced afresh by `chunks()` for every attempt: records encoded
 * from an array, say, which can be walked again.
 */
export function repeatableSource(
  chunks: () => AsyncIterable<Uint8Array>,
  name?: string,
): ByteSource {
  return {
    size: null,
    name,
    open: () => oneShotSource(chunks()).open(),
    canReopen: () => true,
    close: async () => undefined,
  };
}

/**
 * A source that can be read once. Every attempt's stream reads from the
 * same iterator, and cancelling one (a failed attempt) leaves the
 * iterator open: a retry that comes before the first chunk was read
 * loses nothing. Only `close` ends the iterator.
 */
export function oneShotSource(
  chunks: AsyncIterable<Uint8Array>,
  name?: string,
): ByteSource {
  let iterator: AsyncIterator<Uint8Array> | undefined;
  let started = false;
  let finished = false;

  return {
    size: null,
    name,
    open() {
      return new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            iterator ??= chunks[Symbol.asyncIterator]();
            started = true;
            const next = await iterator.next();
            if (next.done) {
              finished = true;
              controller.close();
            } else {
              controller.enqueue(toBytes(next.value));
            }
          },
        },
        { highWaterMark: 0 },
      );
    },
    canReopen: () => !started,
    async close() {
      if (iterator && !finished) {
        finished = true;
        await iterator.return?.();
      }
    },
  };
}

async function* readerChunks(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // An early return (the upload gave up) cancels the caller's stream.
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

// Node streams yield Buffers (Uint8Arrays) unless an encoding was set on
// them; a string chunk would be a caller's mistake worth a clear error.
function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') {
    throw new TypeError(
      'the upload stream yielded text; give it bytes (no setEncoding)',
    );
  }
  throw new TypeError('the upload stream yielded something other than bytes');
}

function isWebStream(value: unknown): value is ReadableStream<Uint8Array> {
  return (
    typeof ReadableStream !== 'undefined' && value instanceof ReadableStream
  );
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] ===
      'function'
  );
}
