import {
  routePath,
  routes,
  type Entity,
  type Health,
  type ImportErrorPage,
  type ImportErrorsQuery,
  type ImportFormat,
  type ImportListPageBody,
  type ImportState,
  type ListImportsQuery,
  type PublicImportRecord,
  type RowIssueBody,
} from '@erp-import/core/contract';
import { z } from 'zod';
import {
  oneShotSource,
  repeatableSource,
  type ByteSource,
} from './byte-source.js';
import { formatFromFileName, isGzipFileName } from './file-format.js';
import {
  encodeRecords,
  type RecordsFormat,
  type RecordsSource,
} from './records-encoding.js';
import { defaultRetryOptions, type RetryOptions } from './retry-policy.js';
import { sleep } from './sleep.js';
import {
  createTransport,
  type RetryEvent,
  type TokenSource,
  type TransportRequest,
  type UploadProgress,
} from './transport.js';

export interface ClientOptions {
  /** Where the import API is mounted: `https://erp.example.com/api`. */
  baseUrl: string;
  /** The bearer token, or a function asked for it before each attempt. */
  token: TokenSource;
  /** The fetch to use; the runtime's own by default. */
  fetch?: typeof fetch;
  /** Retries on network errors, 408, 429 and 5xx; see RetryOptions. */
  retry?: Partial<RetryOptions>;
  /**
   * How long one attempt may wait for its answer, 30 s by default; while
   * an upload is sending, how long it may stand still. 0 waits forever.
   */
  timeoutMs?: number;
  /** Told before each retry: for logs, or a "reconnecting" hint. */
  onRetry?: (event: RetryEvent) => void;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** This request's timeout, instead of the client's. */
  timeoutMs?: number;
}

export interface UploadOptions extends RequestOptions {
  /** Recorded on the import; a path's or File's own name by default. */
  fileName?: string;
  /**
   * Names this upload for the server: every retry sends the same key, and
   * the server answers a key it knows with the import it made the first
   * time. A random UUID when left out; pass your own to survive a restart
   * of your program.
   */
  idempotencyKey?: string;
  /** Compress while sending (Content-Encoding: gzip); not .gz files. */
  gzip?: boolean;
  /** Called as the bytes leave; starts from 0 again on a retry. */
  onUploadProgress?: (progress: UploadProgress) => void;
}

export interface CreateImportOptions<File> extends UploadOptions {
  entity: string;
  file: File;
  /** From the file name's extension when left out; otherwise csv. */
  format?: ImportFormat;
  /** The file's text encoding; the server detects it when left out. */
  encoding?: string;
  /** The CSV delimiter; the server detects it when left out. */
  delimiter?: string;
}

export interface CreateFromRecordsOptions extends UploadOptions {
  /** csv by default. */
  format?: RecordsFormat;
  /** CSV columns, in order; the first record's keys when left out. */
  columns?: readonly string[];
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Time between polls; 1 s by default. */
  intervalMs?: number;
  /** Called with the record after every poll, the final one included. */
  onProgress?: (record: PublicImportRecord) => void;
}

/** `GET /imports/:id/errors` as pages; `format` is the CSV download's. */
export type ErrorPagesQuery = Omit<ImportErrorsQuery, 'format'>;

export interface ImportsApi<File> {
  /** Uploads a file, streamed, and answers its queued import. */
  create(options: CreateImportOptions<File>): Promise<PublicImportRecord>;
  /** Streams records as a CSV or NDJSON upload; nothing touches disk. */
  createFromRecords(
    entity: string,
    records: RecordsSource,
    options?: CreateFromRecordsOptions,
  ): Promise<PublicImportRecord>;
  get(id: string, options?: RequestOptions): Promise<PublicImportRecord>;
  /** One page, newest first; pass `nextCursor` as `cursor` for the next. */
  list(
    query?: ListImportsQuery,
    options?: RequestOptions,
  ): Promise<ImportListPageBody>;
  /** Every import the query matches, page after page. */
  listAll(
    query?: Omit<ListImportsQuery, 'cursor'>,
    options?: RequestOptions,
  ): AsyncIterable<PublicImportRecord>;
  /** Polls until the import is completed, failed or cancelled. */
  wait(id: string, options?: WaitOptions): Promise<PublicImportRecord>;
  /** One page of rejected rows and warnings. */
  errorPage(
    id: string,
    query?: ErrorPagesQuery,
    options?: RequestOptions,
  ): Promise<ImportErrorPage>;
  /** Every page of rejected rows and warnings, fetched as you iterate. */
  errors(
    id: string,
    query?: ErrorPagesQuery,
    options?: RequestOptions,
  ): AsyncIterable<ImportErrorPage>;
  /** Every rejected row and warning, one by one. */
  errorRows(
    id: string,
    query?: ErrorPagesQuery,
    options?: RequestOptions,
  ): AsyncIterable<RowIssueBody>;
  /**
   * Every entry as CSV, streamed as the server writes it. Node can
   * `for await` the stream or hand it to `Readable.fromWeb`.
   */
  errorsCsv(
    id: string,
    options?: RequestOptions,
  ): Promise<ReadableStream<Uint8Array>>;
  /** Cancels a queued import. */
  cancel(id: string, options?: RequestOptions): Promise<PublicImportRecord>;
  /** Queues a failed import again. */
  retry(id: string, options?: RequestOptions): Promise<PublicImportRecord>;
  /** Undoes a completed import from its before-images. */
  revert(id: string, options?: RequestOptions): Promise<PublicImportRecord>;
  /**
   * The rejected records in the file's own format, encoding and column
   * order, with their errors in added columns: correct and upload again.
   */
  fixFile(
    id: string,
    options?: RequestOptions,
  ): Promise<ReadableStream<Uint8Array>>;
}

