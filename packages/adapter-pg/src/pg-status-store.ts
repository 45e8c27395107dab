import {
  ErrorCodes,
  ImportError,
  toImportError,
  type ImportListPage,
  type ImportListQuery,
  type ImportProgress,
  type ImportRecord,
  type ImportState,
  type ImportTransition,
  type StatusStore,
  type TransactionClient,
} from '@erp-import/core';
import type { PgPool, PgQueryable } from './pg-types.js';
import { defaultSchema, quoteSchema } from './schema-name.js';
import { statusStoreSql } from './status-store-sql.js';
import {
  fromStorableJson,
  fromStorableOrNull,
  fromStorableText,
  toStorableJson,
  toStorableOrNull,
  toStorableText,
} from './storable-text.js';

export interface PgStatusStoreOptions {
  pool: PgPool;
  /** `erp_import` by default; `migrate` must have run on it. */
  schema?: string;
}

/**
 * The status store on PostgreSQL. `database` is the pool it uses: when the
 * engine's `database` is that same pool, the engine calls
 * `transitionInTransaction` inside the MERGE's transaction and an import's
 * `completed` commits together with its rows.
 */
export interface PgStatusStore extends StatusStore {
  readonly database: PgPool;
  getByIdempotencyKey(
    tenant: string,
    idempotencyKey: string,
  ): Promise<ImportRecord | undefined>;
  listByState(query: ImportStateQuery): Promise<ImportListPage>;
  transitionInTransaction(
    client: TransactionClient,
    id: string,
    from: readonly ImportState[],
    patch: ImportTransition,
  ): Promise<ImportRecord | undefined>;
}

const maxPageSize = 500;

// Core's index does not name this query type (yet); derive it from the port.
type ImportStateQuery = Parameters<NonNullable<StatusStore['listByState']>>[0];

