import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput } from '../src/index.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// The fix file finds the rejected records by counting records as the
// reader does: blank rows of delimiters or spaces, which the reader
// skips, must not shift the count and hand back the wrong record.

const items: ImportDefinitionInput = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'qty', type: 'integer', nullable: false },
  ],
};

const database = useTestDatabase('fix_file_blank_rows');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query('CREATE TABLE items (sku text PRIMARY KEY, qty integer)');
  harness = await startEngineHarness(pool, [items]);
});
afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

it('hands back the rejected record, not one shifted by blank rows', async () => {
  const record = await harness.run({
    entity: 'items',
    format: 'csv',
    body: 'sku;qty\r\n;\r\nA;1\r\n   \r\n;\r\nB;x\r\nC;3\r\n',
  });
  expect(record.state).toBe('completed');
  expect(record.counts).toMatchObject({ read: 3, inserted: 2, rejected: 1 });

  const text = await harness.fixFileText(record);
  const [header, ...rows] = text.split('\r\n').filter((line) => line !== '');
  expect(header).toBe('sku;qty;_line;_column;_code;_message');
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatch(/^B;x;6;qty;invalid_integer;/);
});
