import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  connectHeard,
  ErrorCodes,
  ImportError,
  toImportError,
  type FileStore,
  type StoredFile,
} from '@erp-import/core';
import { readOneByteaByCopy } from './binary-copy-bytes.js';
import { fileStoreSql } from './file-store-sql.js';
import { inTransaction, type PgPool } from './pg-types.js';
import { defaultSchema, quoteSchema } from './schema-name.js';
import { toStorableText } from './storable-text.js';

export interface PgFileStoreOptions {
  pool: PgPool;
  /** `erp_import` by default; `migrate` must have run on it. */
  schema?: string;
  /** Bytes per stored row; 1 MiB by default. */
  chunkBytes?: number;
}

/**
 * The file store on PostgreSQL, plus the retention sweep, which needs the
 * import records kept in the same schema by the PostgreSQL status store.
 */
export interface PgFileStore extends FileStore {
  /**
   * Deletes the stored files of imports that ended (completed, failed,
   * cancelled) more than `ms` ago, and uploads abandoned half-way more
   * than a day ago. Import records and their errors stay. A failed import
   * whose file is gone can no longer be retried. Returns the count.
   */
  deleteFilesOlderThan(ms: number): Promise<number>;
}

const defaultChunkBytes = 1024 * 1024;
const abandonedUploadMs = 24 * 60 * 60 * 1000;

/**
 * Bytes are kept as rows of `chunkBytes` each, written as they arrive and
 * read back one at a time, so neither `put` nor `open` holds a whole file
 * in memory. A put writes its rows under a fresh file id and only then
 * marks that file complete under its key; a stream that fails leaves an
 * incomplete file, which is deleted at once (or by the sweep, when the
 * process died), and the key keeps what it had.
 */
