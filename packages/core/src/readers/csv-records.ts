import { Readable } from 'node:stream';
import { CsvError, Parser } from 'csv-parse';

/**
 * Splits decoded CSV text into records, each with its raw text as
 * csv-parse gives it with `raw: true`: the record's characters and the
 * first character of its line break (`\r` of `\r\n`).
 *
 * csv-parse is the parser of record. In front of it sits a scanner for
 * the plain case, which reads the same records with half the CPU time
 * (BENCHMARKS.md): a single-character delimiter, fields quoted whole
 * (`"a ""b"""`), every quote closed right before a delimiter or a line
 * break. At the first record it cannot read that way (a quote inside an
 * unquoted field, text after a closing quote, a quote that never closes,
 * a huge record) it hands that record and the rest of the file to
 * csv-parse, so every unusual file is read, and fails, exactly as
 * csv-parse reads it. csv-fast-scan-matches-csv-parse.test.ts holds the
 * two to the same output.
 */

export interface ParsedRecord {
  record: string[];
  raw: string;
  /**
   * The first field with text after its closing quote, which csv-parse
   * (`relax_quotes`) keeps as written, quotes and all; the reader
   * rejects the record. Only csv-parse reads such records.
   */
  quoteFault?: QuoteFault;
}

/** A quoted field that goes on after its closing quote: `"Acme" Inc`. */
export interface QuoteFault {
  /** The field's index in the record. */
  field: number;
  /** The field as written, from its opening quote to its delimiter. */
  written: string;
  /** Where, in `written`, the text after the closing quote starts. */
  after: number;
}

/**
 * csv-parse's error for a record over `maxRecordBytes`, told whether
 * the record was inside a quoted field when it reached the limit.
 */
export interface RecordTooLargeError extends CsvError {
  insideQuotes: boolean;
}

export interface CsvRecordsOptions {
  delimiter: string;
  maxRecordBytes: number;
  /** False reads with csv-parse alone (tests compare the two). */
  fastScan?: boolean;
}

/** Records in batches, in file order; csv-parse's errors reject. */
export async function* parseCsvRecords(
  chunks: AsyncIterable<Buffer>,
  options: CsvRecordsOptions,
): AsyncGenerator<ParsedRecord[]> {
  const iterator = chunks[Symbol.asyncIterator]();
  const delimiter = options.delimiter;
  const scannable =
    options.fastScan !== false &&
    delimiter.length === 1 &&
    !'"\r\n'.includes(delimiter);

  let carry = '';
  if (scannable) {
    const scanner = createScanner(
      delimiter.charCodeAt(0),
      // Characters, not bytes: a quarter keeps any UTF-8 record under
      // the byte limit, so csv-parse alone decides what is too large.
      Math.floor(options.maxRecordBytes / 4),
    );
    // Faster than Buffer's toString on text with accents (simdutf); the
    // chunks are whole UTF-8 sequences already (decode.ts). decode.ts has
    // dropped the file's byte-order mark: a U+FEFF that begins a later
    // chunk is a character of a value, which the decoder would drop too.
    const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
    for (;;) {
      const next = await iterator.next();
      const final = next.done === true;
      const text = final ? carry : carry + utf8.decode(next.value);
      // A chunk is handed out a few hundred records at a time: the
      // records of a whole chunk, alive at once, would outlive the young
      // generation and make every collection copy them.
      let at = 0;
      let scanned: Scanned;
      do {
        scanned = scanner.scan(text, at, final);
        if (scanned.records.length > 0) yield scanned.records;
        at = scanned.consumed;
      } while (scanned.more);
      carry = text.slice(at);
      if (scanned.handOver) break;
      if (final) return;
    }
  }

  yield* readWithCsvParse(carry, iterator, options);
}

