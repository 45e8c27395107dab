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
   * counts its own inserts and updates. Without it the caller counts
   * with `buildCountSql` before merging.
   */
  supportsReturning: boolean;
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
    ...(definition.tenantColumn === undefined ? [] : [definition.tenantColumn]),
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
    ...(definition.tenantColumn === undefined
      ? []
      : [`${quoteIdentifier(definition.tenantColumn)} text NOT NULL`]),
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
    `  ${quoteIdentifier('winner_record')} bigint NOT NULL,`,
    `  ${quoteIdentifier('winner_line')} bigint`,
    ') ON COMMIT DROP',
  ].join('\n');
}

/**
 * Keeps the last record of each key in file order (the highest `__seq`)
 * and moves the others to the superseded table, with the record that
 * superseded them. Set-based over the whole staging table, so the answer
 * does not depend on how the file was chunked. MERGE refuses to touch a
 * target row twice, hence this runs first.
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
  const winnerSeq = quoteIdentifier('winner_seq');
  const winnerRecord = quoteIdentifier('winner_record');
  const winnerLine = quoteIdentifier('winner_line');
  const keys = definition.key.map(quoteIdentifier).join(', ');
  const moved = [seq, record, line, path, winnerRecord, winnerLine].join(', ');
  return [
    'WITH ranked AS (',
    `  SELECT ${seq},`,
    `    first_value(${seq}) OVER latest AS ${winnerSeq},`,
    `    first_value(${record}) OVER latest AS ${winnerRecord},`,
    `    first_value(${line}) OVER latest AS ${winnerLine}`,
    `  FROM ${staging}`,
    `  WINDOW latest AS (PARTITION BY ${keys} ORDER BY ${seq} DESC)`,
    '), removed AS (',
    `  DELETE FROM ${staging} AS s`,
    '  USING ranked AS r',
    `  WHERE s.${seq} = r.${seq} AND r.${seq} <> r.${winnerSeq}`,
    `  RETURNING s.${seq}, s.${record}, s.${line}, s.${path},`,
    `    r.${winnerRecord}, r.${winnerLine}`,
    ')',
    `INSERT INTO ${temporaryTableName(names.superseded)}`,
    `  (${moved})`,
    `SELECT ${moved}`,
    'FROM removed',
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
  ].map(quoteIdentifier);
  return [
    `DECLARE ${quoteIdentifier(cursor)} NO SCROLL CURSOR FOR`,
    `SELECT ${columns.join(', ')}`,
    `FROM ${temporaryTableName(names.superseded)}`,
    `ORDER BY ${quoteIdentifier('__seq')}`,
  ].join('\n');
}

/**
 * Counts, before the MERGE and in its transaction, what it will do: rows
 * with no target row are inserted, matched rows with a changed value are
 * updated, the rest are unchanged. For servers without MERGE RETURNING.
 * A matched target row has a non-null first key column (it equals the
 * staged one), which tells matched from unmatched.
 */
export function buildCountSql(
  definition: ImportDefinition,
  names: StagingNames,
): string {
  const firstKey = definition.key[0];
  if (firstKey === undefined) throw noKey(definition);
  return [
    'SELECT',
    '  count(*) FILTER (WHERE NOT c."matched") AS "inserted",',
    '  count(*) FILTER (WHERE c."matched" AND c."changed") AS "updated",',
    '  count(*) FILTER (WHERE c."matched" AND NOT c."changed") AS "unchanged"',
    'FROM (',
    '  SELECT',
    `    t.${quoteIdentifier(firstKey)} IS NOT NULL AS "matched",`,
    '    (',
    changedCondition(definition, '      '),
    '    ) AS "changed"',
    `  FROM ${temporaryTableName(names.staging)} AS s`,
    `  LEFT JOIN ${targetName(definition)} AS t`,
    `    ON ${matchCondition(definition)}`,
    ') AS c',
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
    ...(definition.tenantColumn === undefined ? [] : [definition.tenantColumn]),
    ...definition.columns.map((column) => column.name),
  ].map(quoteIdentifier);
  const updatable = nonKeyColumns(definition).map(quoteIdentifier);

  const merge = [
    `MERGE INTO ${targetName(definition)} AS t`,
    `USING ${temporaryTableName(options.staging)} AS s`,
    `ON ${matchCondition(definition)}`,
    // Nothing to update when every column is part of the key.
    ...(updatable.length === 0
      ? []
      : [
          'WHEN MATCHED AND (',
          changedCondition(definition, '  '),
          ') THEN',
          '  UPDATE SET',
          updatable.map((name) => `    ${name} = s.${name}`).join(',\n'),
        ]),
    'WHEN NOT MATCHED THEN',
    `  INSERT (${columns.join(', ')})`,
    `  VALUES (${columns.map((name) => `s.${name}`).join(', ')})`,
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

function matchCondition(definition: ImportDefinition): string {
  const keys = [
    ...(definition.tenantColumn === undefined ? [] : [definition.tenantColumn]),
    ...definition.key,
  ].map(quoteIdentifier);
  return keys.map((name) => `t.${name} = s.${name}`).join(' AND ');
}

// One line per column, OR-ed; `false` when there is nothing but the key.
function changedCondition(
  definition: ImportDefinition,
  indent: string,
): string {
  const columns = nonKeyColumns(definition).map(quoteIdentifier);
  if (columns.length === 0) return `${indent}false`;
  return columns
    .map((name, index) => {
      const or = index === 0 ? '' : 'OR ';
      return `${indent}${or}t.${name} IS DISTINCT FROM s.${name}`;
    })
    .join('\n');
}

function nonKeyColumns(definition: ImportDefinition): string[] {
  const keys = new Set(definition.key);
  return definition.columns
    .map((column) => column.name)
    .filter((name) => !keys.has(name));
}

function refuseReservedNames(definition: ImportDefinition): void {
  const reserved = new Set<string>(stagingSystemColumns);
  const clash = [
    ...definition.columns.map((column) => column.name),
    ...(definition.tenantColumn === undefined ? [] : [definition.tenantColumn]),
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

function noKey(definition: ImportDefinition): ImportError {
  return new ImportError(
    ErrorCodes.INVALID_DEFINITION,
    `definition "${definition.entity}" has no key column`,
    { details: { entity: definition.entity } },
  );
}
