import type { z } from 'zod';
import { problemContentType } from './problem.js';
import {
  enqueueHeadersSchema,
  enqueueQuerySchema,
  entityListSchema,
  errorPageSchema,
  errorsQuerySchema,
  healthSchema,
  importIdParamsSchema,
  importListPageSchema,
  importRecordSchema,
  listImportsQuerySchema,
  problemSchema,
} from './schemas.js';

/**
 * The route table: every route of the HTTP API, once. The Express router
 * mounts these paths and validates with these schemas, the OpenAPI
 * document is generated from them, and the SDK builds its requests and
 * types its answers from them.
 */
export interface RouteResponse {
  description: string;
  /** The body's schema, when it is JSON. */
  schema?: z.ZodType;
  /** `application/json` unless said otherwise; the first is the default. */
  contentTypes?: readonly string[];
  /** Response headers worth documenting, with what they hold. */
  headers?: Readonly<Record<string, string>>;
}

export interface RouteDefinition {
  operationId: string;
  method: 'get' | 'post';
  /** Express style: `/imports/:id`. */
  path: string;
  summary: string;
  /** Every route but the health check wants a bearer token. */
  authenticated: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  /** A raw body: the file itself, streamed. */
  rawBody?: { contentTypes: readonly string[]; description: string };
  responses: Readonly<Record<number, RouteResponse>>;
}

function problem(description: string): RouteResponse {
  return {
    description,
    schema: problemSchema,
    contentTypes: [problemContentType],
  };
}

const unauthorized = problem('No bearer token, or one the host refused.');
const notFound = problem('No such import for this tenant.');
const badRequest = problem('A parameter is invalid; `issues` says which.');