async function* readWithCsvParse(
  start: string,
  rest: AsyncIterator<Buffer>,
  options: CsvRecordsOptions,
): AsyncGenerator<ParsedRecord[]> {
  const parser = new Parser({
    delimiter: options.delimiter,
    record_delimiter: ['\r\n', '\n', '\r'],
    raw: true,
    relax_column_count: true,
    // A quote inside an unquoted value (`12" tube`) is kept as written.
    relax_quotes: true,
    skip_empty_lines: false,
    bom: false,
    max_record_size: options.maxRecordBytes,
    // Records parsed before a syntax error must still reach the reader,
    // which knows the line the failing record starts on.
    ...({ autoDestroy: false } as object),
  });

  async function* replay(): AsyncGenerator<Buffer> {
    if (start !== '') yield Buffer.from(start, 'utf8');
    for (;;) {
      const next = await rest.next();
      if (next.done === true) return;
      yield next.value;
    }
  }
  const feeder = Readable.from(replay(), { objectMode: false });
  feeder.on('error', (error) => parser.destroy(error));
  feeder.pipe(parser);
  const delimiter = options.delimiter;
  // TODO: csv-parse's raw text keeps only the first byte of a delimiter
  // longer than one byte (`||`, or `§` in UTF-8), so text after a
  // closing quote is not found from it there; the engine takes any
  // one-character delimiter, and such files still store the field with
  // its quotes. Reading the fault from the text itself would fix both.
  const findsQuoteFaults =
    delimiter.length === 1 && delimiter.charCodeAt(0) < 0x80;
  try {
    for await (const parsed of parser as AsyncIterable<ParsedRecord>) {
      if (findsQuoteFaults && parsed.raw.includes('"')) {
        const fault = textAfterClosingQuote(parsed.raw, delimiter);
        if (fault !== undefined) parsed.quoteFault = fault;
      }
      yield [parsed];
    }
  } catch (error) {
    if (error instanceof CsvError && error.code === 'CSV_MAX_RECORD_SIZE') {
      (error as RecordTooLargeError).insideQuotes = insideQuotes(parser);
    }
    throw error;
  } finally {
    feeder.destroy();
    parser.destroy();
  }
}

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Whether csv-parse stopped inside a quoted field. Its error only tells
 * whether the last field it finished was quoted, so this reads the
 * parser's own state, which `Parser` exposes as `state` (undeclared in
 * its types); csv-record-too-large.test.ts holds it to that.
 */
function insideQuotes(parser: Parser): boolean {
  const state = (parser as unknown as { state?: { quoting?: unknown } }).state;
  return state?.quoting === true;
}

/**
 * The first field of a record csv-parse read whose closing quote is
 * followed by other text before its delimiter or line break. Under
 * `relax_quotes` csv-parse then keeps the field as written from its
 * opening quote (doubled quotes read as one) up to the next delimiter,
 * which is why the record's other fields keep their boundaries. `raw`
 * is the record's text as csv-parse gives it; the scan follows its
 * reading: a field is quoted when a quote is its first character, and
 * inside quotes `""` is a quote.
 */
function textAfterClosingQuote(
  raw: string,
  delimiter: string,
): QuoteFault | undefined {
  const length = raw.length;
  let field = 0;
  let i = 0;
  for (;;) {
    if (raw.charCodeAt(i) === QUOTE) {
      let close = raw.indexOf('"', i + 1);
      while (close !== -1 && raw.charCodeAt(close + 1) === QUOTE) {
        close = raw.indexOf('"', close + 2);
      }
      // Not closed in the record: csv-parse did not end a record here.
      if (close === -1) return undefined;
      const after = close + 1;
      if (after < length && !endsField(raw, after, delimiter)) {
        const end = fieldEnd(raw, after, delimiter);
        return { field, written: raw.slice(i, end), after: after - i };
      }
      i = after;
    } else {
      i = fieldEnd(raw, i, delimiter);
    }
    if (i >= length || !raw.startsWith(delimiter, i)) return undefined;
    i += delimiter.length;
    field++;
  }
}

// A delimiter or a line break at `at`.
function endsField(raw: string, at: number, delimiter: string): boolean {
  const code = raw.charCodeAt(at);
  return code === CR || code === LF || raw.startsWith(delimiter, at);
}

