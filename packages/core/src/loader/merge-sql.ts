import type {
  ColumnDefinition,
  ImportDefinition,
} from '../definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import {
  qualifiedTableName,
  quoteIdentifier,
  temporaryTableName,
} from './identifiers.js';

/**
 * The SQL of the loader, built from a definition and nothing else: pure
 * functions, definition in, SQL text out. Every identifier is quoted and
 * no value from a file ever appears here; values reach the server only as
 * COPY data or bind parameters.
 *
 * The staging table mirrors the definition's columns with their types,
 * plus bookkeeping columns that say where each row came from. The target
 * is aliased `t` and the staging table `s` throughout.
 */

/** The bookkeeping columns of a staging table, before the data columns. */
export const stagingSystemColumns = [
  // The loader's arrival counter: file order, unique within the table.
  '__seq',
  // The record's number in its file (rows of one record share it).
  '__record',
  '__line',
  '__path',
] as const;

export interface StagingNames {
  /** The staging table's bare name; it lives in pg_temp. */
  staging: string;
}

export interface DedupeNames extends StagingNames {
  /** Where the dedupe step moves superseded records, in pg_temp too. */
  superseded: string;
}

export interface MergeSqlOptions extends StagingNames {
  /**
   * PostgreSQL 17+ answers `RETURNING merge_action()`: the MERGE then
   * counts its own inserts and updates. Without it, give `insertCounter`.
   */
  supportsReturning: boolean;
  /**
   * Without RETURNING: a temporary sequence (`buildInsertCounterSql`)
   * that the MERGE advances once per row it inserts. Its updates are
   * then the rest of the MERGE's row count, with no second join of
   * staging and target to count them beforehand.
   */
  insertCounter?: string;
  /**
   * Merge only the staged rows whose `__seq` lies between `$1` and `$2`;
   * how rows the database refuses are searched for.
   */
  seqRange?: boolean;
}

/** The staging column of the empty-means-keep flags, when there is one. */
const keepColumn = '__keep';

/**
 * The staging column that marks a record rejected while reading
 * (`CoercedRow.keyOnly`): staged for its key alone. It takes part in the
 * dedupe (a rejected last occurrence of a key supersedes the earlier
 * ones, as a row the database refuses does), then leaves staging for the
 * unread table, where a sync sees its key as part of the file.
 */
const keyOnlyColumn = '__key_only';

/**
 * In a child entity's staging, the number of the parent record each row
 * came with: a superseded parent takes the children of its occurrence.
 */
const parentRecordColumn = '__parent_record';

/** Whether a definition is a child record type (it has a parent). */
export function isChildDefinition(definition: ImportDefinition): boolean {
  return (definition as { parentEntity?: string }).parentEntity !== undefined;
}

/**
 * The columns whose stored value an empty field keeps, in definition
 * order; the `__keep` staging column holds one `0` or `1` for each.
 */
export function keepColumnIndexes(definition: ImportDefinition): number[] {
  const indexes: number[] = [];
  definition.columns.forEach((column, index) => {
    if (column.emptyMeansKeep === true) indexes.push(index);
  });
  return indexes;
}

/**
 * The columns the engine fills rather than the file: the tenant, then the
 * scope. Matched like the key and written on insert.
 */
export function fixedColumns(definition: ImportDefinition): string[] {
  return [
    ...(definition.tenantColumn === undefined ? [] : [definition.tenantColumn]),
    ...(definition.scope ?? []).map((column) => column.name),
  ];
}

/** The PostgreSQL type a column's values are staged as. */
export function postgresTypeOf(column: ColumnDefinition): string {
  switch (column.type) {
    case 'text':
      return column.length === undefined
        ? 'text'
        : `varchar(${integerOf(column.length)})`;
    case 'numeric':
      if (column.precision === undefined) return 'numeric';
      return column.scale === undefined
        ? `numeric(${integerOf(column.precision)})`
        : `numeric(${integerOf(column.precision)},${integerOf(column.scale)})`;
    case 'integer':
    case 'bigint':
    case 'boolean':
    case 'date':
    case 'timestamp':
    case 'timestamptz':
    case 'uuid':
    case 'jsonb':
      return column.type;
    default:
      return unknownType(column.type);
  }
}

/**
 * The columns COPY fills, in order: bookkeeping, then the tenant column
 * when the definition has one, then the definition's columns.
 */
