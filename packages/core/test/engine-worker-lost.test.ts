import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import {
  createImporter,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
  type ImportRecord,
} from '../src/index.js';
import { sampleImportRecord, waitFor } from '../src/testing.js';

/**
 * Case 19, the in-memory half: a memory queue cannot survive a kill. When
 * the records outlive it (a status store in a database, a memory queue),
 * the imports whose jobs died must end `failed` with WORKER_LOST, not stay
 * queued or processing forever.
 */

const itemsCsv = sharedPath(
  'cases',
  '19-pgqueue-worker-crash-orphaned-lock',
  'items.csv',
);

const database = useTestDatabase('engine_worker_lost');
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE items (sku text PRIMARY KEY, name text NOT NULL, qty integer NOT NULL)',
  );
});

afterAll(async () => {
  await pool.end();
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

describe('imports whose in-memory job was lost (case 19)', () => {
  it('fails them WORKER_LOST when a worker starts, and a retry completes them', async () => {
    // What the previous process left: an import it was staging when it was
    // killed, one still waiting in its memory queue, with their files.
    const statusStore = createMemoryStatusStore();
    const fileStore = createMemoryFileStore();
    const longAgo = '2024-01-01T00:00:00.000Z';
    const killed = sampleImportRecord({
      tenant: 'acme',
      entity: 'items',
      createdAt: longAgo,
      state: 'processing',
      attempts: 1,
      startedAt: longAgo,
    });
    killed.progress = {
      ...killed.progress,
      phase: 'merging',
      updatedAt: longAgo,
    };
    const waiting = sampleImportRecord({
      tenant: 'acme',
      entity: 'items',
      createdAt: longAgo,
    });
    const csv = await readFile(itemsCsv);
    for (const record of [killed, waiting]) {
      const stored = await fileStore.put(record.fileKey, Readable.from([csv]));
      await statusStore.create({ ...record, byteSize: stored.size });
    }

    // The new process: a fresh memory queue, the surviving records.
    const importer = createImporter({
      definitions: [definition],
      database: pool,
      queue: createMemoryQueue(),
      statusStore,
      errorLog: createMemoryErrorLog(),
      fileStore,
    });
    const fresh = await importer.enqueue({
      tenant: 'acme',
      entity: 'items',
      format: 'csv',
      body: Readable.from([Buffer.from('sku,name,qty\nQ-9,Clipe,1\n')]),
    });
    const worker = await importer.startWorker();
    try {
      const settled = (id: string) =>
        waitFor(
          async () => {
            const record = await importer.get('acme', id);
            return ['failed', 'completed'].includes(record.state)
              ? record
              : undefined;
          },
          { description: `import ${id} to settle` },
        );

      for (const record of [killed, waiting]) {
        const lost = await settled(record.id);
        expect(lost.state).toBe('failed');
        expect(lost.failure).toMatchObject({ code: 'WORKER_LOST' });
        expect(lost.failure?.message).toMatch(/retry/);
      }
      expect((await settled(fresh.record.id)).state).toBe('completed');

      // Nothing of the killed attempt was applied; its retry applies it once.
      await importer.retry('acme', killed.id);
      const retried = await settled(killed.id);
      expect(retried).toMatchObject({ state: 'completed', attempts: 2 });
      expect(retried.counts).toMatchObject({
        read: 3,
        inserted: 3,
        rejected: 0,
      });
      const { rows } = await pool.query(
        'SELECT sku, name, qty FROM items ORDER BY sku',
      );
      expect(rows).toEqual([
        { sku: 'Q-1', name: 'Grampo', qty: 10 },
        { sku: 'Q-2', name: 'Clipe', qty: 20 },
        { sku: 'Q-3', name: 'Fita', qty: 30 },
        { sku: 'Q-9', name: 'Clipe', qty: 1 },
      ]);
    } finally {
      await worker.stop();
    }
  });

  it('recoverStale fails only imports whose progress went silent', async () => {
    const statusStore = createMemoryStatusStore();
    const now = new Date().toISOString();
    const processing = (updatedAt: string): ImportRecord => {
      const record = sampleImportRecord({
        tenant: 'acme',
        createdAt: now,
        startedAt: now,
        state: 'processing',
      });
      record.progress = { ...record.progress, phase: 'reading', updatedAt };
      return record;
    };
    const silent = processing(new Date(Date.now() - 120_000).toISOString());
    const live = processing(now);
    const queuedNow = sampleImportRecord({ tenant: 'acme', createdAt: now });
    for (const record of [silent, live, queuedNow]) {
      await statusStore.create(record);
    }
    const importer = createImporter({
      definitions: [definition],
      database: pool,
      queue: createMemoryQueue(),
      statusStore,
      errorLog: createMemoryErrorLog(),
      fileStore: createMemoryFileStore(),
    });

    const lost = await importer.recoverStale({ olderThanMs: 60_000 });

    expect(lost.map((record) => record.id)).toEqual([silent.id]);
    expect((await importer.get('acme', live.id)).state).toBe('processing');
    expect((await importer.get('acme', queuedNow.id)).state).toBe('queued');
  });
});
