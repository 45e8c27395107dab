import { Readable } from 'node:stream';
import { Parser } from 'csv-parse';
import iconv from 'iconv-lite';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import type { LoggedRowIssue } from '../ports/error-log.js';
import type { ImportRecord } from '../ports/import-record.js';
import { excelSeparatorLine } from '../readers/csv-delimiter.js';
import { isNoRecord } from '../readers/csv-reader.js';
import { decodeToUtf8, normalizeEncodingName } from '../readers/decode.js';
import { openInput } from '../readers/decompress.js';
import type { EngineContext } from './engine-context.js';
import { jsonFixFileBody } from './fix-file-json.js';
import { readableText, RejectedRecords } from './fix-file-rejected.js';
import { xmlFixFileBody } from './fix-file-xml.js';

/**
 * The fix file of an import: its rejected records (errors, not warnings)
 * in the file's own format and encoding, so that a user corrects the
 * values and uploads the file again.
 *
 * CSV: the file's delimiter, line ends and column order, each record's
 * text exactly as sent, with four columns added (`_line`, `_column`,
 * `_code`, `_message`; several errors of one record joined with ` | `).
 * A record with more fields than the header keeps them all, under
 * columns added for them (`_field4`, `_field5`... after a header of
 * three) before those four; a shorter record is padded. A definition
 * ignores unknown fields by default, so the added columns are ignored on
 * the way back in. JSON and NDJSON (fix-file-json.ts): each record with
 * an `_errors` member, at the same `records.jsonPath`. XML
 * (fix-file-xml.ts): the record elements under the same root and
 * ancestors, each after a comment listing its errors. In JSON and XML a
 * record rejected for one of its child records comes back whole.
 *
 * The stored file is read again with the reader's settings (the encoding
 * and delimiter detected the first time), records counted as the reader
 * counts them (CSV: blank lines skipped, the first other line the
 * header). The engine keeps the stored file of an import with rejected
 * records until the file store's retention removes it.
 *
 * TODO: the rejected records' issues are gathered before streaming (the
 * error log is in append order, not file order), so memory grows with
 * the number of rejected records, though not with the file's size.
 */
export interface FixFile {
  /** `text/csv`, `application/json`, `application/x-ndjson` or
   * `application/xml`, with `; charset=...`. */
  contentType: string;
  fileName: string;
  /** The file's bytes, in its encoding, streamed. */
  body: AsyncIterable<Buffer>;
}

export const fixFileColumns = ['_line', '_column', '_code', '_message'];

/** About this many characters are encoded and sent at a time. */
const chunkChars = 64 * 1024;

interface RejectedRecord {
  line: number | undefined;
  issues: LoggedRowIssue[];
}

export async function openFixFile(
  engine: EngineContext,
  record: ImportRecord,
): Promise<FixFile> {
  if (record.state !== 'completed' && record.state !== 'failed') {
    throw new ImportError(
      ErrorCodes.INVALID_STATE,
      `import ${record.id} is ${record.state}; a fix file is made once ` +
        'it completed or failed',
      { details: { importId: record.id, state: record.state } },
    );
  }

  const { format } = record;
  if (format !== 'csv') return openDocumentFixFile(engine, record, format);

  const rejected = await rejectedRecords(engine, record);
  if (rejected.size === 0) throw nothingToFix(record);
  const encoding = normalizeEncodingName(
    record.detected.encoding ?? record.options.encoding ?? 'utf-8',
  );
  const delimiter = record.detected.delimiter ?? record.options.delimiter;
  if (delimiter === undefined) {
    throw new ImportError(
      ErrorCodes.INVALID_STATE,
      `import ${record.id} was never read, so its delimiter is unknown`,
      { details: { importId: record.id } },
    );
  }
  const written = encoding === 'utf-16' ? 'utf-16le' : encoding;

  // The header goes out first, with a column for every field of the
  // widest rejected record: a first reading of the stored file finds it
  // (the error log gives a ragged row's field count only in its message,
  // and a record closing with a delimiter is not ragged at all). It also
  // opens the file before any byte is sent: a missing one is a clean
  // answer.
  const read = { encoding: written, delimiter };
  const width = await rejectedWidth(
    await openStoredFile(engine, record),
    read,
    rejected,
  );
  const input = await openStoredFile(engine, record);
  return {
    contentType: `text/csv; charset=${written}`,
    fileName: fixFileName(record),
    body: fixFileBody({ input, ...read, width, rejected }),
  };
}

// An import that rejected no record has no fix file: an empty one could
// not even be a document when the file was unreadable from its start (a
// refused DOCTYPE, no root element).
function nothingToFix(record: ImportRecord): ImportError {
  return new ImportError(
    ErrorCodes.INVALID_STATE,
    `import ${record.id} rejected no record: it has no fix file` +
      (record.failure ? ` (it failed: ${record.failure.code})` : ''),
    { details: { importId: record.id, state: record.state } },
  );
}