export function stagingColumnNames(definition: ImportDefinition): string[] {
  return [
    ...stagingSystemColumns,
    ...(keepColumnIndexes(definition).length === 0 ? [] : [keepColumn]),
    keyOnlyColumn,
    ...(isChildDefinition(definition) ? [parentRecordColumn] : []),
    ...fixedColumns(definition),
    ...definition.columns.map((column) => column.name),
  ];
}

/**
 * A temporary table dropped at the end of the transaction, so an attempt
 * that dies leaves nothing behind. Data columns are nullable: NOT NULL is
 * the target's to enforce.
 */
export function buildStagingTableSql(
  definition: ImportDefinition,
  names: StagingNames,
): string {
  refuseReservedNames(definition);
  const columns = [
    `${quoteIdentifier('__seq')} bigint NOT NULL`,
    `${quoteIdentifier('__record')} bigint NOT NULL`,
    `${quoteIdentifier('__line')} bigint`,
    `${quoteIdentifier('__path')} text`,
    ...(keepColumnIndexes(definition).length === 0
      ? []
      : [`${quoteIdentifier(keepColumn)} text`]),
    `${quoteIdentifier(keyOnlyColumn)} boolean NOT NULL`,
    ...(isChildDefinition(definition)
      ? [`${quoteIdentifier(parentRecordColumn)} bigint`]
      : []),
    ...(definition.tenantColumn === undefined
      ? []
      : [`${quoteIdentifier(definition.tenantColumn)} text NOT NULL`]),
    ...(definition.scope ?? []).map(
      (column) =>
        `${quoteIdentifier(column.name)} ${postgresTypeOf(column)} NOT NULL`,
    ),
    ...definition.columns.map(
      (column) => `${quoteIdentifier(column.name)} ${postgresTypeOf(column)}`,
    ),
  ];
  return [
    `CREATE TEMPORARY TABLE ${temporaryTableName(names.staging)} (`,
    columns.map((column) => `  ${column}`).join(',\n'),
    ') ON COMMIT DROP',
  ].join('\n');
}

/** COPY in PostgreSQL's text format, the columns of `stagingColumnNames`. */
export function buildCopySql(
  definition: ImportDefinition,
  names: StagingNames,
): string {
  const columns = stagingColumnNames(definition).map(quoteIdentifier);
  return (
    `COPY ${temporaryTableName(names.staging)} (${columns.join(', ')}) ` +
    'FROM STDIN'
  );
}

/** Where superseded duplicates go, to be reported in pages. */
export function buildSupersededTableSql(names: DedupeNames): string {
  return [
    `CREATE TEMPORARY TABLE ${temporaryTableName(names.superseded)} (`,
    `  ${quoteIdentifier('__seq')} bigint NOT NULL,`,
    `  ${quoteIdentifier('__record')} bigint NOT NULL,`,
    `  ${quoteIdentifier('__line')} bigint,`,
    `  ${quoteIdentifier('__path')} text,`,
    `  ${quoteIdentifier('__key_only')} boolean NOT NULL,`,
    `  ${quoteIdentifier('winner_record')} bigint NOT NULL,`,
    `  ${quoteIdentifier('winner_line')} bigint,`,
    `  ${quoteIdentifier('winner_key_only')} boolean NOT NULL,`,
    `  ${quoteIdentifier('by_parent')} boolean NOT NULL DEFAULT false`,
    ') ON COMMIT DROP',
  ].join('\n');
}

/**
 * Keeps the last record of each key in file order (the highest `__seq`)
 * and moves the others to the superseded table, with the record that
 * superseded them. Set-based over the whole staging table, so the answer
 * does not depend on how the file was chunked. MERGE refuses to touch a
 * target row twice, hence this runs first.
 *
 * Key-only rows (records rejected while reading) count as occurrences:
 * when the last one is rejected, nothing of that key applies. Rows with
 * no readable key (NULL key columns, key-only rows alone have them) stay
 * out of it. Answers how many rows with values were superseded.
 */
