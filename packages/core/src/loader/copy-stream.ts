import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { CoercedRow } from '../coercion/coerced-row.js';
import type { ImportDefinition } from '../definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import { createBufferReturns, socketBacklog } from './buffer-returns.js';
import { copyRefusalError, SentLines } from './copy-refusal.js';
import {
  isEncodedRows,
  type EncodedRows,
  type RowSource,
  type StagedItem,
} from './encoded-rows.js';
import { isChildDefinition } from './merge-sql.js';
import { createRepeatedKeyFilter } from './repeated-keys.js';
import type { PgClientLike } from './pg-client.js';

/**
 * Streams coerced rows into staging tables with `COPY ... FROM STDIN` in
 * PostgreSQL's text format. Values travel only as COPY data, so no
 * statement ever carries a bind parameter per value and the 65,535
 * parameter limit of one statement cannot be reached.
 *
 * One connection runs one COPY at a time, yet a file may interleave rows
 * of several entities (an invoice, its lines, the next invoice). Each
 * entity collects encoded rows in a buffer of about `chunkBytes`; a full
 * buffer goes to its entity's COPY, which stays open while the same entity
 * keeps filling buffers. When another entity's buffer fills, the open COPY
 * ends and that entity's begins. Memory stays near one buffer per entity,
 * and a file of one entity is a single COPY stream with backpressure.
 */

export interface CopyTarget {
  definition: ImportDefinition;
  /** From `buildCopySql`: the staging table and its column list. */
  copySql: string;
  /** The scope columns' values, in PostgreSQL text form, for every row. */
  scopeValues?: readonly string[];
  /** From `keepColumnIndexes`: columns an empty field keeps. */
  keepColumns?: readonly number[];
  /**
   * Rows go straight into the target table (`buildDirectCopySql`): a
   * line holds the tenant, the scope values and the values alone, and a
   * key-only row has no line at all (direct-load.ts).
   */
  direct?: boolean;
}

export interface CopyRowsOptions {
  client: PgClientLike;
  /**
   * Rows, or lines a `RowSource` encoded with these very targets (a
   * parse thread does that, so this thread only forwards text).
   */
  rows: AsyncIterable<StagedItem> | RowSource;
  /** In definition order; a row without an entity goes to the first. */
  targets: readonly CopyTarget[];
  /** The tenant column's value, written into every row that has one. */
  tenant: string;
  /** The size a buffer reaches before it is sent; 256 KiB by default. */
  chunkBytes?: number;
  signal?: AbortSignal;
  /**
   * Stop reading, and end the COPY with what it holds, as soon as a key
   * may have come twice (`CopiedRows.stopped`): a direct load cannot
   * stand then, and the rest of the file would be read for nothing.
   */
  stopWhenKeysMayRepeat?: boolean;
}

export interface CopiedRows {
  /** Rows staged per target, in target order, key-only rows included. */
  staged: number[];
  /** Of those, the key-only rows (records rejected while reading). */
  keyOnly: number[];
  /**
   * Per target, whether a key may have come twice (see repeated-keys.ts);
   * false means it certainly did not, and the dedupe step can be skipped.
   */
  keysMayRepeat: boolean[];
  /** True when `stopWhenKeysMayRepeat` stopped the copy half-way. */
  stopped: boolean;
}

/** The COPY text kept once sent, to name a refused value's record. */
const keptCopyBytes = 2 * 1024 * 1024;