export const routes = {
  createImport: {
    operationId: 'createImport',
    method: 'post',
    path: '/imports',
    summary: 'Upload a file and queue its import.',
    authenticated: true,
    query: enqueueQuerySchema,
    headers: enqueueHeadersSchema,
    rawBody: {
      contentTypes: [
        'application/octet-stream',
        'text/csv',
        'application/json',
        'application/x-ndjson',
        'application/xml',
        'multipart/form-data',
      ],
      description:
        'The file as exported, streamed; gzip bodies (Content-Encoding: ' +
        'gzip, or by their magic bytes) are stored as sent. Or a form ' +
        '(multipart/form-data) whose first file part is the file; its ' +
        'file name stands in for `fileName`.',
    },
    responses: {
      202: {
        description: 'Stored and queued.',
        schema: importRecordSchema,
        headers: { Location: 'The import: `<mount>/imports/<id>`.' },
      },
      200: {
        description:
          'The Idempotency-Key named an earlier upload of this tenant, ' +
          'the same request (entity, format, options, bytes): its ' +
          'import, unchanged; the body sent now is discarded.',
        schema: importRecordSchema,
        headers: { Location: 'The earlier import.' },
      },
      400: badRequest,
      401: unauthorized,
      409: problem(
        'IDEMPOTENCY_CONFLICT: the Idempotency-Key names an earlier ' +
          'upload of other bytes (compared as sent: gzipped is other), ' +
          'another entity or format, or other read or load options.',
      ),
      413: problem('The body exceeds the upload limit.'),
      422: problem('The entity is not one this host takes.'),
    },
  },
  listImports: {
    operationId: 'listImports',
    method: 'get',
    path: '/imports',
    summary: "The caller's imports, newest first.",
    authenticated: true,
    query: listImportsQuerySchema,
    responses: {
      200: { description: 'One page.', schema: importListPageSchema },
      400: badRequest,
      401: unauthorized,
    },
  },
  getImport: {
    operationId: 'getImport',
    method: 'get',
    path: '/imports/:id',
    summary: 'An import, with its state, counts and progress.',
    authenticated: true,
    params: importIdParamsSchema,
    responses: {
      200: { description: 'The import.', schema: importRecordSchema },
      401: unauthorized,
      404: notFound,
    },
  },
  listImportErrors: {
    operationId: 'listImportErrors',
    method: 'get',
    path: '/imports/:id/errors',
    summary: 'The rows an import rejected, and its warnings.',
    authenticated: true,
    params: importIdParamsSchema,
    query: errorsQuerySchema,
    responses: {
      200: {
        description:
          'One page as JSON; with `format=csv` or `Accept: text/csv`, ' +
          "every entry as CSV, streamed, with a `'` before any cell " +
          'that would start a spreadsheet formula (`=`, `+`, `-`, `@`, ' +
          'a tab or a carriage return); with `format=original`, the fix ' +
          "file: the rejected records in the upload's own format and " +
          'encoding (the `charset` says which), streamed, ready to ' +
          'correct and upload again. CSV: its delimiter and column ' +
          'order, plus `_line`, `_column`, `_code` and `_message`; JSON ' +
          'and NDJSON: each record with an `_errors` member, at the same ' +
          '`records.jsonPath`; XML: the record elements under the same ' +
          'root and ancestors, each after a comment listing its errors. ' +
          "The fix file keeps the sender's values unescaped.",
        schema: errorPageSchema,
        // A JSON or NDJSON fix file is not an error page; the schema
        // describes the page.
        contentTypes: ['application/json', 'text/csv', 'application/xml'],
      },
      400: badRequest,
      401: unauthorized,
      404: notFound,
      409: problem(
        '`format=original`: the import has not completed or failed yet, ' +
          'or it rejected no record, so it has no fix file.',
      ),
      410: problem(
        '`format=original`: the stored file is gone (its retention ended).',
      ),
    },
  },
  cancelImport: {
    operationId: 'cancelImport',
    method: 'post',
    path: '/imports/:id/cancel',
    summary: 'Cancel a queued import.',
    authenticated: true,
    params: importIdParamsSchema,
    responses: {
      200: { description: 'Cancelled.', schema: importRecordSchema },
      401: unauthorized,
      404: notFound,
      409: problem('The import is no longer queued.'),
    },
  },
  retryImport: {
    operationId: 'retryImport',
    method: 'post',
    path: '/imports/:id/retry',
    summary: 'Queue a failed import again.',
    authenticated: true,
    params: importIdParamsSchema,
    responses: {
      202: { description: 'Queued again.', schema: importRecordSchema },
      401: unauthorized,
      404: notFound,
      409: problem('The import has not failed.'),
    },
  },
  revertImport: {
    operationId: 'revertImport',
    method: 'post',
    path: '/imports/:id/revert',
    summary:
      'Undo a completed import from its before-images; it becomes reverted.',
    authenticated: true,
    params: importIdParamsSchema,
    responses: {
      200: { description: 'Reverted.', schema: importRecordSchema },
      401: unauthorized,
      404: notFound,
      409: problem(
        'The import is not completed, kept no before-images or they ' +
          'expired (`INVALID_STATE`), or a later import changed the same ' +
          'rows (`REVERT_CONFLICT`, with `laterImports`).',
      ),
    },
  },
  listEntities: {
    operationId: 'listEntities',
    method: 'get',
    path: '/entities',
    summary: 'The entities this host takes, with their columns.',
    authenticated: true,
    responses: {
      200: { description: 'The entities.', schema: entityListSchema },
      401: unauthorized,
    },
  },
  health: {
    operationId: 'health',
    method: 'get',
    path: '/healthz',
    summary: 'Answers while the server runs.',
    authenticated: false,
    responses: { 200: { description: 'Up.', schema: healthSchema } },
  },
  openApi: {
    operationId: 'openApi',
    method: 'get',
    path: '/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document.',
    authenticated: true,
    responses: {
      200: { description: 'The document.' },
      401: unauthorized,
    },
  },
} as const satisfies Record<string, RouteDefinition>;

export type Routes = typeof routes;
export type RouteName = keyof Routes;

/** The JSON body a route answers with for `status`. */
export type ResponseBody<
  Name extends RouteName,
  Status extends keyof Routes[Name]['responses'],
> = Routes[Name]['responses'][Status] extends { schema: infer S }
  ? S extends z.ZodType
    ? z.output<S>
    : never
  : never;

/**
 * A route's path with its parameters filled in and escaped:
 * `routePath(routes.getImport, { id })` is `/imports/<id>`.
 */
export function routePath(
  route: Pick<RouteDefinition, 'path'>,
  params: Readonly<Record<string, string>> = {},
): string {
  return route.path.replace(/:([A-Za-z_]\w*)/g, (_match, name: string) => {
    const value = params[name];
    if (value === undefined) {
      throw new TypeError(`routePath: missing parameter "${name}"`);
    }
    return encodeURIComponent(value);
  });
}

/** `/imports/:id` as OpenAPI writes it: `/imports/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_]\w*)/g, '{$1}');
}