export function buildDedupeSql(
  definition: ImportDefinition,
  names: DedupeNames,
): string {
  const staging = temporaryTableName(names.staging);
  const seq = quoteIdentifier('__seq');
  const record = quoteIdentifier('__record');
  const line = quoteIdentifier('__line');
  const path = quoteIdentifier('__path');
  const keyOnly = quoteIdentifier(keyOnlyColumn);
  const winnerSeq = quoteIdentifier('winner_seq');
  const winnerRecord = quoteIdentifier('winner_record');
  const winnerLine = quoteIdentifier('winner_line');
  const winnerKeyOnly = quoteIdentifier('winner_key_only');
  const keys = definition.key.map(quoteIdentifier);
  const moved = [
    seq,
    record,
    line,
    path,
    keyOnly,
    winnerRecord,
    winnerLine,
    winnerKeyOnly,
  ].join(', ');
  return [
    'WITH ranked AS (',
    `  SELECT ${seq},`,
    `    first_value(${seq}) OVER latest AS ${winnerSeq},`,
    `    first_value(${record}) OVER latest AS ${winnerRecord},`,
    `    first_value(${line}) OVER latest AS ${winnerLine},`,
    `    first_value(${keyOnly}) OVER latest AS ${winnerKeyOnly}`,
    `  FROM ${staging}`,
    `  WHERE ${keys.map((key) => `${key} IS NOT NULL`).join(' AND ')}`,
    `  WINDOW latest AS (PARTITION BY ${keys.join(', ')} ORDER BY ${seq} DESC)`,
    '), removed AS (',
    `  DELETE FROM ${staging} AS s`,
    '  USING ranked AS r',
    `  WHERE s.${seq} = r.${seq} AND r.${seq} <> r.${winnerSeq}`,
    `  RETURNING s.${seq}, s.${record}, s.${line}, s.${path}, s.${keyOnly},`,
    `    r.${winnerRecord}, r.${winnerLine}, r.${winnerKeyOnly}`,
    '), superseded AS (',
    `  INSERT INTO ${temporaryTableName(names.superseded)}`,
    `    (${moved})`,
    `  SELECT ${moved}`,
    '  FROM removed',
    `  RETURNING ${keyOnly}`,
    ')',
    `SELECT count(*) FILTER (WHERE NOT ${keyOnly}) AS "superseded"`,
    'FROM superseded',
  ].join('\n');
}

/**
 * In a child entity, moves the rows that came with a superseded parent
 * record to the child's superseded table: the last occurrence of a
 * parent wins with its own children, not with a mix of both. Answers
 * how many rows with values moved.
 */
export function buildSupersedeWithParentSql(
  child: DedupeNames,
  parent: DedupeNames,
): string {
  const seq = quoteIdentifier('__seq');
  const record = quoteIdentifier('__record');
  const line = quoteIdentifier('__line');
  const path = quoteIdentifier('__path');
  const keyOnly = quoteIdentifier(keyOnlyColumn);
  const parentRecord = quoteIdentifier(parentRecordColumn);
  const moved = [
    seq,
    record,
    line,
    path,
    keyOnly,
    'winner_record',
    'winner_line',
    'winner_key_only',
    'by_parent',
  ].map((name) => (name.startsWith('"') ? name : quoteIdentifier(name)));
  return [
    'WITH removed AS (',
    `  DELETE FROM ${temporaryTableName(child.staging)} AS s`,
    `  USING ${temporaryTableName(parent.superseded)} AS p`,
    `  WHERE s.${parentRecord} = p.${record}`,
    `  RETURNING s.${seq}, s.${record}, s.${line}, s.${path}, s.${keyOnly},`,
    `    p.${quoteIdentifier('winner_record')},`,
    `    p.${quoteIdentifier('winner_line')},`,
    `    p.${quoteIdentifier('winner_key_only')}`,
    '), superseded AS (',
    `  INSERT INTO ${temporaryTableName(child.superseded)}`,
    `    (${moved.join(', ')})`,
    `  SELECT removed.*, true FROM removed`,
    `  RETURNING ${keyOnly}`,
    ')',
    `SELECT count(*) FILTER (WHERE NOT ${keyOnly}) AS "superseded"`,
    'FROM superseded',
  ].join('\n');
}

