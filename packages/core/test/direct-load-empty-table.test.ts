import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { CoercedRow } from '../src/coercion/coerced-row.js';
import { defineImport } from '../src/definitions/import-definition.js';
import { applyImport } from '../src/loader/apply-import.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';
import { recordingLogger, type LoggedLine } from './recording-logger.js';

// The first import into an empty table copies its rows straight into it
// (direct-load.ts). Whatever the file holds, the outcome must be the one
// staging and MERGE give: a repeated key, a rejected record, a row the
// table refuses, a column the file lacks. Each case runs with the rows
// read in the worker's thread and in a parse thread, and checks how the
// import was loaded, so that a case meant to give up cannot pass by
// never having tried.

const database = useTestDatabase('direct_load');
let pool: pg.Pool;

const logged: LoggedLine[] = [];

const items = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  allowedModes: ['update' as const, 'sync' as const],
  columns: [
    { name: 'sku', type: 'text' as const },
    { name: 'qty', type: 'integer' as const },
    { name: 'note', type: 'text' as const },
  ],
};

const harnesses: Record<string, EngineHarness> = {};

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  for (const [mode, parseThreadMinBytes] of [
    ['inline', Number.POSITIVE_INFINITY],
    ['thread', 0],
  ] as const) {
    harnesses[mode] = await startEngineHarness(pool, [items], {
      parseThreadMinBytes,
      logger: recordingLogger(logged).logger,
    });
  }
});

afterAll(async () => {
  for (const harness of Object.values(harnesses)) await harness.stop();
  await pool.end();
});

beforeEach(async () => {
  logged.length = 0;
  await pool.query('DROP TABLE IF EXISTS items');
  await pool.query(
    'CREATE TABLE items (sku text PRIMARY KEY, qty integer, ' +
      "note text DEFAULT 'none')",
  );
});

const rows = async () =>
  (await pool.query('SELECT sku, qty, note FROM items ORDER BY sku')).rows;

// How the import went: straight in, given up, or never tried.
function howLoaded(): 'direct' | 'given up' | 'merged' {
  if (logged.some((entry) => entry.message === 'direct load given up')) {
    return 'given up';
  }
  return logged.some((entry) => entry.fields.loadedDirectly === true)
    ? 'direct'
    : 'merged';
}