interface ImportRow {
  seq: string;
  id: string;
  tenant: string;
  entity: string;
  format: ImportRecord['format'];
  state: ImportState;
  file_name: string | null;
  submitted_by: string | null;
  idempotency_key: string | null;
  file_key: string;
  byte_size: string;
  checksum: string;
  options: ImportRecord['options'];
  detected: ImportRecord['detected'];
  counts: ImportRecord['counts'];
  progress: ImportProgress;
  failure: ImportRecord['failure'];
  attempts: number;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export function createPgStatusStore(
  options: PgStatusStoreOptions,
): PgStatusStore {
  const { pool } = options;
  const sql = statusStoreSql(quoteSchema(options.schema ?? defaultSchema));

  async function run(
    on: PgQueryable,
    text: string,
    values: unknown[],
  ): Promise<ImportRow[]> {
    try {
      const result = await on.query(text, values);
      return result.rows as ImportRow[];
    } catch (error) {
      throw toImportError(error, ErrorCodes.STORE_ERROR);
    }
  }

  async function transitionOn(
    on: PgQueryable,
    id: string,
    from: readonly ImportState[],
    patch: ImportTransition,
  ): Promise<ImportRecord | undefined> {
    const setsNullable = (
      ['failure', 'startedAt', 'finishedAt'] as const
    ).filter((field) => patch[field] !== undefined);
    const rows = await run(on, sql.transition, [
      toStorableText(id),
      [...from],
      patch.state,
      toStorableJson(patch.counts),
      toStorableJson(patch.progress),
      toStorableJson(patch.failure),
      toStorableJson(patch.detected),
      patch.attempts ?? null,
      patch.startedAt ?? null,
      patch.finishedAt ?? null,
      setsNullable,
    ]);
    return rows[0] && toRecord(rows[0]);
  }

  return {
    database: pool,

    async create(record) {
      // Every text is in the stored form (storable-text.ts), here and in
      // each lookup, so a file name or a failure may hold any string.
      const inserted = await run(pool, sql.insert, [
        toStorableText(record.id),
        toStorableText(record.tenant),
        toStorableText(record.entity),
        record.format,
        record.state,
        toStorableOrNull(record.fileName),
        toStorableOrNull(record.submittedBy),
        toStorableOrNull(record.idempotencyKey),
        toStorableText(record.fileKey),
        record.byteSize,
        toStorableText(record.checksum),
        toStorableJson(record.options),
        toStorableJson(record.detected),
        toStorableJson(record.counts),
        toStorableJson(record.progress),
        toStorableJson(record.failure),
        record.attempts,
        record.createdAt,
        record.startedAt,
        record.finishedAt,
      ]);
      if (inserted[0]) return { record: toRecord(inserted[0]), created: true };

      // Only the idempotency index can refuse the row (a repeated id is a
      // primary key violation, which throws): the first record wins.
      const existing = await run(pool, sql.byIdempotencyKey, [
        toStorableText(record.tenant),
        toStorableOrNull(record.idempotencyKey),
      ]);
      if (!existing[0]) {
        throw new ImportError(
          ErrorCodes.STORE_ERROR,
          'the import record was refused but no earlier record holds its idempotency key',
          { details: { id: record.id } },
        );
      }
      return { record: toRecord(existing[0]), created: false };
    },

    async get(tenant, id) {
      const rows = await run(pool, sql.byTenantAndId, [
        toStorableText(tenant),
        toStorableText(id),
      ]);
      return rows[0] && toRecord(rows[0]);
    },

    async getByIdempotencyKey(tenant, idempotencyKey) {
      const rows = await run(pool, sql.byIdempotencyKey, [
        toStorableText(tenant),
        toStorableText(idempotencyKey),
      ]);
      return rows[0] && toRecord(rows[0]);
    },

    async getById(id) {
      const rows = await run(pool, sql.byId, [toStorableText(id)]);
      return rows[0] && toRecord(rows[0]);
    },

    async list(query: ImportListQuery): Promise<ImportListPage> {
      const limit = pageSize(query.limit);
      const after = query.cursor ? decodeCursor(query.cursor) : null;
      const rows = await run(pool, sql.list, [
        toStorableText(query.tenant),
        toStorableOrNull(query.entity ?? null),
        query.state ?? null,
        after?.createdAt ?? null,
        after?.seq ?? null,
        limit + 1,
      ]);
      return toPage(rows, limit);
    },

    async listByState(query) {
      const limit = pageSize(query.limit);
      const after = query.cursor ? decodeCursor(query.cursor) : null;
      const rows = await run(pool, sql.listByState, [
        query.state,
        after?.createdAt ?? null,
        after?.seq ?? null,
        limit + 1,
      ]);
      return toPage(rows, limit);
    },

    transition(id, from, patch) {
      return transitionOn(pool, id, from, patch);
    },

    transitionInTransaction(client, id, from, patch) {
      return transitionOn(client, id, from, patch);
    },

    async updateProgress(id, progress) {
      await run(pool, sql.updateProgress, [
        toStorableText(id),
        toStorableJson(progress),
      ]);
    },
  };
}

function pageSize(limit: number): number {
  return Math.max(1, Math.min(maxPageSize, Math.floor(limit)));
}

// `rows` holds one row past the page when there is a next page.
function toPage(rows: ImportRow[], limit: number): ImportListPage {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  const nextCursor =
    rows.length > limit && last
      ? encodeCursor(last.created_at.toISOString(), last.seq)
      : null;
  return { items: items.map(toRecord), nextCursor };
}

function toRecord(row: ImportRow): ImportRecord {
  return {
    id: fromStorableText(row.id),
    tenant: fromStorableText(row.tenant),
    entity: fromStorableText(row.entity),
    format: row.format,
    state: row.state,
    fileName: fromStorableOrNull(row.file_name),
    submittedBy: fromStorableOrNull(row.submitted_by),
    idempotencyKey: fromStorableOrNull(row.idempotency_key),
    fileKey: fromStorableText(row.file_key),
    byteSize: Number(row.byte_size),
    checksum: fromStorableText(row.checksum),
    options: fromStorableJson(row.options),
    detected: fromStorableJson(row.detected),
    counts: fromStorableJson(row.counts),
    progress: fromStorableJson(row.progress),
    failure: fromStorableJson(row.failure),
    attempts: row.attempts,
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}

// The cursor is the last row's position in the newest-first order.
function encodeCursor(createdAt: string, seq: string): string {
  return Buffer.from(JSON.stringify([createdAt, seq])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; seq: string } {
  try {
    const value: unknown = JSON.parse(
      Buffer.from(cursor, 'base64url').toString('utf8'),
    );
    if (
      Array.isArray(value) &&
      typeof value[0] === 'string' &&
      !Number.isNaN(Date.parse(value[0])) &&
      typeof value[1] === 'string' &&
      /^\d+$/.test(value[1])
    ) {
      return { createdAt: value[0], seq: value[1] };
    }
  } catch {
    // Falls through to the error below.
  }
  throw new ImportError(ErrorCodes.INVALID_REQUEST, 'invalid list cursor', {
    details: { cursor },
  });
}