/** Declares a cursor over the superseded records, in file order. */
export function buildSupersededCursorSql(
  cursor: string,
  names: DedupeNames,
): string {
  const columns = [
    '__seq',
    '__record',
    '__line',
    '__path',
    'winner_record',
    'winner_line',
    'winner_key_only',
    'by_parent',
  ].map(quoteIdentifier);
  // Rejected records are in the error log already, as errors.
  return [
    `DECLARE ${quoteIdentifier(cursor)} NO SCROLL CURSOR FOR`,
    `SELECT ${columns.join(', ')}`,
    `FROM ${temporaryTableName(names.superseded)}`,
    `WHERE NOT ${quoteIdentifier(keyOnlyColumn)}`,
    `ORDER BY ${quoteIdentifier('__seq')}`,
  ].join('\n');
}

/**
 * One MERGE per entity: insert new keys, update rows whose values
 * changed, leave the rest untouched (no new row version, no dead tuple).
 * With `supportsReturning` the MERGE sits in a WITH and the statement
 * answers one row: how many it inserted and updated.
 */
export function buildMergeSql(
  definition: ImportDefinition,
  options: MergeSqlOptions,
): string {
  const columns = [
    ...fixedColumns(definition),
    ...presentColumns(definition),
  ].map(quoteIdentifier);
  const updates = updateAssignments(definition);
  const mode = definition.mode ?? 'upsert';

  // Insert mode never updates and update mode never inserts; the rows
  // either would touch were moved out of staging (`buildSkipSql`) first.
  const whenMatched =
    updates.length === 0 || mode === 'insert'
      ? []
      : [
          'WHEN MATCHED AND (',
          changedCondition(definition, '  '),
          ') THEN',
          '  UPDATE SET',
          updates.map((line) => `    ${line}`).join(',\n'),
        ];
  const values = columns.map((name) => `s.${name}`);
  if (!options.supportsReturning && options.insertCounter !== undefined) {
    // The first value, unchanged, evaluated with the counter's nextval:
    // PostgreSQL computes it once per inserted row, and for no other.
    const counter = temporaryTableName(options.insertCounter);
    values[0] = `CASE WHEN nextval('${counter}') > 0 THEN ${values[0]} END`;
  }
  const whenNotMatched =
    mode === 'update'
      ? []
      : [
          'WHEN NOT MATCHED THEN',
          `  INSERT (${columns.join(', ')})`,
          `  VALUES (${values.join(', ')})`,
        ];
  const merge = [
    `MERGE INTO ${targetName(definition)} AS t`,
    `USING ${stagingSource(options)} AS s`,
    `ON ${matchCondition(definition)}`,
    ...whenMatched,
    ...whenNotMatched,
    // MERGE needs one WHEN: update mode over a table of keys only.
    ...(whenMatched.length + whenNotMatched.length === 0
      ? ['WHEN MATCHED THEN DO NOTHING']
      : []),
  ];
  if (!options.supportsReturning) return merge.join('\n');

  return [
    'WITH merged AS (',
    ...merge
      .join('\n')
      .split('\n')
      .map((line) => `  ${line}`),
    '  RETURNING merge_action() AS "action"',
    ')',
    'SELECT',
    `  count(*) FILTER (WHERE "action" = 'INSERT') AS "inserted",`,
    `  count(*) FILTER (WHERE "action" = 'UPDATE') AS "updated"`,
    'FROM merged',
  ].join('\n');
}

/**
 * The statements around a MERGE that counts its inserts with a sequence
 * (`MergeSqlOptions.insertCounter`): a fresh one for each MERGE, read
 * after it and dropped, so that nothing outlives the attempt (a sequence
 * ignores rollbacks, but one created in a savepoint goes with it).
 */
export function buildInsertCounterSql(name: string): {
  create: string;
  read: string;
  drop: string;
} {
  const counter = temporaryTableName(name);
  return {
    create: `CREATE TEMPORARY SEQUENCE ${counter}`,
    read:
      'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS "inserted" ' +
      `FROM ${counter}`,
    drop: `DROP SEQUENCE ${counter}`,
  };
}

/** The reasons a valid row is not applied; each is a warning code. */
export type SkipReason = 'key_exists' | 'key_not_found' | 'stale_row';

export interface OutcomeNames extends StagingNames {
  /** Rows set aside with a reason (`SkipReason`), in pg_temp. */
  skipped: string;
  /** Rows the database refused, with its answer, in pg_temp. */
  rejected: string;
  /**
   * In a sync, the keys of records rejected while reading, in pg_temp:
   * the rows a sync must not take for absent.
   */
  unread: string;
}