export async function copyRows(options: CopyRowsOptions): Promise<CopiedRows> {
  const { client, targets, tenant, signal } = options;
  const chunkBytes = Math.max(1, options.chunkBytes ?? 256 * 1024);
  const source =
    typeof options.rows === 'function'
      ? options.rows({ targets, tenant })
      : options.rows;
  const iterator = source[Symbol.asyncIterator]();
  const byEntity = new Map(
    targets.map((target, index) => [target.definition.entity, index]),
  );

  const pending = targets.map(() => ({
    parts: [] as Array<string | Uint8Array>,
    // Per part, how its memory goes back to the producer, if it does.
    releases: [] as Array<(() => void) | undefined>,
    length: 0,
    rows: 0,
  }));
  const staged = targets.map(() => 0);
  const keyOnly = targets.map(() => 0);
  // Rows handed to a COPY so far, and what the open COPY sent, to name
  // the record of a value the server refuses (copy-refusal.ts).
  const sent = targets.map(() => 0);
  let sentLines = new SentLines(keptCopyBytes);
  // Encoded rows' buffers, handed back once sent (buffer-returns.ts).
  const returns = createBufferReturns();
  // Whether the open COPY's streams hold nothing unwritten.
  let idle = () => false;
  const filters = targets.map((target) =>
    createRepeatedKeyFilter(target.definition),
  );
  // Encoded rows bring their producer's verdict.
  const encodedMayRepeat = targets.map(() => false);
  let exhausted = false;
  let stopped = false;
  // Set when another entity's buffer fills: the open COPY ends for it.
  let switchTo: number | undefined;

  const take = (index: number): string | Uint8Array => {
    const buffer = pending[index]!;
    const { parts, rows, releases } = buffer;
    buffer.parts = [];
    buffer.releases = [];
    buffer.length = 0;
    buffer.rows = 0;
    const text =
      parts.length === 1
        ? parts[0]!
        : parts.every((part) => typeof part === 'string')
          ? parts.join('')
          : Buffer.concat(
              parts.map((part) =>
                typeof part === 'string' ? Buffer.from(part) : part,
              ),
            );
    sentLines.add(sent[index]! + 1, text);
    sent[index] = sent[index]! + rows;
    // Joined parts are copies: each part's memory is free at once.
    if (parts.length === 1) returns.track(text, releases[0]);
    else for (const release of releases) release?.();
    return text;
  };

  // The body of one COPY: what is pending for `index`, then rows pulled
  // from the source until the source ends or another entity needs the
  // connection.
  async function* chunksFor(
    index: number,
  ): AsyncGenerator<string | Uint8Array> {
    if (pending[index]!.length > 0) yield take(index);
    while (!exhausted) {
      signal?.throwIfAborted();
      returns.settle(idle, (text) => sentLines.keeps(text));
      const next = await iterator.next();
      if (next.done === true) {
        exhausted = true;
        break;
      }

      const row = next.value;
      const target = routeRow(row, byEntity, targets);
      const buffer = pending[target]!;
      let text: string | Uint8Array;
      if (isEncodedRows(row)) {
        checkSequence(row, staged[target]!, targets[target]!);
        staged[target] = staged[target]! + row.count;
        buffer.rows += row.count;
        if (row.keysMayRepeat !== false) encodedMayRepeat[target] = true;
        keyOnly[target] = keyOnly[target]! + (row.keyOnlyCount ?? 0);
        text = row.text;
        buffer.releases.push(row.release);
      } else {
        staged[target] = staged[target]! + 1;
        filters[target]?.add(row.values);
        if (row.keyOnly === true) keyOnly[target] = keyOnly[target]! + 1;
        text = encodeRow(row, staged[target]!, targets[target]!, tenant);
        buffer.rows += 1;
        buffer.releases.push(undefined);
      }
      buffer.parts.push(text);
      buffer.length += text.length;
      if (
        options.stopWhenKeysMayRepeat === true &&
        (encodedMayRepeat[target]! || filters[target]?.mayRepeat !== false)
      ) {
        stopped = true;
        return;
      }

      if (buffer.length >= chunkBytes) {
        if (target === index) {
          yield take(index);
        } else {
          switchTo = target;
          return;
        }
      }
    }
    if (pending[index]!.length > 0) yield take(index);
  }

  const copy = async (index: number): Promise<void> => {
    const firstSeq = sent[index]! + 1;
    sentLines = new SentLines(keptCopyBytes);
    const stream = client.query(copyFrom(targets[index]!.copySql));
    const body = Readable.from(chunksFor(index));
    idle = () =>
      body.readableLength === 0 &&
      stream.writableLength === 0 &&
      socketBacklog(client) === 0;
    try {
      await pipeline(body, stream);
      returns.releaseAll();
    } catch (error) {
      returns.forget();
      // Lines without their staging columns cannot name a record.
      if (targets[index]!.direct === true) throw error;
      const { definition } = targets[index]!;
      const refusal = copyRefusalError(error, {
        definition,
        firstSeq,
        sent: sentLines,
      });
      throw refusal ?? error;
    }
  };

  try {
    // The first entity's COPY opens first; rows then decide.
    let current = 0;
    for (;;) {
      await copy(current);
      if (switchTo === undefined || stopped) break;
      current = switchTo;
      switchTo = undefined;
    }

    // The source is read out: send what other entities still hold.
    for (const [index, buffer] of pending.entries()) {
      if (buffer.length > 0 && !stopped) await copy(index);
    }
    return {
      stopped,
      staged,
      keyOnly,
      keysMayRepeat: targets.map(
        (_, index) =>
          encodedMayRepeat[index]! || (filters[index]?.mayRepeat ?? true),
      ),
    };
  } finally {
    // Let the source release its file when loading stops early.
    if (!exhausted) await iterator.return?.();
  }
}

