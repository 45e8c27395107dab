import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import type { z } from 'zod';
import type { Importer } from '../engine/importer-types.js';
import {
  ErrorCodes,
  ImportError,
  toImportError,
} from '../errors/import-error.js';
import { silentLogger, type Logger } from '../logging/logger.js';
import type { ImportDefinition } from '../definitions/import-definition.js';
import { buildOpenApiDocument } from './openapi.js';
import { createProblem, problemContentType, statusForCode } from './problem.js';
import { routePath, routes, type RouteDefinition } from './routes.js';
import {
  enqueueQuerySchema,
  scopeParamPrefix,
  toPublicImportRecord,
  type EnqueueQueryParsed,
  type Entity,
  type Problem,
} from './schemas.js';
import type { ImportLoadOptions } from '../ports/import-record.js';
import { isMultipart, multipartFile } from './multipart-file.js';
import { isAbortedUpload, uploadBody } from './upload-body.js';

/**
 * The HTTP API of the route table as an Express router. Every route but
 * the health check resolves its bearer token to a tenant through the
 * host's `authenticate`, and every read is scoped by that tenant: another
 * tenant's import is answered as not found. Errors are problem+json.
 */
export interface ImportRouterOptions {
  /** Turns a bearer token into a tenant, or null to refuse it. */
  authenticate: (
    token: string,
    request: Request,
  ) => Promise<Caller | null> | Caller | null;
  /** Uploads past this many bytes are refused with 413 while they stream. */
  maxUploadBytes?: number;
  logger?: Logger;
}

export interface Caller {
  tenant: string;
  /** Recorded as the import's `submittedBy`. */
  subject?: string;
}

// What the authentication step leaves for the handlers.
interface Authenticated {
  caller: Caller;
}

