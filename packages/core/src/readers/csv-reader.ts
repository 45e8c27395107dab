import type { Readable } from 'node:stream';
import { CsvError } from 'csv-parse';
import type { ImportDefinition } from '../definitions/import-definition.js';
import {
  ErrorCodes,
  ImportError,
  toImportError,
} from '../errors/import-error.js';
import type { RecordPosition, RowIssue } from '../ports/error-log.js';
import { detectDelimiter, excelSeparatorLine } from './csv-delimiter.js';
import {
  parseCsvRecords,
  type ParsedRecord,
  type QuoteFault,
  type RecordTooLargeError,
} from './csv-records.js';
import { decodeToUtf8, DEFAULT_SNIFF_BYTES } from './decode.js';
import { openInput } from './decompress.js';
import { describeBytes } from './document-limits.js';
import {
  mapHeader,
  normalizeFieldName,
  type HeaderMapping,
} from './header-mapping.js';
import {
  eachItem,
  type DetectedFormat,
  type MappedRecord,
  type RawValue,
  type ReadItem,
  type RecordReader,
} from './record-reader.js';

export interface CsvReaderOptions {
  definition: ImportDefinition;
  /** The field delimiter; detected among `,` `;` tab `|` when absent. */
  delimiter?: string;
  /** The declared encoding; detected when absent. */
  encoding?: string;
  /**
   * The largest record accepted, in bytes; a quote that never closes would
   * otherwise swallow the rest of the file into one value. 16 MiB default.
   */
  maxRecordBytes?: number;
  /**
   * False reads every record with csv-parse; by default a faster scanner
   * reads plain records first (see csv-records.ts). For tests.
   */
  fastScan?: boolean;
}

const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const BOM = 0xfeff;

/**
 * Reads a CSV file (gzip or not, in any supported encoding) into records
 * mapped onto the definition's columns.
 *
 * The first non-empty line is the header, after an Excel `sep=;` line
 * when the file starts with one (it names the delimiter, unless one is
 * declared, and its line counts). Each data record carries the
 * physical line it starts on, counting the line breaks inside its quoted
 * fields. An unquoted empty field reads as null, a quoted one (`""`) as
 * ''. A ragged row, a NUL character, text after a closing quote, a
 * byte-order mark starting a line, or a repeat of the header line (two
 * files joined) rejects that record as an issue; a quote that never
 * closes fails the whole file.
 */
export function createCsvReader(
  input: Readable,
  options: CsvReaderOptions,
): RecordReader {
  const opened = openInput(input);
  const detected: DetectedFormat = {};
  let iterated = false;

  return {
    batches() {
      if (iterated) {
        throw new ImportError(
          ErrorCodes.INTERNAL,
          'a CSV reader can be iterated once',
        );
      }
      iterated = true;
      return readBatches(opened.stream, options, detected);
    },
    items() {
      return eachItem(this.batches());
    },
    detected: () => ({ ...detected }),
    bytesRead: () => opened.bytesRead(),
  };
}

async function* readBatches(
  content: Readable,
  options: CsvReaderOptions,
  detected: DetectedFormat,
): AsyncGenerator<ReadItem[]> {
  const decoded = decodeToUtf8(content, {
    ...(options.encoding !== undefined && { encoding: options.encoding }),
  });
  const chunks = decoded.chunks[Symbol.asyncIterator]();
  let records: AsyncGenerator<ParsedRecord[]> | undefined;

  try {
    // Look at the first decoded bytes: the encoding is then known, and the
    // delimiter can be guessed from the first lines.
    const head: Buffer[] = [];
    let headLength = 0;
    let ended = false;
    while (headLength < DEFAULT_SNIFF_BYTES) {
      const next = await chunks.next();
      if (next.done) {
        ended = true;
        break;
      }
      head.push(next.value);
      headLength += next.value.length;
    }
    detected.encoding = decoded.encoding();
    if (decoded.bytesDecoded() === 0) {
      throw new ImportError(ErrorCodes.EMPTY_FILE, 'the file is empty');
    }
    // An Excel `sep=;` first line names the delimiter; a declared one
    // still wins, and the line is skipped either way.
    const sample = Buffer.concat(head).toString('utf8');
    const declaredBySep = excelSeparatorLine(sample);
    const delimiter =
      options.delimiter ?? declaredBySep ?? detectDelimiter(sample);
    detected.delimiter = delimiter;

    async function* replay(): AsyncGenerator<Buffer> {
      yield* head;
      if (ended) return;
      for (;;) {
        const next = await chunks.next();
        if (next.done) return;
        yield next.value;
      }
    }
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    records = parseCsvRecords(replay(), {
      delimiter,
      maxRecordBytes,
      ...(options.fastScan !== undefined && { fastScan: options.fastScan }),
    });

    yield* readRecords(
      records,
      options.definition,
      {
        delimiter,
        skipsSeparatorLine: declaredBySep !== undefined,
        maxRecordBytes,
      },
      detected,
    );
  } finally {
    await records?.return(undefined);
    content.destroy();
  }
}