/**
 * The import's stored file, or FILE_MISSING said for the user: why it
 * is gone, without the store's key (an internal name).
 */
async function openStoredFile(
  engine: EngineContext,
  record: ImportRecord,
): Promise<Readable> {
  try {
    return await engine.fileStore.open(record.fileKey);
  } catch (error) {
    if (!(error instanceof ImportError)) throw error;
    if (error.code !== ErrorCodes.FILE_MISSING) throw error;
    throw new ImportError(
      ErrorCodes.FILE_MISSING,
      `import ${record.id} has no fix file: its file is no longer ` +
        "stored (the file store's retention removed it)",
      { details: { importId: record.id } },
    );
  }
}

const documentTypes = {
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  xml: 'application/xml',
} as const;

// JSON, NDJSON and XML: their records found as their readers find them,
// with the definition the import was read with.
async function openDocumentFixFile(
  engine: EngineContext,
  record: ImportRecord,
  format: 'json' | 'ndjson' | 'xml',
): Promise<FixFile> {
  const definition = engine.definitions.get(record.entity);
  const rejected = await RejectedRecords.load(engine, record);
  if (rejected.empty) throw nothingToFix(record);
  const declared = record.detected.encoding ?? record.options.encoding;
  const readEncoding =
    declared === undefined ? undefined : normalizeEncodingName(declared);
  const written =
    readEncoding === 'utf-16' ? 'utf-16le' : (readEncoding ?? 'utf-8');
  // Opened before any byte is sent, so a missing file is a clean answer.
  const input = await openStoredFile(engine, record);

  const body =
    format === 'xml'
      ? xmlFixFileBody({
          input,
          readEncoding,
          encoding: written,
          definition,
          rejected,
        })
      : jsonFixFileBody({
          input,
          readEncoding,
          encoding: written,
          format,
          recordsPath: definition.records?.jsonPath,
          rejected,
        });
  return {
    contentType: `${documentTypes[format]}; charset=${written}`,
    fileName: fixFileName(record),
    body,
  };
}

// The error log's errors about the import's own records, by record.
async function rejectedRecords(
  engine: EngineContext,
  record: ImportRecord,
): Promise<Map<number, RejectedRecord>> {
  const byRecord = new Map<number, RejectedRecord>();
  let afterSeq: number | undefined;
  for (;;) {
    const page = await engine.errorLog.page(record.id, {
      limit: 1000,
      severity: 'error',
      ...(afterSeq !== undefined && { afterSeq }),
    });
    for (const issue of page.items) {
      const { recordNumber, line } = issue.position;
      if (recordNumber < 1) continue;
      if (issue.entity !== undefined && issue.entity !== record.entity) {
        continue;
      }
      let entry = byRecord.get(recordNumber);
      if (entry === undefined) {
        entry = { line, issues: [] };
        byRecord.set(recordNumber, entry);
      }
      entry.issues.push(issue);
    }
    if (page.nextAfterSeq === null) return byRecord;
    afterSeq = page.nextAfterSeq;
  }
}

interface ReadSettings {
  encoding: string;
  delimiter: string;
}

/** A line of the stored file, as the reader tells them apart. */
type StoredLine =
  | { kind: 'separator'; raw: string }
  | { kind: 'header'; record: string[]; raw: string }
  | { kind: 'record'; recordNumber: number; record: string[]; raw: string };

/**
 * The stored file's lines, records numbered as the reader numbers them:
 * an Excel `sep=;` first line and blank lines are no records, the first
 * other line is the header. Each field's text is kept as sent (`raw`).
 */
async function* storedLines(
  input: Readable,
  { encoding, delimiter }: ReadSettings,
): AsyncGenerator<StoredLine> {
  const decoded = decodeToUtf8(openInput(input).stream, { encoding });
  const parser = new Parser({
    delimiter,
    record_delimiter: ['\r\n', '\n', '\r'],
    raw: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: false,
    bom: false,
  });
  const feeder = Readable.from(readableText(decoded.chunks), {
    objectMode: false,
  });
  feeder.on('error', (error) => parser.destroy(error));
  feeder.pipe(parser);

  let width: number | undefined;
  let recordNumber = 0;
  let first = true;
  try {
    for await (const parsed of parser as AsyncIterable<ParsedRecord>) {
      const { record, raw } = parsed;
      if (first) {
        first = false;
        if (excelSeparatorLine(raw) !== undefined) {
          yield { kind: 'separator', raw };
          continue;
        }
      }
      if (isNoRecord(record, raw, width)) continue;
      if (width === undefined) {
        width = record.length;
        yield { kind: 'header', record, raw };
        continue;
      }
      recordNumber++;
      yield { kind: 'record', recordNumber, record, raw };
    }
  } finally {
    feeder.destroy();
    parser.destroy();
    input.destroy();
  }
}

