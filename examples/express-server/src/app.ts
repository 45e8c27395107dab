import { ErrorCodes, type Importer, type Logger } from '@erp-import/core';
import { createProblem, problemContentType } from '@erp-import/core/contract';
import { createImportRouter } from '@erp-import/core/express';
import express, { type Express } from 'express';

export interface ExampleAppOptions {
  /** Bearer token to tenant, as ERP_IMPORT_TOKENS lists them. */
  tokens: ReadonlyMap<string, string>;
  maxUploadBytes?: number;
  logger?: Logger;
}

/**
 * The example host: the import API mounted at `/`. A real host would
 * check tokens against its identity provider; this one looks them up in
 * a fixed list.
 */
export function createExampleApp(
  importer: Importer,
  options: ExampleAppOptions,
): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(
    '/',
    createImportRouter(importer, {
      authenticate: async (token) => {
        const tenant = options.tokens.get(token);
        return tenant === undefined ? null : { tenant, subject: tenant };
      },
      ...(options.maxUploadBytes !== undefined && {
        maxUploadBytes: options.maxUploadBytes,
      }),
      ...(options.logger !== undefined && { logger: options.logger }),
    }),
  );
  // Past the API's routes: a problem too, not Express's HTML page.
  app.use((request, response) => {
    response
      .status(404)
      .type(problemContentType)
      .json(
        createProblem({
          code: ErrorCodes.NOT_FOUND,
          detail: `no route ${request.method} ${request.path}`,
        }),
      );
  });
  return app;
}