/**
 * The parse loop, a batch of records at a time. `line` is the physical
 * line the next record starts on: each record, empty lines included,
 * moves it by one plus the line breaks inside its quoted fields.
 */
async function* readRecords(
  records: AsyncIterable<ParsedRecord[]>,
  definition: ImportDefinition,
  layout: {
    delimiter: string;
    skipsSeparatorLine: boolean;
    maxRecordBytes: number;
  },
  detected: DetectedFormat,
): AsyncGenerator<ReadItem[]> {
  const { delimiter } = layout;
  let skipsSeparatorLine = layout.skipsSeparatorLine;
  let line = 1;
  let recordNumber = 0;
  let mapping: HeaderMapping | undefined;
  // The header's fields as header names are matched, to know it again.
  let headerNames: string[] = [];
  // The header closes with a delimiter: rows without it lack that field.
  let headerEndsBlank = false;
  // Columns whose values lose a declared prefix (as JSON and XML do).
  const prefixes: Array<[number, string]> = [];
  definition.columns.forEach((column, index) => {
    if (column.stripPrefix !== undefined) {
      prefixes.push([index, column.stripPrefix]);
    }
  });

  try {
    // The scanner hands records over in batches: one await per batch.
    for await (const batch of records) {
      const items: ReadItem[] = [];
      for (const parsed of batch) {
        const { record, raw } = parsed;
        const startLine = line;
        const breaks = countLineBreaks(raw);
        line = startLine + breaks + 1;
        if (skipsSeparatorLine) {
          skipsSeparatorLine = false;
          continue;
        }
        if (isNoRecord(record, raw, mapping?.width)) continue;

        if (mapping === undefined) {
          mapping = mapHeader(record, definition);
          headerNames = record.map(normalizeFieldName);
          headerEndsBlank = record.length > 1 && record.at(-1)!.trim() === '';
          if (mapping.absentColumns.length > 0) {
            detected.absentColumns = [...mapping.absentColumns];
          }
          items.push(...headerWarnings(mapping, definition, startLine));
          continue;
        }

        recordNumber++;
        const position: RecordPosition =
          breaks === 0
            ? { recordNumber, line: startLine }
            : { recordNumber, line: startLine, endLine: startLine + breaks };

        // Before the field count: each explains a wrong count better.
        if (
          record.length === headerNames.length &&
          repeatsHeader(record, headerNames)
        ) {
          items.push({ kind: 'issue', issue: repeatedHeader(raw, position) });
          continue;
        }
        if (raw.charCodeAt(0) === BOM) {
          items.push({ kind: 'issue', issue: byteOrderMark(raw, position) });
          continue;
        }
        if (parsed.quoteFault !== undefined) {
          items.push({
            kind: 'issue',
            issue: textAfterQuote(
              parsed.quoteFault,
              mapping,
              definition,
              position,
            ),
          });
          continue;
        }

        // A delimiter closing every line, the header's or the rows', where
        // the other has none: the empty field it adds is nobody's.
        if (
          record.length === mapping.width + 1 &&
          endsWithDelimiter(raw, delimiter)
        ) {
          record.pop();
        } else if (headerEndsBlank && record.length === mapping.width - 1) {
          record.push('');
        }

        if (record.length !== mapping.width) {
          items.push({
            kind: 'issue',
            issue: raggedRow(record, raw, mapping, position),
          });
          continue;
        }

        const values = pickCsvValues(mapping, record, raw, delimiter);
        for (const [column, prefix] of prefixes) {
          const value = values[column];
          if (typeof value === 'string' && value.startsWith(prefix)) {
            values[column] = value.slice(prefix.length);
          }
        }
        if (raw.includes('\u0000')) {
          const issue = nulIssue(values, definition, position);
          if (issue) {
            items.push({ kind: 'issue', issue });
            continue;
          }
        }

        const mapped: MappedRecord = { position, values };
        items.push({ kind: 'record', record: mapped });
      }
      if (items.length > 0) yield items;
    }
  } catch (error) {
    throw csvFailure(error, line, layout.maxRecordBytes);
  }

  if (mapping === undefined) {
    throw new ImportError(
      ErrorCodes.EMPTY_FILE,
      'the file has no header line (it holds only blank lines)',
    );
  }
}

