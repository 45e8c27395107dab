import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportRecord, LoggedRowIssue } from '../src/index.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';
import {
  recreateOrderTables,
  storedLines,
  storedOrders,
  xmlOrdersDefinition,
} from './order-lines-fixtures.js';

// Parents and their children alternate in a file, so the parse thread
// gathers each entity's lines apart (a batch cut at every switch of
// entity held a buffer per row, and a 1 GB NF-e-like file took a worker
// to 630 MB). Whatever the batching, the thread must give what reading in
// the worker's own thread gives: counts, error log, rows.

const definition = xmlOrdersDefinition();
const database = useTestDatabase('parse_thread_nested');
let pool: pg.Pool;
let inProcess: EngineHarness;
let threaded: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 6 });
  inProcess = await startEngineHarness(pool, [definition], {
    parseThreadMinBytes: Number.POSITIVE_INFINITY,
  });
  threaded = await startEngineHarness(pool, [definition], {
    parseThreadMinBytes: 0,
  });
});
afterAll(async () => {
  await inProcess?.stop();
  await threaded?.stop();
  await pool?.end();
});

// 30,000 orders of 0 to 3 lines: every 97th order has no customer (it
// and its lines are rejected), every 89th line a bad quantity.
function ordersXml(): string {
  let xml = '<?xml version="1.0"?>\n<Orders>\n';
  let line = 0;
  for (let order = 1; order <= 30_000; order++) {
    const customer = order % 97 === 0 ? '' : `<Customer>C${order}</Customer>`;
    let lines = '';
    for (let n = 0; n < order % 4; n++) {
      line += 1;
      const qty = line % 89 === 0 ? 'x' : String(line % 50);
      lines += `<Line><Sku>S${line}</Sku><Qty>${qty}</Qty></Line>`;
    }
    xml += `<Order number="PO-${order}">${customer}<Lines>${lines}</Lines></Order>\n`;
  }
  return `${xml}</Orders>\n`;
}

async function importWith(harness: EngineHarness, body: string) {
  await recreateOrderTables(pool);
  const record = await harness.run({ entity: 'orders', format: 'xml', body });
  return {
    record: pick(record),
    errors: (await harness.errors(record)).map(errorOf),
    orders: await storedOrders(pool),
    lines: await storedLines(pool),
  };
}

function pick(record: ImportRecord) {
  return { state: record.state, counts: record.counts };
}

function errorOf(issue: LoggedRowIssue) {
  const { position, code, entity, severity } = issue;
  return { position, code, entity, severity };
}

it('gives the same counts, errors and rows for parents with children', async () => {
  const body = ordersXml();
  const inThread = await importWith(threaded, body);
  const inMain = await importWith(inProcess, body);

  expect(inThread.record.state).toBe('completed');
  expect(inThread).toEqual(inMain);
  expect(inThread.record.counts.entities).toMatchObject({
    orders: { read: 30_000 },
    order_lines: { read: 45_000 },
  });
  expect(inThread.orders.length).toBeGreaterThan(29_000);
  expect(inThread.lines.length).toBeGreaterThan(43_000);
});
