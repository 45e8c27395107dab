import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  createImporter,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
  type Importer,
  type ImportRecord,
  type PgPoolLike,
  type StatusStore,
} from '../src/index.js';
import { waitFor } from '../src/testing.js';

const database = useTestDatabase('engine_redelivery');
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
});

afterAll(async () => {
  await pool.end();
});

beforeEach(async () => {
  await pool.query('DROP TABLE IF EXISTS items');
  await pool.query(
    'CREATE TABLE items (sku text PRIMARY KEY, name text NOT NULL, qty integer NOT NULL)',
  );
});

const definition = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' as const },
    { name: 'name', type: 'text' as const },
    { name: 'qty', type: 'integer' as const },
  ],
};

function importerWith(overrides: {
  database?: PgPoolLike;
  statusStore?: StatusStore;
  maxAttempts?: number;
}): Importer {
  return createImporter({
    definitions: [definition],
    database: overrides.database ?? pool,
    queue: createMemoryQueue({
      retryDelayMs: 5,
      maxAttempts: overrides.maxAttempts ?? 3,
    }),
    statusStore: overrides.statusStore ?? createMemoryStatusStore(),
    errorLog: createMemoryErrorLog(),
    fileStore: createMemoryFileStore(),
  });
}

// A pool whose first `failures` connects are refused, as when the
// database restarts.
function flakyPool(failures: number): PgPoolLike {
  let refused = 0;
  return {
    async connect() {
      if (refused < failures) {
        refused += 1;
        const error = new Error('connect ECONNREFUSED 127.0.0.1:5432');
        throw Object.assign(error, { code: 'ECONNREFUSED' });
      }
      return pool.connect();
    },
  };
}

async function run(importer: Importer, text: string): Promise<ImportRecord> {
  const { record } = await importer.enqueue({
    tenant: 'acme',
    entity: 'items',
    format: 'csv',
    body: Readable.from([Buffer.from(text)]),
  });
  const worker = await importer.startWorker();
  try {
    return await waitFor(
      async () => {
        const current = await importer.get('acme', record.id);
        return ['completed', 'failed'].includes(current.state)
          ? current
          : undefined;
      },
      { timeoutMs: 30_000, description: 'the import to settle' },
    );
  } finally {
    await worker.stop();
  }
}

describe('engine on redelivery', () => {
  it('leaves an import to the next delivery when the database is unreachable', async () => {
    const importer = importerWith({ database: flakyPool(1) });
    const done = await run(importer, 'sku,name,qty\nQ-1,Grampo,10\n');

    expect(done).toMatchObject({ state: 'completed', attempts: 2 });
    expect(done.counts).toMatchObject({ read: 1, inserted: 1 });
  });

  it('fails the import once the queue has no attempt left', async () => {
    const importer = importerWith({ database: flakyPool(10), maxAttempts: 2 });
    const done = await run(importer, 'sku,name,qty\nQ-1,Grampo,10\n');

    expect(done).toMatchObject({ state: 'failed', attempts: 2 });
    expect(done.failure?.code).toBe('DATABASE_ERROR');
  });

  it('completes from the ledger an import that committed before its status was written', async () => {
    // The first `completed` write fails after the loader committed.
    const store = createMemoryStatusStore();
    let failNextCompletion = true;
    const statusStore: StatusStore = {
      ...store,
      transition: async (id, from, patch) => {
        if (patch.state === 'completed' && failNextCompletion) {
          failNextCompletion = false;
          throw new Error('connection terminated unexpectedly');
        }
        return store.transition(id, from, patch);
      },
    };
    const importer = importerWith({ statusStore });

    const done = await run(
      importer,
      'sku,name,qty\nQ-1,Grampo,10\nQ-2,Clipe,x\nQ-3,Fita,30\n',
    );

    expect(done).toMatchObject({ state: 'completed', attempts: 2 });
    expect(done.counts).toEqual({
      read: 3,
      inserted: 2,
      updated: 0,
      unchanged: 0,
      deleted: 0,
      rejected: 1,
      superseded: 0,
      skipped: 0,
    });
    const errors = await importer.errors('acme', done.id, { limit: 10 });
    expect(errors.items).toHaveLength(1);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM items');
    expect(rows[0]).toEqual({ n: 2 });
  });

  it('skips a job whose import is no longer queued', async () => {
    const importer = importerWith({});
    const { record } = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: Readable.from([Buffer.from('sku,name,qty\nQ-1,A,1\n')]),
    });
    await importer.cancel('acme', record.id);

    const result = await importer.process(record.id, {
      attempt: 1,
      signal: new AbortController().signal,
    });
    expect(result.state).toBe('cancelled');
    await expect(importer.process('no-such-import')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('leaves an import whose job was taken back to the worker that has it now', async () => {
    // The queue took the job back (a lost lock) during the last attempt:
    // another worker holds it, so this attempt must not fail the import.
    const importer = importerWith({ maxAttempts: 1 });
    const { record } = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: Readable.from([Buffer.from('sku,name,qty\nQ-5,Fita,5\n')]),
    });
    const lock = new AbortController();
    lock.abort(new Error('the lock was lost'));

    await expect(
      importer.process(record.id, { attempt: 1, signal: lock.signal }),
    ).rejects.toBeDefined();
    expect((await importer.get('acme', record.id)).state).toBe('processing');
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM items WHERE sku = 'Q-5'",
    );
    expect(rows[0]).toEqual({ n: 0 });
  });
});
