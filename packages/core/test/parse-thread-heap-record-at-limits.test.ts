import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput, Logger } from '../src/index.js';
import { defaultDocumentLimits } from '../src/readers/document-limits.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// The JSON and XML readers' limits are sized so that no record can take
// a parse thread past its capped heap (past it, V8 may abort the whole
// process). Each record here is at the limits in the shape that costs
// the most memory per character, and must complete in a parse thread.
// Raised without care for the heap, the limits make these fail.

const { maxRecordChars, maxRecordNodes } = defaultDocumentLimits;
const xmlOrder = (content: string) =>
  `<Orders><Order number="1">${content}</Order></Orders>`;
// Two-byte characters: V8 keeps such a string at 2 bytes a character.
const wide = '€';

const xmlOrders: ImportDefinitionInput = {
  entity: 'xml_orders',
  table: 'limit_orders',
  key: ['order_number'],
  records: { xmlPath: '/Orders/Order' },
  columns: [
    { name: 'order_number', type: 'text', path: '@number' },
    { name: 'customer_code', type: 'text', path: 'Customer' },
  ],
};
const jsonOrders: ImportDefinitionInput = {
  entity: 'json_orders',
  table: 'limit_orders',
  key: ['order_number'],
  columns: [
    { name: 'order_number', type: 'text' },
    { name: 'customer_code', type: 'text' },
    { name: 'extra', type: 'jsonb' },
  ],
};

const database = useTestDatabase('parse_thread_heap_record_at_limits');
let pool: pg.Pool;
let harness: EngineHarness;

// The busy time of the parse thread, which only an import read in one
// has: `timings.parseMs` of the last 'import finished'.
let parseMs: unknown;
const logger: Logger = {
  debug: () => undefined,
  info: (bindings: unknown) => {
    const timings = (bindings as { timings?: { parseMs?: unknown } }).timings;
    if (timings !== undefined) parseMs = timings.parseMs;
  },
  warn: () => undefined,
  error: () => undefined,
  child: () => logger,
};

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE limit_orders (order_number text PRIMARY KEY, ' +
      'customer_code text, extra jsonb)',
  );
  harness = await startEngineHarness(pool, [xmlOrders, jsonOrders], {
    parseThreadMinBytes: 0,
    logger,
  });
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

async function expectStored(entity: string, body: string) {
  expect(body.length).toBeLessThanOrEqual(maxRecordChars);
  parseMs = undefined;
  const record = await harness.run({
    entity,
    format: entity === 'xml_orders' ? 'xml' : 'json',
    body,
  });
  expect(record.failure ?? null).toBeNull();
  expect(record.state).toBe('completed');
  // Read in the parse thread, not in the worker's own.
  expect(parseMs).toBeTypeOf('number');
  const stored = await pool.query(
    'SELECT length(customer_code) AS text, ' +
      'jsonb_array_length(extra) AS items FROM limit_orders',
  );
  await pool.query('TRUNCATE limit_orders');
  return stored.rows[0] as { text: number; items: number | null };
}

describe('a record at the readers limits, in a parse thread', () => {
  it('XML: as many elements as the limit allows, in wide text', async () => {
    const count = Math.floor(maxRecordNodes / 2) - 10;
    const per = Math.floor((maxRecordChars - 200) / count) - '<a></a>'.length;
    const elements = `<a>${wide.repeat(per)}</a>`.repeat(count);
    const body = xmlOrder(`<Customer>C</Customer>${elements}`);
    expect(await expectStored('xml_orders', body)).toEqual({
      text: 1,
      items: null,
    });
  }, 120_000);

  it('XML: one text of backslashes, which COPY doubles', async () => {
    const text = '\\'.repeat(maxRecordChars - 200);
    const body = xmlOrder(`<Customer>${text}</Customer>`);
    expect(await expectStored('xml_orders', body)).toEqual({
      text: text.length,
      items: null,
    });
  }, 120_000);

  it('JSON: a jsonb column of as many wide strings as allowed', async () => {
    const count = maxRecordNodes - 10;
    const per = Math.floor((maxRecordChars - 200) / count) - 3;
    const items = Array.from({ length: count }, () => `"${wide.repeat(per)}"`);
    const extra = `[${items.join(',')}]`;
    const body = `[{"order_number":"1","customer_code":"C","extra":${extra}}]`;
    expect(await expectStored('json_orders', body)).toEqual({
      text: 1,
      items: count,
    });
  }, 120_000);

  it('JSON: one wide string as long as the limit', async () => {
    const text = wide.repeat(maxRecordChars - 200);
    const body = `[{"order_number":"1","customer_code":"${text}"}]`;
    expect(await expectStored('json_orders', body)).toEqual({
      text: text.length,
      items: null,
    });
  }, 120_000);

  it('JSON: one string of escapes, each a chunk of its own', async () => {
    const escapes = '\\\\'.repeat(maxRecordChars / 2 - 100);
    const body = `[{"order_number":"1","customer_code":"${escapes}"}]`;
    expect(await expectStored('json_orders', body)).toEqual({
      text: escapes.length / 2,
      items: null,
    });
  }, 120_000);
});
