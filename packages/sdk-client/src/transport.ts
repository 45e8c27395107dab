import { problemSchema, type Problem } from '@erp-import/core/contract';
import type { z } from 'zod';
import type { ByteSource } from './byte-source.js';
import {
  ErpImportApiError,
  ErpImportNetworkError,
  type NetworkErrorCode,
} from './client-errors.js';
import {
  backoffDelay,
  isRetryableStatus,
  parseRetryAfter,
  type RetryOptions,
} from './retry-policy.js';
import { sleep } from './sleep.js';

/**
 * Sends one request of the API with everything around it: the bearer
 * token, a timeout per attempt, the caller's AbortSignal, retries with
 * backoff, and the answer checked against the contract's schema.
 */
export interface TransportOptions {
  baseUrl: string;
  token: TokenSource;
  fetch: typeof fetch;
  retry: RetryOptions;
  timeoutMs: number;
  onRetry?: ((event: RetryEvent) => void) | undefined;
}

/** A fixed token, or a function asked before every attempt. */
export type TokenSource = string | (() => string | Promise<string>);

export interface RetryEvent {
  method: string;
  url: string;
  /** The attempt about to be made: 2 for the first retry. */
  attempt: number;
  delayMs: number;
  /** Why the previous attempt failed. */
  error: ErpImportApiError | ErpImportNetworkError;
}

export interface UploadProgress {
  /** Bytes of the file handed to the connection in this attempt. */
  bytesSent: number;
  /** The file's size, when known before sending. */
  bytesTotal: number | null;
  /** 1 for the first attempt; a retry starts counting again from 0. */
  attempt: number;
}