// Where an unquoted field from `from` ends: its delimiter, its line
// break (only ever the record's own, last in `raw`) or the record's end.
function fieldEnd(raw: string, from: number, delimiter: string): number {
  let end = raw.indexOf(delimiter, from);
  if (end === -1) end = raw.length;
  for (const mark of ['\r', '\n']) {
    const at = raw.indexOf(mark, from);
    if (at !== -1 && at < end) end = at;
  }
  return end;
}

interface Scanned {
  records: ParsedRecord[];
  /** Where the text not read yet starts. */
  consumed: number;
  /** The record at `consumed` is csv-parse's to read, and all after it. */
  handOver: boolean;
  /** The batch filled before the text ran out: scan again from `consumed`. */
  more: boolean;
}

/** Records in one batch at most. */
const recordsPerBatch = 64;

/**
 * The plain-case scanner. `scan` reads whole records of `text` from
 * `from`, up to a batch; a record cut by the end of a chunk is left for
 * the next chunk's call, which gets it again at the start of its text.
 */
function createScanner(delimiter: number, maxChars: number) {
  return {
    scan(text: string, from: number, final: boolean): Scanned {
      const records: ParsedRecord[] = [];
      const length = text.length;
      let start = from;

      records: while (start < length) {
        if (records.length === recordsPerBatch) {
          return { records, consumed: start, handOver: false, more: true };
        }
        const record: string[] = [];
        let i = start;

        for (;;) {
          let value: string;
          if (text.charCodeAt(i) === QUOTE) {
            // A quoted field: up to the quote that is not doubled.
            let close = text.indexOf('"', i + 1);
            let doubled = false;
            while (close !== -1 && text.charCodeAt(close + 1) === QUOTE) {
              doubled = true;
              close = text.indexOf('"', close + 2);
            }
            // Not closed in this text, or closed at its very end where a
            // doubled quote might follow: wait for more, or hand over.
            if (close === -1 || close + 1 >= length) {
              if (!final || close === -1) break records;
            }
            const after = close + 1 < length ? text.charCodeAt(close + 1) : -1;
            if (
              after !== delimiter &&
              after !== CR &&
              after !== LF &&
              after !== -1
            ) {
              return { records, consumed: start, handOver: true, more: false };
            }
            value = text.slice(i + 1, close);
            if (doubled) value = value.replace(/""/g, '"');
            i = close + 1;
          } else {
            // An unquoted field: up to a delimiter or a line break.
            let j = i;
            let code = text.charCodeAt(j);
            while (
              j < length &&
              code !== delimiter &&
              code !== CR &&
              code !== LF
            ) {
              if (code === QUOTE) {
                return {
                  records,
                  consumed: start,
                  handOver: true,
                  more: false,
                };
              }
              code = text.charCodeAt(++j);
            }
            if (j >= length && !final) break records;
            value = text.slice(i, j);
            i = j;
          }
          record.push(value);

          const code = i < length ? text.charCodeAt(i) : -1;
          if (code === delimiter) {
            i++;
            // A delimiter last in the final text ends with an empty field.
            if (i >= length) {
              if (!final) break records;
              record.push('');
              i = length;
              break;
            }
            continue;
          }
          if (code === -1) break; // the file's last record, no line break
          if (code === CR && i + 1 >= length && !final) break records;
          break;
        }

        // The record ends at `i`: a line break, or the end of the file.
        let next = i;
        let raw: string;
        if (i >= length) {
          raw = text.slice(start);
        } else {
          raw = text.slice(start, i + 1);
          next =
            text.charCodeAt(i) === CR && text.charCodeAt(i + 1) === LF
              ? i + 2
              : i + 1;
        }
        if (raw.length > maxChars) {
          return { records, consumed: start, handOver: true, more: false };
        }
        records.push({ record, raw });
        start = next;
      }

      // What is left is one unfinished record: too long to wait for, it
      // goes to csv-parse, which knows how to refuse it.
      const handOver = final ? start < length : length - start > maxChars;
      return { records, consumed: start, handOver, more: false };
    },
  };
}
