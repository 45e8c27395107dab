// The public API of @erp-import/core: an explicit list, one block per area.

// --- errors and logging ---
export {
  ErrorCodes,
  ImportError,
  isImportError,
  sqlStateOf,
  toImportError,
} from './errors/import-error.js';
export type { ErrorCode, ImportErrorOptions } from './errors/import-error.js';
export { silentLogger } from './logging/logger.js';
export type { LogFn, Logger } from './logging/logger.js';

// --- definitions ---
export {
  columnTypes,
  defineImport,
  localePresets,
} from './definitions/import-definition.js';
export type {
  ColumnDefinition,
  ColumnInput,
  ColumnType,
  ImportDefinition,
  ImportDefinitionInput,
  Locale,
  LocaleInput,
  LocaleName,
} from './definitions/import-definition.js';
export { createDefinitionRegistry } from './definitions/definition-registry.js';
export type { DefinitionRegistry } from './definitions/definition-registry.js';

// --- ports ---
export {
  emptyCounts,
  importFormats,
  importStates,
} from './ports/import-record.js';
export type {
  ImportCounts,
  ImportFailure,
  ImportFormat,
  ImportProgress,
  ImportReadOptions,
  ImportRecord,
  ImportState,
} from './ports/import-record.js';
export type {
  ErrorLog,
  ErrorPage,
  ErrorPageQuery,
  LoggedRowIssue,
  RecordPosition,
  RowIssue,
} from './ports/error-log.js';
export type { FileStore, PutOptions, StoredFile } from './ports/file-store.js';
export type {
  ConsumeOptions,
  EnqueueOptions,
  ImportJob,
  ImportQueue,
  JobContext,
  JobHandler,
  QueueCapabilities,
  QueueConsumer,
} from './ports/queue.js';
export type {
  ImportListPage,
  ImportListQuery,
  ImportStateQuery,
  ImportTransition,
  StatusStore,
  TransactionClient,
} from './ports/status-store.js';

// --- readers (CSV) ---
export { createCsvReader } from './readers/csv-reader.js';
export type { CsvReaderOptions } from './readers/csv-reader.js';
export {
  delimiterCandidates,
  detectDelimiter,
} from './readers/csv-delimiter.js';
export {
  decodeToUtf8,
  detectEncoding,
  encodingFromBom,
  normalizeEncodingName,
  textEncodings,
} from './readers/decode.js';
export type {
  DecodedText,
  DecodeOptions,
  DetectedEncoding,
  TextEncoding,
} from './readers/decode.js';
export { openInput } from './readers/decompress.js';
export type {
  Compression,
  OpenedInput,
  OpenInputOptions,
} from './readers/decompress.js';
export {
  mapHeader,
  normalizeFieldName,
  pickValues,
} from './readers/header-mapping.js';
export type { HeaderMapping } from './readers/header-mapping.js';
export type {
  DetectedFormat,
  MappedRecord,
  RawValue,
  ReadItem,
  RecordReader,
} from './readers/record-reader.js';

// --- readers (JSON, XML) ---
export { createJsonReader } from './readers/json-reader.js';
export type { JsonReaderOptions } from './readers/json-reader.js';
export { createXmlReader } from './readers/xml-reader.js';
export type { XmlReaderOptions } from './readers/xml-reader.js';
// The definition shapes for records nested in records, read by both.
export type {
  ChildDefinitionInput,
  ChildImportDefinition,
} from './definitions/import-definition.js';

// --- coercion ---
export { createRowCoercer } from './coercion/row-coercer.js';
export type { CoercedRow, CoercionResult } from './coercion/coerced-row.js';