export interface TransportRequest {
  method: 'GET' | 'POST';
  path: string;
  query?: Readonly<Record<string, string | number | undefined>>;
  headers?: Readonly<Record<string, string>>;
  accept?: string;
  /** Whether sending it twice does no harm (GETs, keyed uploads). */
  idempotent: boolean;
  upload?: {
    source: ByteSource;
    gzip: boolean;
    onProgress?: ((progress: UploadProgress) => void) | undefined;
  };
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

export interface Transport {
  /** Sends, and parses the JSON answer with `schema`. */
  json<S extends z.ZodType>(
    request: TransportRequest,
    schema: S,
  ): Promise<z.output<S>>;
  /** Sends, and hands back the answer's body as it arrives. */
  stream(request: TransportRequest): Promise<ReadableStream<Uint8Array>>;
}

export function createTransport(options: TransportOptions): Transport {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  let requestStreams: boolean | undefined;

  async function send<T>(
    request: TransportRequest,
    read: (response: Response, attempt: Attempt) => Promise<T>,
  ): Promise<T> {
    const url = urlOf(baseUrl, request);
    const timeoutMs = request.timeoutMs ?? options.timeoutMs;
    const { retry } = options;

    try {
      for (let number = 1; ; number++) {
        request.signal?.throwIfAborted();
        const attempt = new Attempt(request.signal, timeoutMs);
        let failure: Failure;
        let sourceError: unknown;

        // One attempt: send, then read the answer under the same timer.
        try {
          const body = request.upload
            ? await uploadBody(request.upload, attempt, number, (error) => {
                sourceError = error;
              })
            : undefined;
          const response = await options.fetch(url, {
            method: request.method,
            headers: await headersOf(request, options.token),
            signal: attempt.signal,
            ...(body !== undefined && uploadInit(body)),
          } as RequestInit);

          if (body !== undefined && !(body instanceof ReadableStream)) {
            // Sent whole by the runtime: the answer is the only news.
            const size = request.upload?.source.size ?? null;
            request.upload?.onProgress?.({
              bytesSent: size ?? 0,
              bytesTotal: size,
              attempt: number,
            });
          }
          if (response.ok) return await read(response, attempt);
          const error = await apiErrorOf(response);
          failure = {
            error,
            retryable: isRetryableStatus(response.status, request.idempotent),
            retryAfterMs: error.retryAfterMs,
          };
        } catch (thrown) {
          if (request.signal?.aborted) throw request.signal.reason;
          if (sourceError !== undefined) throw sourceError;
          if (thrown instanceof ErpImportApiError) throw thrown;
          const code = attempt.timedOut ? 'TIMEOUT' : networkCodeOf(thrown);
          failure = {
            error: new ErpImportNetworkError(
              code,
              { method: request.method, url },
              { cause: thrown, timeoutMs },
            ),
            // Nothing reached the server when it could not be reached.
            retryable: request.idempotent || code === 'UNREACHABLE',
            retryAfterMs: undefined,
          };
        } finally {
          attempt.dispose();
        }

        // Decide whether another attempt is worth it, and wait for it.
        const delayMs = failure.retryAfterMs ?? backoffDelay(number, retry);
        const again =
          failure.retryable &&
          number <= retry.retries &&
          delayMs <= retry.maxDelayMs &&
          (request.upload?.source.canReopen() ?? true);
        if (!again) throw failure.error;
        options.onRetry?.({
          method: request.method,
          url,
          attempt: number + 1,
          delayMs,
          error: failure.error,
        });
        await sleep(delayMs, request.signal);
      }
    } finally {
      await request.upload?.source.close().catch(() => undefined);
    }
  }

  /**
   * The body of one upload attempt. On Node it always streams, counted
   * as fetch pulls it. Browsers send a Blob or a byte array by themselves
   * (from disk, for a File), which works everywhere but tells no progress
   * until the answer. Other bodies stream where fetch can (Chromium, over
   * HTTP/2), and are collected into a Blob first where it cannot.
   */
  async function uploadBody(
    upload: NonNullable<TransportRequest['upload']>,
    attempt: Attempt,
    number: number,
    onSourceError: (error: unknown) => void,
  ): Promise<ReadableStream<Uint8Array> | Blob | Uint8Array> {
    const whole = upload.source.whole;
    if (!upload.gzip && whole && !isNode()) return whole.call(upload.source);

    let bytesSent = 0;
    let stream = counted(upload.source.open(), {
      // A server may answer before the body's end (a 413 past its limit)
      // and read on so that the answer arrives whole; once it is in, the
      // rest is not worth sending.
      isOver: () => attempt.over,
      onChunk(size) {
        bytesSent += size;
        // An upload that moves is not idle: its timeout starts again.
        attempt.touch();
        upload.onProgress?.({
          bytesSent,
          bytesTotal: upload.source.size,
          attempt: number,
        });
      },
      onError: onSourceError,
    });
    if (upload.gzip) stream = gzipped(stream);

    requestStreams ??= supportsRequestStreams();
    if (requestStreams) return stream;
    // TODO: this holds the whole body in memory (or the browser's blob
    // store); it is the only way to send a stream or a gzipped body on
    // runtimes without request streams (Firefox, Safari). And Chromium
    // says it streams but refuses to over HTTP/1.1, where such uploads
    // fail: there is no test for that short of trying.
    return new Response(stream).blob();
  }

  return {
    json(request, schema) {
      return send(request, async (response) => {
        const text = await response.text();
        const parsed = schema.safeParse(parseJson(text));
        if (!parsed.success) {
          throw invalidResponse(response.status, parsed.error.message);
        }
        return parsed.data;
      });
    },
    stream(request) {
      return send(request, async (response, attempt) => {
        // The body may take long to read; only the caller's signal ends it.
        attempt.stopTimer();
        attempt.keepSignal();
        return response.body ?? emptyStream();
      });
    },
  };
}

/**
 * Fetch options for an upload. Node's fetch streams a request body only
 * in half duplex. And unless redirects are refused and no window is
 * named, it clones the request for a redirect it might follow: the clone
 * tees the body, and the branch nobody reads keeps every chunk, so the
 * whole file would end up in memory. A redirected upload could not be
 * replayed anyway.
 */
function uploadInit(body: ReadableStream<Uint8Array> | Blob | Uint8Array) {
  return {
    body,
    redirect: 'error' as const,
    window: null,
    ...(body instanceof ReadableStream && { duplex: 'half' as const }),
  };
}

interface Failure {
  error: ErpImportApiError | ErpImportNetworkError;
  retryable: boolean;
  retryAfterMs: number | undefined;
}

/**
 * One attempt's signal: aborted by the caller's signal or by the
 * timeout, whichever comes first. The timeout restarts on `touch`.
 */
class Attempt {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal | undefined;
  readonly #timeoutMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #keepSignal = false;
  timedOut = false;
  /** The answer came, or the attempt failed: nothing more is sent. */
  over = false;

  constructor(caller: AbortSignal | undefined, timeoutMs: number) {
    this.#caller = caller;
    this.#timeoutMs = timeoutMs;
    caller?.addEventListener('abort', this.#onCallerAbort, { once: true });
    this.touch();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  touch(): void {
    if (this.over) return;
    if (this.#timeoutMs <= 0 || !Number.isFinite(this.#timeoutMs)) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.#controller.abort(new Error('timeout'));
    }, this.#timeoutMs);
  }

  stopTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A streamed answer outlives the attempt; the caller may still abort. */
  keepSignal(): void {
    this.#keepSignal = true;
  }

  dispose(): void {
    this.over = true;
    this.stopTimer();
    if (!this.#keepSignal) {
      this.#caller?.removeEventListener('abort', this.#onCallerAbort);
    }
  }

  #onCallerAbort = () => {
    this.#controller.abort(this.#caller?.reason);
  };
}

function urlOf(baseUrl: string, request: TransportRequest): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(request.query ?? {})) {
    if (value !== undefined) search.set(name, String(value));
  }
  const query = search.toString();
  return `${baseUrl}${request.path}${query === '' ? '' : `?${query}`}`;
}