export function createImportRouter(
  importer: Importer,
  options: ImportRouterOptions,
): Router {
  const logger = options.logger ?? silentLogger;
  const router = express.Router();
  const authenticate = authenticator(options.authenticate);

  router.get(routes.health.path, (_request, response) => {
    response.json({ status: 'ok' });
  });

  router.get(routes.openApi.path, authenticate, (request, response) => {
    response.json(buildOpenApiDocument({ serverUrl: request.baseUrl || '/' }));
  });

  router.get(routes.listEntities.path, authenticate, (_request, response) => {
    const items = importer.definitions.list().map(describeEntity);
    response.json({ items });
  });

  router.post(
    routes.createImport.path,
    authenticate,
    async (request, response) => {
      const { caller } = response.locals as Authenticated;
      const raw = queryOf(request);
      refuseUnknownParameters(raw);
      const query = parse(routes.createImport.query, raw);
      const headers = parse(routes.createImport.headers, request.headers);

      // Refuse what can be refused before a byte is read.
      if (!importer.definitions.has(query.entity)) {
        // GET /entities tells the caller as much: the answer may as well
        // say which entities would do, in one line.
        const known = importer.definitions.list().map((item) => item.entity);
        throw new ImportError(
          ErrorCodes.UNKNOWN_ENTITY,
          `unknown entity "${query.entity}"; this server takes ` +
            (known.join(', ') || 'none'),
          { details: { entity: query.entity } },
        );
      }
      const declaredLength = Number(request.headers['content-length']);
      const max = options.maxUploadBytes;
      if (max !== undefined && declaredLength > max) {
        throw new ImportError(
          ErrorCodes.PAYLOAD_TOO_LARGE,
          `the upload exceeds ${max} bytes`,
          { details: { maxBytes: max } },
        );
      }

      // The body streams into the file store as it arrives; nothing buffers
      // it here. A gzip body is stored as sent and inflated by the worker.
      // A form's file part streams the same way.
      const compression =
        headers['content-encoding'] === 'gzip' ? ('gzip' as const) : undefined;
      const counted = uploadBody(request, max);
      const form = isMultipart(request.headers)
        ? await multipartFile(request.headers, counted)
        : undefined;
      if (form !== undefined && compression !== undefined) {
        // The whole form is compressed then; gzip the file part instead.
        form.file.destroy();
        throw new ImportError(
          ErrorCodes.INVALID_REQUEST,
          'a gzip-encoded multipart body is not read; send the file raw ' +
            'with Content-Encoding: gzip, or a gzip file in the form',
        );
      }
      const body = form?.file ?? counted;
      const fileName = query.fileName ?? form?.fileName ?? fileNameOf(request);
      const { record, created } = await importer.enqueue({
        tenant: caller.tenant,
        entity: query.entity,
        format: query.format,
        body,
        ...(fileName !== undefined && { fileName }),
        ...(caller.subject !== undefined && { submittedBy: caller.subject }),
        ...(headers['idempotency-key'] !== undefined && {
          idempotencyKey: headers['idempotency-key'],
        }),
        options: {
          ...(query.encoding !== undefined && { encoding: query.encoding }),
          ...(query.delimiter !== undefined && { delimiter: query.delimiter }),
          ...(compression !== undefined && { compression }),
        },
        load: loadOptionsOf(query, raw),
      });

      // A replayed idempotency key answers 200 with the first import, so a
      // client can tell a retry that landed before from a new upload.
      response
        .status(created ? 202 : 200)
        .location(importLocation(request, record.id))
        .json(toPublicImportRecord(record));
    },
  );

  router.get(
    routes.listImports.path,
    authenticate,
    async (request, response) => {
      const { caller } = response.locals as Authenticated;
      const query = parse(routes.listImports.query, queryOf(request));
      const page = await importer.list({ tenant: caller.tenant, ...query });
      response.json({
        items: page.items.map(toPublicImportRecord),
        nextCursor: page.nextCursor,
      });
    },
  );

  router.get(routes.getImport.path, authenticate, async (request, response) => {
    const { caller } = response.locals as Authenticated;
    const { id } = parse(routes.getImport.params, request.params);
    const record = await importer.get(caller.tenant, id);
    response.json(toPublicImportRecord(record));
  });

  router.get(
    routes.listImportErrors.path,
    authenticate,
    async (request, response) => {
      const { caller } = response.locals as Authenticated;
      const { id } = parse(routes.listImportErrors.params, request.params);
      const query = parse(routes.listImportErrors.query, queryOf(request));

      if (query.format === 'original') {
        // Every refusal (not found, no file) is answered before a byte.
        const fix = await importer.fixFile(caller.tenant, id);
        // `attachment` sets a type from the name: the charset comes after.
        response.status(200).attachment(fix.fileName).type(fix.contentType);
        await streamText(response, fix.body);
        return;
      }

      const wantsCsv =
        query.format === 'csv' ||
        (queryOf(request).format === undefined &&
          request.accepts(['application/json', 'text/csv']) === 'text/csv');
      if (!wantsCsv) {
        const page = await importer.errors(caller.tenant, id, {
          limit: query.limit,
          ...(query.afterSeq !== undefined && { afterSeq: query.afterSeq }),
          ...(query.severity !== undefined && { severity: query.severity }),
        });
        response.json(page);
        return;
      }

      // Not found must be answered before the CSV's headers are sent.
      await importer.get(caller.tenant, id);
      response
        .status(200)
        .type('text/csv; charset=utf-8')
        .attachment(`import-${id}-errors.csv`);
      await streamText(response, importer.errorsCsv(caller.tenant, id));
    },
  );

  router.post(
    routes.cancelImport.path,
    authenticate,
    async (request, response) => {
      const { caller } = response.locals as Authenticated;
      const { id } = parse(routes.cancelImport.params, request.params);
      const record = await importer.cancel(caller.tenant, id);
      response.json(toPublicImportRecord(record));
    },
  );

  router.post(
    routes.revertImport.path,
    authenticate,
    async (request, response) => {
      const { caller } = response.locals as Authenticated;
      const { id } = parse(routes.revertImport.params, request.params);
      const record = await importer.revert(caller.tenant, id);
      response.json(toPublicImportRecord(record));
    },
  );

  router.post(
    routes.retryImport.path,
    authenticate,
    async (request, response) => {
      const { caller } = response.locals as Authenticated;
      const { id } = parse(routes.retryImport.params, request.params);
      const record = await importer.retry(caller.tenant, id);
      response
        .status(202)
        .location(importLocation(request, record.id))
        .json(toPublicImportRecord(record));
    },
  );

  // A known path with a method it does not take; other paths fall through
  // to whatever the host mounted after this router.
  for (const path of new Set(routeList().map((route) => route.path))) {
    const allowed = routeList()
      .filter((route) => route.path === path)
      .map((route) => route.method.toUpperCase());
    router.all(path, (request, response) => {
      response.setHeader('Allow', allowed.join(', '));
      sendProblem(
        response,
        createProblem({
          code: ErrorCodes.INVALID_REQUEST,
          status: 405,
          detail: `${request.method} is not allowed here`,
        }),
      );
    });
  }

  router.use(problemHandler(logger));
  return router;
}