/**
 * The tables rows leave staging for: each has every staging column (so a
 * sync still sees their keys as part of the file) and what happened.
 */
export function buildOutcomeTablesSql(names: OutcomeNames): string[] {
  const staging = temporaryTableName(names.staging);
  return [
    [
      `CREATE TEMPORARY TABLE ${temporaryTableName(names.skipped)} (`,
      `  LIKE ${staging},`,
      `  ${quoteIdentifier('__reason')} text NOT NULL`,
      ') ON COMMIT DROP',
    ].join('\n'),
    [
      `CREATE TEMPORARY TABLE ${temporaryTableName(names.rejected)} (`,
      `  LIKE ${staging},`,
      `  ${quoteIdentifier('__sql_state')} text NOT NULL,`,
      `  ${quoteIdentifier('__constraint')} text,`,
      `  ${quoteIdentifier('__column')} text,`,
      `  ${quoteIdentifier('__message')} text NOT NULL`,
      ') ON COMMIT DROP',
    ].join('\n'),
    [
      `CREATE TEMPORARY TABLE ${temporaryTableName(names.unread)} (`,
      `  LIKE ${staging}`,
      ') ON COMMIT DROP',
    ].join('\n'),
  ];
}

/**
 * Moves the key-only rows (records rejected while reading) from staging
 * to the unread table, after the dedupe and before anything else; answers
 * how many moved and how many of them have no readable key (a NULL in a
 * key column, which a real key never holds).
 */
export function buildSetAsideUnreadSql(
  definition: ImportDefinition,
  names: OutcomeNames,
): string {
  const keyless = definition.key
    .map((name) => `${quoteIdentifier(name)} IS NULL`)
    .join(' OR ');
  return [
    'WITH moved AS (',
    `  DELETE FROM ${temporaryTableName(names.staging)}`,
    `  WHERE ${quoteIdentifier(keyOnlyColumn)}`,
    '  RETURNING *',
    '), kept AS (',
    `  INSERT INTO ${temporaryTableName(names.unread)}`,
    '  SELECT * FROM moved',
    '  RETURNING *',
    ')',
    'SELECT count(*) AS "moved",',
    `  count(*) FILTER (WHERE ${keyless}) AS "keyless"`,
    'FROM kept',
  ].join('\n');
}

/**
 * Moves the staged rows that must not be applied, for one reason, to the
 * skipped table: in insert mode those whose key exists, in update mode
 * those whose key does not, with a version column those older than the
 * stored row (a row without a version never replaces one with).
 */
export function buildSkipSql(
  definition: ImportDefinition,
  names: OutcomeNames,
  reason: SkipReason,
): string {
  const staging = temporaryTableName(names.staging);
  const target = targetName(definition);
  let removal: string[];
  switch (reason) {
    case 'key_exists':
      removal = [
        `  DELETE FROM ${staging} AS s`,
        `  USING ${target} AS t`,
        `  WHERE ${matchCondition(definition)}`,
      ];
      break;
    case 'key_not_found':
      removal = [
        `  DELETE FROM ${staging} AS s`,
        '  WHERE NOT EXISTS (',
        `    SELECT 1 FROM ${target} AS t`,
        `    WHERE ${matchCondition(definition)}`,
        '  )',
      ];
      break;
    case 'stale_row': {
      if (definition.versionColumn === undefined) {
        throw new ImportError(
          ErrorCodes.INVALID_DEFINITION,
          `definition "${definition.entity}" has no version column`,
        );
      }
      const version = quoteIdentifier(definition.versionColumn);
      removal = [
        `  DELETE FROM ${staging} AS s`,
        `  USING ${target} AS t`,
        `  WHERE ${matchCondition(definition)}`,
        `    AND t.${version} IS NOT NULL`,
        `    AND (s.${version} IS NULL OR s.${version} < t.${version})`,
      ];
      break;
    }
    default:
      return unknownType(reason);
  }
  return [
    'WITH moved AS (',
    ...removal,
    '  RETURNING s.*',
    ')',
    `INSERT INTO ${temporaryTableName(names.skipped)}`,
    `SELECT moved.*, '${reason}' FROM moved`,
  ].join('\n');
}

/**
 * Indexes staging by `__seq` for the search for refused rows: each range
 * the search merges, and each count of a range, then reads its own rows
 * (and, for a small range, looks its keys up in the target's index)
 * rather than the whole of staging and the whole target. Fresh
 * statistics come with it, so that the planner sees the index and the
 * rows' spread.
 */
