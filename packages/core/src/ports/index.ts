export type { ErrorLog, ErrorPage, ErrorPageQuery, LoggedRowIssue, RecordPosition, RowIssue } from './error-log.js';
export type { FileStore, PutOptions, StoredFile } from './file-store.js';
export type { ImportCounts, ImportFailure, ImportFormat, ImportProgress, ImportReadOptions, ImportRecord, ImportState } from './import-record.js';
export { emptyCounts, importFormats, importStates } from './import-record.js';
export type { ConsumeOptions, ImportJob, ImportQueue, JobContext, JobHandler, QueueCapabilities, QueueConsumer } from './queue.js';
export type { ImportListPage, ImportListQuery, ImportTransition, StatusStore } from './status-store.js';
