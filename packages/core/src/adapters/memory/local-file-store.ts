import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ErrorCodes, ImportError } from '../../errors/import-error.js';
import type { FileStore } from '../../ports/file-store.js';
import { fileMissing } from './memory-file-store.js';
import { createMeasuringStream } from './measuring-stream.js';

export interface LocalFileStoreOptions {
  /** Where files are kept; created when missing. */
  directory: string;
}

// Temporary files live apart from stored ones; a stored name never starts
// with a dot (see `encodeSegment`), so this folder cannot hold a key.
const temporaryFolder = '.partial';

/**
 * Files in a local directory: each key is a path below it, written to a
 * temporary file first and renamed into place once complete, so a failed
 * or refused upload never leaves a file under its key.
 */
export function createLocalFileStore(
  options: LocalFileStoreOptions,
): FileStore {
  const root = path.resolve(options.directory);
  const temporary = path.join(root, temporaryFolder);

  function pathOf(key: string): string {
    const segments = key.split('/');
    if (segments.some((segment) => segment === '')) {
      throw new ImportError(
        ErrorCodes.INVALID_REQUEST,
        `invalid file key "${key}": empty path segment`,
        { details: { key } },
      );
    }
    const resolved = path.join(root, ...segments.map(encodeSegment));
    // Encoding already rules escapes out; this is the belt to its braces.
    if (!resolved.startsWith(root + path.sep)) {
      throw new ImportError(ErrorCodes.INVALID_REQUEST, 'invalid file key', {
        details: { key },
      });
    }
    return resolved;
  }

  return {
    async put(key, body, putOptions = {}) {
      // The body may fail while the folders are made, before pipeline
      // listens: its error then waits on the stream instead of killing
      // the process, and pipeline rejects with it.
      body.on('error', () => undefined);
      const target = pathOf(key);
      await mkdir(temporary, { recursive: true });
      await mkdir(path.dirname(target), { recursive: true });
      const partial = path.join(temporary, randomUUID());

      const measuring = createMeasuringStream(putOptions.maxBytes);
      try {
        // `flush` syncs the file to disk before the stream closes.
        const output = createWriteStream(partial, { flush: true });
        await pipeline(body, measuring, output);
        await rename(partial, target);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
      return { size: measuring.size, checksum: measuring.checksum() };
    },

    async open(key) {
      const target = pathOf(key);
      // Open first, so a missing file rejects here rather than mid-stream.
      let handle;
      try {
        handle = await open(target, 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          throw fileMissing(key, error);
        }
        throw error;
      }
      return handle.createReadStream();
    },

    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
  };
}

/**
 * One key segment as a file name that cannot escape the directory or
 * collide with another: every byte outside `[A-Za-z0-9_.-]` is written as
 * `%XX` (so is `%` itself), and a leading dot too (no `.`, `..` or hidden
 * names). A lone surrogate has no UTF-8 bytes (it would become U+FFFD's
 * and meet another key there), so it is written as `%uD800`.
 */
function encodeSegment(segment: string): string {
  let encoded = '';
  for (const character of segment) {
    const unit = character.charCodeAt(0);
    if (character.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
      encoded += `%u${unit.toString(16).toUpperCase()}`;
      continue;
    }
    for (const byte of Buffer.from(character, 'utf8')) {
      const char = String.fromCharCode(byte);
      const plain = /[A-Za-z0-9_.-]/.test(char) && byte < 0x80;
      const leadingDot = encoded === '' && char === '.';
      encoded +=
        plain && !leadingDot
          ? char
          : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return encoded;
}