async function headersOf(
  request: TransportRequest,
  token: TokenSource,
): Promise<Record<string, string>> {
  const bearer = typeof token === 'function' ? await token() : token;
  return {
    accept: request.accept ?? 'application/json',
    ...(bearer !== '' && { authorization: `Bearer ${bearer}` }),
    ...request.headers,
  };
}

/**
 * Counts the chunks fetch pulls; a failing source is reported apart. An
 * attempt that is over (its answer came) stops the body.
 */
function counted(
  source: ReadableStream<Uint8Array>,
  hooks: {
    isOver(): boolean;
    onChunk(size: number): void;
    onError(error: unknown): void;
  },
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (hooks.isOver()) {
          await reader.cancel().catch(() => undefined);
          controller.error(new Error('the server answered before the end'));
          return;
        }
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (error) {
          hooks.onError(error);
          throw error;
        }
        if (next.done) {
          controller.close();
          return;
        }
        hooks.onChunk(next.value.byteLength);
        controller.enqueue(next.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    // Pull only when fetch asks, so the count is what left, not what waits.
    { highWaterMark: 0 },
  );
}

// Node 18 and later, Electron and current browsers all have
// CompressionStream, so the client needs no zlib of its own.
function gzipped(stream: ReadableStream<Uint8Array>) {
  if (typeof CompressionStream === 'undefined') {
    throw new TypeError('gzip needs CompressionStream, which is missing here');
  }
  return stream.pipeThrough(
    new CompressionStream('gzip') as unknown as ReadableWritablePair<
      Uint8Array,
      Uint8Array
    >,
  );
}

// Node's fetch (undici) streams request bodies over any connection.
function isNode(): boolean {
  const process = (globalThis as { process?: { versions?: { node?: string } } })
    .process;
  return typeof process?.versions?.node === 'string';
}

// The feature test browsers document: a runtime that streams request
// bodies asks for `duplex` and does not turn the stream into text.
function supportsRequestStreams(): boolean {
  try {
    let duplexAsked = false;
    const request = new Request('http://localhost/', {
      method: 'POST',
      body: new ReadableStream(),
      get duplex() {
        duplexAsked = true;
        return 'half';
      },
    } as RequestInit);
    return duplexAsked && !request.headers.has('content-type');
  } catch {
    return false;
  }
}

async function apiErrorOf(response: Response): Promise<ErpImportApiError> {
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
  const text = await response.text().catch(() => '');
  const parsed = problemSchema.safeParse(parseJson(text));
  const problem: Problem = parsed.success
    ? parsed.data
    : {
        type: 'about:blank',
        title: response.statusText || `HTTP ${response.status}`,
        status: response.status,
        code: `HTTP_${response.status}`,
        ...(text !== '' && { detail: text.slice(0, 500) }),
      };
  return new ErpImportApiError(
    problem,
    retryAfterMs === undefined ? {} : { retryAfterMs },
  );
}

function invalidResponse(status: number, detail: string): ErpImportApiError {
  return new ErpImportApiError({
    type: 'urn:erp-import:problem:invalid-response',
    title: 'Invalid Response',
    status,
    code: 'INVALID_RESPONSE',
    detail: `the answer does not match the API contract: ${detail}`,
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// Connection errors carry a code on the error or its cause (Node's fetch
// wraps them in a TypeError). These mean no byte reached the server.
const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function networkCodeOf(error: unknown): NetworkErrorCode {
  const codes: string[] = [];
  for (let at = error, depth = 0; at && depth < 5; depth++) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    // AggregateError: a host name with several addresses, all refused.
    for (const inner of (at as { errors?: unknown[] }).errors ?? []) {
      const innerCode = (inner as { code?: unknown }).code;
      if (typeof innerCode === 'string') codes.push(innerCode);
    }
    at = (at as { cause?: unknown }).cause;
  }
  // A browser says only "Failed to fetch"; most often the server is down.
  if (codes.length === 0) return 'UNREACHABLE';
  return codes.some((code) => unreachableCodes.has(code))
    ? 'UNREACHABLE'
    : 'CONNECTION_LOST';
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}
