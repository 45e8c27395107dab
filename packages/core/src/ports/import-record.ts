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
] as const;

export type ImportState = (typeof importStates)[number];

export const importFormats = ['csv', 'json', 'ndjson', 'xml'] as const;
export type ImportFormat = (typeof importFormats)[number];

/** `inserted + updated + unchanged + rejected` equals `read`. */
export interface ImportCounts {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejected: number;
  /** Records superseded by a later record with the same key. */
  superseded: number;
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
  options: ImportReadOptions;
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
