import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportRecord } from '../src/index.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// A CSV import that failed on a broken end (a quote never closed, a
// gzip cut short) still logged the records it rejected before it; its
// fix file gives them back, whole, rather than break off at the end of
// the file the import could not read.

const items = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' as const },
    { name: 'qty', type: 'integer' as const },
  ],
};

const database = useTestDatabase('fix_file_failed');
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

async function fixFileLines(record: ImportRecord): Promise<string[]> {
  const fix = await harness.importer.fixFile(record.tenant, record.id);
  let text = '';
  for await (const chunk of fix.body) text += chunk.toString('utf8');
  return text.split('\n').filter((line) => line !== '');
}

// Two bad quantities near the top, then many good rows.
function rowsWithTwoBad(count: number): string {
  let text = 'sku,qty\nA,1\nB,x\nC,y\n';
  for (let i = 0; i < count; i++) text += `G${i},${i}\n`;
  return text;
}

describe('the fix file of a CSV import that failed', () => {
  it('gives back the rejected records before an unclosed quote', async () => {
    const record = await harness.run({
      entity: 'items',
      format: 'csv',
      body: rowsWithTwoBad(3) + '"D,1\nE,2\n',
    });
    expect(record.state).toBe('failed');
    expect(record.failure?.code).toBe('MALFORMED_FILE');

    const [header, ...rows] = await fixFileLines(record);
    expect(header).toBe('sku,qty,_line,_column,_code,_message');
    expect(rows.map((row) => row.split(',').slice(0, 4))).toEqual([
      ['B', 'x', '3', 'qty'],
      ['C', 'y', '4', 'qty'],
    ]);
  });

  it('gives back the rejected records before a gzip cut short', async () => {
    const whole = gzipSync(rowsWithTwoBad(200_000));
    const record = await harness.run({
      entity: 'items',
      format: 'csv',
      body: whole.subarray(0, whole.length - 64),
    });
    expect(record.state).toBe('failed');
    expect(record.failure?.code).toBe('TRUNCATED_FILE');

    const [, ...rows] = await fixFileLines(record);
    expect(rows.map((row) => row.split(',').slice(0, 3))).toEqual([
      ['B', 'x', '3'],
      ['C', 'y', '4'],
    ]);
  });
});
