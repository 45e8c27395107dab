import iconv from 'iconv-lite';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import type { LoggedRowIssue } from '../ports/error-log.js';
import type { ImportRecord } from '../ports/import-record.js';
import type { EngineContext } from './engine-context.js';

/**
 * What the JSON and XML fix files share: the import's rejected records,
 * each with its errors and those of its child records, and the text
 * going out in the file's encoding.
 *
 * A record of the import's own entity is found by its number; a child
 * record's errors belong to the record whose path starts its own
 * (`$[3]` holds `$[3].details[1]`, `/Orders/Order[2]` holds
 * `/Orders/Order[2]/Line[1]`), so a record rejected only because of a
 * child comes back whole, and a rejected parent comes back once.
 */
export class RejectedRecords {
  private readonly byNumber = new Map<number, LoggedRowIssue[]>();
  private readonly byParentPath = new Map<string, LoggedRowIssue[]>();

  static async load(
    engine: EngineContext,
    record: ImportRecord,
  ): Promise<RejectedRecords> {
    const rejected = new RejectedRecords();
    let afterSeq: number | undefined;
    for (;;) {
      const page = await engine.errorLog.page(record.id, {
        limit: 1000,
        severity: 'error',
        ...(afterSeq !== undefined && { afterSeq }),
      });
      for (const issue of page.items) rejected.add(issue, record.entity);
      if (page.nextAfterSeq === null) return rejected;
      afterSeq = page.nextAfterSeq;
    }
  }

  private add(issue: LoggedRowIssue, entity: string): void {
    const { recordNumber, path } = issue.position;
    if (recordNumber < 1) return;
    if (issue.entity === undefined || issue.entity === entity) {
      listIn(this.byNumber, recordNumber).push(issue);
      return;
    }
    // A child's issue: filed under every prefix of its path that could
    // be its parent's path (cut before a step), so that the parent is
    // found by its own path, whatever its depth.
    if (path === undefined) return;
    for (let end = 1; end < path.length; end += 1) {
      const next = path[end];
      if (next === '.' || next === '/' || next === '[') {
        listIn(this.byParentPath, path.slice(0, end)).push(issue);
      }
    }
  }

  /** Whether no record of the import, nor a child of one, is rejected. */
  get empty(): boolean {
    return this.byNumber.size === 0 && this.byParentPath.size === 0;
  }

  /** Whether the record (1-based number, reader's path) is rejected. */
  has(recordNumber: number, path: string): boolean {
    return this.byNumber.has(recordNumber) || this.byParentPath.has(path);
  }

  /**
   * The record's errors, then its children's. A child's
   * `parent_rejected` says nothing its parent's own errors do not.
   */
  issuesOf(recordNumber: number, path: string): LoggedRowIssue[] {
    const children = (this.byParentPath.get(path) ?? []).filter(
      (issue) => issue.code !== 'parent_rejected',
    );
    return [...(this.byNumber.get(recordNumber) ?? []), ...children];
  }
}

function listIn<K>(map: Map<K, LoggedRowIssue[]>, key: K): LoggedRowIssue[] {
  let list = map.get(key);
  if (list === undefined) {
    list = [];
    map.set(key, list);
  }
  return list;
}

/** About this many characters are encoded and sent at a time. */
const chunkChars = 64 * 1024;

/**
 * Text gathered and sent in the output encoding, a chunk at a time.
 * UTF-16 starts with its byte-order mark: only so is it read back
 * reliably.
 */
export class EncodedOutput {
  private pending: string;

  constructor(private readonly encoding: string) {
    this.pending = encoding.startsWith('utf-16') ? '\ufeff' : '';
  }

  write(text: string): void {
    this.pending += text;
  }

  /** A chunk to send once enough text is gathered (or `all`). */
  take(all = false): Buffer | undefined {
    if (this.pending.length === 0) return undefined;
    if (!all && this.pending.length < chunkChars) return undefined;
    const bytes = iconv.encode(this.pending, this.encoding);
    this.pending = '';
    return bytes;
  }
}

/** The line end the document's text uses first; LF when it has none. */
export function lineEndOf(text: string): '\n' | '\r\n' {
  const newline = text.indexOf('\n');
  return newline > 0 && text[newline - 1] === '\r' ? '\r\n' : '\n';
}

// The faults of a file that stops being readable part way (cut short,
// undecodable, inflating past its limit, malformed, hostile). The import
// failed at the same place, after the records it rejected before it.
const unreadableCodes = new Set<string>([
  ErrorCodes.TRUNCATED_FILE,
  ErrorCodes.ENCODING_ERROR,
  ErrorCodes.PAYLOAD_TOO_LARGE,
  ErrorCodes.MALFORMED_FILE,
  ErrorCodes.HOSTILE_XML,
]);

/**
 * A stored file's text up to where it stops being readable: a fix file
 * ends with the records before that place, as a whole document, rather
 * than break off once its response has begun. Other errors (the file
 * store's) still end the response.
 */
export async function* readableText<T extends string | Buffer>(
  chunks: AsyncIterable<T>,
): AsyncGenerator<T> {
  try {
    for await (const chunk of chunks) yield chunk;
  } catch (error) {
    const unreadable =
      error instanceof ImportError && unreadableCodes.has(error.code);
    if (!unreadable) throw error;
  }
}