export function createPgFileStore(options: PgFileStoreOptions): PgFileStore {
  const { pool } = options;
  const sql = fileStoreSql(quoteSchema(options.schema ?? defaultSchema));
  const chunkBytes = Math.max(1, options.chunkBytes ?? defaultChunkBytes);

  async function writeChunks(
    fileId: string,
    key: string,
    body: Readable,
    maxBytes: number | undefined,
  ): Promise<StoredFile & { chunks: number }> {
    const hash = createHash('sha256');
    let size = 0;
    let chunks = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;

    // A chunk is written while the next one arrives, on another pooled
    // connection: the upload then waits on the network or the database,
    // not on both in turn. One write in flight at most, so memory stays
    // near two chunks.
    let writing: Promise<unknown> = Promise.resolve();
    const flush = async (bytes: Buffer) => {
      await writing;
      const index = chunks;
      chunks += 1;
      writing = pool.query(sql.chunk, [fileId, index, bytes]);
      // A failed write is seen by the next flush or the final wait.
      writing.catch(() => undefined);
    };

    try {
      for await (const piece of body) {
        const bytes = typeof piece === 'string' ? Buffer.from(piece) : piece;
        size += bytes.length;
        if (maxBytes !== undefined && size > maxBytes) {
          throw new ImportError(
            ErrorCodes.PAYLOAD_TOO_LARGE,
            `the file is larger than ${maxBytes} bytes`,
            { details: { key, maxBytes } },
          );
        }
        hash.update(bytes);
        pending.push(bytes);
        pendingBytes += bytes.length;

        while (pendingBytes >= chunkBytes) {
          const joined = Buffer.concat(pending, pendingBytes);
          await flush(joined.subarray(0, chunkBytes));
          const rest = joined.subarray(chunkBytes);
          pending = rest.length > 0 ? [rest] : [];
          pendingBytes = rest.length;
        }
      }
      if (pendingBytes > 0) await flush(Buffer.concat(pending, pendingBytes));
      await writing;
    } catch (error) {
      // No write may land after the caller abandons the file.
      await writing.catch(() => undefined);
      throw error;
    }

    return { size, checksum: hash.digest('hex'), chunks };
  }

  async function readChunks(fileId: string, chunks: number, key: string) {
    // Inlined, since COPY takes no parameters: both are integers.
    if (!/^\d+$/.test(fileId)) {
      throw new ImportError(ErrorCodes.STORE_ERROR, `bad file id ${fileId}`);
    }
    const read = async (chunk: number): Promise<Buffer> => {
      const client = await connectHeard(pool);
      let data: Buffer | undefined;
      try {
        data = await readOneByteaByCopy(client, sql.readChunk(fileId, chunk));
        client.release();
      } catch (error) {
        client.release(error instanceof Error ? error : true);
        throw error;
      }
      if (data === undefined) {
        throw new ImportError(
          ErrorCodes.FILE_MISSING,
          `the stored file "${key}" was deleted while it was read`,
          { details: { key } },
        );
      }
      return data;
    };
    // The next chunk is asked for while the reader works on this one.
    const ahead = (chunk: number): Promise<Buffer> | undefined => {
      if (chunk >= chunks) return undefined;
      const next = read(chunk);
      // Seen when awaited; a reader that stops early never awaits it.
      next.catch(() => undefined);
      return next;
    };
    async function* generate() {
      let next = ahead(0);
      for (let chunk = 0; next !== undefined; chunk += 1) {
        const current = await next;
        next = ahead(chunk + 1);
        yield current;
      }
    }
    return Readable.from(generate(), { objectMode: false });
  }

  return {
    async put(key, body, putOptions = {}) {
      // The body may fail while the file row is made, before anything
      // reads it: its error then waits on the stream instead of killing
      // the process, and reading it rejects with it.
      body.on('error', () => undefined);
      let fileId: string;
      try {
        // Keys are kept in the stored form (storable-text.ts), as the
        // status store keeps an import's file key, so the sweep's join
        // matches them.
        const { rows } = await pool.query(sql.begin, [toStorableText(key)]);
        fileId = String((rows[0] as { id: string }).id);
      } catch (error) {
        body.destroy();
        throw toImportError(error, ErrorCodes.STORE_ERROR);
      }

      try {
        const stored = await writeChunks(
          fileId,
          key,
          body,
          putOptions.maxBytes,
        );
        await inTransaction(pool, async (client) => {
          await client.query(sql.dropCompleteKey, [toStorableText(key)]);
          await client.query(sql.complete, [
            fileId,
            stored.size,
            stored.checksum,
            stored.chunks,
          ]);
        });
        return { size: stored.size, checksum: stored.checksum };
      } catch (error) {
        // Best effort: the sweep deletes what this cannot.
        await pool.query(sql.abandon, [fileId]).catch(() => undefined);
        throw toImportError(error, ErrorCodes.STORE_ERROR);
      }
    },

    async open(key) {
      let found: { id: string; chunks: number } | undefined;
      try {
        const { rows } = await pool.query(sql.find, [toStorableText(key)]);
        found = rows[0] as { id: string; chunks: number } | undefined;
      } catch (error) {
        throw toImportError(error, ErrorCodes.STORE_ERROR);
      }
      if (!found) {
        throw new ImportError(
          ErrorCodes.FILE_MISSING,
          `no stored file under "${key}"`,
          { details: { key } },
        );
      }
      return readChunks(String(found.id), found.chunks, key);
    },

    async delete(key) {
      try {
        await pool.query(sql.delete, [toStorableText(key)]);
      } catch (error) {
        throw toImportError(error, ErrorCodes.STORE_ERROR);
      }
    },

    async deleteFilesOlderThan(ms) {
      try {
        const { rows } = await pool.query(sql.sweep, [ms, abandonedUploadMs]);
        return Number((rows[0] as { deleted: string }).deleted);
      } catch (error) {
        throw toImportError(error, ErrorCodes.STORE_ERROR);
      }
    },
  };
}
