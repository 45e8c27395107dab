import type { Readable } from 'node:stream';

/**
 * The file store keeps an upload's bytes between enqueue and processing.
 *
 * Promises:
 * - `put` consumes the stream to its end and resolves only once the bytes
 *   are durable (as durable as the adapter is); it reports their size and
 *   sha256. A failed or aborted stream stores nothing under the key,
 *   including one that fails before `put` starts reading it (while it
 *   makes a folder or a row): `put` listens to the stream's errors from
 *   the moment it is called and rejects with them.
 * - `open` streams the bytes back; a key that is gone rejects FILE_MISSING.
 * - `put` may be given `maxBytes`; past it, it rejects PAYLOAD_TOO_LARGE
 *   and stores nothing.
 * - Distinct keys are distinct files, whatever they hold (a NUL, a lone
 *   surrogate).
 *
 * Leaves out: retention (the engine or the adapter decides when to delete).
 */
export interface FileStore {
  put(key: string, body: Readable, options?: PutOptions): Promise<StoredFile>;
  open(key: string): Promise<Readable>;
  delete(key: string): Promise<void>;
  close?(): Promise<void>;
}

export interface PutOptions {
  maxBytes?: number;
}

export interface StoredFile {
  size: number;
  /** sha256, hex. */
  checksum: string;
}
