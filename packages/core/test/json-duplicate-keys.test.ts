import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import type { ImportError } from '../src/errors/import-error.js';
import { createJsonReader } from '../src/readers/json-reader.js';
import type { ReadItem } from '../src/readers/record-reader.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// A key repeated in one JSON object dropped data silently: with
// `"details":[S1],"details":[S2]` only S2 was read, S1 neither read nor
// logged; `"note":"first","note":"second"` kept the last. Such a record
// is now rejected (`duplicate_field`, naming the key and where it is),
// and a records' array named twice fails the file.

const items: ImportDefinitionInput = {
  entity: 'items',
  table: 'dup_items',
  key: ['code'],
  columns: [
    { name: 'code', type: 'text' },
    { name: 'note', type: 'text' },
    { name: 'extra', type: 'jsonb' },
  ],
};
const orders: ImportDefinitionInput = {
  entity: 'orders',
  table: 'dup_orders',
  key: ['number'],
  columns: [{ name: 'number', type: 'text' }],
  children: [
    {
      entity: 'order_lines',
      table: 'dup_order_lines',
      path: 'details',
      key: ['number', 'sku'],
      columns: [
        { name: 'number', type: 'text', fromParent: 'number' },
        { name: 'sku', type: 'text' },
      ],
    },
  ],
};

async function read(text: string, input = items, jsonPath?: string) {
  const definition = defineImport({
    ...input,
    ...(jsonPath !== undefined && { records: { jsonPath } }),
  });
  const reader = createJsonReader(Readable.from([Buffer.from(text)]), {
    definition,
    format: 'json',
  });
  const read: ReadItem[] = [];
  try {
    for await (const item of reader.items()) read.push(item);
    return { items: read, failure: undefined };
  } catch (error) {
    return { items: read, failure: error as ImportError };
  }
}

function summary(items: ReadItem[]) {
  return items.map((item) =>
    item.kind === 'record'
      ? ['record', item.record.entity ?? '-', item.record.values]
      : [
          'issue',
          item.issue.entity ?? '-',
          item.issue.code,
          item.issue.position.path,
        ],
  );
}

describe('a key repeated in one JSON object', () => {
  it('rejects the record, naming the key and its path', async () => {
    const { items: found } = await read(
      '[{"code":"a","note":"first","note":"second"},{"code":"b"}]',
    );
    expect(summary(found)).toEqual([
      ['issue', '-', 'duplicate_field', '$[0]'],
      ['record', '-', ['b', undefined, undefined]],
    ]);
    const [issue] = found;
    expect(issue?.kind === 'issue' && issue.issue.message).toBe(
      'the key "note" appears twice in one object ($[0].note); the record ' +
        'is rejected rather than one of its values dropped',
    );
  });

  it('rejects an order whose details repeat, children and all', async () => {
    const { items: found } = await read(
      '[{"number":"A","details":[{"sku":"S1"}],"details":[{"sku":"S2"}]}]',
      orders,
    );
    expect(summary(found)).toEqual([
      ['issue', '-', 'duplicate_field', '$[0]'],
      ['issue', 'order_lines', 'parent_rejected', '$[0].details[0]'],
    ]);
  });

  it('finds a repeat at any depth of the record', async () => {
    const { items: found } = await read(
      '[{"code":"a","extra":{"lines":[{"sku":"x"},{"sku":"y","sku":"z"}]}}]',
    );
    const [issue] = found;
    expect(issue?.kind === 'issue' && issue.issue.message).toMatch(
      /\(\$\[0\]\.extra\.lines\[1\]\.sku\)/,
    );
  });

  it('accepts the same key in different objects', async () => {
    const { items: found, failure } = await read(
      '[{"code":"a","extra":{"code":"b","more":{"code":"c"}}}]',
    );
    expect(failure).toBeUndefined();
    expect(summary(found)).toEqual([
      ['record', '-', ['a', undefined, '{"code":"b","more":{"code":"c"}}']],
    ]);
  });

  it('fails a file that names its records array twice', async () => {
    for (const text of [
      '{"data":{"items":[{"code":"a"}]},"data":{"items":[{"code":"b"}]}}',
      '{"data":{"items":[{"code":"a"}],"items":[{"code":"b"}]}}',
    ]) {
      const { failure } = await read(text, items, 'data.items');
      expect(failure?.code).toBe('MALFORMED_FILE');
      expect(failure?.message).toMatch(
        /^the document holds "data\.items" twice \(again at line 1\)$/,
      );
    }
  });
});

const database = useTestDatabase('json_duplicate_keys');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(`
    CREATE TABLE dup_items (code text PRIMARY KEY, note text, extra jsonb);
    CREATE TABLE dup_orders (number text PRIMARY KEY);
    CREATE TABLE dup_order_lines (number text, sku text,
      PRIMARY KEY (number, sku));
  `);
  harness = await startEngineHarness(pool, [items, orders]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

describe('an import with a repeated key', () => {
  it('logs the record as rejected and applies the others', async () => {
    const record = await harness.run({
      entity: 'items',
      format: 'json',
      body: '[{"code":"A","note":"first","note":"second"},{"code":"B"}]',
    });
    expect(record.state).toBe('completed');
    expect(record.counts).toMatchObject({ read: 2, inserted: 1, rejected: 1 });
    const errors = await harness.errors(record);
    expect(
      errors.map((error) => [error.position.recordNumber, error.code]),
    ).toEqual([[1, 'duplicate_field']]);
    const stored = await pool.query('SELECT code FROM dup_items');
    expect(stored.rows).toEqual([{ code: 'B' }]);
  });

  it('gives the rejected order back whole in the fix file', async () => {
    const record = await harness.run({
      entity: 'orders',
      format: 'json',
      body: '[{"number":"A","details":[{"sku":"S1"}],"details":[{"sku":"S2"}]}]',
    });
    expect(record.counts).toMatchObject({ read: 2, rejected: 2 });
    const fix = await harness.importer.fixFile(record.tenant, record.id);
    const chunks: Buffer[] = [];
    for await (const chunk of fix.body) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString();
    // Both lists as written: the sender sees the one the reader dropped.
    expect(text).toMatch(/"details": \[\s*\{\s*"sku": "S1"/);
    expect(text).toMatch(/"details": \[\s*\{\s*"sku": "S2"/);
    expect(text).toMatch(/"code": "duplicate_field"/);
  });
});
