/**
 * The error log keeps the records an import rejected, and the warnings it
 * raised (a superseded duplicate key), for audit.
 *
 * Promises:
 * - `append` takes a batch and stores all of it or none of it.
 * - `page` returns entries in the order they were appended, by keyset:
 *   pages do not shift when entries are added after the cursor.
 * - `clear` removes an import's entries, so a retried attempt does not
 *   repeat those of the attempt that died.
 * - Every string comes back as it was given, whatever it holds: a raw
 *   value quotes the file, so it may hold a NUL or a lone surrogate. An
 *   adapter whose storage cannot hold those escapes them on the way in.
 *
 * Leaves out: connections, and any retention policy the adapter applies.
 */
export interface ErrorLog {
  append(importId: string, entries: readonly RowIssue[]): Promise<void>;
  page(importId: string, query: ErrorPageQuery): Promise<ErrorPage>;
  count(importId: string): Promise<{ errors: number; warnings: number }>;
  clear(importId: string): Promise<void>;
  close?(): Promise<void>;
}

/**
 * Where a record stands in its file. CSV records have the physical line
 * where they start (counting newlines inside quoted fields); JSON and XML
 * records have a path, and XML ones a line too.
 */
export interface RecordPosition {
  /** 1-based, in file order. */
  recordNumber: number;
  line?: number;
  endLine?: number;
  /** `$[12].details[3]` in JSON, `/NFe/infNFe/det[3]` in XML. */
  path?: string;
}

export interface RowIssue {
  severity: 'error' | 'warning';
  position: RecordPosition;
  /** The target column, when the issue is about one value. */
  column?: string;
  /** A stable code such as `invalid_number` or `duplicate_key_superseded`. */
  code: string;
  message: string;
  /** The value as it was written in the file. */
  rawValue?: string | null;
  /** The entity, when one file feeds several. */
  entity?: string;
}

export interface LoggedRowIssue extends RowIssue {
  /** Increasing within an import; the keyset cursor of `page`. */
  seq: number;
}

export interface ErrorPageQuery {
  limit: number;
  /** Entries with `seq` greater than this. */
  afterSeq?: number;
  severity?: 'error' | 'warning';
}

export interface ErrorPage {
  items: LoggedRowIssue[];
  /** The `afterSeq` of the next page, or null at the end. */
  nextAfterSeq: number | null;
}
