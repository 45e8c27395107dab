// @erp-import/core/contract: the HTTP API as data. It loads zod and plain
// modules only (no streams, database or Express), so a desktop client or
// a browser can import it.

export {
  contractSchemas,
  enqueueHeadersSchema,
  enqueueQuerySchema,
  entityColumnSchema,
  entityListSchema,
  entitySchema,
  errorPageSchema,
  entityImportCountsSchema,
  errorsQuerySchema,
  healthSchema,
  importCountsSchema,
  importFailureSchema,
  importFormatSchema,
  importIdParamsSchema,
  importListPageSchema,
  importProgressSchema,
  importReadOptionsSchema,
  importRecordSchema,
  importStateSchema,
  listImportsQuerySchema,
  problemSchema,
  recordPositionSchema,
  rowIssueSchema,
  toPublicImportRecord,
} from './http/schemas.js';
export type {
  EnqueueQuery,
  Entity,
  EntityColumn,
  EntityList,
  Health,
  ImportErrorPage,
  ImportErrorsQuery,
  ImportListPageBody,
  ListImportsQuery,
  Problem,
  PublicImportRecord,
  RowIssueBody,
} from './http/schemas.js';
export { openApiPath, routePath, routes } from './http/routes.js';
export type {
  ResponseBody,
  RouteDefinition,
  RouteName,
  RouteResponse,
  Routes,
} from './http/routes.js';
export {
  createProblem,
  problemContentType,
  problemTypeFor,
  statusForCode,
} from './http/problem.js';
export type { ProblemInput } from './http/problem.js';
export { buildOpenApiDocument } from './http/openapi.js';
export type { OpenApiOptions } from './http/openapi.js';
export { ErrorCodes } from './errors/import-error.js';
export type { ErrorCode } from './errors/import-error.js';
export { importFormats, importStates } from './ports/import-record.js';
export type {
  EntityImportCounts,
  ImportCounts,
  ImportFailure,
  ImportFormat,
  ImportProgress,
  ImportReadOptions,
  ImportState,
} from './ports/import-record.js';