/**
 * How many fields the fix file's records stand in before the added
 * columns: the header's, or more when a rejected record has more fields
 * than the header (a ragged row, or one closing with a delimiter).
 */
async function rejectedWidth(
  input: Readable,
  settings: ReadSettings,
  rejected: ReadonlyMap<number, RejectedRecord>,
): Promise<number> {
  let width = 0;
  let left = rejected.size;
  for await (const line of storedLines(input, settings)) {
    if (line.kind === 'header') width = line.record.length;
    if (line.kind === 'record' && rejected.has(line.recordNumber)) {
      width = Math.max(width, line.record.length);
      left--;
    }
    // Past the last rejected record nothing can widen the file.
    if (line.kind !== 'separator' && left === 0) break;
  }
  return width;
}

/** The name of an added column for a field past the header's last. */
function extraFieldName(position: number): string {
  return `_field${position}`;
}

interface BodyOptions extends ReadSettings {
  input: Readable;
  /** Fields before the added columns (rejectedWidth). */
  width: number;
  rejected: ReadonlyMap<number, RejectedRecord>;
}

async function* fixFileBody(options: BodyOptions): AsyncGenerator<Buffer> {
  const { input, encoding, delimiter, width, rejected } = options;

  // UTF-16 is only read back reliably with its byte-order mark.
  let pending = encoding.startsWith('utf-16') ? '\ufeff' : '';
  let lineEnd = '\r\n';
  // The reader skips an Excel `sep=;` first line; the fix file keeps it
  // above the header, so Excel opens it with the same delimiter.
  let separatorLine: string | undefined;
  // Reading stops past the last rejected record: the rest of the file
  // adds nothing, and the file of a failed import may break there (an
  // unclosed quote at its end), which would cut the response short.
  let left = rejected.size;
  for await (const line of storedLines(input, { encoding, delimiter })) {
    const { raw } = line;
    if (line.kind === 'separator') {
      separatorLine = withoutLineBreak(raw);
      continue;
    }
    if (line.kind === 'header') {
      if (raw.endsWith('\n') && !raw.endsWith('\r\n')) lineEnd = '\n';
      if (separatorLine !== undefined) pending += separatorLine + lineEnd;
      // Fields past the header's last get columns of their own, named
      // like the added ones: unknown fields, which a definition ignores
      // on the way back in just as it ignores `_line`.
      const extra: string[] = [];
      for (let field = line.record.length + 1; field <= width; field++) {
        extra.push(extraFieldName(field));
      }
      pending +=
        withoutLineBreak(raw) +
        [...extra, ...fixFileColumns].map((name) => delimiter + name).join('') +
        lineEnd;
      continue;
    }

    const entry = rejected.get(line.recordNumber);
    if (entry === undefined) continue;
    const added = [
      entry.line?.toString() ?? '',
      entry.issues.map((issue) => issue.column ?? '').join(' | '),
      entry.issues.map((issue) => issue.code).join(' | '),
      entry.issues.map((issue) => issue.message).join(' | '),
    ];
    // A record short of fields (a ragged row) is padded, and the fields
    // of one longer than the header stand under the extra columns, so
    // the added columns stand under their own names in every row.
    const padding = delimiter.repeat(Math.max(0, width - line.record.length));
    pending +=
      withoutLineBreak(raw) +
      padding +
      added.map((value) => delimiter + csvField(value, delimiter)).join('') +
      lineEnd;
    left--;
    if (left === 0) break;
    if (pending.length >= chunkChars) {
      yield iconv.encode(pending, encoding);
      pending = '';
    }
  }
  if (pending.length > 0) yield iconv.encode(pending, encoding);
}

interface ParsedRecord {
  record: string[];
  raw: string;
}

// csv-parse's raw text ends with the first character of the record's
// line break, when it has one.
function withoutLineBreak(raw: string): string {
  if (raw.endsWith('\r\n')) return raw.slice(0, -2);
  return raw.endsWith('\r') || raw.endsWith('\n') ? raw.slice(0, -1) : raw;
}

function csvField(value: string, delimiter: string): string {
  const quote =
    value.includes('"') ||
    value.includes('\r') ||
    value.includes('\n') ||
    value.includes(delimiter);
  return quote ? `"${value.replaceAll('"', '""')}"` : value;
}

function fixFileName(record: ImportRecord): string {
  const base = (record.fileName ?? `import-${record.id}`).replace(
    /\.(csv|txt|json|ndjson|jsonl|xml)(\.gz)?$/i,
    '',
  );
  return `${base}-fix.${record.format}`;
}
