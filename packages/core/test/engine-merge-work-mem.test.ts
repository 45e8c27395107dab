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
  type CreateImporterOptions,
  type PgPoolClientLike,
  type PgPoolLike,
} from '../src/index.js';
import { waitFor } from '../src/testing.js';

// An import's transaction runs with `mergeWorkMem` as its work_mem, so a
// large MERGE's hash join stays in memory; the pool's connections keep
// the server's setting otherwise.

const database = useTestDatabase('engine_work_mem');
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query('CREATE TABLE items (sku text PRIMARY KEY, qty integer)');
});

afterAll(async () => {
  await pool.end();
});

const items = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' as const },
    { name: 'qty', type: 'integer' as const },
  ],
};

// The pool, with what work_mem said just before each COMMIT.
function watchingCommits(seen: string[]): PgPoolLike {
  return {
    async connect() {
      const client = await pool.connect();
      const run = client.query.bind(client) as (...args: unknown[]) => unknown;
      // A COPY stream is handed back at once, as pg does.
      const query = (...args: unknown[]): unknown =>
        args[0] === 'COMMIT'
          ? client.query('SHOW work_mem').then((shown) => {
              seen.push((shown.rows[0] as { work_mem: string }).work_mem);
              return run(...args);
            })
          : run(...args);
      return {
        query: query as PgPoolClientLike['query'],
        release: (error?: Error | boolean) => client.release(error),
      };
    },
  };
}

async function importOnce(
  options: Partial<CreateImporterOptions>,
): Promise<string[]> {
  const seen: string[] = [];
  const importer = createImporter({
    definitions: [items],
    database: watchingCommits(seen),
    queue: createMemoryQueue(),
    statusStore: createMemoryStatusStore(),
    errorLog: createMemoryErrorLog(),
    fileStore: createMemoryFileStore(),
    ...options,
  });
  const worker = await importer.startWorker();
  try {
    const { record: queued } = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: Readable.from([Buffer.from('sku,qty\nA,1\nB,2\n')]),
    });
    const record = await waitFor(
      async () => {
        const current = await importer.get('acme', queued.id);
        return current.state === 'completed' || current.state === 'failed'
          ? current
          : undefined;
      },
      { timeoutMs: 30_000, description: 'the import to end' },
    );
    expect(record.state).toBe('completed');
  } finally {
    await worker.stop();
  }
  return seen;
}

describe('mergeWorkMem', () => {
  it('is 128MB inside the import by default', async () => {
    expect(await importOnce({})).toContain('128MB');
  });

  it('takes another size, or keeps the server setting with null', async () => {
    expect(await importOnce({ mergeWorkMem: '32MB' })).toContain('32MB');
    const server = await pool.query<{ work_mem: string }>('SHOW work_mem');
    const kept = await importOnce({ mergeWorkMem: null });
    expect(kept.length).toBeGreaterThan(0);
    expect(new Set(kept)).toEqual(new Set([server.rows[0]!.work_mem]));
  });

  it('refuses a value PostgreSQL would not take, when the importer is made', () => {
    expect(() =>
      createImporter({
        definitions: [items],
        database: pool,
        queue: createMemoryQueue(),
        statusStore: createMemoryStatusStore(),
        errorLog: createMemoryErrorLog(),
        fileStore: createMemoryFileStore(),
        mergeWorkMem: 'lots',
      }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });
});