function routeList(): RouteDefinition[] {
  return Object.values(routes);
}

function authenticator(
  authenticate: ImportRouterOptions['authenticate'],
): RequestHandler {
  return async (request, response, next) => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const caller = match?.[1] ? await authenticate(match[1], request) : null;
    if (!caller) {
      response.setHeader('WWW-Authenticate', 'Bearer');
      throw new ImportError(
        ErrorCodes.UNAUTHORIZED,
        match ? 'the bearer token was refused' : 'a bearer token is required',
      );
    }
    (response.locals as Authenticated).caller = caller;
    next();
  };
}

/** Validates with a contract schema; a failure is a 400 naming each issue. */
function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.map((part) =>
      typeof part === 'symbol' ? String(part) : part,
    ),
    message: issue.message,
  }));
  // The message names each field too: a client that shows only the
  // message (a command line) must not say "expected string" alone.
  const named = issues.map(
    (issue) => `${issue.path.join('.') || 'the body'}: ${issue.message}`,
  );
  throw new ImportError(
    ErrorCodes.INVALID_REQUEST,
    `the request is invalid: ${named.join('; ')}`,
    { cause: result.error, details: { issues } },
  );
}

// Read from the URL itself, so the host's `query parser` setting (which
// may build nested objects) does not change what the API accepts.
function queryOf(request: Request): Record<string, string | string[]> {
  const search = new URL(request.originalUrl, 'http://localhost').searchParams;
  const query: Record<string, string | string[]> = {};
  for (const name of new Set(search.keys())) {
    const values = search.getAll(name);
    query[name] = values.length === 1 ? (values[0] as string) : values;
  }
  return query;
}

/**
 * A misspelt parameter would otherwise be dropped without a word, and
 * `mdoe=sync` import as an upsert, `frmat=json` as CSV.
 */
function refuseUnknownParameters(raw: Record<string, string | string[]>) {
  const known = Object.keys(enqueueQuerySchema.shape);
  const unknown = Object.keys(raw).filter(
    (name) => !known.includes(name) && !name.startsWith(scopeParamPrefix),
  );
  if (unknown.length === 0) return;
  throw new ImportError(
    ErrorCodes.INVALID_REQUEST,
    `unknown query parameter${unknown.length > 1 ? 's' : ''} ` +
      `${unknown.map((name) => `"${name}"`).join(', ')}; ` +
      `POST /imports takes ${known.join(', ')} and ${scopeParamPrefix}<column>`,
    // In `issues`, as every other invalid parameter is.
    {
      details: {
        unknown,
        issues: unknown.map((name) => ({
          path: [name],
          message: 'not a parameter of POST /imports',
        })),
      },
    },
  );
}

// Mode, thresholds and the like from the parsed query; the scope
// parameters from the raw one, as `param.<column>=value`.
function loadOptionsOf(
  query: EnqueueQueryParsed,
  raw: Record<string, string | string[]>,
): ImportLoadOptions {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (!name.startsWith(scopeParamPrefix)) continue;
    if (typeof value !== 'string') {
      throw new ImportError(
        ErrorCodes.INVALID_REQUEST,
        `the parameter "${name}" is given more than once`,
      );
    }
    params[name.slice(scopeParamPrefix.length)] = value;
  }
  return {
    ...(query.mode !== undefined && { mode: query.mode }),
    ...(Object.keys(params).length > 0 && { params }),
    ...(query.exportedAt !== undefined && { exportedAt: query.exportedAt }),
    ...(query.allowMassDelete === 'true' && { allowMassDelete: true }),
    ...(query.maxRejected !== undefined && { maxRejected: query.maxRejected }),
    ...(query.maxRejectedShare !== undefined && {
      maxRejectedShare: query.maxRejectedShare,
    }),
  };
}

