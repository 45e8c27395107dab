import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  createImporter,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
  ErrorCodes,
  ImportError,
  type ImportRecord,
  type StatusStore,
} from '../src/index.js';
import { waitFor } from '../src/testing.js';

/**
 * A failure quotes the file, and a status store may refuse what it quotes:
 * the PostgreSQL one refused a NUL. The MISSING_COLUMNS of a header cell
 * holding a NUL could then not be written, the job failed, and every
 * redelivery failed the same way: the import stayed `processing` for
 * good. The engine now writes such a failure again, plainly.
 */

const database = useTestDatabase('engine_failure_not_storable');
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
  await pool.query('CREATE TABLE codes (code text PRIMARY KEY, name text)');
});

afterAll(async () => {
  await pool.end();
});

/**
 * A memory status store that, like PostgreSQL text, cannot hold NUL or a
 * lone surrogate (which JSON.stringify writes as an escape).
 */
function storeRefusingNul(): StatusStore {
  const inner = createMemoryStatusStore();
  return {
    ...inner,
    async transition(id, from, patch) {
      if (/\\u(0000|d[89a-f])/.test(JSON.stringify(patch))) {
        throw new ImportError(
          ErrorCodes.STORE_ERROR,
          'invalid byte sequence for encoding "UTF8": 0x00',
        );
      }
      return inner.transition(id, from, patch);
    },
  };
}

describe('a failure the status store refuses', () => {
  it('still ends the import failed, with the NUL spelt out', async () => {
    const importer = createImporter({
      definitions: [
        {
          entity: 'codes',
          table: 'codes',
          key: ['code'],
          columns: [
            { name: 'code', type: 'text' },
            { name: 'name', type: 'text' },
          ],
        },
      ],
      database: pool,
      queue: createMemoryQueue({ retryDelayMs: 10 }),
      statusStore: storeRefusingNul(),
      errorLog: createMemoryErrorLog(),
      fileStore: createMemoryFileStore(),
    });
    const worker = await importer.startWorker({ concurrency: 1 });

    try {
      const { record } = await importer.enqueue({
        tenant: 'acme',
        entity: 'codes',
        format: 'csv',
        body: Readable.from([Buffer.from('co\u0000de,name\nA,ok\n')]),
      });
      const done: ImportRecord = await waitFor(
        async () => {
          const current = await importer.get('acme', record.id);
          return current.state === 'failed' ? current : undefined;
        },
        { timeoutMs: 10_000, description: 'the import to fail' },
      );

      expect(done.failure).toEqual({
        code: 'MISSING_COLUMNS',
        message: expect.stringContaining('"co\\0de"'),
      });
      expect(done.attempts).toBe(1);
    } finally {
      await worker.stop();
    }
  });
});