export function buildSeqIndexSql(names: StagingNames): string[] {
  const staging = temporaryTableName(names.staging);
  return [
    `CREATE INDEX ON ${staging} (${quoteIdentifier('__seq')})`,
    `ANALYZE ${staging}`,
  ];
}

/** How many rows a `__seq` range of staging holds, and its bounds. */
export function buildSeqRangeSql(names: StagingNames): string {
  const seq = quoteIdentifier('__seq');
  return [
    `SELECT count(*) AS "rows", min(${seq}) AS "first", max(${seq}) AS "last"`,
    `FROM ${temporaryTableName(names.staging)}`,
    `WHERE ${seq} BETWEEN $1 AND $2`,
  ].join('\n');
}

/**
 * Moves the staged row `__seq = $1` to the rejected table with the
 * database's answer: SQLSTATE `$2`, constraint `$3`, column `$4`,
 * message `$5`.
 */
export function buildRejectRowSql(names: OutcomeNames): string {
  return [
    'WITH moved AS (',
    `  DELETE FROM ${temporaryTableName(names.staging)}`,
    `  WHERE ${quoteIdentifier('__seq')} = $1`,
    '  RETURNING *',
    ')',
    `INSERT INTO ${temporaryTableName(names.rejected)}`,
    'SELECT moved.*, $2, $3, $4, $5 FROM moved',
  ].join('\n');
}

/** Declares a cursor over the skipped rows, in file order. */
export function buildSkippedCursorSql(
  cursor: string,
  names: OutcomeNames,
): string {
  const columns = ['__seq', '__record', '__line', '__path', '__reason'];
  return [
    `DECLARE ${quoteIdentifier(cursor)} NO SCROLL CURSOR FOR`,
    `SELECT ${columns.map(quoteIdentifier).join(', ')}`,
    `FROM ${temporaryTableName(names.skipped)}`,
    `ORDER BY ${quoteIdentifier('__seq')}`,
  ].join('\n');
}

/** Declares a cursor over the rejected rows, in file order. */
export function buildRejectedCursorSql(
  cursor: string,
  names: OutcomeNames,
): string {
  const columns = [
    '__seq',
    '__record',
    '__line',
    '__path',
    '__sql_state',
    '__constraint',
    '__column',
    '__message',
  ];
  return [
    `DECLARE ${quoteIdentifier(cursor)} NO SCROLL CURSOR FOR`,
    `SELECT ${columns.map(quoteIdentifier).join(', ')}`,
    `FROM ${temporaryTableName(names.rejected)}`,
    `ORDER BY ${quoteIdentifier('__seq')}`,
  ].join('\n');
}

/**
 * The target rows of this tenant and scope that a sync considers, and how
 * many of them the file no longer holds (not staged, nor set aside as
 * skipped, refused, or rejected while reading with a readable key). The
 * tenant is `$1` when the definition has a tenant column, then each
 * scope value in order. Soft-deleted rows are left out of both counts.
 */
export function buildSyncCountSql(
  definition: ImportDefinition,
  names: OutcomeNames,
): string {
  return [
    'SELECT count(*) AS "total",',
    '  count(*) FILTER (WHERE',
    absentCondition(definition, names, '    '),
    '  ) AS "absent"',
    `FROM ${targetName(definition)} AS t`,
    `WHERE ${scopeCondition(definition)}`,
  ].join('\n');
}

/**
 * Deletes (or marks, with a soft-delete column) the target rows of this
 * tenant and scope that the file no longer holds; parameters as in
 * `buildSyncCountSql`. A separate statement rather than `WHEN NOT MATCHED
 * BY SOURCE`, which PostgreSQL 15 and 16 lack, in the same transaction.
 */
export function buildSyncDeleteSql(
  definition: ImportDefinition,
  names: OutcomeNames,
): string {
  const soft = definition.softDelete;
  const head =
    soft === undefined
      ? [`DELETE FROM ${targetName(definition)} AS t`]
      : [
          `UPDATE ${targetName(definition)} AS t`,
          `SET ${quoteIdentifier(soft.column)} = ` +
            (soft.mark === 'timestamp' ? 'now()' : 'false'),
        ];
  return [
    ...head,
    `WHERE ${scopeCondition(definition)}`,
    '  AND',
    absentCondition(definition, names, '  '),
  ].join('\n');
}

