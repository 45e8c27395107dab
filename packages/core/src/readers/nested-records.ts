import type {
  ChildImportDefinition,
  ColumnDefinition,
  ImportDefinition,
} from '../definitions/import-definition.js';
import type { RecordPosition, RowIssue } from '../ports/error-log.js';
import type { RawValue, ReadItem } from './record-reader.js';

/**
 * What the JSON and XML readers share once a record is assembled: the
 * column values that do not come from the document (a parent's value, an
 * ordinal), prefix stripping, record numbering per entity, and the issues
 * that take a record (and its children) out.
 */

/** A value could not be read for a column; the record is rejected. */
export class RecordProblem extends Error {
  override readonly name = 'RecordProblem';
  constructor(
    readonly code: string,
    message: string,
    readonly column?: string,
    readonly rawValue?: string | null,
  ) {
    super(message);
  }
}

export function childrenOf(
  definition: ImportDefinition,
): readonly ChildImportDefinition[] {
  return definition.children ?? [];
}

export function stripPrefix(value: RawValue, column: ColumnDefinition) {
  const prefix = column.stripPrefix;
  if (prefix === undefined || typeof value !== 'string') return value;
  return value.startsWith(prefix) ? value.slice(prefix.length) : value;
}

/**
 * The value of a child column that the child itself does not hold: its
 * parent's value (a JSON number stays one) or its position. Undefined
 * when the document holds it.
 */
export function derivedValue(
  column: ColumnDefinition,
  parent: ParentContext | undefined,
  ordinal: number,
): { value: RawValue; number?: true } | undefined {
  if (column.ordinal) return { value: String(ordinal) };
  if (column.fromParent !== undefined) {
    const index = parent?.definition.columns.findIndex(
      (candidate) => candidate.name === column.fromParent,
    );
    if (parent === undefined || index === undefined || index < 0) {
      return { value: undefined };
    }
    const value = parent.values[index];
    return parent.numbers?.includes(index)
      ? { value, number: true }
      : { value };
  }
  return undefined;
}

export interface ParentContext {
  definition: ImportDefinition;
  values: RawValue[];
  /** Indexes of the parent's values that were JSON numbers. */
  numbers?: readonly number[];
}

/** Record numbers run per entity, 1-based, in file order. */
export class RecordCounter {
  private readonly counts = new Map<string, number>();

  next(entity: string): number {
    const count = (this.counts.get(entity) ?? 0) + 1;
    this.counts.set(entity, count);
    return count;
  }
}

export function problemIssue(
  problem: RecordProblem,
  position: RecordPosition,
  entity: string | undefined,
): ReadItem {
  return {
    kind: 'issue',
    issue: {
      severity: 'error',
      position,
      ...(problem.column !== undefined && { column: problem.column }),
      code: problem.code,
      message: problem.message,
      ...(problem.rawValue !== undefined && { rawValue: problem.rawValue }),
      ...(entity !== undefined && { entity }),
    },
  };
}

/** The issue logged for each child of a rejected parent. */
export function parentRejectedIssue(
  position: RecordPosition,
  entity: string,
): ReadItem {
  return { kind: 'issue', issue: parentRejected(position, entity) };
}

/**
 * The same issue as a row issue: the engine logs it for the children of
 * a parent that the readers passed and a column type then rejected.
 */
export function parentRejected(
  position: RecordPosition,
  entity: string,
): RowIssue {
  return {
    severity: 'error',
    position,
    code: 'parent_rejected',
    message: 'the parent record was rejected',
    entity,
  };
}

export function toProblem(error: unknown): RecordProblem {
  if (error instanceof RecordProblem) return error;
  throw error;
}
