import type { RecordPosition, RowIssue } from '../ports/error-log.js';

/**
 * What every reader (CSV, JSON, XML) gives the engine: records already
 * mapped onto the definition's columns, with their positions, and the
 * issues found while reading. Readers know no database and no engine.
 */

/**
 * A value as read, before any column type looks at it:
 * - a string is the text as written (a quoted empty field is `''`);
 * - `null` is an unquoted empty field, a JSON null, an empty element;
 * - `undefined` means the source has no such field at all.
 */
export type RawValue = string | null | undefined;

export interface MappedRecord {
  position: RecordPosition;
  /** One value per column of the definition, in the definition's order. */
  values: RawValue[];
  /** The entity, when one file feeds several (parents and children). */
  entity?: string;
  /**
   * Indexes of the values that were JSON numbers, which have one syntax
   * (`1.234` is one point two three four whatever the locale); absent
   * when there are none, and always for CSV and XML, whose text has no
   * number type and follows the locale.
   */
  numbers?: readonly number[];
}

export type ReadItem =
  { kind: 'record'; record: MappedRecord } | { kind: 'issue'; issue: RowIssue };

export interface DetectedFormat {
  encoding?: string;
  delimiter?: string;
  /**
   * Columns of the definition the file has no field for at all (a CSV
   * header without them); the loader leaves them out of the MERGE.
   */
  absentColumns?: string[];
}

/**
 * A reader over one file. Its items may be iterated once, in batches or
 * one at a time. Failures of the whole file (bytes that do not decode, a
 * malformed document, a missing key column in the header) reject the
 * iteration with an ImportError.
 */
export interface RecordReader {
  /** The items in file order, as many at a time as the reader holds. */
  batches(): AsyncIterable<readonly ReadItem[]>;
  /** The same items, one at a time. */
  items(): AsyncIterable<ReadItem>;
  /** What was detected or given; complete once the first item is read. */
  detected(): DetectedFormat;
  /** Bytes of the (compressed, as stored) input consumed so far. */
  bytesRead(): number;
}

/** The items of `batches`, one at a time (a reader's `items()`). */
export async function* eachItem(
  batches: AsyncIterable<readonly ReadItem[]>,
): AsyncGenerator<ReadItem> {
  for await (const batch of batches) yield* batch;
}
