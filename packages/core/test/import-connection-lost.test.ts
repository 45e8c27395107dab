import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// The connection of an import in progress ends (the server restarted, an
// administrator ended the backend). pg emits `error` on the client while
// it is checked out of the pool, where nobody listened: the event ended
// the worker's process, and every other import with it. The import must
// end on its own, and the worker go on to the next one.

const items = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' as const },
    { name: 'qty', type: 'integer' as const },
  ],
};

const database = useTestDatabase('connection_lost');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  // The pool's own idle clients are ended too: heard by the pool.
  pool.on('error', () => undefined);
  await pool.query('CREATE TABLE items (sku text PRIMARY KEY, qty integer)');
  harness = await startEngineHarness(pool, [items]);
});
afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

function rows(count: number): string {
  let text = 'sku,qty\n';
  for (let i = 0; i < count; i++) text += `S${i},${i}\n`;
  return text;
}

describe('an import whose connection ends', () => {
  it('ends without taking the worker down, which serves the next one', async () => {
    const watcher = new pg.Client({ connectionString: database.url });
    await watcher.connect();
    try {
      const running = harness.run({
        entity: 'items',
        format: 'csv',
        body: rows(400_000),
      });

      // The import's backend, found by its COPY, is ended mid-load.
      let ended = false;
      for (let tries = 0; tries < 400 && !ended; tries++) {
        const { rows: found } = await watcher.query<{ ended: boolean }>(
          `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
           WHERE datname = current_database() AND query LIKE 'COPY %'
             AND pid <> pg_backend_pid()`,
        );
        ended = found.some((row) => row.ended);
        if (!ended) await new Promise((done) => setTimeout(done, 10));
      }
      expect(ended).toBe(true);

      // Retried or failed, it settles; a failure says the database's.
      const first = await running;
      if (first.state === 'failed') {
        expect(first.failure?.code).toBe('DATABASE_ERROR');
      }

      const next = await harness.run({
        entity: 'items',
        format: 'csv',
        body: 'sku,qty\nN1,1\n',
      });
      expect(next.state).toBe('completed');
    } finally {
      await watcher.end();
    }
  });
});
