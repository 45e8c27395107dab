import type {
  ImportCounts,
  ImportFailure,
  ImportProgress,
  ImportRecord,
  ImportState,
} from './import-record.js';

/**
 * The status store keeps import records.
 *
 * Promises:
 * - `create` is atomic with its idempotency check: two creates with the
 *   same tenant and idempotency key leave one record, and the second call
 *   gets the first record back with `created: false`.
 * - `transition` is a compare-and-set on the state: it changes the record
 *   only when its state is one of `from`, and says whether it did. Workers
 *   rely on it to claim an import exactly once per attempt.
 * - Reads are scoped by tenant: a record of another tenant is not found.
 * - Every string comes back as it was given, whatever it holds (a NUL, a
 *   lone surrogate), and two strings stay two: a failure message quotes
 *   the file, and a file name comes from the request.
 *
 * Leaves out: connections and transactions (the adapter owns them), and
 * the rows of the error log.
 */
export interface StatusStore {
  create(
    record: ImportRecord,
  ): Promise<{ record: ImportRecord; created: boolean }>;
  get(tenant: string, id: string): Promise<ImportRecord | undefined>;
  /**
   * Optional: the record a tenant's idempotency key names. The engine
   * checks it before storing an upload, so a repeated request does not
   * store its file twice; `create` stays the guard against races.
   */
  getByIdempotencyKey?(
    tenant: string,
    idempotencyKey: string,
  ): Promise<ImportRecord | undefined>;
  /** For workers, which act on ids from the queue: not tenant-scoped. */
  getById(id: string): Promise<ImportRecord | undefined>;
  list(query: ImportListQuery): Promise<ImportListPage>;
  transition(
    id: string,
    from: readonly ImportState[],
    patch: ImportTransition,
  ): Promise<ImportRecord | undefined>;
  /** Progress is advisory: last write wins, and a lost write is harmless. */
  updateProgress(id: string, progress: ImportProgress): Promise<void>;
  /**
   * Optional capability: the same compare-and-set as `transition`, run on
   * a connection the engine passes in, inside the transaction of the
   * MERGE. A store that keeps its records in the target database offers
   * it, so `completed` commits together with the rows it describes.
   * `database` identifies that database: the engine uses it only when it
   * is the pool the target tables live in.
   */
  transitionInTransaction?(
    client: TransactionClient,
    id: string,
    from: readonly ImportState[],
    patch: ImportTransition,
  ): Promise<ImportRecord | undefined>;
  readonly database?: unknown;
  /**
   * Optional capability, for the engine's sweep of imports whose worker
   * is gone: the records in one state across all tenants, newest first,
   * paged like `list`. Without it the engine cannot find lost imports.
   */
  listByState?(query: ImportStateQuery): Promise<ImportListPage>;
  close?(): Promise<void>;
}

/** The one member of a pg client the status store needs in a transaction. */
export interface TransactionClient {
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

export interface ImportTransition {
  state: ImportState;
  counts?: ImportCounts;
  progress?: ImportProgress;
  failure?: ImportFailure | null;
  detected?: ImportRecord['detected'];
  attempts?: number;
  startedAt?: string | null;
  finishedAt?: string | null;
}

export interface ImportListQuery {
  tenant: string;
  entity?: string;
  state?: ImportState;
  /** At most this many records; adapters cap it at 500. */
  limit: number;
  /** An opaque cursor from a previous page. */
  cursor?: string;
}

/** Not tenant-scoped: for workers' sweeps, never for a client's reads. */
export interface ImportStateQuery {
  state: ImportState;
  /** At most this many records; adapters cap it at 500. */
  limit: number;
  cursor?: string;
}

export interface ImportListPage {
  /** Newest first. */
  items: ImportRecord[];
  nextCursor: string | null;
}
