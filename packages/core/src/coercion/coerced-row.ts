import type { RecordPosition, RowIssue } from '../ports/error-log.js';

/**
 * A record whose every value a column type has read: each value is in
 * PostgreSQL's canonical text form for its type (`1234.56`, `2024-12-31`,
 * `t`), or null. Exact by construction: no value went through a float.
 */
export interface CoercedRow {
  position: RecordPosition;
  values: Array<string | null>;
  entity?: string;
  /**
   * Indexes of `emptyMeansKeep` columns whose field held nothing: their
   * NULL is not written over a stored value.
   */
  kept?: number[];
  /**
   * A record rejected while reading, staged for its key alone: the key
   * columns hold its key (all NULL when even the key did not read), every
   * other column NULL. Never merged; it supersedes earlier occurrences of
   * its key, and a sync does not take its key for absent.
   */
  keyOnly?: true;
  /** In a child entity: the number of the parent record it came with. */
  parentRecord?: number;
}

export type CoercionResult =
  { ok: true; row: CoercedRow } | { ok: false; issues: RowIssue[] };