export interface ErpImportClient<File> {
  readonly imports: ImportsApi<File>;
  readonly entities: {
    /** The entities the server takes, with their columns. */
    list(options?: RequestOptions): Promise<Entity[]>;
  };
  /** Answers while the server runs; needs no token. */
  health(options?: RequestOptions): Promise<Health>;
  /** The API's OpenAPI 3.1 document. */
  openApi(options?: RequestOptions): Promise<OpenApiDocument>;
}

export type OpenApiDocument = z.output<typeof openApiDocumentSchema>;

/** The states an import does not leave. */
export const finalImportStates = [
  'completed',
  'failed',
  'cancelled',
  'reverted',
] as const satisfies readonly ImportState[];

export function isFinalImportState(state: ImportState): boolean {
  return (finalImportStates as readonly ImportState[]).includes(state);
}

/** What differs between runtimes: which files they can open. */
export interface ClientPlatform<File> {
  byteSource(file: File): Promise<ByteSource> | ByteSource;
  randomUUID(): string;
}

const openApiDocumentSchema = z.looseObject({
  openapi: z.string(),
  paths: z.record(z.string(), z.unknown()),
});

export function buildClient<File>(
  options: ClientOptions,
  platform: ClientPlatform<File>,
): ErpImportClient<File> {
  const fetchFunction = options.fetch ?? globalThis.fetch;
  if (typeof fetchFunction !== 'function') {
    throw new TypeError('no fetch here: pass one as the `fetch` option');
  }
  const transport = createTransport({
    baseUrl: options.baseUrl,
    token: options.token,
    // Called unbound: a browser's fetch refuses any `this` but window.
    fetch: (input, init) => fetchFunction(input, init),
    retry: { ...defaultRetryOptions, ...options.retry },
    timeoutMs: options.timeoutMs ?? 30_000,
    onRetry: options.onRetry,
  });

  async function upload(
    entity: string,
    source: ByteSource,
    format: ImportFormat,
    upload: UploadOptions & { encoding?: string; delimiter?: string },
  ): Promise<PublicImportRecord> {
    const route = routes.createImport;
    const fileName = upload.fileName ?? source.name;
    // A .gz file is sent as it is: the server knows gzip by its first
    // bytes, and compressing it twice would store it twice compressed.
    const gzip =
      (upload.gzip ?? false) &&
      !(fileName !== undefined && isGzipFileName(fileName));
    const headers: Record<string, string> = {
      // The same key on every attempt is what makes a retry safe.
      'idempotency-key': upload.idempotencyKey ?? platform.randomUUID(),
      // Raw bytes, whatever the format: a host's JSON body parser must not
      // take the upload for a request body it should parse.
      'content-type': 'application/octet-stream',
    };
    if (gzip) headers['content-encoding'] = 'gzip';
    else if (source.size !== null) {
      headers['content-length'] = String(source.size);
    }

    return transport.json(
      {
        ...requestOf(route),
        query: {
          entity,
          format,
          fileName,
          encoding: upload.encoding,
          delimiter: upload.delimiter,
        },
        headers,
        idempotent: true,
        upload: { source, gzip, onProgress: upload.onUploadProgress },
        signal: upload.signal,
        timeoutMs: upload.timeoutMs,
      },
      route.responses[202].schema,
    );
  }

  async function* errorPages(
    id: string,
    query: ErrorPagesQuery,
    options: RequestOptions,
  ): AsyncGenerator<ImportErrorPage> {
    let afterSeq = query.afterSeq;
    for (;;) {
      const page = await imports.errorPage(
        id,
        { ...query, ...(afterSeq !== undefined && { afterSeq }) },
        options,
      );
      yield page;
      if (page.nextAfterSeq === null) return;
      afterSeq = page.nextAfterSeq;
    }
  }

  const imports: ImportsApi<File> = {
    async create(create) {
      const source = await platform.byteSource(create.file);
      const fileName = create.fileName ?? source.name;
      const format =
        create.format ??
        (fileName === undefined ? undefined : formatFromFileName(fileName)) ??
        'csv';
      return upload(create.entity, source, format, create);
    },

    createFromRecords(entity, records, options = {}) {
      const format = options.format ?? 'csv';
      const encode = () =>
        encodeRecords(records, {
          format,
          ...(options.columns !== undefined && { columns: options.columns }),
        });
      // An array can be encoded again for a retry; a generator cannot.
      const source = Array.isArray(records)
        ? repeatableSource(encode)
        : oneShotSource(encode());
      return upload(entity, source, format, options);
    },

    get(id, options = {}) {
      const route = routes.getImport;
      return transport.json(
        { ...requestOf(route, { id }), idempotent: true, ...options },
        route.responses[200].schema,
      );
    },

    list(query = {}, options = {}) {
      const route = routes.listImports;
      return transport.json(
        {
          ...requestOf(route),
          query: { ...query },
          idempotent: true,
          ...options,
        },
        route.responses[200].schema,
      );
    },

    async *listAll(query = {}, options = {}) {
      let cursor: string | undefined;
      for (;;) {
        const page = await imports.list(
          { ...query, ...(cursor !== undefined && { cursor }) },
          options,
        );
        yield* page.items;
        if (page.nextCursor === null) return;
        cursor = page.nextCursor;
      }
    },

    async wait(id, options = {}) {
      const intervalMs = options.intervalMs ?? 1000;
      const request = options.signal ? { signal: options.signal } : {};
      for (;;) {
        const record = await imports.get(id, request);
        options.onProgress?.(record);
        if (isFinalImportState(record.state)) return record;
        await sleep(intervalMs, options.signal);
      }
    },

    errorPage(id, query = {}, options = {}) {
      const route = routes.listImportErrors;
      return transport.json(
        {
          ...requestOf(route, { id }),
          query: { ...query, format: 'json' },
          idempotent: true,
          ...options,
        },
        route.responses[200].schema,
      );
    },

    errors(id, query = {}, options = {}) {
      return { [Symbol.asyncIterator]: () => errorPages(id, query, options) };
    },

    async *errorRows(id, query = {}, options = {}) {
      for await (const page of errorPages(id, query, options)) {
        yield* page.items;
      }
    },

    errorsCsv(id, options = {}) {
      return transport.stream({
        ...requestOf(routes.listImportErrors, { id }),
        query: { format: 'csv' },
        accept: 'text/csv',
        idempotent: true,
        ...options,
      });
    },

    cancel(id, options = {}) {
      const route = routes.cancelImport;
      return transport.json(
        { ...requestOf(route, { id }), idempotent: false, ...options },
        route.responses[200].schema,
      );
    },

    retry(id, options = {}) {
      const route = routes.retryImport;
      return transport.json(
        { ...requestOf(route, { id }), idempotent: false, ...options },
        route.responses[202].schema,
      );
    },

    revert(id, options = {}) {
      const route = routes.revertImport;
      return transport.json(
        { ...requestOf(route, { id }), idempotent: false, ...options },
        route.responses[200].schema,
      );
    },

    fixFile(id, options = {}) {
      return transport.stream({
        ...requestOf(routes.listImportErrors, { id }),
        query: { format: 'original' },
        accept: '*/*',
        idempotent: true,
        ...options,
      });
    },
  };

  return {
    imports,
    entities: {
      async list(options = {}) {
        const route = routes.listEntities;
        const body = await transport.json(
          { ...requestOf(route), idempotent: true, ...options },
          route.responses[200].schema,
        );
        return body.items;
      },
    },
    health(options = {}) {
      const route = routes.health;
      return transport.json(
        { ...requestOf(route), idempotent: true, ...options },
        route.responses[200].schema,
      );
    },
    openApi(options = {}) {
      return transport.json(
        { ...requestOf(routes.openApi), idempotent: true, ...options },
        openApiDocumentSchema,
      );
    },
  };
}

/** The method and the path, parameters filled in, from the route table. */
function requestOf(
  route: { method: 'get' | 'post'; path: string },
  params: Record<string, string> = {},
): Pick<TransportRequest, 'method' | 'path'> {
  return {
    method: route.method === 'get' ? 'GET' : 'POST',
    path: routePath(route, params),
  };
}
