/**
 * The one error model of erp-import. Every failure that crosses a package
 * boundary is an `ImportError` with a string code from `ErrorCodes`, and
 * keeps whatever was thrown underneath as `cause` (a pg error keeps its
 * SQLSTATE there). Adapters map their own failures to the same codes.
 */

export const ErrorCodes = {
  // Definitions and requests.
  INVALID_DEFINITION: 'INVALID_DEFINITION',
  UNKNOWN_ENTITY: 'UNKNOWN_ENTITY',
  INVALID_REQUEST: 'INVALID_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  NOT_FOUND: 'NOT_FOUND',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  INVALID_STATE: 'INVALID_STATE',
  IDEMPOTENCY_CONFLICT: 'IDEMPOTENCY_CONFLICT',
  /** The request is valid, but this version cannot answer it yet. */
  NOT_IMPLEMENTED: 'NOT_IMPLEMENTED',

  // Files that cannot be read as a whole.
  UNSUPPORTED_FORMAT: 'UNSUPPORTED_FORMAT',
  ENCODING_ERROR: 'ENCODING_ERROR',
  MALFORMED_FILE: 'MALFORMED_FILE',
  TRUNCATED_FILE: 'TRUNCATED_FILE',
  MISSING_COLUMNS: 'MISSING_COLUMNS',
  UNKNOWN_COLUMNS: 'UNKNOWN_COLUMNS',
  HOSTILE_XML: 'HOSTILE_XML',
  EMPTY_FILE: 'EMPTY_FILE',
  FILE_MISSING: 'FILE_MISSING',

  // Loading.
  DATABASE_ERROR: 'DATABASE_ERROR',
  TOO_MANY_REJECTS: 'TOO_MANY_REJECTS',
  ALREADY_APPLIED: 'ALREADY_APPLIED',
  /** The target table is missing, or lacks a column the definition names. */
  TARGET_TABLE_MISMATCH: 'TARGET_TABLE_MISMATCH',
  /** A sync would delete more of its scope than the definition allows. */
  SYNC_BRAKE: 'SYNC_BRAKE',
  /**
   * A sync would delete rows while records it rejected have no readable
   * key: any of the deleted rows could be one the file still holds.
   */
  SYNC_UNSAFE: 'SYNC_UNSAFE',
  /** The export is older than one already applied for the entity. */
  STALE_EXPORT: 'STALE_EXPORT',
  /** A revert would undo rows a later import changed. */
  REVERT_CONFLICT: 'REVERT_CONFLICT',

  // The worker.
  WORKER_LOST: 'WORKER_LOST',
  CANCELLED: 'CANCELLED',
  QUEUE_ERROR: 'QUEUE_ERROR',
  STORE_ERROR: 'STORE_ERROR',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface ImportErrorOptions {
  cause?: unknown;
  /** Machine-readable context (a column name, a limit, an SQLSTATE...). */
  details?: Record<string, unknown>;
}

export class ImportError extends Error {
  override readonly name = 'ImportError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: ImportErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /** A plain object fit for a status record or a log line. */
  toJSON(): {
    code: ErrorCode;
    message: string;
    details: Record<string, unknown>;
  } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isImportError(value: unknown): value is ImportError {
  return value instanceof ImportError;
}

/** The SQLSTATE of a pg error, when `value` is one. */
export function sqlStateOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const code = (value as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)
    ? code
    : undefined;
}

/**
 * Turns anything thrown into an ImportError. Database errors keep their
 * SQLSTATE in `details.sqlState` and the original in `cause`.
 */
export function toImportError(
  value: unknown,
  fallback: ErrorCode = ErrorCodes.INTERNAL,
): ImportError {
  if (value instanceof ImportError) return value;

  const sqlState = sqlStateOf(value);
  if (sqlState !== undefined) {
    const message = value instanceof Error ? value.message : String(value);
    return new ImportError(ErrorCodes.DATABASE_ERROR, message, {
      cause: value,
      details: { sqlState },
    });
  }

  const message = value instanceof Error ? value.message : String(value);
  return new ImportError(fallback, message, { cause: value });
}
