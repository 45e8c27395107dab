import { z } from 'zod';
import type { ColumnType } from '../definitions/import-definition.js';
import type { ErrorPage, LoggedRowIssue } from '../ports/error-log.js';
import {
  importFormats,
  importStates,
  mergeModes,
  type ImportRecord,
} from '../ports/import-record.js';

/**
 * The bodies and parameters of the HTTP API as zod schemas. The server
 * validates requests with them, the OpenAPI document is generated from
 * them and the SDK types itself from them, so this module pulls in nothing
 * but zod and plain data: no streams, no database, no Express.
 *
 * Each named schema is registered in `contractSchemas`, which gives its
 * component name in the OpenAPI document.
 */
export const contractSchemas = z.registry<{ id: string }>();

function named<T extends z.ZodType>(id: string, schema: T): T {
  contractSchemas.add(schema, { id });
  return schema;
}

// Timestamps travel as ISO 8601 text; adapters write them with an offset.
const timestamp = z.string().meta({ format: 'date-time' });

// --- the import record ---

export const importStateSchema = named('ImportState', z.enum(importStates));
export const importFormatSchema = named('ImportFormat', z.enum(importFormats));

// What every count object holds, a file's and each entity's alike.
const countFields = {
  read: z.number().int(),
  inserted: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  deleted: z.number().int(),
  rejected: z.number().int(),
  /** Records superseded by a later record with the same key. */
  superseded: z.number().int(),
  /** Valid records deliberately not applied, each with a warning. */
  skipped: z.number().int(),
};

export const entityImportCountsSchema = named(
  'EntityImportCounts',
  z.object(countFields),
);

export const importCountsSchema = named(
  'ImportCounts',
  z.object({
    ...countFields,
    /**
     * By entity, when a definition with children fed several tables;
     * each adds up to its own `read`, and the fields above are the sums.
     */
    entities: z.record(z.string(), entityImportCountsSchema).optional(),
  }),
);

export const importProgressSchema = named(
  'ImportProgress',
  z.object({
    bytesRead: z.number().int(),
    bytesTotal: z.number().int().nullable(),
    recordsRead: z.number().int(),
    recordsRejected: z.number().int(),
    phase: z.enum(['waiting', 'reading', 'merging', 'done']),
    updatedAt: timestamp,
  }),
);

export const importFailureSchema = named(
  'ImportFailure',
  z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
);

export const importReadOptionsSchema = named(
  'ImportReadOptions',
  z.object({
    encoding: z.string().optional(),
    delimiter: z.string().optional(),
    compression: z.enum(['gzip', 'none']).optional(),
    // How the rows are applied, as the request asked (see enqueue).
    mode: z.enum(mergeModes).optional(),
    params: z.record(z.string(), z.string()).optional(),
    exportedAt: z.string().optional(),
    allowMassDelete: z.boolean().optional(),
    maxRejected: z.number().int().optional(),
    maxRejectedShare: z.number().optional(),
  }),
);

/**
 * The import record as clients see it: the status store's record without
 * `fileKey`, which names the upload inside the server's file store and is
 * nobody else's business.
 */
export const importRecordSchema = named(
  'ImportRecord',
  z.object({
    id: z.string(),
    tenant: z.string(),
    entity: z.string(),
    format: importFormatSchema,
    state: importStateSchema,
    fileName: z.string().nullable(),
    submittedBy: z.string().nullable(),
    idempotencyKey: z.string().nullable(),
    byteSize: z.number().int(),
    checksum: z.string(),
    options: importReadOptionsSchema,
    detected: z.object({
      encoding: z.string().optional(),
      delimiter: z.string().optional(),
    }),
    counts: importCountsSchema,
    progress: importProgressSchema,
    failure: importFailureSchema.nullable(),
    attempts: z.number().int(),
    createdAt: timestamp,
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
  }),
);

export type PublicImportRecord = Omit<ImportRecord, 'fileKey'>;

/** Drops what the server keeps to itself; the rest passes as it is. */
export function toPublicImportRecord(record: ImportRecord): PublicImportRecord {
  const { fileKey: _fileKey, ...rest } = record;
  return rest;
}

// --- listing imports ---

/** `GET /imports`. The tenant comes from the bearer token, never the query. */
export const listImportsQuerySchema = z.object({
  entity: z.string().min(1).optional(),
  state: importStateSchema.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** The `nextCursor` of the previous page. */
  cursor: z.string().min(1).optional(),
});

export const importListPageSchema = named(
  'ImportListPage',
  z.object({
    /** Newest first. */
    items: z.array(importRecordSchema),
    /** Pass it as `cursor` for the next page; null on the last one. */
    nextCursor: z.string().nullable(),
  }),
);

// --- rejected rows ---

export const errorsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  /** The `nextAfterSeq` of the previous page. */
  afterSeq: z.coerce.number().int().min(0).optional(),
  severity: z.enum(['error', 'warning']).optional(),
  /**
   * `csv` streams every entry as CSV instead (so does `Accept: text/csv`);
   * `original` streams the fix file: the rejected records in the file's
   * own format and encoding, with their errors added (CSV: `_line`,
   * `_column`, `_code`, `_message` columns; JSON, NDJSON: an `_errors`
   * member; XML: a comment before each record).
   */
  format: z.enum(['json', 'csv', 'original']).default('json'),
});

export const recordPositionSchema = named(
  'RecordPosition',
  z.object({
    recordNumber: z.number().int(),
    line: z.number().int().optional(),
    endLine: z.number().int().optional(),
    path: z.string().optional(),
  }),
);

