import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  createLocalFileStore,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
} from '../src/index.js';
import {
  describeErrorLogConformance,
  describeFileStoreConformance,
  describeQueueConformance,
  describeStatusStoreConformance,
} from '../src/testing.js';

describeQueueConformance('memory', async () => {
  const queue = createMemoryQueue({ retryDelayMs: 10 });
  return { queue, cleanup: () => queue.close() };
});

describeStatusStoreConformance('memory', async () => ({
  store: createMemoryStatusStore(),
  cleanup: async () => undefined,
}));

describeErrorLogConformance('memory', async () => ({
  errorLog: createMemoryErrorLog(),
  cleanup: async () => undefined,
}));

describeFileStoreConformance('memory', async () => ({
  fileStore: createMemoryFileStore(),
  cleanup: async () => undefined,
}));

describeFileStoreConformance('local directory', async () => {
  const directory = await mkdtemp(path.join(tmpdir(), 'erp-files-'));
  return {
    fileStore: createLocalFileStore({ directory }),
    cleanup: () => rm(directory, { recursive: true, force: true }),
  };
});

describe('local file store', () => {
  it('keeps every key inside its directory and leaves no partial files', async () => {
    const parent = await mkdtemp(path.join(tmpdir(), 'erp-files-'));
    const directory = path.join(parent, 'store');
    const fileStore = createLocalFileStore({ directory });
    try {
      await fileStore.put('../outside', Readable.from([Buffer.from('x')]));
      await fileStore.put('a/../../b', Readable.from([Buffer.from('y')]));
      await expect(
        fileStore.put('big', Readable.from([Buffer.alloc(100)]), {
          maxBytes: 10,
        }),
      ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });

      expect(await readdir(parent)).toEqual(['store']);
      expect(await readdir(path.join(directory, '.partial'))).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
