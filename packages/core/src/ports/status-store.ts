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
 *
 * Leaves out: connections and transactions (the adapter owns them), and
 * the rows of the error log.
 */
export interface StatusStore {
  create(record: ImportRecord): Promise<{ record: ImportRecord; created: boolean }>;
  get(tenant: string, id: string): Promise<ImportRecord | undefined>;
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
  close?(): Promise<void>;
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

export interface ImportListPage {
  /** Newest first. */
  items: ImportRecord[];
  nextCursor: string | null;
}
