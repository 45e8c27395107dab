import type { Readable } from 'node:stream';
import type { DefinitionRegistry } from '../definitions/definition-registry.js';
import type { ImportDefinitionInput } from '../definitions/import-definition.js';
import type { Logger } from '../logging/logger.js';
import type { ErrorLog, ErrorPage, ErrorPageQuery } from '../ports/error-log.js';
import type { FileStore } from '../ports/file-store.js';
import type {
  ImportFormat,
  ImportReadOptions,
  ImportRecord,
} from '../ports/import-record.js';
import type { ImportQueue, JobContext } from '../ports/queue.js';
import type {
  ImportListPage,
  ImportListQuery,
  StatusStore,
} from '../ports/status-store.js';

/**
 * The few members of a `pg.Pool` the engine calls, typed structurally so
 * that core does not tie a host to one copy of `pg`.
 */
export interface PgPoolLike {
  connect(): Promise<PgPoolClientLike>;
}

export interface PgPoolClientLike {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>;
  release(error?: Error | boolean): void;
}

export interface CreateImporterOptions {
  definitions: DefinitionRegistry | ImportDefinitionInput[];
  /** Where the target tables live. */
  database: PgPoolLike;
  queue: ImportQueue;
  statusStore: StatusStore;
  errorLog: ErrorLog;
  fileStore: FileStore;
  logger?: Logger;
  /** Uploads larger than this are refused with PAYLOAD_TOO_LARGE. */
  maxUploadBytes?: number;
  /** How often a worker writes progress; at most 1000. */
  progressIntervalMs?: number;
  /** The schema of the ledger of applied imports; `erp_import` by default. */
  ledgerSchema?: string;
}

export interface EnqueueRequest {
  tenant: string;
  entity: string;
  format: ImportFormat;
  body: Readable;
  fileName?: string;
  submittedBy?: string;
  idempotencyKey?: string;
  options?: ImportReadOptions;
}

export interface EnqueueResult {
  record: ImportRecord;
  /** False when the idempotency key named an earlier import. */
  created: boolean;
}

export interface ImportWorker {
  /** Stops taking imports and waits for the running ones to settle. */
  stop(): Promise<void>;
}

export interface StartWorkerOptions {
  /** Imports processed at once by this worker; 1 by default. */
  concurrency?: number;
}

/**
 * The engine: the enqueue side (store, record, enqueue) and the worker
 * side (decode, parse, map, validate, stage, merge, report).
 */
export interface Importer {
  readonly definitions: DefinitionRegistry;
  enqueue(request: EnqueueRequest): Promise<EnqueueResult>;
  /** Throws NOT_FOUND for an id of another tenant. */
  get(tenant: string, id: string): Promise<ImportRecord>;
  list(query: ImportListQuery): Promise<ImportListPage>;
  errors(tenant: string, id: string, query: ErrorPageQuery): Promise<ErrorPage>;
  /** The rejected rows as CSV text, header first, streamed in pages. */
  errorsCsv(tenant: string, id: string): AsyncIterable<string>;
  /** A queued import only; INVALID_STATE otherwise. */
  cancel(tenant: string, id: string): Promise<ImportRecord>;
  /** A failed import only; INVALID_STATE otherwise. */
  retry(tenant: string, id: string): Promise<ImportRecord>;
  /** Processes one import now; what a queue handler calls. */
  process(importId: string, context?: JobContext): Promise<ImportRecord>;
  startWorker(options?: StartWorkerOptions): Promise<ImportWorker>;
}