/**
 * The values in column order. csv-parse gives `''` for both `,,` and
 * `,"",`; the raw text of the record tells them apart, and is only looked
 * at when a record has an empty value at all.
 */
function pickCsvValues(
  mapping: HeaderMapping,
  record: string[],
  raw: string,
  delimiter: string,
): RawValue[] {
  const indexes = mapping.fieldIndexByColumn;
  // The header in the definition's order, and no empty field to tell
  // apart: the parsed record is the values as they are.
  if (mapping.identity && !record.includes('')) return record;
  const values = new Array<RawValue>(indexes.length);
  let quotedEmpty: Set<number> | undefined;
  for (let c = 0; c < indexes.length; c++) {
    const index = indexes[c] as number;
    if (index === -1) {
      values[c] = undefined;
      continue;
    }
    const value = record[index] as string;
    if (value !== '') {
      values[c] = value;
      continue;
    }
    quotedEmpty ??= quotedEmptyFields(raw, delimiter);
    values[c] = quotedEmpty.has(index) ? '' : null;
  }
  return values;
}

/**
 * The indexes of the fields written as `""` in a record's raw text. The
 * scan follows csv-parse's reading (doubled quotes inside quotes, a quote
 * after a closing quote kept as text under `relax_quotes`).
 */
export function quotedEmptyFields(raw: string, delimiter: string): Set<number> {
  const found = new Set<number>();
  const length = raw.length;
  let field = 0;
  let i = 0;
  for (;;) {
    if (raw.charCodeAt(i) === QUOTE) {
      let j = i + 1;
      let empty = true;
      while (j < length) {
        if (raw.charCodeAt(j) === QUOTE) {
          if (raw.charCodeAt(j + 1) === QUOTE) {
            empty = false;
            j += 2;
            continue;
          }
          j++;
          break;
        }
        empty = false;
        j++;
      }
      const after = raw.charCodeAt(j);
      if (
        empty &&
        (j >= length ||
          after === CR ||
          after === LF ||
          raw.startsWith(delimiter, j))
      ) {
        found.add(field);
      }
      i = j;
    }
    const next = raw.indexOf(delimiter, i);
    if (next === -1) return found;
    i = next + delimiter.length;
    field++;
  }
}

/**
 * Line breaks inside a record's raw text: CRLF, LF and CR count once each.
 * The raw text ends with the first character of the record's own line
 * break, which is not counted.
 */
function countLineBreaks(raw: string): number {
  const last = raw.charCodeAt(raw.length - 1);
  const end = last === LF || last === CR ? raw.length - 1 : raw.length;
  const lf = raw.indexOf('\n');
  const cr = raw.indexOf('\r');
  if ((lf === -1 || lf >= end) && (cr === -1 || cr >= end)) return 0;

  let breaks = 0;
  for (let i = 0; i < end; i++) {
    const code = raw.charCodeAt(i);
    if (code === LF) breaks++;
    else if (code === CR) {
      breaks++;
      if (raw.charCodeAt(i + 1) === LF && i + 1 < end) i++;
    }
  }
  return breaks;
}

/**
 * Columns the header has no field for, told to the sender once, as a
 * warning in the error log: their stored values are kept and new rows
 * get the column's default. The fields no column reads are named with
 * them (a misspelt header is the usual cause); on their own they are
 * what `unknownFields: 'ignore'` asks for, and say nothing.
 */
