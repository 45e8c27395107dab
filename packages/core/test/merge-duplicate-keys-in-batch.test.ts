import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import type { CoercedRow } from '../src/coercion/coerced-row.js';
import { defineImport } from '../src/definitions/import-definition.js';
import { createRowCoercer } from '../src/coercion/row-coercer.js';
import { applyImport } from '../src/loader/apply-import.js';
import { createCsvReader } from '../src/readers/csv-reader.js';
import type { RowIssue } from '../src/ports/error-log.js';

// Case 15: the same key twice in one file must not make the MERGE fail
// ("cannot affect row a second time"); the last record in file order wins.
const caseDir = sharedPath('cases', '15-merge-duplicate-keys-in-batch');

const prices = defineImport({
  entity: 'prices',
  table: 'prices',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'price', type: 'numeric', precision: 12, scale: 2 },
    { name: 'updated_at', type: 'timestamptz' },
  ],
});

// The file is trivial (no quotes, no commas in values): a split reads it,
// which keeps the loader's test independent of the reader's.
async function readPriceUpdates(): Promise<CoercedRow[]> {
  const text = await readFile(join(caseDir, 'price_updates.csv'), 'utf8');
  const [, ...records] = text.split('\n').filter((line) => line !== '');
  return records.map((record, index) => ({
    // The header is line 1, so record n starts on line n + 1.
    position: { recordNumber: index + 1, line: index + 2 },
    values: record.split(','),
  }));
}

// The same file through the real CSV reader and row coercer.
async function* readThroughCsvReader(): AsyncGenerator<CoercedRow> {
  const reader = createCsvReader(
    createReadStream(join(caseDir, 'price_updates.csv')),
    { definition: prices },
  );
  const coerce = createRowCoercer(prices);
  for await (const item of reader.items()) {
    if (item.kind !== 'record') throw new Error(item.issue.message);
    const coerced = coerce(item.record);
    if (!coerced.ok) throw new Error(JSON.stringify(coerced.issues));
    yield coerced.row;
  }
}

// Hands rows over one at a time, across event-loop turns, as a reader does.
async function* slowly(rows: CoercedRow[]): AsyncGenerator<CoercedRow> {
  for (const row of rows) {
    await new Promise((resolve) => setImmediate(resolve));
    yield row;
  }
}

describe('case 15: duplicate keys inside one file', () => {
  const database = useTestDatabase('case15_dup_keys');
  let client: pg.Client;
  let seedSql: string;
  let importCounter = 0;

  beforeAll(async () => {
    seedSql = await readFile(join(caseDir, 'seed.sql'), 'utf8');
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
  });

  async function reseed(): Promise<void> {
    await client.query('DROP TABLE IF EXISTS prices');
    await client.query(seedSql);
  }

  async function run(options: {
    copyChunkBytes?: number;
    mergeReturning?: boolean;
    rows?: AsyncIterable<CoercedRow>;
  }) {
    await reseed();
    const issues: RowIssue[] = [];
    const result = await applyImport({
      client,
      importId: `case15-${++importCounter}`,
      tenant: 'acme',
      definitions: [prices],
      rows: slowly(await readPriceUpdates()),
      onIssues: async (batch) => {
        issues.push(...batch);
      },
      ...options,
    });
    const table = await client.query(
      `SELECT sku, price::text AS price,
              to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
                AS updated_at
       FROM prices ORDER BY sku`,
    );
    return { result, issues, table: table.rows };
  }

  const expectedTable = [
    { sku: 'P-100', price: '11.00', updated_at: '2024-06-01 12:00:00' },
    { sku: 'P-101', price: '5.00', updated_at: '2024-06-01 10:00:00' },
    { sku: 'P-102', price: '7.50', updated_at: '2024-06-01 10:00:00' },
  ];

  it('keeps the last record of each key and warns about the others', async () => {
    const { result, issues, table } = await run({});

    expect(result.alreadyApplied).toBe(false);
    expect(table).toEqual(expectedTable);
    expect(result.counts.prices).toEqual({
      staged: 5,
      inserted: 2,
      updated: 1,
      unchanged: 0,
      superseded: 2,
      deleted: 0,
      skipped: 0,
      rejected: 0,
    });
    expect(issues).toEqual([
      {
        severity: 'warning',
        code: 'duplicate_key_superseded',
        position: { recordNumber: 1, line: 2 },
        message: 'superseded by line 4, a later record with the same key (sku)',
      },
      {
        severity: 'warning',
        code: 'duplicate_key_superseded',
        position: { recordNumber: 2, line: 3 },
        message: 'superseded by line 6, a later record with the same key (sku)',
      },
    ]);
  });

  it('gives the same answer through the CSV reader and coercer', async () => {
    const { result, issues, table } = await run({
      rows: readThroughCsvReader(),
    });
    expect(table).toEqual(expectedTable);
    expect(result.counts.prices).toMatchObject({
      inserted: 2,
      updated: 1,
      superseded: 2,
    });
    expect(issues.map((issue) => issue.position.line)).toEqual([2, 3]);
  });

  it.each([
    { copyChunkBytes: 1, mergeReturning: false },
    { copyChunkBytes: 40, mergeReturning: false },
    { copyChunkBytes: 1 },
    { copyChunkBytes: 70 },
  ])(
    'dedupes across the whole file whatever the chunking (%o)',
    async (options) => {
      const { result, issues, table } = await run(options);
      expect(table).toEqual(expectedTable);
      expect(result.counts.prices).toMatchObject({
        inserted: 2,
        updated: 1,
        superseded: 2,
      });
      expect(issues.map((issue) => issue.position.line)).toEqual([2, 3]);
    },
  );
});
