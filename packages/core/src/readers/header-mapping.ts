import { normalizeFieldName } from '../definitions/field-names.js';
import type { ImportDefinition } from '../definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import type { RawValue } from './record-reader.js';

/**
 * Maps a header row (CSV, or any tabular source with named fields) onto a
 * definition's columns. Names match after trimming, case- and
 * accent-insensitively, and a BOM glued to a cell never counts.
 */

export { normalizeFieldName };

export interface HeaderMapping {
  /** For each column of the definition, its field index, or -1. */
  fieldIndexByColumn: readonly number[];
  /** For each field of the header, the column index it feeds, or -1. */
  columnIndexByField: readonly number[];
  /** Header cells no column answers to (ignored). */
  unknownFields: readonly string[];
  /** Nullable columns the header does not have: their values are absent. */
  absentColumns: readonly string[];
  /** The header's width, to tell ragged rows. */
  width: number;
  /** Each field feeds the column of its own place, and nothing else. */
  identity: boolean;
}

/**
 * Builds the mapping of `header` onto `definition`. Throws MISSING_COLUMNS
 * when a key or required column has no field, UNKNOWN_COLUMNS for an
 * unknown field when the definition says `unknownFields: 'fail'`, and
 * MALFORMED_FILE when two fields name the same column.
 */
export function mapHeader(
  header: readonly string[],
  definition: ImportDefinition,
): HeaderMapping {
  const columnsByName = columnLookup(definition);
  const fieldIndexByColumn = definition.columns.map(() => -1);
  const columnIndexByField: number[] = [];
  const unknownFields: string[] = [];

  header.forEach((cell, fieldIndex) => {
    const name = normalizeFieldName(cell);
    const columnIndex = name === '' ? undefined : columnsByName.get(name);
    if (columnIndex === undefined) {
      columnIndexByField.push(-1);
      // A blank header cell (a trailing delimiter) names nothing.
      if (name !== '') unknownFields.push(cell.replace(/\uFEFF/g, '').trim());
      return;
    }
    const column = definition.columns[columnIndex];
    const previous = fieldIndexByColumn[columnIndex] as number;
    if (previous !== -1) {
      throw new ImportError(
        ErrorCodes.MALFORMED_FILE,
        `the header names column "${column?.name}" twice ` +
          `(fields ${previous + 1} "${header[previous]}" and ${fieldIndex + 1} "${cell}")`,
        { details: { column: column?.name, fields: [previous, fieldIndex] } },
      );
    }
    fieldIndexByColumn[columnIndex] = fieldIndex;
    columnIndexByField.push(columnIndex);
  });

  const missing: string[] = [];
  const wanted: string[] = [];
  const absentColumns: string[] = [];
  definition.columns.forEach((column, index) => {
    if (fieldIndexByColumn[index] !== -1) return;
    if (column.isKey || !column.nullable) {
      missing.push(column.name);
      // The file's names for it, not only the table's: what the sender
      // must put in the header.
      wanted.push(column.sources.map((name) => `"${name}"`).join(' or '));
    } else absentColumns.push(column.name);
  });
  if (missing.length > 0) {
    const shown = header.slice(0, 20).map((name) => `"${name}"`);
    throw new ImportError(
      ErrorCodes.MISSING_COLUMNS,
      `the header lacks a field for ${wanted.join(', ')}; it has ${shown.join(', ')}${header.length > 20 ? ', ...' : ''}`,
      // The header itself only in part: a file's header can be huge.
      { details: { missing, header: header.slice(0, 50) } },
    );
  }

  if (unknownFields.length > 0 && definition.unknownFields === 'fail') {
    const shown = unknownFields.slice(0, 20).join(', ');
    throw new ImportError(
      ErrorCodes.UNKNOWN_COLUMNS,
      `the header has ${unknownFields.length} field(s) no column maps to: ` +
        `${shown}${unknownFields.length > 20 ? ', ...' : ''}`,
      { details: { unknown: unknownFields.slice(0, 50) } },
    );
  }

  return {
    fieldIndexByColumn,
    columnIndexByField,
    unknownFields,
    absentColumns,
    width: header.length,
    identity:
      header.length === fieldIndexByColumn.length &&
      fieldIndexByColumn.every((field, column) => field === column),
  };
}

/**
 * Picks a row's values in the definition's column order. Columns the
 * header lacks get `undefined` (the source has no such field).
 */
export function pickValues(
  mapping: HeaderMapping,
  fields: readonly RawValue[],
): RawValue[] {
  const indexes = mapping.fieldIndexByColumn;
  const values = new Array<RawValue>(indexes.length);
  for (let c = 0; c < indexes.length; c++) {
    const index = indexes[c] as number;
    values[c] = index === -1 ? undefined : fields[index];
  }
  return values;
}

function columnLookup(definition: ImportDefinition): Map<string, number> {
  const byName = new Map<string, number>();
  definition.columns.forEach((column, index) => {
    for (const source of column.sources) {
      const name = normalizeFieldName(source);
      const owner = byName.get(name);
      if (owner !== undefined && owner !== index) {
        throw new ImportError(
          ErrorCodes.INVALID_DEFINITION,
          `columns "${definition.columns[owner]?.name}" and "${column.name}" ` +
            `both answer to the header name "${source}"`,
          { details: { entity: definition.entity, name: source } },
        );
      }
      byName.set(name, index);
    }
  });
  return byName;
}
