import type { Readable } from 'node:stream';
import type { DefinitionRegistry } from '../definitions/definition-registry.js';
import type { ImportDefinitionInput } from '../definitions/import-definition.js';
import type { PgClientLike } from '../loader/pg-client.js';
import type { Logger } from '../logging/logger.js';
import type {
  ErrorLog,
  ErrorPage,
  ErrorPageQuery,
} from '../ports/error-log.js';
import type { FileStore } from '../ports/file-store.js';
import type { FixFile } from './fix-file.js';
import type {
  ImportFormat,
  ImportLoadOptions,
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

/** A checked-out client: what the loader calls, and `release`. */
export interface PgPoolClientLike extends PgClientLike {
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
  /**
   * Files of at least this many bytes (as stored) are decoded, parsed,
   * validated and encoded for COPY in a worker thread, so that Node and
   * the database work at the same time; smaller files in the worker's
   * own thread, where a thread's start-up would cost more than it saves.
   * 1 MiB by default; 0 always uses a thread, `Infinity` never does.
   */
  parseThreadMinBytes?: number;
  /**
   * `work_mem` for each import's transaction (`SET LOCAL`): the memory
   * PostgreSQL may give the MERGE's hash join and the dedupe's sort
   * before they spill to disk. 128 MB by default, which keeps a million
   * rows' join in memory (a third off the MERGE of a re-import); used
   * only as far as an import needs it. `null` keeps the server's setting.
   */
  mergeWorkMem?: string | null;
  /**
   * Keep before-images of the rows every import changes, so that imports
   * can be reverted; a definition may ask for it alone
   * (`keepBeforeImages`). Off by default.
   */
  keepBeforeImages?: boolean;
  /**
   * How long before-images are kept: `purgeBeforeImages` deletes older
   * ones, and their imports can no longer be reverted. 7 days by default.
   */
  beforeImageRetentionMs?: number;
  /**
   * An import `queued` this long whose job its queue does not hold (the
   * process that wrote the record died before it enqueued the job) is
   * enqueued again, in its place in its key's order: by the workers'
   * sweep, and at once by a resend with the import's idempotency key.
   * Needs a durable queue with `findHeldJobs`. 10 s by default.
   */
  lostJobAfterMs?: number;
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
  /**
   * Mode, scope parameters, export timestamp, brake release and reject
   * thresholds; checked against the definition before the file is
   * stored (INVALID_REQUEST), and kept in the record's `options`.
   */
  load?: ImportLoadOptions;
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
  /**
   * The worker sweeps for imports no worker will finish (see
   * `recoverStale`): before it takes its first job, then every half of
   * this; 60 s by default. With a durable queue an import is called lost
   * only once the queue could have redelivered its job on every attempt
   * (`durableStaleAfterMs`), and the sweep runs at least every half of
   * `lostJobAfterMs` when the queue can say which jobs it holds.
   */
  staleAfterMs?: number;
}

export interface RecoverStaleOptions {
  /**
   * An import in `processing` whose progress was last written longer ago
   * than this is taken for lost; 60 s by default. Workers write progress
   * at least once a second, in every phase.
   */
  olderThanMs?: number;
  /**
   * An import `queued` for longer than this whose job the queue does not
   * hold is enqueued again; the importer's `lostJobAfterMs` by default.
   */
  lostJobAfterMs?: number;
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
  /**
   * The rejected records in the file's own format, ready to correct and
   * send again (see `FixFile`), whatever its format; INVALID_STATE for
   * an import that rejected no record, FILE_MISSING once the stored
   * file is gone.
   */
  fixFile(tenant: string, id: string): Promise<FixFile>;
  /** A queued import only; INVALID_STATE otherwise. */
  cancel(tenant: string, id: string): Promise<ImportRecord>;
  /** A failed import only; INVALID_STATE otherwise. */
  retry(tenant: string, id: string): Promise<ImportRecord>;
  /**
   * Undoes a completed import from its before-images and marks it
   * `reverted`. INVALID_STATE when it is not completed or kept no images
   * (or they expired); REVERT_CONFLICT when a later import changed the
   * same rows.
   */
  revert(tenant: string, id: string): Promise<ImportRecord>;
  /**
   * Deletes before-images older than `beforeImageRetentionMs`; answers
   * how many went. For the host or a worker to call now and then.
   */
  purgeBeforeImages(): Promise<number>;
  /** Processes one import now; what a queue handler calls. */
  process(importId: string, context?: JobContext): Promise<ImportRecord>;
  startWorker(options?: StartWorkerOptions): Promise<ImportWorker>;
  /**
   * Marks failed, with code WORKER_LOST, the imports no worker will
   * finish: those in `processing` whose progress went stale and, when the
   * queue is not durable, those still `queued` from before this process
   * started (their job died with the process that held it). Returns
   * them. With a durable queue that has `findHeldJobs`, an import
   * `queued` for longer than `lostJobAfterMs` whose job never reached the
   * queue is enqueued again in its place instead (and not returned).
   * Needs a status store with `listByState`; finds nothing without.
   */
  recoverStale(options?: RecoverStaleOptions): Promise<ImportRecord[]>;
}
