import type { ImportDefinition } from '../definitions/import-definition.js';
import { ErrorCodes, ImportError, sqlStateOf } from '../errors/import-error.js';

/**
 * A value PostgreSQL refuses inside the staging COPY. The column types are
 * built so that this does not happen (a value they accept is one the
 * server reads), but when one slips through, COPY stops, and on
 * PostgreSQL 15 and 16 it cannot skip the row: the import fails. This
 * names the record for that failure instead of leaving a bare database
 * error. The server's CONTEXT says `COPY <table>, line N, column c`, N
 * counted from the start of that COPY; each staged line begins with its
 * `__seq`, `__record`, `__line` and `__path`.
 *
 * The server reports a refusal while the client has sent on, by as much
 * as the sockets buffer (megabytes), so `SentLines` keeps the text of the
 * latest buffers for an exact answer and, for older ones, where each
 * buffer began: the record is then named by a range of lines.
 *
 * TODO: an exact line for a refusal the server reports after more than
 * the kept text was sent would need each staged row's position kept (a
 * cost per row) or a second read of the file; a range is what bounded
 * memory gives.
 */

/** Data exceptions (bad values) and program limits (nesting too deep). */
const valueRefusalClasses = new Set(['22', '54']);

// Buffer starts kept for ranges: 4096 buffers of 256 KiB reach 1 GiB.
const maxStarts = 4096;

const copyContext = /COPY [^\n]*?, line (\d+)(?:, column ([^:\n]+))?/;

export interface StagedPosition {
  recordNumber: number;
  line?: number;
  path?: string;
}

interface SentBuffer {
  firstSeq: number;
  first: StagedPosition | undefined;
  text?: string | Uint8Array;
}

/**
 * What one COPY sent: where each buffer began (every other one once there
 * are many, so memory stays bounded and the ranges widen) and the text of
 * the latest buffers.
 */
export class SentLines {
  private buffers: SentBuffer[] = [];
  private keptBytes = 0;
  private oldestKept = 0;

  constructor(private readonly keepBytes: number) {}

  add(firstSeq: number, text: string | Uint8Array): void {
    this.buffers.push({ firstSeq, first: positionAt(text, 0), text });
    this.keptBytes += text.length;
    while (
      this.oldestKept < this.buffers.length - 1 &&
      this.keptBytes > this.keepBytes
    ) {
      const oldest = this.buffers[this.oldestKept++]!;
      this.keptBytes -= oldest.text!.length;
      delete oldest.text;
    }
    if (this.oldestKept > maxStarts) {
      const starts = this.buffers
        .slice(0, this.oldestKept)
        .filter((_, index) => index % 2 === 0);
      this.buffers = [...starts, ...this.buffers.slice(this.oldestKept)];
      this.oldestKept = starts.length;
    }
  }

  /** Whether the text of `text`'s buffer is still kept. */
  keeps(text: string | Uint8Array): boolean {
    for (let index = this.oldestKept; index < this.buffers.length; index++) {
      if (this.buffers[index]!.text === text) return true;
    }
    return false;
  }

  /** The record of `seq`, or the first records of its buffer and the next. */
  locate(
    seq: number,
  ):
    | { exact: StagedPosition }
    | { from: StagedPosition; before?: StagedPosition }
    | undefined {
    let index = this.buffers.length - 1;
    while (index >= 0 && this.buffers[index]!.firstSeq > seq) index--;
    const buffer = this.buffers[index];
    if (buffer === undefined) return undefined;
    const start =
      buffer.text === undefined
        ? -1
        : lineStart(buffer.text, seq - buffer.firstSeq);
    const exact =
      start === -1 ? undefined : positionAt(buffer.text!, start, seq);
    if (exact !== undefined) return { exact };
    if (buffer.first === undefined) return undefined;
    const next = this.buffers[index + 1]?.first;
    return { from: buffer.first, ...(next !== undefined && { before: next }) };
  }
}

export interface RefusedCopy {
  definition: ImportDefinition;
  /** The `__seq` of the COPY's first line. */
  firstSeq: number;
  sent: SentLines;
}

