import pg from 'pg';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createReadStream } from 'node:fs';
import {
  createImporter, createMemoryErrorLog, createLocalFileStore, createMemoryQueue, createMemoryStatusStore,
} from '@erp-import/core';
import { products, nfeInvoices, jsonXmlTablesSql } from '@erp-import/example-definitions';
import { largeFile } from './large-files.js';

const format = (process.argv[2] ?? 'json') as 'json' | 'xml';
const mb = Number(process.argv[3] ?? '100');
const path = `/tmp/erp3/large.${format}`;
const file = largeFile({ format, rows: 0, bytes: mb * 1024 * 1024 });
await pipeline(Readable.from(file.chunks()), createWriteStream(path));
console.log('written', [...file.written]);

const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/erp_large_import', max: 3 });
await pool.query(jsonXmlTablesSql);
await pool.query('DELETE FROM nfe_invoice_items; DELETE FROM nfe_invoices; DELETE FROM products;');
const importer = createImporter({
  definitions: [products, nfeInvoices], database: pool, queue: createMemoryQueue(),
  statusStore: createMemoryStatusStore(), errorLog: createMemoryErrorLog(),
  fileStore: createLocalFileStore({ directory: '/tmp/erp3/store' }),
});
const { record } = await importer.enqueue({ tenant: 't', entity: file.entity, format, body: createReadStream(path) });
const gc = (globalThis as { gc?: () => void }).gc;
let peakAfterGc = 0;
const timer = setInterval(() => {
  const before = process.memoryUsage();
  if (process.env.FORCE_GC) gc?.();
  const after = process.memoryUsage().heapUsed;
  peakAfterGc = Math.max(peakAfterGc, after);
  console.log(`rss ${(before.rss/1048576).toFixed(0)} heap ${(before.heapUsed/1048576).toFixed(0)} -> after gc ${(after/1048576).toFixed(0)} MB`);
}, 2000);
const started = Date.now();
const done = await importer.process(record.id);
clearInterval(timer);
console.log(done.state, done.counts, done.failure, `${((Date.now()-started)/1000).toFixed(1)} s`, 'peak heap after gc', (peakAfterGc/1048576).toFixed(0));
await pool.end();
