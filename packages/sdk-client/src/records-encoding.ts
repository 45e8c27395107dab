/**
 * Records (plain objects) as the bytes of an NDJSON or CSV file, produced
 * while they are read: no record list and no file is ever held whole.
 *
 * CSV follows what the server's reader expects: a header line, `,`
 * between fields, a field quoted when it holds the delimiter, a quote or
 * a line break, `""` for a quote inside, and an unquoted empty field for
 * null or a missing member (read as NULL) while an empty string is `""`.
 */
export type RecordsFormat = 'ndjson' | 'csv';

export type RecordInput = Readonly<Record<string, unknown>>;

export type RecordsSource = Iterable<RecordInput> | AsyncIterable<RecordInput>;

export interface EncodeRecordsOptions {
  format: RecordsFormat;
  /** CSV columns, in order; the first record's keys when left out. */
  columns?: readonly string[];
  /** The CSV delimiter: `,` unless said otherwise. */
  delimiter?: string;
}

// Records are gathered into chunks of about this size before encoding,
// so a million small records do not make a million tiny writes.
const chunkChars = 64 * 1024;

export async function* encodeRecords(
  records: RecordsSource,
  options: EncodeRecordsOptions,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  const lines = options.format === 'csv' ? csvLines(options) : ndjsonLine;
  let pending = '';
  let recordNumber = 0;

  for await (const record of records) {
    recordNumber += 1;
    if (typeof record !== 'object' || record === null) {
      throw new TypeError(`record ${recordNumber} is not an object`);
    }
    pending += lines(record, recordNumber);
    if (pending.length >= chunkChars) {
      yield encoder.encode(pending);
      pending = '';
    }
  }

  if (pending !== '') yield encoder.encode(pending);
}

function ndjsonLine(record: RecordInput): string {
  // bigint has no JSON form; as text it reaches a bigint or numeric
  // column digit for digit.
  return `${JSON.stringify(record, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  )}\n`;
}

function csvLines(options: EncodeRecordsOptions) {
  const delimiter = options.delimiter ?? ',';
  let columns = options.columns;
  let known = new Set(columns);

  return (record: RecordInput, recordNumber: number): string => {
    let header = '';
    if (columns === undefined) {
      columns = Object.keys(record);
      known = new Set(columns);
      header = csvRow(columns, delimiter);
    } else if (recordNumber === 1) {
      header = csvRow(columns, delimiter);
    }

    // A member with no column would be dropped without a word.
    for (const key of Object.keys(record)) {
      if (!known.has(key) && record[key] !== undefined) {
        throw new TypeError(
          `record ${recordNumber} has "${key}", which is not a column ` +
            `(${columns.join(', ')}); pass columns to name them all`,
        );
      }
    }
    const cells = columns.map((column) =>
      csvCell(record[column], delimiter, recordNumber, column),
    );
    return header + cells.join(delimiter) + '\n';
  };
}

function csvRow(values: readonly string[], delimiter: string): string {
  return values.map((value) => quote(value, delimiter)).join(delimiter) + '\n';
}

function csvCell(
  value: unknown,
  delimiter: string,
  recordNumber: number,
  column: string,
): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return quote(value, delimiter);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new TypeError(
        `record ${recordNumber}, ${column}: ${value} has no CSV form`,
      );
    }
    return String(value);
  }
  if (typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  if (value instanceof Date) return value.toISOString();
  // Objects and arrays travel as JSON, for jsonb columns.
  return quote(JSON.stringify(value), delimiter);
}

function quote(value: string, delimiter: string): string {
  const needsQuotes =
    value === '' ||
    value.includes('"') ||
    value.includes('\n') ||
    value.includes('\r') ||
    value.includes(delimiter);
  return needsQuotes ? `"${value.replaceAll('"', '""')}"` : value;
}