/**
 * The ImportError for a COPY that failed on a value, naming its record;
 * undefined when `error` is not such a failure (a lost connection, say).
 */
export function copyRefusalError(
  error: unknown,
  copy: RefusedCopy,
): ImportError | undefined {
  const sqlState = sqlStateOf(error);
  if (sqlState === undefined) return undefined;
  if (!valueRefusalClasses.has(sqlState.slice(0, 2))) return undefined;
  const where = (error as { where?: unknown }).where;
  const context = typeof where === 'string' ? copyContext.exec(where) : null;
  if (context === null) return undefined;

  const seq = copy.firstSeq + Number(context[1]) - 1;
  const column = context[2];
  const located = copy.sent.locate(seq);
  const entity = copy.definition.entity;
  const reason = error instanceof Error ? error.message : String(error);
  const detail = (error as { detail?: unknown }).detail;
  return new ImportError(
    ErrorCodes.DATABASE_ERROR,
    `PostgreSQL refused a value its column type had accepted, at ` +
      `${describe(located, seq)} of entity "${entity}"` +
      (column === undefined ? '' : `, column "${column}"`) +
      `: ${reason}` +
      (typeof detail === 'string' ? ` (${detail})` : '') +
      '; nothing was applied',
    {
      cause: error,
      details: {
        sqlState,
        entity,
        stagedRow: seq,
        ...(column !== undefined && { column }),
        ...(located !== undefined && 'exact' in located && located.exact),
      },
    },
  );
}

function describe(
  located: ReturnType<SentLines['locate']>,
  seq: number,
): string {
  if (located === undefined) return `staged row ${seq}`;
  if ('exact' in located) {
    const { line, path, recordNumber } = located.exact;
    const record = `record ${recordNumber}`;
    if (line !== undefined) return `line ${line} (${record})`;
    return path === undefined ? record : `${path} (${record})`;
  }
  // An older buffer: the records from its first to the next one's.
  const { from, before } = located;
  const [unit, start, next] =
    from.line !== undefined
      ? ['line', from.line, before?.line]
      : ['record', from.recordNumber, before?.recordNumber];
  const range =
    next === undefined
      ? `from ${unit} ${start} on`
      : `between ${unit}s ${start} and ${next - 1}`;
  return `one of the records ${range} (staged row ${seq})`;
}

// Where the line `skip` lines after the start of `text` begins, or -1.
function lineStart(text: string | Uint8Array, skip: number): number {
  const bytes = typeof text === 'string' ? undefined : asBuffer(text);
  let start = 0;
  for (let left = skip; left > 0; left--) {
    const newline =
      bytes === undefined
        ? (text as string).indexOf('\n', start)
        : bytes.indexOf(0x0a, start);
    if (newline === -1) return -1;
    start = newline + 1;
  }
  return start < text.length ? start : -1;
}

// `__seq`, `__record`, `__line` and `__path` of the line at `start`.
function positionAt(
  text: string | Uint8Array,
  start: number,
  seq?: number,
): StagedPosition | undefined {
  const fields: string[] = [];
  const bytes = typeof text === 'string' ? undefined : asBuffer(text);
  let at = start;
  while (fields.length < 4) {
    const tab =
      bytes === undefined
        ? (text as string).indexOf('\t', at)
        : bytes.indexOf(0x09, at);
    if (tab === -1) return undefined;
    fields.push(
      bytes === undefined
        ? (text as string).slice(at, tab)
        : bytes.toString('utf8', at, tab),
    );
    at = tab + 1;
  }
  const [staged, record, line, path] = fields as [
    string,
    string,
    string,
    string,
  ];
  if (seq !== undefined && Number(staged) !== seq) return undefined;
  return {
    recordNumber: Number(record),
    ...(line !== '\\N' && { line: Number(line) }),
    ...(path !== '\\N' && { path: unescapeCopyText(path) }),
  };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const copyEscapes: Record<string, string> = { t: '\t', n: '\n', r: '\r' };

function unescapeCopyText(text: string): string {
  return text.replace(/\\(.)/g, (_, next: string) => copyEscapes[next] ?? next);
}
