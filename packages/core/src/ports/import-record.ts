/**
 * The import record: what the status store keeps and the status API
 * returns. Plain data, so every adapter can store it as it likes.
 */

export const importStates = [
  'queued',
  'processing',
  'completed',
  'failed',
  'cancelled',
  // A completed import whose changes were undone from its before-images.
  'reverted',
] as const;

export type ImportState = (typeof importStates)[number];

export const importFormats = ['csv', 'json', 'ndjson', 'xml'] as const;
export type ImportFormat = (typeof importFormats)[number];

/**
 * `inserted + updated + unchanged + rejected + superseded + skipped`
 * equals `read`; `deleted` counts target rows the import removed (or
 * marked) in sync mode, which are not records of the file.
 */
export interface ImportCounts {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejected: number;
  /** Records superseded by a later record with the same key. */
  superseded: number;
  /**
   * Valid records deliberately not applied, each with a warning: a key
   * that exists in insert mode (`key_exists`), a key that does not in
   * update mode (`key_not_found`), a version older than the stored one
   * (`stale_row`).
   */
  skipped: number;
  /**
   * The same counts by entity, when the definition has children and the
   * file fed several tables. Each entity's counts add up to its own
   * `read`, and the top-level counts are their sums: the whole file.
   */
  entities?: Record<string, EntityImportCounts>;
}

/** One entity's share of an import's counts. */
export interface EntityImportCounts {
  /** Records of this entity in the file (a child record counts here). */
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejected: number;
  superseded: number;
  skipped: number;
}

export function emptyCounts(): ImportCounts {
  return {
    read: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    deleted: 0,
    rejected: 0,
    superseded: 0,
    skipped: 0,
  };
}

export interface ImportProgress {
  bytesRead: number;
  /** The stored file's size, when known. */
  bytesTotal: number | null;
  recordsRead: number;
  recordsRejected: number;
  /** What the worker is doing now: reading, merging... */
  phase: 'waiting' | 'reading' | 'merging' | 'done';
  updatedAt: string;
}

export interface ImportFailure {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** How the file is read; given at enqueue or detected by the worker. */
export interface ImportReadOptions {
  encoding?: string;
  delimiter?: string;
  /** gzip when the body is compressed; detected from its magic bytes too. */
  compression?: 'gzip' | 'none';
}

export const mergeModes = ['upsert', 'insert', 'update', 'sync'] as const;

/**
 * How rows meet the target: `upsert` inserts and updates; `insert` only
 * inserts (an existing key is skipped); `update` only updates (a missing
 * key is skipped); `sync` upserts, then deletes (or marks) the rows of the
 * tenant and scope that the file no longer holds.
 */
export type MergeMode = (typeof mergeModes)[number];

/**
 * How the rows are applied, chosen per import within what the definition
 * allows; kept in `ImportRecord.options` with the read options.
 */
export interface ImportLoadOptions {
  /** One of the definition's allowed modes; its own mode when absent. */
  mode?: MergeMode;
  /**
   * Values of the definition's scope columns (`company_id`...): written
   * into every row, and the part of the table a sync replaces.
   */
  params?: Record<string, string>;
  /**
   * When the file was exported (ISO 8601). An export older than the last
   * one applied for the tenant and entity fails with STALE_EXPORT.
   */
  exportedAt?: string;
  /** Lets a sync delete more than the definition's `maxDeleteShare`. */
  allowMassDelete?: boolean;
  /** Overrides the definition's: more rejected records fail the import. */
  maxRejected?: number;
  /** Overrides the definition's: a share of records read, 0 to 1. */
  maxRejectedShare?: number;
}

/** What an import record keeps of the request: read and load options. */
export type ImportOptions = ImportReadOptions & ImportLoadOptions;

export interface ImportRecord {
  id: string;
  tenant: string;
  entity: string;
  format: ImportFormat;
  state: ImportState;
  fileName: string | null;
  /** Who sent it, as the host's authentication named them. */
  submittedBy: string | null;
  idempotencyKey: string | null;
  /** The stored file's key in the file store. */
  fileKey: string;
  byteSize: number;
  /** sha256 of the stored bytes, hex. */
  checksum: string;
  options: ImportOptions;
  /** What the reader found: the encoding and delimiter it used. */
  detected: { encoding?: string; delimiter?: string };
  counts: ImportCounts;
  progress: ImportProgress;
  failure: ImportFailure | null;
  attempts: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
