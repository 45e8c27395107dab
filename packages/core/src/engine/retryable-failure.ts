import { ErrorCodes, type ImportError } from '../errors/import-error.js';

// SQLSTATE classes of a server or connection in trouble, not of bad data:
// connection exceptions, serialization failures and deadlocks, resources,
// operator intervention (shutdown), system errors.
const retryableSqlStateClasses = new Set(['08', '40', '53', '57', '58']);

const retryableErrnoCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Whether a failure is the infrastructure's (worth another attempt on
 * another delivery) rather than the file's or the definition's (which the
 * next attempt would meet again).
 */
export function isRetryableFailure(error: ImportError): boolean {
  switch (error.code) {
    case ErrorCodes.CANCELLED:
    case ErrorCodes.STORE_ERROR:
    case ErrorCodes.QUEUE_ERROR:
      return true;
    case ErrorCodes.DATABASE_ERROR: {
      const sqlState = error.details.sqlState;
      return typeof sqlState === 'string'
        ? retryableSqlStateClasses.has(sqlState.slice(0, 2))
        : isConnectionFailure(error.cause);
    }
    default:
      return isConnectionFailure(error.cause);
  }
}

function isConnectionFailure(cause: unknown): boolean {
  if (!(cause instanceof Error)) return false;
  const code = (cause as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && retryableErrnoCodes.has(code)) return true;
  // pg reports a dropped connection with a message and no code.
  return /connection terminated|connection.*(closed|ended)/i.test(
    cause.message,
  );
}