/** The tenant's and scope's rows, alive ones only with a soft delete. */
export function scopeCondition(definition: ImportDefinition): string {
  const conditions = fixedColumns(definition).map(
    (name, index) => `t.${quoteIdentifier(name)} = $${index + 1}`,
  );
  const alive = softDeleteParts(definition)?.alive;
  if (alive !== undefined) conditions.push(alive);
  return conditions.length === 0 ? 'true' : conditions.join(' AND ');
}

/** Target rows `t` found in none of the tables that hold the file's keys. */
export function absentCondition(
  definition: ImportDefinition,
  names: OutcomeNames,
  indent: string,
): string {
  return [names.staging, names.skipped, names.rejected, names.unread]
    .map(
      (table, index) =>
        `${indent}${index === 0 ? '' : 'AND '}NOT EXISTS (SELECT 1 FROM ` +
        `${temporaryTableName(table)} AS s WHERE ${matchCondition(definition)})`,
    )
    .join('\n');
}

/**
 * The columns of a table named by `$1` (its quoted, maybe qualified name),
 * or no row at all when there is no such table.
 */
export function buildTargetColumnsSql(): string {
  return [
    'SELECT a.attname AS "name"',
    'FROM pg_catalog.pg_attribute AS a',
    'WHERE a.attrelid = to_regclass($1) AND a.attnum > 0',
    '  AND NOT a.attisdropped',
  ].join('\n');
}

/** The target table's SQL name. */
export function targetName(definition: ImportDefinition): string {
  return qualifiedTableName(definition.table, definition.schema);
}

/** `t` (the target) and `s` (staging) hold the same row: key and fixed. */
export function matchCondition(definition: ImportDefinition): string {
  const keys = [...fixedColumns(definition), ...definition.key].map(
    quoteIdentifier,
  );
  return keys.map((name) => `t.${name} = s.${name}`).join(' AND ');
}

// The staging table, or the slice of it one `__seq` range holds.
function stagingSource(names: StagingNames & { seqRange?: boolean }): string {
  const staging = temporaryTableName(names.staging);
  if (names.seqRange !== true) return staging;
  return (
    `(SELECT * FROM ${staging} ` +
    `WHERE ${quoteIdentifier('__seq')} BETWEEN $1 AND $2)`
  );
}

// What a column is set to on update: the staged value, or the stored one
// when the field was empty and the column keeps values.
function sourceValue(definition: ImportDefinition, name: string): string {
  const column = quoteIdentifier(name);
  const keepAt = keepColumnIndexes(definition)
    .map((index) => definition.columns[index]?.name)
    .indexOf(name);
  if (keepAt < 0) return `s.${column}`;
  return (
    `CASE WHEN substr(s.${quoteIdentifier(keepColumn)}, ${keepAt + 1}, 1) ` +
    `= '1' THEN t.${column} ELSE s.${column} END`
  );
}

// A soft-deleted row that comes back in the file is made alive again.
function softDeleteParts(
  definition: ImportDefinition,
): { dead: string; revive: string; alive: string } | undefined {
  const mark = definition.softDelete;
  if (mark === undefined) return undefined;
  const column = `t.${quoteIdentifier(mark.column)}`;
  return mark.mark === 'timestamp'
    ? {
        dead: `${column} IS NOT NULL`,
        alive: `${column} IS NULL`,
        revive: `${quoteIdentifier(mark.column)} = NULL`,
      }
    : {
        dead: `${column} IS NOT DISTINCT FROM false`,
        alive: `${column} IS DISTINCT FROM false`,
        revive: `${quoteIdentifier(mark.column)} = true`,
      };
}

function updateAssignments(definition: ImportDefinition): string[] {
  const revive = softDeleteParts(definition)?.revive;
  return [
    ...nonKeyColumns(definition).map(
      (name) => `${quoteIdentifier(name)} = ${sourceValue(definition, name)}`,
    ),
    ...(revive === undefined ? [] : [revive]),
  ];
}

/**
 * A matched row `t` differs from its staged row `s`: one line per column,
 * OR-ed; `false` when there is nothing but the key.
 */
