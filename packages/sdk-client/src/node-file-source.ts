import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ByteSource } from './byte-source.js';

// Each pull reads this much at the next position, into a new buffer.
// Small chunks keep the garbage short-lived: with 16 KB the collector
// frees spent buffers as the upload goes (about 8 MB of them at a time),
// while 256 KB chunks let some 35 MB pile up before it runs.
const chunkSize = 16 * 1024;

/**
 * A file on disk as an upload. Every attempt opens the file again and
 * reads it from the start, so a retry sends every byte.
 */
export async function fileSource(path: string): Promise<ByteSource> {
  // Fails here, before any request, when the path is wrong.
  const { size } = await stat(path);
  return {
    size,
    name: basename(path),
    open: () => fileStream(path),
    canReopen: () => true,
    close: async () => undefined,
  };
}

function fileStream(path: string): ReadableStream<Uint8Array> {
  let handle: FileHandle | undefined;
  let position = 0;

  const release = async () => {
    const opened = handle;
    handle = undefined;
    await opened?.close();
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let bytesRead: number;
        const buffer = new Uint8Array(chunkSize);
        try {
          handle ??= await open(path, 'r');
          ({ bytesRead } = await handle.read(buffer, 0, chunkSize, position));
        } catch (error) {
          await release().catch(() => undefined);
          throw error;
        }
        if (bytesRead === 0) {
          await release();
          controller.close();
          return;
        }
        position += bytesRead;
        controller.enqueue(buffer.subarray(0, bytesRead));
      },
      cancel: release,
    },
    { highWaterMark: 0 },
  );
}
