import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput } from '../src/index.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// Case 15's kind: a key twice in one file, its last occurrence wins. When
// that last occurrence is rejected, nothing of the key applies and the
// stored row stays, whoever rejects it: a column type while reading, or
// the database at the MERGE. (An earlier occurrence applied instead would
// be a silently wrong value.)

const prices: ImportDefinitionInput = {
  entity: 'prices',
  table: 'prices',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'qty', type: 'integer', nullable: false },
  ],
};

const database = useTestDatabase('duplicate_key_last_rejected');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  harness = await startEngineHarness(pool, [prices]);
});
afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});
beforeEach(async () => {
  await pool.query(`
    DROP TABLE IF EXISTS prices;
    CREATE TABLE prices (
      sku text PRIMARY KEY,
      qty integer NOT NULL CHECK (qty < 1000)
    );
    INSERT INTO prices VALUES ('P1', 100);
  `);
});

async function stored(): Promise<unknown[][]> {
  const result = await pool.query('SELECT sku, qty FROM prices ORDER BY 1');
  return result.rows.map((row) => [row.sku, row.qty]);
}

describe('a rejected last occurrence of a key', () => {
  it.each([
    { by: 'a column type', last: 'abc', code: 'invalid_integer' },
    { by: 'the database', last: '5000', code: 'check_violation' },
  ])('applies nothing of its key when $by rejects it', async (scenario) => {
    const record = await harness.run({
      entity: 'prices',
      format: 'csv',
      body: `sku,qty\nP1,1\nP2,2\nP1,${scenario.last}\n`,
    });

    expect(record.state).toBe('completed');
    expect(await stored()).toEqual([
      ['P1', 100],
      ['P2', 2],
    ]);
    expect(record.counts).toMatchObject({
      read: 3,
      inserted: 1,
      updated: 0,
      superseded: 1,
      rejected: 1,
    });
    // The final progress counts a row the database refused, too.
    expect(record.progress.recordsRejected).toBe(1);

    const errors = await harness.errors(record);
    expect(
      errors.map((issue) => [issue.position.line, issue.code, issue.severity]),
    ).toEqual(
      expect.arrayContaining([
        [2, 'duplicate_key_superseded', 'warning'],
        [4, scenario.code, 'error'],
      ]),
    );
    const superseded = errors.find((issue) => issue.position.line === 2);
    expect(superseded?.message).toMatch(/line 4/);
  });

  it('is itself superseded by a later valid occurrence', async () => {
    const record = await harness.run({
      entity: 'prices',
      format: 'csv',
      body: 'sku,qty\nP1,abc\nP1,7\n',
    });

    expect(record.state).toBe('completed');
    expect(await stored()).toEqual([['P1', 7]]);
    // The rejected record counts once, as rejected, not also superseded.
    expect(record.counts).toMatchObject({
      read: 2,
      updated: 1,
      superseded: 0,
      rejected: 1,
    });
  });
});
