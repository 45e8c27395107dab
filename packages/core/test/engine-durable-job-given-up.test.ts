import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { CoercedRow } from '../src/coercion/coerced-row.js';
import {
  applyImport,
  createDefinitionRegistry,
  createImporter,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
  defineImport,
  type ImportQueue,
  type ImportRecord,
} from '../src/index.js';
import { sampleImportRecord, waitFor } from '../src/testing.js';

/**
 * A durable queue gives a dead worker's job to another worker, but only
 * as often as it has attempts. When the last attempt dies too, nobody
 * will ever take the import: the worker's sweep must end it instead of
 * leaving it `processing` forever, and must not call "lost" an import
 * whose MERGE committed before its worker died.
 */

const database = useTestDatabase('engine_durable_given_up');
let pool: pg.Pool;

const definition = defineImport({
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'name', type: 'text' },
    { name: 'qty', type: 'integer' },
  ],
});

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE items (sku text PRIMARY KEY, name text NOT NULL, qty integer NOT NULL)',
  );
});

afterAll(async () => {
  await pool.end();
});

/** A memory queue that says it is durable, with a short redelivery. */
function durableQueue(): ImportQueue {
  const inner = createMemoryQueue();
  return {
    capabilities: {
      durable: true,
      ordered: true,
      redeliveryAfterMs: 100,
      maxAttempts: 2,
    },
    enqueue: (job) => inner.enqueue(job),
    consume: (handler, options) => inner.consume(handler, options),
    close: () => inner.close(),
  };
}

function silentProcessing(): ImportRecord {
  const longAgo = new Date(Date.now() - 60_000).toISOString();
  const record = sampleImportRecord({
    tenant: 'acme',
    entity: 'items',
    state: 'processing',
    attempts: 2,
    createdAt: longAgo,
    startedAt: longAgo,
  });
  record.progress = {
    ...record.progress,
    phase: 'merging',
    recordsRead: 2,
    updatedAt: longAgo,
  };
  return record;
}

async function* rows(): AsyncGenerator<CoercedRow> {
  yield { position: { recordNumber: 1, line: 2 }, values: ['A-1', 'Um', '1'] };
  yield {
    position: { recordNumber: 2, line: 3 },
    values: ['A-2', 'Dois', '2'],
  };
}

describe('a durable queue that gave up on a job', () => {
  it('fails the abandoned import, completes the applied one, leaves the live one', async () => {
    const abandoned = silentProcessing();
    const applied = silentProcessing();
    const live = silentProcessing();
    live.progress = { ...live.progress, updatedAt: new Date().toISOString() };

    // The applied import's worker died between COMMIT and its status write.
    const client = await pool.connect();
    try {
      await applyImport({
        client,
        importId: applied.id,
        tenant: 'acme',
        definitions: [definition],
        rows: rows(),
      });
    } finally {
      client.release();
    }

    const statusStore = createMemoryStatusStore();
    for (const record of [abandoned, applied, live]) {
      await statusStore.create(record);
    }
    const importer = createImporter({
      definitions: createDefinitionRegistry([definition]),
      database: pool,
      queue: durableQueue(),
      statusStore,
      errorLog: createMemoryErrorLog(),
      fileStore: createMemoryFileStore(),
    });

    // 2 attempts x 100 ms redelivery x 2: the sweep waits 400 ms of silence.
    const worker = await importer.startWorker({ staleAfterMs: 200 });
    try {
      const settled = (id: string) =>
        waitFor(
          async () => {
            const record = await importer.get('acme', id);
            return record.state === 'processing' ? undefined : record;
          },
          { description: `import ${id} to settle` },
        );

      const lost = await settled(abandoned.id);
      expect(lost.state).toBe('failed');
      expect(lost.failure).toMatchObject({ code: 'WORKER_LOST' });

      const done = await settled(applied.id);
      expect(done.state).toBe('completed');
      expect(done.counts).toMatchObject({ inserted: 2, read: 2 });

      expect((await importer.get('acme', live.id)).state).toBe('processing');
    } finally {
      await worker.stop();
    }
  });
});
