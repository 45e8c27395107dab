// @erp-import/core/express: the HTTP API as an Express router. Express is
// an optional peer dependency, needed only by hosts that import this entry.

export { createImportRouter } from './http/express-router.js';
export type { Caller, ImportRouterOptions } from './http/express-router.js';
