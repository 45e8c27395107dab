// The public API of @erp-import/adapter-pg: an explicit list.

export { createPgAdapters } from './create-pg-adapters.js';
export type {
  CreatePgAdaptersOptions,
  PgAdapters,
} from './create-pg-adapters.js';

export { migrate } from './migrate.js';
export type { MigrateOptions, MigrateResult } from './migrate.js';

export { createPgQueue } from './pg-queue.js';
export type { PgQueue, PgQueueOptions } from './pg-queue.js';

export { createPgStatusStore } from './pg-status-store.js';
export type { PgStatusStore, PgStatusStoreOptions } from './pg-status-store.js';

export { createPgErrorLog } from './pg-error-log.js';
export type { PgErrorLogOptions } from './pg-error-log.js';

export { createPgFileStore } from './pg-file-store.js';
export type { PgFileStore, PgFileStoreOptions } from './pg-file-store.js';

export type {
  PgPool,
  PgPoolClient,
  PgQueryable,
  PgResult,
} from './pg-types.js';
