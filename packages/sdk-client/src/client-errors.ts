import type { Problem } from '@erp-import/core/contract';

/**
 * The server answered, and the answer is an error: its problem+json
 * (RFC 9457) is kept whole, with the members a caller branches on lifted
 * out. A body that is not problem+json (a proxy's HTML page, say) is
 * turned into a problem with the code `HTTP_<status>`, and a success body
 * that does not match the contract into one with `INVALID_RESPONSE`.
 */
export class ErpImportApiError extends Error {
  override readonly name = 'ErpImportApiError';
  readonly status: number;
  /** The server's error code: `NOT_FOUND`, `UNKNOWN_ENTITY`... */
  readonly code: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly problem: Problem;
  /** From a `Retry-After` header, when the server sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(
    problem: Problem,
    options: { retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(
      `${problem.status} ${problem.title}` +
        (problem.detail ? `: ${problem.detail}` : ''),
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.status = problem.status;
    this.code = problem.code;
    this.title = problem.title;
    this.detail = problem.detail;
    this.problem = problem;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * Why no answer came: the server could not be reached (nothing was
 * sent), the connection broke after the request started, or no answer
 * came within the timeout.
 */
export type NetworkErrorCode = 'UNREACHABLE' | 'CONNECTION_LOST' | 'TIMEOUT';

export class ErpImportNetworkError extends Error {
  override readonly name = 'ErpImportNetworkError';
  readonly code: NetworkErrorCode;
  readonly method: string;
  readonly url: string;

  constructor(
    code: NetworkErrorCode,
    request: { method: string; url: string },
    options: { cause?: unknown; timeoutMs?: number } = {},
  ) {
    super(
      `${request.method} ${request.url}: ${describe(code, options.timeoutMs)}`,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.code = code;
    this.method = request.method;
    this.url = request.url;
  }
}

function describe(code: NetworkErrorCode, timeoutMs?: number): string {
  switch (code) {
    case 'UNREACHABLE':
      return 'the server could not be reached';
    case 'CONNECTION_LOST':
      return 'the connection was lost before the answer';
    case 'TIMEOUT':
      return `no answer within ${timeoutMs ?? '?'} ms`;
  }
}

export function isErpImportApiError(
  error: unknown,
): error is ErpImportApiError {
  return error instanceof ErpImportApiError;
}

export function isErpImportNetworkError(
  error: unknown,
): error is ErpImportNetworkError {
  return error instanceof ErpImportNetworkError;
}
