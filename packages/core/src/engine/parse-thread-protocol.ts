import type { ImportDefinition } from '../definitions/import-definition.js';
import {
  ErrorCodes,
  ImportError,
  type ErrorCode,
} from '../errors/import-error.js';
import type { CopyLayout, EncodedRows } from '../loader/encoded-rows.js';
import type { RowIssue } from '../ports/error-log.js';
import type {
  ImportFormat,
  ImportReadOptions,
} from '../ports/import-record.js';
import type { DetectedFormat } from '../readers/record-reader.js';

/**
 * The messages between the engine and a parse thread. The thread pulls
 * the stored file's bytes one chunk at a time (`need` / `input`) and
 * sends back batches of COPY text with the issues and counts of the
 * records they cover. It may have only `credits` batches unconsumed: the
 * engine returns a credit each time the loader takes one, so a thread
 * faster than the database waits instead of filling memory. The memory
 * of a batch comes back (`spare`) once COPY has sent it, and the thread
 * writes a later batch into it.
 */

export interface ParseThreadData {
  importId: string;
  format: ImportFormat;
  definition: ImportDefinition;
  options: ImportReadOptions;
  layout: CopyLayout;
  /** Batches the thread may send ahead of the loader. */
  credits: number;
  /** The COPY text a batch holds before it is sent, in characters. */
  batchChars: number;
}

/** Records read and rejected so far, by entity. */
export type TallySnapshot = Array<
  [entity: string, read: number, rejected: number]
>;

export type ToThread =
  | { type: 'input'; chunk: Uint8Array }
  | { type: 'end' }
  | { type: 'credit' }
  /** A batch's memory, handed back once COPY is done with it. */
  | { type: 'spare'; buffer: ArrayBuffer };

export type FromThread =
  | { type: 'ready' }
  | { type: 'need' }
  | {
      type: 'batch';
      rows: EncodedRows | undefined;
      issues: RowIssue[];
      tally: TallySnapshot;
      detected: DetectedFormat;
    }
  | {
      type: 'done';
      tally: TallySnapshot;
      detected: DetectedFormat;
      busyMs: number;
      /** Batches written into memory the engine handed back (`spare`). */
      reused: number;
    }
  | {
      type: 'failed';
      error: SerializedError;
      /** What was read before the failure, which the error log keeps. */
      issues: RowIssue[];
      tally: TallySnapshot;
      detected: DetectedFormat;
    };

export interface SerializedError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
  cause?: { name: string; message: string };
}

/** An error as it crosses to the engine: code, message, details, cause. */
export function serializeError(error: ImportError): SerializedError {
  const cause = error.cause;
  return {
    code: error.code,
    message: error.message,
    details: cloneableDetails(error.details),
    ...(cause instanceof Error && {
      cause: { name: cause.name, message: cause.message },
    }),
  };
}

export function deserializeError(error: SerializedError): ImportError {
  let cause: Error | undefined;
  if (error.cause) {
    cause = new Error(error.cause.message);
    cause.name = error.cause.name;
  }
  return new ImportError(error.code, error.message, {
    details: error.details,
    ...(cause && { cause }),
  });
}

// Details are plain data by convention; anything else is dropped rather
// than failing the message that carries the real error.
function cloneableDetails(
  details: Record<string, unknown>,
): Record<string, unknown> {
  try {
    return structuredClone(details);
  } catch {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  }
}

export function threadCrashed(reason: string, cause?: unknown): ImportError {
  return new ImportError(
    ErrorCodes.INTERNAL,
    `the parse thread stopped: ${reason}`,
    { cause },
  );
}

/**
 * What a thread's `error` event means for its import. One that reached
 * its heap's ceiling is named as such: the readers' limits are sized so
 * that no record gets it there, so it is the engine's (an operator's)
 * business, but the message says what happened to the file: it was not
 * read, nothing of it applied, and a retry would meet the same.
 */
export function threadFailure(
  error: Error,
  heapMb: number,
  recordsRead: number,
): ImportError {
  if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_OUT_OF_MEMORY') {
    return threadCrashed(error.message, error);
  }
  return new ImportError(
    ErrorCodes.INTERNAL,
    `the parse thread ran out of memory (its heap is capped at ${heapMb} ` +
      `MB) after ${recordsRead} record(s): the file holds more at once ` +
      "than the thread can, within the readers' limits; nothing was applied",
    {
      cause: error,
      details: { reason: 'out_of_memory', heapMb, recordsRead },
    },
  );
}