function headerWarnings(
  mapping: HeaderMapping,
  definition: ImportDefinition,
  line: number,
): ReadItem[] {
  const absent = mapping.absentColumns;
  if (absent.length === 0) return [];
  const named = absent.map((name) => {
    const sources = definition.columns
      .find((column) => column.name === name)
      ?.sources.filter((source) => source !== name)
      .map((source) => `"${source}"`);
    return sources === undefined || sources.length === 0
      ? `"${name}"`
      : `"${name}" (or ${sources.join(', ')})`;
  });
  const unknown = mapping.unknownFields;
  const unread =
    unknown.length === 0
      ? ''
      : `; fields no column reads: ${list(unknown.map((n) => `"${n}"`))}`;
  return [
    {
      kind: 'issue',
      issue: {
        severity: 'warning',
        position: { recordNumber: 0, line },
        ...(absent.length === 1 && { column: absent[0] }),
        code: 'column_absent',
        message:
          `the header has no field for ${list(named)}: stored rows keep ` +
          `their values there, new rows get the defaults${unread}`,
      },
    },
  ];
}

// The first names of a list that may be long, and how many more.
function list(names: readonly string[]): string {
  const shown = names.slice(0, 20).join(', ');
  return names.length > 20 ? `${shown} and ${names.length - 20} more` : shown;
}

/**
 * Whether a parsed line holds no record: an empty line, or a blank row as
 * spreadsheets write it, delimiters alone (`;;;`) or spaces alone in a
 * file of several columns (`headerWidth`, unknown before the header).
 * The fix file counts records with the same rule.
 */
export function isNoRecord(
  record: readonly string[],
  raw: string,
  headerWidth: number | undefined,
): boolean {
  return isEmptyLine(record, raw) || isBlankRow(record, raw, headerWidth);
}

function isBlankRow(
  record: readonly string[],
  raw: string,
  headerWidth: number | undefined,
): boolean {
  if (record.length === 1) {
    return (
      (headerWidth === undefined || headerWidth > 1) &&
      isBlank(record[0]!) &&
      !raw.includes('"')
    );
  }
  // The first field tells most records apart at once.
  return (
    record[0] === '' &&
    record.every((field) => field === '') &&
    !raw.includes('"')
  );
}

function isBlank(text: string): boolean {
  return text.trim() === '';
}

// The record's text, less its line break, ends with an unquoted empty
// field: the line closes with the delimiter.
function endsWithDelimiter(raw: string, delimiter: string): boolean {
  const text = withoutLineBreak(raw);
  return text.endsWith(delimiter);
}

function isEmptyLine(record: readonly string[], raw: string): boolean {
  return record.length === 1 && record[0] === '' && raw.charCodeAt(0) !== QUOTE;
}

function raggedRow(
  record: readonly string[],
  raw: string,
  mapping: HeaderMapping,
  position: RecordPosition,
): RowIssue {
  const fewer = record.length < mapping.width;
  return {
    severity: 'error',
    position,
    code: 'ragged_row',
    message:
      `line ${position.line} has ${record.length} field(s) where the header ` +
      `has ${mapping.width}: ${fewer ? 'a delimiter is missing' : 'an extra delimiter'} ` +
      '(or a value with the delimiter in it is not quoted)',
    rawValue: withoutLineBreak(raw),
  };
}

/**
 * PostgreSQL text cannot hold NUL, and a NUL in an ERP export is a sign of
 * binary garbage: the record is rejected, naming the first column with one.
 * A NUL in a field no column reads is harmless and ignored.
 */
function nulIssue(
  values: readonly RawValue[],
  definition: ImportDefinition,
  position: RecordPosition,
): RowIssue | undefined {
  const index = values.findIndex(
    (value) => typeof value === 'string' && value.includes('\u0000'),
  );
  if (index === -1) return undefined;
  const column = definition.columns[index]?.name;
  return {
    severity: 'error',
    position,
    ...(column !== undefined && { column }),
    code: 'nul_character',
    message:
      `the value of "${column}" holds a NUL character (\\0), ` +
      'which a text value cannot store',
    rawValue: (values[index] as string).replace(/\u0000/g, '\\0'),
  };
}

/**
 * Whether a record's fields are the header's, compared as header names
 * are matched (`normalized`: the header's, by `normalizeFieldName`), a
 * BOM in front included: the header line of a second file joined to the
 * first (`cat a.csv b.csv`), which must not be read as data.
 */
function repeatsHeader(
  record: readonly string[],
  normalized: readonly string[],
): boolean {
  for (let i = 0; i < record.length; i++) {
    if (!sameFieldName(record[i]!, normalized[i]!)) return false;
  }
  return true;
}

/**
 * `normalizeFieldName(cell) === name`, without normalizing every cell of
 * every record: while the cell is printable ASCII, its normalized form
 * is the same characters in lower case, so most data cells differ from
 * the header's name within a character or two.
 */
