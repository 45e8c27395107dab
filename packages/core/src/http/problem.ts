import { ErrorCodes, type ErrorCode } from '../errors/import-error.js';
import type { Problem } from './schemas.js';

/**
 * Errors on the wire: RFC 9457 problem details whose `code` is the
 * ImportError code and whose status follows from it. Kept apart from the
 * router so the SDK can read the same table.
 */
export const problemContentType = 'application/problem+json';

const statusByCode: Partial<Record<ErrorCode, number>> = {
  [ErrorCodes.INVALID_REQUEST]: 400,
  [ErrorCodes.UNAUTHORIZED]: 401,
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.INVALID_STATE]: 409,
  [ErrorCodes.IDEMPOTENCY_CONFLICT]: 409,
  [ErrorCodes.PAYLOAD_TOO_LARGE]: 413,
  // The stored file of an import is gone (retention): the fix file is too.
  [ErrorCodes.FILE_MISSING]: 410,
  [ErrorCodes.REVERT_CONFLICT]: 409,
  [ErrorCodes.NOT_IMPLEMENTED]: 501,
  [ErrorCodes.UNSUPPORTED_FORMAT]: 415,
  // The request is well formed but names an entity the host does not take.
  [ErrorCodes.UNKNOWN_ENTITY]: 422,
};

const titleByStatus: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** The HTTP status an error code answers with; 500 for the rest. */
export function statusForCode(code: string): number {
  return statusByCode[code as ErrorCode] ?? 500;
}

/** `urn:erp-import:problem:not-found` for NOT_FOUND. */
export function problemTypeFor(code: string): string {
  return `urn:erp-import:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

export interface ProblemInput {
  code: string;
  detail?: string;
  /** Defaults to the code's status. */
  status?: number;
  instance?: string;
  issues?: Problem['issues'];
  /** Further members, such as the limit that was exceeded. */
  extras?: Record<string, unknown>;
}

export function createProblem(input: ProblemInput): Problem {
  const status = input.status ?? statusForCode(input.code);
  return {
    ...input.extras,
    type: problemTypeFor(input.code),
    title: titleByStatus[status] ?? 'Error',
    status,
    code: input.code,
    ...(input.detail !== undefined && { detail: input.detail }),
    ...(input.instance !== undefined && { instance: input.instance }),
    ...(input.issues !== undefined && { issues: input.issues }),
  };
}