export function changedCondition(
  definition: ImportDefinition,
  indent: string,
): string {
  const conditions = nonKeyColumns(definition).map(
    (name) =>
      `t.${quoteIdentifier(name)} IS DISTINCT FROM ` +
      sourceValue(definition, name),
  );
  const dead = softDeleteParts(definition)?.dead;
  if (dead !== undefined) conditions.push(dead);
  if (conditions.length === 0) return `${indent}false`;
  return conditions
    .map((condition, index) => {
      const or = index === 0 ? '' : 'OR ';
      return `${indent}${or}${condition}`;
    })
    .join('\n');
}

function nonKeyColumns(definition: ImportDefinition): string[] {
  const keys = new Set(definition.key);
  return presentColumns(definition).filter((name) => !keys.has(name));
}

/**
 * A definition as one import merges it: `absentColumns` are the columns
 * its file does not have at all (a CSV header without them). They are
 * left out of the MERGE, so a stored row keeps its values there and a
 * new row gets the column's default, instead of both getting NULL.
 */
export interface MergedDefinition extends ImportDefinition {
  absentColumns?: readonly string[];
}

function presentColumns(definition: MergedDefinition): string[] {
  const absent = new Set(definition.absentColumns);
  return definition.columns
    .map((column) => column.name)
    .filter((name) => !absent.has(name));
}

function refuseReservedNames(definition: ImportDefinition): void {
  const reserved = new Set<string>([
    ...stagingSystemColumns,
    keepColumn,
    keyOnlyColumn,
    parentRecordColumn,
  ]);
  const clash = [
    ...definition.columns.map((column) => column.name),
    ...fixedColumns(definition),
  ].find((name) => reserved.has(name));
  if (clash !== undefined) {
    throw new ImportError(
      ErrorCodes.INVALID_DEFINITION,
      `column "${clash}" clashes with a staging column of the loader`,
      { details: { entity: definition.entity, column: clash } },
    );
  }
}

// Definitions are validated by zod; this guards hand-built ones, since the
// number is written into SQL text.
function integerOf(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ImportError(
      ErrorCodes.INVALID_DEFINITION,
      `a type modifier must be a non-negative integer, got ${value}`,
    );
  }
  return value;
}

function unknownType(type: never): never {
  throw new ImportError(
    ErrorCodes.INVALID_DEFINITION,
    `unknown column type ${String(type)}`,
  );
}

/**
 * COPY straight into the target, for a load into an empty table (see
 * direct-load.ts): the columns a MERGE would insert, in staging's order.
 */
export function buildDirectCopySql(definition: ImportDefinition): string {
  const columns = [
    ...fixedColumns(definition),
    ...definition.columns.map((column) => column.name),
  ].map(quoteIdentifier);
  return `COPY ${targetName(definition)} (${columns.join(', ')}) FROM STDIN`;
}

/**
 * Whether a load may go straight into the target: it holds no row at
 * all, and each column the import writes has exactly the type staging
 * gives it, so COPY reads every value as the MERGE's insert would have
 * stored it. Not where COPY and INSERT part ways: COPY ignores rules and
 * writes identity columns that are GENERATED ALWAYS, where a MERGE would
 * fail. `$1` the column names, `$2` the target, `$3` staging.
 */
export function buildDirectLoadCheckSql(definition: ImportDefinition): string {
  return [
    'SELECT NOT EXISTS (',
    `    SELECT 1 FROM ${targetName(definition)} LIMIT 1`,
    '  ) AND NOT EXISTS (',
    '    SELECT 1 FROM pg_catalog.pg_class',
    '    WHERE oid = to_regclass($2) AND relhasrules',
    '  ) AND NOT EXISTS (',
    '    SELECT 1 FROM unnest($1::text[]) AS c (name)',
    '    LEFT JOIN pg_catalog.pg_attribute AS t',
    '      ON t.attrelid = to_regclass($2) AND t.attname = c.name',
    '      AND NOT t.attisdropped',
    '    LEFT JOIN pg_catalog.pg_attribute AS s',
    '      ON s.attrelid = to_regclass($3) AND s.attname = c.name',
    "    WHERE t.attname IS NULL OR s.attname IS NULL OR t.attidentity = 'a'",
    '      OR format_type(t.atttypid, t.atttypmod)',
    '        <> format_type(s.atttypid, s.atttypmod)',
    '  ) AS "direct"',
  ].join('\n');
}
