import { ErrorCodes, ImportError } from '@erp-import/core';

export const defaultSchema = 'erp_import';

/**
 * Checks a schema name and returns it quoted for SQL. The name becomes
 * part of SQL text (schemas cannot be bind parameters), so it is held to
 * plain lower-case identifiers; 40 characters leave room for the queue's
 * `<schema>_queue` schema under pg-boss's limit of 50.
 */
export function quoteSchema(schema: string): string {
  if (!/^[a-z_][a-z0-9_]{0,39}$/.test(schema)) {
    throw new ImportError(
      ErrorCodes.INVALID_REQUEST,
      `schema name "${schema}" must be a lower-case identifier of at most 40 characters`,
      { details: { schema } },
    );
  }
  return `"${schema}"`;
}
