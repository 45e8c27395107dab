import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ErrorCodes, ImportError } from '../../errors/import-error.js';
import type { FileStore } from '../../ports/file-store.js';
import { createMeasuringStream } from './measuring-stream.js';

/**
 * Files held as bytes in the process's memory: for tests and development
 * only, since every upload stays in memory until it is deleted.
 */
export function createMemoryFileStore(): FileStore {
  const files = new Map<string, Buffer>();

  return {
    async put(key, body, options = {}) {
      const measuring = createMeasuringStream(options.maxBytes);
      const chunks: Buffer[] = [];
      const collect = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk);
          callback();
        },
      });

      // Only a stream that ended cleanly replaces what the key held.
      await pipeline(body, measuring, collect);
      files.set(key, Buffer.concat(chunks));
      return { size: measuring.size, checksum: measuring.checksum() };
    },

    async open(key) {
      const bytes = files.get(key);
      if (!bytes) throw fileMissing(key);
      return Readable.from(chunksOf(bytes), { objectMode: false });
    },

    async delete(key) {
      files.delete(key);
    },
  };
}

// Hands the bytes out in slices, as a file would be read, so that a
// reader's progress moves while it reads.
function* chunksOf(bytes: Buffer, size = 64 * 1024): Generator<Buffer> {
  for (let start = 0; start < bytes.length; start += size) {
    yield bytes.subarray(start, start + size);
  }
}

export function fileMissing(key: string, cause?: unknown): ImportError {
  return new ImportError(
    ErrorCodes.FILE_MISSING,
    `the stored file "${key}" is gone`,
    { cause, details: { key } },
  );
}