export const rowIssueSchema = named(
  'RowIssue',
  z.object({
    seq: z.number().int(),
    severity: z.enum(['error', 'warning']),
    position: recordPositionSchema,
    column: z.string().optional(),
    code: z.string(),
    message: z.string(),
    rawValue: z.string().nullable().optional(),
    entity: z.string().optional(),
  }),
);

export const errorPageSchema = named(
  'ImportErrorPage',
  z.object({
    items: z.array(rowIssueSchema),
    /** Pass it as `afterSeq` for the next page; null on the last one. */
    nextAfterSeq: z.number().int().nullable(),
  }),
);

// --- entities ---

// Repeated from the definitions module, which the contract must not load
// (it validates with Node's Buffer); the check at the end keeps them equal.
const entityColumnTypes = [
  'text',
  'integer',
  'bigint',
  'numeric',
  'boolean',
  'date',
  'timestamp',
  'timestamptz',
  'uuid',
  'jsonb',
] as const;

export const entityColumnSchema = named(
  'EntityColumn',
  z.object({
    name: z.string(),
    type: z.enum(entityColumnTypes),
    nullable: z.boolean(),
    /** The header names (CSV) that map to this column, its own first. */
    sources: z.array(z.string()),
    path: z.string().optional(),
    length: z.number().int().optional(),
    precision: z.number().int().optional(),
    scale: z.number().int().optional(),
  }),
);

export const entitySchema = named(
  'Entity',
  z.object({
    entity: z.string(),
    description: z.string().nullable(),
    key: z.array(z.string()),
    columns: z.array(entityColumnSchema),
    /** Filled by the server with the caller's tenant; never sent. */
    tenantColumn: z.string().nullable(),
  }),
);

export const entityListSchema = named(
  'EntityList',
  z.object({ items: z.array(entitySchema) }),
);

// --- enqueue ---

/** `POST /imports`: the file is the raw body; the rest is the query. */
export const enqueueQuerySchema = z.object({
  entity: z.string().min(1),
  format: importFormatSchema.default('csv'),
  fileName: z.string().min(1).max(255).optional(),
  /** Declared encoding; detected when absent. */
  encoding: z.string().min(1).max(40).optional(),
  /** Declared CSV delimiter; detected when absent. */
  delimiter: z.string().min(1).max(4).optional(),
  /**
   * How rows meet the table: one of the entity's allowed modes, its own
   * mode when absent. Scope parameters travel as `param.<column>=value`
   * (`param.company_id=12`); the entity's `scope` names the ones it needs.
   */
  mode: z.enum(mergeModes).optional(),
  /** When the file was exported (ISO 8601); an older export is refused. */
  exportedAt: z.string().min(1).max(64).optional(),
  /** `true` lets a sync delete more than the entity's brake allows. */
  allowMassDelete: z.enum(['true', 'false']).optional(),
  /** More rejected records fail the import; 0 is all or nothing. */
  maxRejected: z.coerce.number().int().min(0).optional(),
  /** The same as a share of the records read, 0 to 1. */
  maxRejectedShare: z.coerce.number().min(0).max(1).optional(),
});

/** The prefix of scope parameters in the query of `POST /imports`. */
export const scopeParamPrefix = 'param.';

/** The query of `POST /imports` as the server reads it. */
export type EnqueueQueryParsed = z.output<typeof enqueueQuerySchema>;

/** Header names are lower-case, as Node hands them over. */
export const enqueueHeadersSchema = z.object({
  /**
   * Retries of one upload carry the same key; the server answers them
   * with the first import instead of creating another.
   */
  'idempotency-key': z.string().min(1).max(255).optional(),
  /** gzip bodies are stored as sent and decompressed by the worker. */
  'content-encoding': z.enum(['gzip', 'identity']).optional(),
});

export const importIdParamsSchema = z.object({ id: z.string().min(1) });

// --- health and errors ---

export const healthSchema = named(
  'Health',
  z.object({ status: z.literal('ok') }),
);

/**
 * RFC 9457 problem details. `code` is the ImportError code; a validation
 * failure lists its `issues`. Other members may be added.
 */
export const problemSchema = named(
  'Problem',
  z.looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    code: z.string(),
    instance: z.string().optional(),
    issues: z
      .array(
        z.object({
          path: z.array(z.union([z.string(), z.number()])),
          message: z.string(),
        }),
      )
      .optional(),
  }),
);

// --- the types clients use ---

export type ImportListPageBody = z.output<typeof importListPageSchema>;
/** What a client may send to `GET /imports`; every member is optional. */
export type ListImportsQuery = Partial<z.output<typeof listImportsQuerySchema>>;
/** What a client may send to `GET /imports/:id/errors`. */
export type ImportErrorsQuery = Partial<z.output<typeof errorsQuerySchema>>;
export type ImportErrorPage = z.output<typeof errorPageSchema>;
export type RowIssueBody = z.output<typeof rowIssueSchema>;
export type EntityColumn = z.output<typeof entityColumnSchema>;
export type Entity = z.output<typeof entitySchema>;
export type EntityList = z.output<typeof entityListSchema>;
/** What a client may send as the query of `POST /imports`. */
export type EnqueueQuery = z.input<typeof enqueueQuerySchema>;
export type Health = z.output<typeof healthSchema>;
export type Problem = z.output<typeof problemSchema>;

// The schemas must describe the port types exactly; these fail to compile
// the day one side changes without the other.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameRecord: Same<
  z.output<typeof importRecordSchema>,
  PublicImportRecord
> = true;
const sameIssue: Same<RowIssueBody, LoggedRowIssue> = true;
const samePage: Same<ImportErrorPage, ErrorPage> = true;
void sameRecord;
void sameIssue;
const sameColumnType: Same<(typeof entityColumnTypes)[number], ColumnType> =
  true;
void samePage;
void sameColumnType;