function sameFieldName(cell: string, name: string): boolean {
  for (let i = 0; i < cell.length; i++) {
    const code = cell.charCodeAt(i);
    // A space (trimmed at the ends), a BOM, an accent: the whole rule.
    if (code <= 0x20 || code >= 0x7f) return normalizeFieldName(cell) === name;
    const lower = code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
    if (lower !== name.charCodeAt(i)) return false;
  }
  return cell.length === name.length;
}

function repeatedHeader(raw: string, position: RecordPosition): RowIssue {
  const bom = raw.charCodeAt(0) === BOM ? ', after a byte-order mark,' : '';
  return {
    severity: 'error',
    position,
    code: 'repeated_header',
    message:
      `line ${position.line}${bom} repeats the header line, as when two ` +
      'files are joined into one; it is not read as data',
    rawValue: withoutLineBreak(raw),
  };
}

/**
 * A byte-order mark belongs before a file's first character, where the
 * decoder drops it; one starting a later line is where a second file
 * was joined to the first, and would be stored as part of the value.
 */
function byteOrderMark(raw: string, position: RecordPosition): RowIssue {
  return {
    severity: 'error',
    position,
    code: 'byte_order_mark',
    message:
      `a byte-order mark (U+FEFF) was found inside the file, at the start ` +
      `of line ${position.line}, as when two files are joined into one`,
    rawValue: withoutLineBreak(raw),
  };
}

/**
 * A quoted value with more after its closing quote (`"Acme, Inc" ,` or
 * `"Z8"x`): csv-parse would keep it with its quotes, so the record is
 * rejected, in whichever field it is, since a value the writer meant to
 * quote whole may also have moved the record's other fields.
 */
function textAfterQuote(
  fault: QuoteFault,
  mapping: HeaderMapping,
  definition: ImportDefinition,
  position: RecordPosition,
): RowIssue {
  const columnIndex = mapping.columnIndexByField[fault.field] ?? -1;
  const column = definition.columns[columnIndex]?.name;
  const named =
    column === undefined ? `field ${fault.field + 1}` : `"${column}"`;
  const rest = fault.written.slice(fault.after);
  const shown = JSON.stringify(
    rest.length > 20 ? `${rest.slice(0, 20)}...` : rest,
  );
  return {
    severity: 'error',
    position,
    ...(column !== undefined && { column }),
    code: 'text_after_quote',
    message:
      `the quoted value of ${named} has text after its closing quote ` +
      `(${shown}): remove it, or quote the whole value and double the ` +
      'quotes inside it',
    rawValue: fault.written.replace(/\u0000/g, '\\0'),
  };
}

function withoutLineBreak(raw: string): string {
  const last = raw.charCodeAt(raw.length - 1);
  return last === LF || last === CR ? raw.slice(0, -1) : raw;
}

function csvFailure(
  error: unknown,
  line: number,
  maxRecordBytes: number,
): ImportError {
  if (error instanceof ImportError) return error;
  if (error instanceof CsvError) {
    switch (error.code) {
      case 'CSV_QUOTE_NOT_CLOSED':
        return new ImportError(
          ErrorCodes.MALFORMED_FILE,
          `a quoted field opened in the record starting at line ${line} ` +
            'never closes (the file ends inside quotes)',
          { cause: error, details: { line, csvCode: error.code } },
        );
      case 'CSV_MAX_RECORD_SIZE': {
        // Only a quote still open explains a record this long.
        const quoted = (error as Partial<RecordTooLargeError>).insideQuotes;
        return new ImportError(
          ErrorCodes.MALFORMED_FILE,
          `the record starting at line ${line} is larger than the limit ` +
            `of ${describeBytes(maxRecordBytes)} one record may hold` +
            (quoted === true
              ? '; it is inside a quoted field that has not closed, and ' +
                'a quote that never closes is the usual cause'
              : ''),
          {
            cause: error,
            details: { line, csvCode: error.code, maxRecordBytes },
          },
        );
      }
      default:
        return new ImportError(
          ErrorCodes.MALFORMED_FILE,
          `the CSV cannot be read at the record starting at line ${line}: ${error.message}`,
          { cause: error, details: { line, csvCode: error.code } },
        );
    }
  }
  return toImportError(error, ErrorCodes.INTERNAL);
}