function routeRow(
  row: StagedItem,
  byEntity: ReadonlyMap<string, number>,
  targets: readonly CopyTarget[],
): number {
  if (row.entity === undefined) return 0;
  const index = byEntity.get(row.entity);
  if (index === undefined) {
    throw new ImportError(
      ErrorCodes.UNKNOWN_ENTITY,
      `a row names entity "${row.entity}", which this import does not ` +
        `write (it writes ${entityList(targets)})`,
      {
        details: {
          entity: row.entity,
          ...(!isEncodedRows(row) && { position: row.position }),
        },
      },
    );
  }
  return index;
}

// Lines encoded elsewhere continue the numbering of what was staged.
function checkSequence(
  rows: EncodedRows,
  staged: number,
  target: CopyTarget,
): void {
  if (rows.firstSeq === staged + 1) return;
  throw new ImportError(
    ErrorCodes.INTERNAL,
    `encoded rows of entity "${target.definition.entity}" start at ` +
      `${rows.firstSeq} where ${staged + 1} was next`,
    { details: { entity: target.definition.entity } },
  );
}

function entityList(targets: readonly CopyTarget[]): string {
  return targets.map((target) => target.definition.entity).join(', ');
}

/**
 * One line of COPY text: `__seq`, `__record`, `__line`, `__path`, the
 * keep flags when columns keep values, the key-only flag, the parent's
 * record number in a child entity, the tenant when the definition has a
 * tenant column, the scope values, then the values.
 */
export function encodeRow(
  row: CoercedRow,
  seq: number,
  target: CopyTarget,
  tenant: string,
): string {
  const { definition } = target;
  if (row.values.length !== definition.columns.length) {
    throw new ImportError(
      ErrorCodes.INTERNAL,
      `a row of entity "${definition.entity}" has ${row.values.length} ` +
        `values where the definition has ${definition.columns.length} columns`,
      { details: { entity: definition.entity, position: row.position } },
    );
  }

  if (target.direct === true) return encodeDirectRow(row, target, tenant);

  const { position } = row;
  let text =
    `${seq}\t${position.recordNumber}\t` +
    `${position.line ?? '\\N'}\t${encodeCopyValue(position.path ?? null)}`;
  const keep = target.keepColumns;
  if (keep !== undefined && keep.length > 0) {
    const kept = new Set(row.kept);
    text += '\t';
    for (const index of keep) text += kept.has(index) ? '1' : '0';
  }
  text += row.keyOnly === true ? '\tt' : '\tf';
  if (isChildDefinition(definition)) {
    text += `\t${row.parentRecord ?? '\\N'}`;
  }
  if (definition.tenantColumn !== undefined) {
    text += `\t${encodeCopyValue(tenant)}`;
  }
  for (const value of target.scopeValues ?? []) {
    text += `\t${encodeCopyValue(value)}`;
  }
  for (const value of row.values) text += `\t${encodeCopyValue(value)}`;
  return `${text}\n`;
}

// The same line without staging's columns; a key-only row stays out.
function encodeDirectRow(
  row: CoercedRow,
  target: CopyTarget,
  tenant: string,
): string {
  if (row.keyOnly === true) return '';
  const fields: string[] = [];
  if (target.definition.tenantColumn !== undefined) {
    fields.push(encodeCopyValue(tenant));
  }
  for (const value of target.scopeValues ?? []) {
    fields.push(encodeCopyValue(value));
  }
  for (const value of row.values) fields.push(encodeCopyValue(value));
  return `${fields.join('\t')}\n`;
}

const copySpecial = /[\\\t\n\r]/;
const copySpecials = /[\\\t\n\r]/g;
const copyEscapes: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
};

/** Characters escaped at once in a long value; see encodeCopyValue. */
const escapeSliceChars = 64 * 1024;

/**
 * A value in COPY text format: NULL is `\N`; a backslash, tab, newline or
 * carriage return is escaped, so a literal `\N` in the data stays text.
 *
 * A long value is escaped a slice at a time: `replace` gathers every
 * match of a value before it joins them, and a record-sized value made
 * of backslashes would take a parse thread's whole heap that way.
 */
export function encodeCopyValue(value: string | null): string {
  if (value === null) return '\\N';
  if (!copySpecial.test(value)) return value;
  if (value.length <= escapeSliceChars) return escapeCopy(value);
  let escaped = '';
  for (let from = 0; from < value.length; from += escapeSliceChars) {
    escaped += escapeCopy(value.slice(from, from + escapeSliceChars));
  }
  return escaped;
}

function escapeCopy(value: string): string {
  return value.replace(copySpecials, (match) => copyEscapes[match]!);
}
