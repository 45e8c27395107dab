/**
 * Streams a generated JSON array and a generated XML document (about 1 GB
 * each by default) through the JSON and XML readers and prints the peak
 * resident memory of each run. Nothing is written to disk: the documents
 * come from generators.
 *
 *   npx tsx --conditions=source packages/core/scripts/reader-memory.ts [megabytes]
 *
 * The readers hold one record at a time, so the peak should stay well
 * under 250 MB whatever the size.
 */
import { Readable } from 'node:stream';
import { defineImport } from '../src/definitions/import-definition.js';
import { createJsonReader } from '../src/readers/json-reader.js';
import type { RecordReader } from '../src/readers/record-reader.js';
import { createXmlReader } from '../src/readers/xml-reader.js';

const megabytes = Number(process.argv[2] ?? 1024);
const targetBytes = megabytes * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

const orders = defineImport({
  entity: 'orders',
  table: 'orders',
  key: ['order_number'],
  records: { xmlPath: '/Orders/Order' },
  columns: [
    { name: 'order_number', type: 'text', path: '@number' },
    { name: 'customer_code', type: 'text', path: 'Customer' },
    { name: 'total', type: 'numeric', path: 'Total' },
  ],
  children: [
    {
      entity: 'order_lines',
      table: 'order_lines',
      path: 'Lines/Line',
      key: ['order_number', 'line_no'],
      columns: [
        { name: 'order_number', type: 'text', fromParent: 'order_number' },
        { name: 'line_no', type: 'integer', ordinal: true },
        { name: 'sku', type: 'text', path: 'Sku' },
        { name: 'qty', type: 'numeric', path: 'Qty' },
      ],
    },
  ],
});

const jsonOrders = defineImport({
  ...orders,
  records: {},
  columns: [
    { name: 'order_number', type: 'text', path: 'number' },
    { name: 'customer_code', type: 'text', path: 'customer' },
    { name: 'total', type: 'numeric', path: 'total' },
  ],
  children: [
    {
      entity: 'order_lines',
      table: 'order_lines',
      path: 'lines',
      key: ['order_number', 'line_no'],
      columns: [
        { name: 'order_number', type: 'text', fromParent: 'order_number' },
        { name: 'line_no', type: 'integer', ordinal: true },
        { name: 'sku', type: 'text', path: 'sku' },
        { name: 'qty', type: 'numeric', path: 'qty' },
      ],
    },
  ],
});

/** A document of about `targetBytes`, produced piece by piece. */
function generated(
  open: string,
  record: (n: number) => string,
  separator: string,
  close: string,
): Readable {
  async function* pieces(): AsyncGenerator<Buffer> {
    let produced = 0;
    let n = 0;
    let chunk = open;
    while (produced < targetBytes) {
      chunk += (n > 0 ? separator : '') + record(n);
      n += 1;
      if (chunk.length >= CHUNK_BYTES) {
        produced += chunk.length;
        yield Buffer.from(chunk);
        chunk = '';
      }
    }
    yield Buffer.from(chunk + close);
  }
  return Readable.from(pieces());
}

const jsonRecord = (n: number) =>
  `{"number":"PO-${n}","customer":"C${String(n % 9999).padStart(6, '0')}",` +
  `"total":12345678901234567890.${n % 100},"note":"lorem ipsum dolor sit amet",` +
  `"lines":[{"sku":"P-${n}","qty":1.5},{"sku":"Q-${n}","qty":2}]}`;

const xmlRecord = (n: number) =>
  `<Order number="PO-${n}"><Customer>C${String(n % 9999).padStart(6, '0')}` +
  `</Customer><Total>12345678901234567890.${n % 100}</Total>` +
  `<Note><![CDATA[lorem & ipsum]]></Note><Lines><Line><Sku>P-${n}</Sku>` +
  `<Qty>1.5</Qty></Line><Line><Sku>Q-${n}</Sku><Qty>2</Qty></Line></Lines></Order>`;

async function measure(label: string, reader: RecordReader): Promise<void> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  const started = Date.now();
  let records = 0;
  let issues = 0;
  for await (const item of reader.items()) {
    if (item.kind === 'record') records += 1;
    else issues += 1;
  }
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const seconds = (Date.now() - started) / 1000;
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  console.log(
    `${label}: ${mb(reader.bytesRead())} MB read, ${records} records, ` +
      `${issues} issues, ${seconds.toFixed(1)} s, peak RSS ${mb(peak)} MB`,
  );
}

console.log(
  `start RSS ${(process.memoryUsage().rss / 1024 / 1024).toFixed(1)} MB, ` +
    `generating about ${megabytes} MB per document`,
);
await measure(
  'JSON array',
  createJsonReader(generated('[\n', jsonRecord, ',\n', '\n]\n'), {
    definition: jsonOrders,
    format: 'json',
  }),
);
await measure(
  'XML',
  createXmlReader(
    generated(
      '<?xml version="1.0"?>\n<Orders>\n',
      xmlRecord,
      '\n',
      '\n</Orders>\n',
    ),
    { definition: orders },
  ),
);
console.log(
  `process peak (maxRSS): ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB`,
);