// --- loader ---
export { applyImport } from './loader/apply-import.js';
export type {
  ApplyImportOptions,
  ApplyResult,
  EntityCounts,
} from './loader/apply-import.js';
export { qualifiedTableName, quoteIdentifier } from './loader/identifiers.js';
export {
  buildCopySql,
  buildDedupeSql,
  buildInsertCounterSql,
  buildMergeSql,
  buildStagingTableSql,
  buildSupersededCursorSql,
  buildSupersededTableSql,
  buildTargetColumnsSql,
  postgresTypeOf,
  stagingColumnNames,
  stagingSystemColumns,
} from './loader/merge-sql.js';
export type {
  DedupeNames,
  MergeSqlOptions,
  StagingNames,
} from './loader/merge-sql.js';
export { encodeCopyValue } from './loader/copy-stream.js';
export { ensureLedger, ledgerTableName } from './loader/ledger.js';
export { detectServerCapabilities } from './loader/server-capabilities.js';
export type { ServerCapabilities } from './loader/server-capabilities.js';
export type {
  PgClientLike,
  PgQueryResultLike,
  PgSubmittableLike,
} from './loader/pg-client.js';

// --- engine and in-memory adapters ---
export { createLocalFileStore } from './adapters/memory/local-file-store.js';
export type { LocalFileStoreOptions } from './adapters/memory/local-file-store.js';
export { createMemoryErrorLog } from './adapters/memory/memory-error-log.js';
export { createMemoryFileStore } from './adapters/memory/memory-file-store.js';
export { createMemoryQueue } from './adapters/memory/memory-queue.js';
export type { MemoryQueueOptions } from './adapters/memory/memory-queue.js';
export { createMemoryStatusStore } from './adapters/memory/memory-status-store.js';
export { createImporter } from './engine/create-importer.js';
export { connectHeard } from './engine/heard-client.js';
export type {
  CreateImporterOptions,
  EnqueueRequest,
  EnqueueResult,
  Importer,
  ImportWorker,
  PgPoolClientLike,
  PgPoolLike,
  RecoverStaleOptions,
  StartWorkerOptions,
} from './engine/importer-types.js';

// --- http ---
// The contract lives in `@erp-import/core/contract` and the Express
// router in `@erp-import/core/express`; these are for hosts of other
// HTTP frameworks that answer in the same shape.
export {
  createProblem,
  problemContentType,
  statusForCode,
} from './http/problem.js';
export { buildOpenApiDocument } from './http/openapi.js';
export { routes } from './http/routes.js';
export { toPublicImportRecord } from './http/schemas.js';
export type { PublicImportRecord } from './http/schemas.js';

// --- merge semantics (issue 8): modes, scope, sync, refusals ---
export { mergeModes } from './ports/import-record.js';
export type {
  EntityImportCounts,
  ImportLoadOptions,
  ImportOptions,
  MergeMode,
} from './ports/import-record.js';
export { resolveLoadPlan } from './loader/load-plan.js';
export type { LoadPlan } from './loader/load-plan.js';
export {
  buildOutcomeTablesSql,
  buildRejectedCursorSql,
  buildRejectRowSql,
  buildSeqRangeSql,
  buildSkippedCursorSql,
  buildSkipSql,
  buildSyncCountSql,
  buildSyncDeleteSql,
  keepColumnIndexes,
} from './loader/merge-sql.js';
export type { OutcomeNames, SkipReason } from './loader/merge-sql.js';
export {
  checkRejectThresholds,
  rejectThresholdsOf,
} from './engine/reject-thresholds.js';
export type { RejectThresholds } from './engine/reject-thresholds.js';

// --- merge semantics (issue 8): sync keys, fix file, revert ---
export { buildSetAsideUnreadSql } from './loader/merge-sql.js';
export { purgeBeforeImages, revertImport } from './loader/revert-import.js';
export type {
  RevertCounts,
  RevertImportOptions,
  RevertResult,
} from './loader/revert-import.js';
export { beforeImagesTableName } from './loader/ledger.js';
export { fixFileColumns } from './engine/fix-file.js';
export type { FixFile } from './engine/fix-file.js';
