import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportRecord } from '../src/index.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// An import that failed on a broken end (a quote never closed, a gzip
// cut short, a refused DOCTYPE) still logged the records it rejected
// before it; its fix file gives them back, as a whole document, rather
// than break off once its response has begun.

const items = {
  entity: 'items',
  table: 'items',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' as const },
    { name: 'qty', type: 'integer' as const },
  ],
};

const itemColumns = [
  { name: 'sku', type: 'text' as const },
  { name: 'qty', type: 'integer' as const },
];
const jsonItems = {
  entity: 'json_items',
  table: 'items',
  key: ['sku'],
  columns: itemColumns,
};
const xmlItems = {
  entity: 'xml_items',
  table: 'items',
  key: ['sku'],
  records: { xmlPath: '/items/item' },
  columns: [
    { name: 'sku', type: 'text' as const, path: '@sku' },
    { name: 'qty', type: 'integer' as const, path: 'qty' },
  ],
};

const database = useTestDatabase('fix_file_failed');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query('CREATE TABLE items (sku text PRIMARY KEY, qty integer)');
  harness = await startEngineHarness(pool, [items, jsonItems, xmlItems]);
});
afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

const fixFileText = (record: ImportRecord) => harness.fixFileText(record);

async function fixFileLines(record: ImportRecord): Promise<string[]> {
  return (await fixFileText(record)).split('\n').filter((line) => line);
}

// A gzip of `text` cut before its end: the import fails TRUNCATED_FILE.
function cutGzip(text: string): Buffer {
  const whole = gzipSync(text);
  return whole.subarray(0, whole.length - 64);
}

// Two bad quantities near the top, then many good rows.
function rowsWithTwoBad(count: number): string {
  let text = 'sku,qty\nA,1\nB,x\nC,y\n';
  for (let i = 0; i < count; i++) text += `G${i},${i}\n`;
  return text;
}

describe('the fix file of an import that failed', () => {
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
    const record = await harness.run({
      entity: 'items',
      format: 'csv',
      body: cutGzip(rowsWithTwoBad(200_000)),
    });
    expect(record.state).toBe('failed');
    expect(record.failure?.code).toBe('TRUNCATED_FILE');

    const [, ...rows] = await fixFileLines(record);
    expect(rows.map((row) => row.split(',').slice(0, 3))).toEqual([
      ['B', 'x', '3'],
      ['C', 'y', '4'],
    ]);
  });

  it('ends a JSON array after the records rejected before a gzip cut short', async () => {
    const records = [
      { sku: 'A', qty: 1 },
      { sku: 'B', qty: 'x' },
      { sku: 'C', qty: 'y' },
      ...Array.from({ length: 100_000 }, (_, i) => ({ sku: `G${i}`, qty: i })),
    ];
    const record = await harness.run({
      entity: 'json_items',
      format: 'json',
      body: cutGzip(JSON.stringify(records)),
    });
    expect(record.failure?.code).toBe('TRUNCATED_FILE');

    const fixed = JSON.parse(await fixFileText(record)) as Array<{
      sku: string;
      _errors: Array<{ column: string }>;
    }>;
    expect(fixed.map((item) => [item.sku, item._errors[0]?.column])).toEqual([
      ['B', 'qty'],
      ['C', 'qty'],
    ]);
  });

  it('ends NDJSON after the records rejected before a gzip cut short', async () => {
    const lines = ['{"sku":"A","qty":1}', '{"sku":"B","qty":"x"}'];
    for (let i = 0; i < 100_000; i++) lines.push(`{"sku":"G${i}","qty":${i}}`);
    const record = await harness.run({
      entity: 'json_items',
      format: 'ndjson',
      body: cutGzip(lines.join('\n') + '\n'),
    });
    expect(record.failure?.code).toBe('TRUNCATED_FILE');

    const fixed = (await fixFileLines(record)).map(
      (line) => JSON.parse(line) as { sku: string },
    );
    expect(fixed.map((item) => item.sku)).toEqual(['B']);
  });

  it('closes an XML document after the records rejected before a gzip cut short', async () => {
    let xml = '<?xml version="1.0"?>\n<items>\n';
    xml += '<item sku="A"><qty>1</qty></item>\n';
    xml += '<item sku="B"><qty>x</qty></item>\n';
    for (let i = 0; i < 100_000; i++) {
      xml += `<item sku="G${i}"><qty>${i}</qty></item>\n`;
    }
    const record = await harness.run({
      entity: 'xml_items',
      format: 'xml',
      body: cutGzip(xml + '</items>\n'),
    });
    expect(record.failure?.code).toBe('TRUNCATED_FILE');

    const text = await fixFileText(record);
    expect(text).toMatch(/<item sku="B"><qty>x<\/qty><\/item>\s*<\/items>\s*$/);
    expect(text.match(/<item /g)).toHaveLength(1);
  });

  it('answers for an XML import refused for its DOCTYPE', async () => {
    const record = await harness.run({
      entity: 'xml_items',
      format: 'xml',
      body:
        '<?xml version="1.0"?>\n<!DOCTYPE items [<!ENTITY x "boom">]>\n' +
        '<items><item sku="A"><qty>&x;</qty></item></items>\n',
    });
    expect(record.failure?.code).toBe('HOSTILE_XML');

    // Nothing was rejected, so nothing is to fix: said before any byte.
    await expect(
      harness.importer.fixFile(record.tenant, record.id),
    ).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: `import ${record.id} rejected no record: it has no fix file (it failed: HOSTILE_XML)`,
    });
  });
});