describe.each(['inline', 'thread'])(
  'a load into an empty table (%s)',
  (mode) => {
    const run = (body: string, load?: { mode: 'update' | 'sync' }) =>
      harnesses[mode]!.run({
        entity: 'items',
        format: 'csv',
        body,
        ...(load !== undefined && { load }),
      });

    it('goes straight in when every row is new and good', async () => {
      const record = await run('sku,qty,note\nA,1,x\nB,2,\nC,3,"z, w"\n');
      expect(record.state).toBe('completed');
      expect(howLoaded()).toBe('direct');
      expect(record.counts).toMatchObject({
        read: 3,
        inserted: 3,
        updated: 0,
        unchanged: 0,
        rejected: 0,
      });
      expect(await rows()).toEqual([
        { sku: 'A', qty: 1, note: 'x' },
        { sku: 'B', qty: 2, note: null },
        { sku: 'C', qty: 3, note: 'z, w' },
      ]);
    });

    it('leaves out a record rejected on reading, logged once', async () => {
      const record = await run('sku,qty,note\nA,1,x\nB,many,y\nC,3,z\n');
      expect(howLoaded()).toBe('direct');
      expect(record.counts).toMatchObject({
        read: 3,
        inserted: 2,
        rejected: 1,
      });
      expect(await rows()).toEqual([
        { sku: 'A', qty: 1, note: 'x' },
        { sku: 'C', qty: 3, note: 'z' },
      ]);
      const errors = await harnesses[mode]!.errors(record);
      expect(
        errors.map((issue) => [issue.position.line, issue.column]),
      ).toEqual([[3, 'qty']]);
    });

    it('gives up on a repeated key: the last occurrence wins, as merged', async () => {
      const record = await run('sku,qty,note\nA,1,x\nB,2,y\nA,9,last\n');
      expect(howLoaded()).toBe('given up');
      expect(record.counts).toMatchObject({
        read: 3,
        inserted: 2,
        superseded: 1,
        rejected: 0,
      });
      expect(await rows()).toEqual([
        { sku: 'A', qty: 9, note: 'last' },
        { sku: 'B', qty: 2, note: 'y' },
      ]);
      const errors = await harnesses[mode]!.errors(record);
      expect(errors.map((issue) => [issue.position.line, issue.code])).toEqual([
        [2, 'duplicate_key_superseded'],
      ]);
    });

    it('gives up on a repeated key in a table without a unique key too', async () => {
      // Nothing in the table would refuse the second row: only the
      // repeated-key filter stands between the file and two rows of A.
      await pool.query('ALTER TABLE items DROP CONSTRAINT items_pkey');
      const record = await run('sku,qty,note\nA,1,x\nB,2,y\nA,9,last\n');
      expect(howLoaded()).toBe('given up');
      expect(record.counts).toMatchObject({ inserted: 2, superseded: 1 });
      expect(await rows()).toEqual([
        { sku: 'A', qty: 9, note: 'last' },
        { sku: 'B', qty: 2, note: 'y' },
      ]);
    });

    it('gives up when the last occurrence is rejected, and logs it once', async () => {
      const record = await run('sku,qty,note\nA,1,x\nB,2,y\nA,bad,z\n');
      expect(howLoaded()).toBe('given up');
      expect(record.counts).toMatchObject({
        read: 3,
        inserted: 1,
        rejected: 1,
      });
      expect(await rows()).toEqual([{ sku: 'B', qty: 2, note: 'y' }]);
      const errors = await harnesses[mode]!.errors(record);
      // The first reading's issues do not stay beside the second's.
      expect(
        errors
          .filter((issue) => issue.severity === 'error')
          .map((i) => i.position.line),
      ).toEqual([4]);
    });

    it('gives up when the table refuses a row, which is then isolated', async () => {
      await pool.query('ALTER TABLE items ADD CHECK (qty < 100)');
      const record = await run('sku,qty,note\nA,1,x\nB,500,y\nC,3,z\n');
      expect(howLoaded()).toBe('given up');
      expect(record.state).toBe('completed');
      expect(record.counts).toMatchObject({
        read: 3,
        inserted: 2,
        rejected: 1,
      });
      expect(await rows()).toEqual([
        { sku: 'A', qty: 1, note: 'x' },
        { sku: 'C', qty: 3, note: 'z' },
      ]);
      const errors = await harnesses[mode]!.errors(record);
      expect(errors.map((issue) => [issue.position.line, issue.code])).toEqual([
        [3, 'check_violation'],
      ]);
    });

    it('gives up when the file lacks a column, so new rows get its default', async () => {
      const record = await run('sku,qty\nA,1\nB,2\n');
      expect(howLoaded()).toBe('given up');
      expect(record.counts).toMatchObject({ read: 2, inserted: 2 });
      expect(await rows()).toEqual([
        { sku: 'A', qty: 1, note: 'none' },
        { sku: 'B', qty: 2, note: 'none' },
      ]);
    });

    it('merges an update, which inserts nothing, as asked', async () => {
      const record = await run('sku,qty,note\nA,1,x\n', { mode: 'update' });
      expect(howLoaded()).toBe('merged');
      expect(record.counts).toMatchObject({ read: 1, inserted: 0, skipped: 1 });
      expect(await rows()).toEqual([]);
    });

    it('merges a sync, whose deletes are its own', async () => {
      const record = await run('sku,qty,note\nA,1,x\n', { mode: 'sync' });
      expect(howLoaded()).toBe('merged');
      expect(record.counts).toMatchObject({ inserted: 1, deleted: 0 });
    });

    it('merges as usual when the table holds a row already', async () => {
      await pool.query("INSERT INTO items VALUES ('A', 1, 'x')");
      const record = await run('sku,qty,note\nA,1,x\nB,2,y\n');
      expect(howLoaded()).toBe('merged');
      expect(record.counts).toMatchObject({ inserted: 1, unchanged: 1 });
    });

    it('merges where COPY would write what INSERT may not', async () => {
      // An identity column GENERATED ALWAYS takes no value from INSERT (the
      // MERGE fails), while COPY would write the file's.
      await pool.query('ALTER TABLE items ALTER COLUMN qty SET NOT NULL');
      await pool.query(
        'ALTER TABLE items ALTER COLUMN qty ADD GENERATED ALWAYS AS IDENTITY',
      );
      const refused = await run('sku,qty,note\nA,1,x\n');
      expect(howLoaded()).toBe('merged');
      expect(refused.state).toBe('failed');
      expect(await rows()).toEqual([]);

      // A rule: COPY would ignore it, a MERGE is refused on the table.
      logged.length = 0;
      await pool.query('DROP TABLE items');
      await pool.query(
        'CREATE TABLE items (sku text PRIMARY KEY, qty integer, note text)',
      );
      await pool.query('CREATE TABLE item_log (sku text)');
      await pool.query(
        'CREATE RULE log_items AS ON INSERT TO items DO ALSO ' +
          'INSERT INTO item_log VALUES (NEW.sku)',
      );
      await run('sku,qty,note\nA,1,x\n');
      expect(howLoaded()).toBe('merged');
      await pool.query('DROP TABLE items; DROP TABLE item_log');
      await pool.query(
        'CREATE TABLE items (sku text PRIMARY KEY, qty integer, note text)',
      );
    });

    it('merges as usual when a column is of another type than staging', async () => {
      await pool.query('ALTER TABLE items ALTER COLUMN qty TYPE numeric');
      const record = await run('sku,qty,note\nA,1,x\n');
      expect(howLoaded()).toBe('merged');
      expect(record.counts).toMatchObject({ inserted: 1 });
      expect(await rows()).toEqual([{ sku: 'A', qty: '1', note: 'x' }]);
    });
  },
);

describe('the loader without a second reading', () => {
  it('never loads directly', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      async function* source(): AsyncGenerator<CoercedRow> {
        yield {
          position: { recordNumber: 1, line: 2 },
          values: ['A', '1', 'x'],
        };
      }
      const result = await applyImport({
        client,
        importId: 'no-reopen',
        tenant: 'acme',
        definitions: [defineImport(items)],
        rows: source(),
      });
      expect(result.loadedDirectly).toBeUndefined();
      expect(result.counts.items).toMatchObject({ inserted: 1 });
    } finally {
      await client.end();
    }
  });
});
