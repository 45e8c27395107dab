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
import { createXmlReader } from '../src/readers/xml-reader.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// saxes, with namespaces on, looks up every element's namespace through
// all the open elements: `<Orders>` and 50 000 nested `<a>` took 24 s,
// 100 000 took 100 s, with the event loop blocked (heartbeats stopped,
// the job went to another worker, which hung too). Elements nested past
// 256 levels now fail HOSTILE_XML before saxes resolves them; JSON values
// past 256 levels fail MALFORMED_FILE.

const orders: ImportDefinitionInput = {
  entity: 'orders',
  table: 'deep_orders',
  key: ['order_number'],
  records: { xmlPath: '/Orders/Order' },
  columns: [
    { name: 'order_number', type: 'text', path: '@number' },
    { name: 'customer_code', type: 'text', path: 'Customer' },
  ],
};
const items: ImportDefinitionInput = {
  entity: 'items',
  table: 'deep_items',
  key: ['code'],
  columns: [
    { name: 'code', type: 'text' },
    { name: 'extra', type: 'jsonb' },
  ],
};

async function read(reader: { items(): AsyncIterable<ReadItem> }) {
  const read: ReadItem[] = [];
  try {
    for await (const item of reader.items()) read.push(item);
    return { items: read, failure: undefined };
  } catch (error) {
    return { items: read, failure: error as ImportError };
  }
}

const xml = (text: string) =>
  read(
    createXmlReader(Readable.from([Buffer.from(text)]), {
      definition: defineImport(orders),
    }),
  );
const json = (text: string) =>
  read(
    createJsonReader(Readable.from([Buffer.from(text)]), {
      definition: defineImport(items),
      format: 'json',
    }),
  );

/** `<Orders>`, `depth - 1` levels of `<a>`, then one order. */
function nested(levels: number): string {
  return (
    `<Orders>${'<a>'.repeat(levels)}${'</a>'.repeat(levels)}` +
    '<Order number="1"><Customer>C</Customer></Order></Orders>'
  );
}

describe('deeply nested XML', () => {
  it('fails 50 000 levels with HOSTILE_XML at once', async () => {
    const started = performance.now();
    const { failure } = await xml(nested(50_000));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(failure?.code).toBe('HOSTILE_XML');
    expect(failure?.message).toBe(
      'elements nest deeper than 256 levels at line 1; such a document ' +
        'is refused',
    );
    expect(failure?.details).toEqual({ line: 1, maxDepth: 256 });
  });

  it('reads 256 levels, and refuses 257', async () => {
    // The root counts: <Orders> and 255 <a> make 256.
    const deepest = await xml(nested(255));
    expect(deepest.failure).toBeUndefined();
    expect(deepest.items).toMatchObject([
      { kind: 'record', record: { values: ['1', 'C'] } },
    ]);
    expect((await xml(nested(256))).failure?.code).toBe('HOSTILE_XML');
  });
});

describe('deeply nested JSON', () => {
  it('fails 100 000 levels with MALFORMED_FILE at once', async () => {
    const levels = 100_000;
    const extra = '['.repeat(levels) + ']'.repeat(levels);
    const text = `[{"code":"A","extra":${extra}}]`;
    const started = performance.now();
    const { failure } = await json(text);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(failure?.code).toBe('MALFORMED_FILE');
    expect(failure?.message).toBe(
      'values nest deeper than 256 levels at line 1',
    );
  });

  it('reads 256 levels, the records array and the record counted', async () => {
    const inner = (levels: number) =>
      `[{"code":"A","extra":${'['.repeat(levels)}${']'.repeat(levels)}}]`;
    const deepest = await json(inner(254));
    expect(deepest.failure).toBeUndefined();
    expect(deepest.items).toHaveLength(1);
    expect((await json(inner(255))).failure?.code).toBe('MALFORMED_FILE');
  });
});

// Through the engine: the import fails fast, and its fix file (which
// reads the document again, in the worker's own thread) stops there too.
const database = useTestDatabase('xml_deep_nesting');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE deep_orders (order_number text PRIMARY KEY, ' +
      'customer_code text)',
  );
  harness = await startEngineHarness(pool, [orders]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

describe('a deeply nested import', () => {
  it('fails HOSTILE_XML fast, and so does its fix file', async () => {
    // One order read and rejected (it has no number), then the nesting.
    const first = '<Order><Customer>C</Customer></Order>';
    const body = nested(100_000).replace('<Orders>', `<Orders>${first}`);
    const started = performance.now();
    const record = await harness.run({ entity: 'orders', format: 'xml', body });
    expect(record.state).toBe('failed');
    expect(record.failure?.code).toBe('HOSTILE_XML');

    const fix = await harness.importer.fixFile(record.tenant, record.id);
    const chunks: Buffer[] = [];
    for await (const chunk of fix.body) chunks.push(chunk);
    expect(performance.now() - started).toBeLessThan(5_000);
    const text = Buffer.concat(chunks).toString();
    expect(text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Orders>/);
    expect(text).toMatch(
      /<Order><Customer>C<\/Customer><\/Order>\n<\/Orders>\n$/,
    );
  });
});
