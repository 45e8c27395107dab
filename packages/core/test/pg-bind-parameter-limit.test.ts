import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import type { CoercedRow } from '../src/coercion/coerced-row.js';
import { defineImport } from '../src/definitions/import-definition.js';
import { applyImport } from '../src/loader/apply-import.js';

// Case 17: 7,000 rows x 10 columns = 70,000 values, more than the 65,535
// bind parameters one statement can carry. COPY carries no parameters.
const generator = sharedPath(
  'cases',
  '17-pg-bind-parameter-limit',
  'gen_items.sh',
);

const items = defineImport({
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'name', type: 'text' },
    { name: 'qty', type: 'integer' },
    { name: 'unit', type: 'text' },
    { name: 'price', type: 'numeric', precision: 10, scale: 2 },
    { name: 'weight_kg', type: 'numeric', precision: 8, scale: 3 },
    { name: 'category', type: 'text' },
    { name: 'warehouse', type: 'text' },
    { name: 'active', type: 'boolean' },
    { name: 'ean', type: 'text', length: 13 },
  ],
});

// The generated file has no quotes and no commas in values.
async function* readItems(path: string): AsyncGenerator<CoercedRow> {
  const lines = createInterface({ input: createReadStream(path, 'utf8') });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber += 1;
    if (lineNumber === 1 || line === '') continue;
    const values = line.split(',');
    values[8] = values[8] === 'true' ? 't' : 'f';
    yield {
      position: { recordNumber: lineNumber - 1, line: lineNumber },
      values,
    };
  }
}

describe('case 17: more values than one statement has bind parameters', () => {
  const database = useTestDatabase('case17_bind_limit');
  let client: pg.Client;
  let directory: string;
  let csvPath: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'erp-case17-'));
    csvPath = join(directory, 'items_7000x10.csv');
    const { stdout } = await promisify(execFile)('sh', [generator], {
      maxBuffer: 16 * 1024 * 1024,
    });
    await writeFile(csvPath, stdout);

    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query(`
      CREATE TABLE items (
        sku       text PRIMARY KEY,
        name      text NOT NULL,
        qty       integer NOT NULL,
        unit      text NOT NULL,
        price     numeric(10,2) NOT NULL,
        weight_kg numeric(8,3) NOT NULL,
        category  text NOT NULL,
        warehouse text NOT NULL,
        active    boolean NOT NULL,
        ean       char(13) NOT NULL
      )`);
  });
  afterAll(async () => {
    await client?.end();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  it('merges all 7,000 rows, then finds them unchanged', async () => {
    // The whole file as one COPY buffer: the largest "batch" there is.
    const first = await applyImport({
      client,
      importId: 'case17-first',
      tenant: 'acme',
      definitions: [items],
      rows: readItems(csvPath),
      copyChunkBytes: 64 * 1024 * 1024,
    });
    expect(first.counts.items).toEqual({
      staged: 7000,
      inserted: 7000,
      updated: 0,
      unchanged: 0,
      superseded: 0,
      deleted: 0,
      skipped: 0,
      rejected: 0,
    });

    const checks = await client.query(`
      SELECT count(*)::int AS count,
             sum(qty)::text AS sum_qty,
             sum(price)::text AS sum_price,
             (count(*) FILTER (WHERE active))::int AS active,
             min(ean) AS min_ean,
             max(ean) AS max_ean,
             count(DISTINCT sku)::int AS skus
      FROM items`);
    expect(checks.rows[0]).toEqual({
      count: 7000,
      sum_qty: '346500',
      sum_price: '174965.00',
      active: 3500,
      min_ean: '7890000000001',
      max_ean: '7890000007000',
      skus: 7000,
    });

    const second = await applyImport({
      client,
      importId: 'case17-second',
      tenant: 'acme',
      definitions: [items],
      rows: readItems(csvPath),
      copyChunkBytes: 1024,
    });
    expect(second.alreadyApplied).toBe(false);
    expect(second.counts.items).toMatchObject({
      inserted: 0,
      updated: 0,
      unchanged: 7000,
    });
  });
});
