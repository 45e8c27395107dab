import {
  ErrorCodes,
  toImportError,
  type ErrorLog,
  type LoggedRowIssue,
  type RowIssue,
} from '@erp-import/core';
import { errorLogSql } from './error-log-sql.js';
import type { PgPool } from './pg-types.js';
import { defaultSchema, quoteSchema } from './schema-name.js';
import {
  fromStorableOrNull,
  fromStorableText,
  toStorableOrNull,
  toStorableText,
} from './storable-text.js';

export interface PgErrorLogOptions {
  pool: PgPool;
  /** `erp_import` by default; `migrate` must have run on it. */
  schema?: string;
}

const maxPageSize = 1000;

interface ErrorRow {
  seq: string;
  severity: RowIssue['severity'];
  record_number: string;
  line: string | null;
  end_line: string | null;
  path: string | null;
  column_name: string | null;
  code: string;
  message: string;
  raw_value: string | null;
  raw_value_given: boolean;
  entity: string | null;
}

/**
 * The error log on PostgreSQL. `seq` comes from one identity column, so it
 * rises across the whole table and therefore within each import; pages
 * are keyset pages on it.
 */
export function createPgErrorLog(options: PgErrorLogOptions): ErrorLog {
  const { pool } = options;
  const sql = errorLogSql(quoteSchema(options.schema ?? defaultSchema));

  async function run(text: string, values: unknown[]): Promise<unknown[]> {
    try {
      return (await pool.query(text, values)).rows;
    } catch (error) {
      throw toImportError(error, ErrorCodes.STORE_ERROR);
    }
  }

  return {
    async append(importId, entries) {
      if (entries.length === 0) return;
      // Every text is in the stored form (storable-text.ts): a rejected
      // row's raw text may hold a NUL, which PostgreSQL text cannot.
      const text = (value: string | undefined | null) =>
        toStorableOrNull(value ?? null);
      await run(sql.append, [
        toStorableText(importId),
        entries.map((entry) => text(entry.severity)),
        entries.map((entry) => entry.position.recordNumber),
        entries.map((entry) => entry.position.line ?? null),
        entries.map((entry) => entry.position.endLine ?? null),
        entries.map((entry) => text(entry.position.path)),
        entries.map((entry) => text(entry.column)),
        entries.map((entry) => text(entry.code)),
        entries.map((entry) => text(entry.message)),
        entries.map((entry) => text(entry.rawValue)),
        entries.map((entry) => entry.rawValue !== undefined),
        entries.map((entry) => text(entry.entity)),
      ]);
    },

    async page(importId, query) {
      const limit = Math.max(1, Math.min(maxPageSize, Math.floor(query.limit)));
      const rows = (await run(sql.page, [
        toStorableText(importId),
        query.afterSeq ?? null,
        query.severity ?? null,
        limit + 1,
      ])) as ErrorRow[];

      const items = rows.slice(0, limit).map(toLoggedIssue);
      const last = items[items.length - 1];
      return {
        items,
        nextAfterSeq: rows.length > limit && last ? last.seq : null,
      };
    },

    async count(importId) {
      const rows = (await run(sql.count, [toStorableText(importId)])) as {
        errors: string;
        warnings: string;
      }[];
      return {
        errors: Number(rows[0]?.errors ?? 0),
        warnings: Number(rows[0]?.warnings ?? 0),
      };
    },

    async clear(importId) {
      await run(sql.clear, [toStorableText(importId)]);
    },
  };
}

// Optional members are left out rather than set to undefined, so an entry
// reads back as it was appended.
function toLoggedIssue(row: ErrorRow): LoggedRowIssue {
  const issue: LoggedRowIssue = {
    seq: Number(row.seq),
    severity: row.severity,
    position: { recordNumber: Number(row.record_number) },
    code: fromStorableText(row.code),
    message: fromStorableText(row.message),
  };
  if (row.line !== null) issue.position.line = Number(row.line);
  if (row.end_line !== null) issue.position.endLine = Number(row.end_line);
  if (row.path !== null) issue.position.path = fromStorableText(row.path);
  if (row.column_name !== null) {
    issue.column = fromStorableText(row.column_name);
  }
  if (row.raw_value_given) issue.rawValue = fromStorableOrNull(row.raw_value);
  if (row.entity !== null) issue.entity = fromStorableText(row.entity);
  return issue;
}
