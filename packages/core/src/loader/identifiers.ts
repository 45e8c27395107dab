import { ErrorCodes, ImportError } from '../errors/import-error.js';

/**
 * Every identifier in the SQL the loader writes goes through
 * `quoteIdentifier`; values never become SQL text (they travel in COPY
 * data or bind parameters). Quoting always, rather than only when needed,
 * keeps upper case, spaces and reserved words exactly as declared.
 */
export function quoteIdentifier(name: string): string {
  if (name.length === 0) {
    throw new ImportError(
      ErrorCodes.INVALID_DEFINITION,
      'an SQL identifier cannot be empty',
    );
  }
  if (name.includes('\u0000')) {
    throw new ImportError(
      ErrorCodes.INVALID_DEFINITION,
      'an SQL identifier cannot hold NUL',
      { details: { identifier: name.replaceAll('\u0000', '\\0') } },
    );
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * A table name, schema-qualified when a schema is given; otherwise it is
 * left to the connection's search_path.
 */
export function qualifiedTableName(table: string, schema?: string): string {
  return schema === undefined
    ? quoteIdentifier(table)
    : `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
}

/** A temporary table of this session, named so it cannot be shadowed. */
export function temporaryTableName(name: string): string {
  return `pg_temp.${quoteIdentifier(name)}`;
}
