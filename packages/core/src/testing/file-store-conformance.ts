import { createHash, randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileStore } from '../ports/file-store.js';
import { awkwardText } from './awkward-text.js';

export interface FileStoreFixture {
  fileStore: FileStore;
  cleanup(): Promise<void>;
}

/**
 * The behaviour every FileStore promises (see ports/file-store.ts), as a
 * vitest suite. Keys are made unique per test.
 */
export function describeFileStoreConformance(
  name: string,
  factory: () => Promise<FileStoreFixture>,
): void {
  describe(`FileStore conformance: ${name}`, () => {
    let fixture: FileStoreFixture;
    let fileStore: FileStore;
    let prefix: string;

    beforeEach(async () => {
      fixture = await factory();
      fileStore = fixture.fileStore;
      prefix = `tenant-${randomUUID().slice(0, 8)}`;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    const key = (name: string = randomUUID()) => `${prefix}/${name}`;

    it('gives back the bytes it stored, with their size and sha256', async () => {
      // Every byte value, so bytes that are not UTF-8 (a Windows-1252
      // export) must come back as they were, not as text.
      const bytes = Buffer.concat([
        Buffer.from('sku,name\nQ-1,Grampo\n\u00e7\u00e3o\n'),
        Buffer.from(Array.from({ length: 256 }, (_, value) => value)),
        Buffer.from([0xe7, 0xe3, 0x96, 0x85, 0xff, 0x00]),
      ]);
      const stored = await fileStore.put(key('a'), Readable.from([bytes]));

      expect(stored).toEqual({ size: bytes.length, checksum: sha256(bytes) });
      expect(await readAll(await fileStore.open(key('a')))).toEqual(bytes);
    });

    it('streams a file of many chunks', async () => {
      const chunks = Array.from({ length: 80 }, (_, index) =>
        Buffer.alloc(64 * 1024, index % 251),
      );
      const whole = Buffer.concat(chunks);
      const k = key();
      const stored = await fileStore.put(k, Readable.from(chunks));
      expect(stored).toEqual({ size: whole.length, checksum: sha256(whole) });
      const back = await readAll(await fileStore.open(k));
      expect(back.length).toBe(whole.length);
      expect(sha256(back)).toBe(sha256(whole));
    });

    it('stores an empty file', async () => {
      const k = key();
      const stored = await fileStore.put(k, Readable.from([]));
      expect(stored).toEqual({ size: 0, checksum: sha256(Buffer.alloc(0)) });
      expect(await readAll(await fileStore.open(k))).toEqual(Buffer.alloc(0));
    });

    it('rejects FILE_MISSING for a key it does not hold', async () => {
      await expect(fileStore.open(key())).rejects.toMatchObject({
        code: 'FILE_MISSING',
      });
    });

    it('deletes, and deleting a missing key is no error', async () => {
      const k = key();
      await fileStore.put(k, Readable.from([Buffer.from('x')]));
      await fileStore.delete(k);
      await fileStore.delete(k);
      await expect(fileStore.open(k)).rejects.toMatchObject({
        code: 'FILE_MISSING',
      });
    });

    it('refuses a file over maxBytes with PAYLOAD_TOO_LARGE, storing nothing', async () => {
      const k = key();
      const chunks = Array.from({ length: 10 }, () => Buffer.alloc(1000, 1));

      await expect(
        fileStore.put(k, Readable.from(chunks), { maxBytes: 9999 }),
      ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      await expect(fileStore.open(k)).rejects.toMatchObject({
        code: 'FILE_MISSING',
      });

      const exact = await fileStore.put(k, Readable.from(chunks), {
        maxBytes: 10_000,
      });
      expect(exact.size).toBe(10_000);
    });

    it('stores nothing from a stream that fails', async () => {
      const k = key();
      await expect(
        fileStore.put(k, failingStream([Buffer.from('half a file')])),
      ).rejects.toThrow('the upload broke');
      await expect(fileStore.open(k)).rejects.toMatchObject({
        code: 'FILE_MISSING',
      });
    });

    it('stores nothing from a stream that fails before it is read', async () => {
      // An upload whose client goes away while the store is still making
      // its folder or row: the error must reach put, not the process.
      const k = key();
      const body = new PassThrough();
      const stored = fileStore.put(k, body);
      body.destroy(new Error('the client went away'));

      await expect(stored).rejects.toThrow('the client went away');
      await expect(fileStore.open(k)).rejects.toMatchObject({
        code: 'FILE_MISSING',
      });
    });

    it('keeps what a key held when a new upload to it fails', async () => {
      const k = key();
      const before = Buffer.from('the first upload');
      await fileStore.put(k, Readable.from([before]));

      await expect(
        fileStore.put(k, failingStream([Buffer.from('the second')])),
      ).rejects.toThrow();
      await expect(
        fileStore.put(k, Readable.from([Buffer.alloc(50)]), { maxBytes: 10 }),
      ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });

      expect(await readAll(await fileStore.open(k))).toEqual(before);
    });

    it('keeps keys with odd characters distinct and inside the store', async () => {
      const names = ['a b', 'a%20b', '..', '.hidden', 'ção', 'a\\b', '%2F'];
      for (const [index, name] of names.entries()) {
        await fileStore.put(
          key(name),
          Readable.from([Buffer.from(`${index}`)]),
        );
      }
      for (const [index, name] of names.entries()) {
        const bytes = await readAll(await fileStore.open(key(name)));
        expect(bytes.toString()).toBe(`${index}`);
      }
    });

    it('keeps keys holding NUL or lone surrogates distinct', async () => {
      for (const [index, name] of awkwardText.entries()) {
        await fileStore.put(
          key(name),
          Readable.from([Buffer.from(`${index}`)]),
        );
      }
      for (const [index, name] of awkwardText.entries()) {
        const bytes = await readAll(await fileStore.open(key(name)));
        expect(bytes.toString()).toBe(`${index}`);
      }
    });
  });
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** Yields `chunks`, then fails as a dropped connection would. */
function failingStream(chunks: Buffer[]): Readable {
  return Readable.from(
    (async function* () {
      yield* chunks;
      throw new Error('the upload broke');
    })(),
  );
}