function fileNameOf(request: Request): string | undefined {
  const disposition = request.headers['content-disposition'];
  const match = disposition && /filename="?([^";]+)"?/i.exec(disposition);
  return match ? match[1] : undefined;
}

function importLocation(request: Request, id: string): string {
  return `${request.baseUrl}${routePath(routes.getImport, { id })}`;
}

function describeEntity(definition: ImportDefinition): Entity {
  return {
    entity: definition.entity,
    description: definition.description ?? null,
    key: definition.key,
    columns: definition.columns.map((column) => ({
      name: column.name,
      type: column.type,
      nullable: column.nullable,
      sources: column.sources,
      ...(column.path !== undefined && { path: column.path }),
      ...(column.length !== undefined && { length: column.length }),
      ...(column.precision !== undefined && { precision: column.precision }),
      ...(column.scale !== undefined && { scale: column.scale }),
    })),
    tenantColumn: definition.tenantColumn ?? null,
  };
}

/** Writes chunks, waiting whenever the client reads slower. */
async function streamText(
  response: Response,
  chunks: AsyncIterable<string | Uint8Array>,
): Promise<void> {
  try {
    for await (const chunk of chunks) {
      if (response.destroyed) return;
      if (!response.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            response.off('drain', done);
            response.off('close', done);
            resolve();
          };
          response.on('drain', done);
          response.on('close', done);
        });
      }
    }
    response.end();
  } catch (error) {
    // The status line is gone; cutting the connection is the only way
    // left to tell the client that the file is incomplete.
    response.destroy(error instanceof Error ? error : undefined);
    throw error;
  }
}

function sendProblem(response: Response, problem: Problem): void {
  response
    .status(problem.status)
    .type(problemContentType)
    .send(JSON.stringify(problem));
}

// How long a refused upload's client may go on sending before the
// connection is cut: enough for it to read the answer and stop.
const lingerMs = 5_000;

/**
 * An upload refused before its end (413 past the limit, a conflict, an
 * unknown entity): the client is still sending. Closing at once would
 * reset the connection under the answer (bytes the server never read make
 * its kernel send RST, and the client may lose the 413 it was about to
 * read), so the rest is read and dropped for a while, as web servers do
 * on a lingering close. A body that ends in time leaves the connection
 * usable; one that goes on is cut.
 */
function dropRestOfBody(request: Request): void {
  request.unpipe();
  request.resume();
  const timer = setTimeout(() => request.socket.destroy(), lingerMs);
  timer.unref();
  const done = () => clearTimeout(timer);
  request.once('end', done);
  request.once('close', done);
}

function problemHandler(logger: Logger) {
  return (
    thrown: unknown,
    request: Request,
    response: Response,
    // Express tells error handlers apart by their four parameters.
    _next: NextFunction,
  ): void => {
    const error = toImportError(thrown);
    if (isAbortedUpload(error)) {
      // The client went away mid-upload: nobody is left to answer, and
      // nothing of the body was kept.
      logger.info(
        {
          method: request.method,
          path: request.originalUrl,
          bytesReceived: error.details.bytesReceived,
        },
        error.message,
      );
      response.destroy();
      return;
    }

    const status = statusForCode(error.code);
    if (status >= 500) {
      logger.error(
        { err: thrown, method: request.method, path: request.originalUrl },
        'request failed',
      );
    } else {
      logger.debug(
        { code: error.code, method: request.method, path: request.originalUrl },
        error.message,
      );
    }
    if (response.headersSent) {
      response.destroy();
      return;
    }

    if (!request.complete) dropRestOfBody(request);

    const issues = error.details.issues as Problem['issues'];
    sendProblem(
      response,
      createProblem({
        code: error.code,
        status,
        // Internal failures keep their details in the log, not the answer.
        detail:
          status >= 500
            ? 'the server could not complete the request'
            : error.message,
        instance: request.originalUrl,
        ...(issues !== undefined && { issues }),
        ...(error.code === ErrorCodes.PAYLOAD_TOO_LARGE && {
          extras: { maxBytes: error.details.maxBytes },
        }),
        // The later imports in the way of a revert are part of the answer.
        ...(error.code === ErrorCodes.REVERT_CONFLICT && {
          extras: { laterImports: error.details.laterImports },
        }),
      }),
    );
  };
}
