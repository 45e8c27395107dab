import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { sharedPath as sharedFile } from '@erp-import/dev-services/shared-files';
import { createRowCoercer } from '../src/coercion/row-coercer.js';
import type { CoercedRow } from '../src/coercion/coerced-row.js';
import type {
  ImportDefinition,
  ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import type { RowIssue } from '../src/ports/error-log.js';
import {
  createCsvReader,
  type CsvReaderOptions,
} from '../src/readers/csv-reader.js';
import type {
  MappedRecord,
  RecordReader,
} from '../src/readers/record-reader.js';

/**
 * Customers as a Northwind-like export names them (`customerID`,
 * `companyName`, `city`): the definition of the tests of malformed CSV
 * records.
 */
export const aliasedCustomers = {
  entity: 'customers',
  table: 'customers',
  key: ['customer_id'],
  columns: [
    { name: 'customer_id', type: 'text', source: 'customerID' },
    { name: 'company_name', type: 'text', source: 'companyName' },
    { name: 'city', type: 'text' },
  ],
} satisfies ImportDefinitionInput;

/** A file of the shared sample files, by its path inside them. */
export function sharedPath(relative: string): string {
  return sharedFile(...relative.split('/'));
}

/** A stream that yields `bytes` in chunks of `size` bytes. */
export function chunked(bytes: Uint8Array | string, size = 65536): Readable {
  const buffer =
    typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
  const chunks: Buffer[] = [];
  for (let i = 0; i < buffer.length; i += size) {
    chunks.push(buffer.subarray(i, i + size));
  }
  return Readable.from(chunks, { objectMode: false });
}

export interface ReadAll {
  records: MappedRecord[];
  issues: RowIssue[];
  reader: RecordReader;
}

export async function readAll(
  input: Readable | string,
  options: CsvReaderOptions,
): Promise<ReadAll> {
  const stream = typeof input === 'string' ? createReadStream(input) : input;
  const reader = createCsvReader(stream, options);
  const records: MappedRecord[] = [];
  const issues: RowIssue[] = [];
  for await (const item of reader.items()) {
    if (item.kind === 'record') records.push(item.record);
    else issues.push(item.issue);
  }
  return { records, issues, reader };
}

export interface Coerced extends ReadAll {
  rows: CoercedRow[];
  /** Reader issues and coercion issues, in file order. */
  allIssues: RowIssue[];
}

/** Reads and coerces a whole file, the way the engine will. */
export async function readAndCoerce(
  input: Readable | string,
  options: CsvReaderOptions & { definition: ImportDefinition },
): Promise<Coerced> {
  const read = await readAll(input, options);
  const coerce = createRowCoercer(options.definition);
  const rows: CoercedRow[] = [];
  const allIssues = [...read.issues];
  for (const record of read.records) {
    const result = coerce(record);
    if (result.ok) rows.push(result.row);
    else allIssues.push(...result.issues);
  }
  allIssues.sort((a, b) => a.position.recordNumber - b.position.recordNumber);
  return { ...read, rows, allIssues };
}
