import type { ImportDefinition } from '../definitions/import-definition.js';
import { quoteIdentifier, temporaryTableName } from './identifiers.js';
import {
  absentCondition,
  changedCondition,
  fixedColumns,
  matchCondition,
  postgresTypeOf,
  scopeCondition,
  targetName,
  type OutcomeNames,
  type StagingNames,
} from './merge-sql.js';

/**
 * The SQL of before-images and revert, built from a definition like the
 * rest of the loader's SQL: every identifier quoted, values only as bind
 * parameters.
 *
 * A row's key is the jsonb object of its match columns (tenant, scope,
 * key) in their staging types, so the keys written by any import of a
 * definition compare equal with `=`. Images are `to_jsonb` of the whole
 * target row and come back with `jsonb_populate_record`, which reads
 * each value with the target column's own type.
 */

/** A target column, as revert writes it back. */
export interface TargetColumn {
  name: string;
  /** `GENERATED ALWAYS AS IDENTITY`: written on insert, never updated. */
  identityAlways: boolean;
}

// The row's key as jsonb, from alias `alias`, cast to the staging types.
function keyObject(definition: ImportDefinition, alias: 's' | 't'): string {
  const columns = [
    ...(definition.tenantColumn === undefined
      ? []
      : [{ name: definition.tenantColumn, type: 'text' }]),
    ...(definition.scope ?? []).map((column) => ({
      name: column.name,
      type: postgresTypeOf(column),
    })),
    ...definition.key.map((name) => {
      const column = definition.columns.find((c) => c.name === name);
      return {
        name,
        type: column === undefined ? 'text' : postgresTypeOf(column),
      };
    }),
  ];
  const pairs = columns.map(({ name, type }) => {
    const value = `${alias}.${quoteIdentifier(name)}`;
    const literal = `'${name.replaceAll("'", "''")}'`;
    return `${literal}, ${alias === 's' ? value : `${value}::${type}`}`;
  });
  return `jsonb_build_object(${pairs.join(', ')})`;
}

// The match columns of a populated record `r` against the target `t`.
function keyMatch(definition: ImportDefinition, record: string): string {
  return [...fixedColumns(definition), ...definition.key]
    .map(quoteIdentifier)
    .map((name) => `t.${name} = ${record}.${name}`)
    .join(' AND ');
}

/**
 * Before the MERGE: the image of every staged row it will update and the
 * key of every row it will insert (unchanged rows are left alone by the
 * MERGE, so they need none). `$1` import id, `$2` entity, `$3` table.
 */
export function buildCaptureChangesSql(
  definition: ImportDefinition,
  names: StagingNames,
  imagesTable: string,
): string {
  const firstKey = quoteIdentifier(definition.key[0] ?? '');
  return [
    `INSERT INTO ${imagesTable}`,
    '  (import_id, entity, table_name, key, image, op)',
    `SELECT $1, $2, $3, ${keyObject(definition, 's')},`,
    `  CASE WHEN t.${firstKey} IS NULL THEN NULL ELSE to_jsonb(t) END,`,
    `  CASE WHEN t.${firstKey} IS NULL THEN 'insert' ELSE 'update' END`,
    `FROM ${temporaryTableName(names.staging)} AS s`,
    `LEFT JOIN ${targetName(definition)} AS t`,
    `  ON ${matchCondition(definition)}`,
    `WHERE t.${firstKey} IS NULL OR (`,
    changedCondition(definition, '  '),
    ')',
  ].join('\n');
}

/**
 * After an isolating MERGE: rows the database refused were not applied,
 * so their images go. `$1` import id, `$2` table.
 */
export function buildDropRefusedImagesSql(
  definition: ImportDefinition,
  names: OutcomeNames,
  imagesTable: string,
): string {
  return [
    `DELETE FROM ${imagesTable} AS b`,
    `USING ${temporaryTableName(names.rejected)} AS s`,
    'WHERE b.import_id = $1 AND b.table_name = $2',
    `  AND b.key = ${keyObject(definition, 's')}`,
  ].join('\n');
}

/**
 * Before a sync's delete: the image of every row it will delete (or mark,
 * which is an update). The tenant and scope are `$1`... as in
 * `buildSyncDeleteSql`; then import id, entity and table follow.
 */
export function buildCaptureDeletesSql(
  definition: ImportDefinition,
  names: OutcomeNames,
  imagesTable: string,
): string {
  const next = fixedColumns(definition).length;
  const op = definition.softDelete === undefined ? 'delete' : 'update';
  return [
    `INSERT INTO ${imagesTable}`,
    '  (import_id, entity, table_name, key, image, op)',
    `SELECT $${next + 1}, $${next + 2}, $${next + 3},`,
    `  ${keyObject(definition, 't')}, to_jsonb(t), '${op}'`,
    `FROM ${targetName(definition)} AS t`,
    `WHERE ${scopeCondition(definition)}`,
    '  AND',
    absentCondition(definition, names, '  '),
  ].join('\n');
}

// The images (or, as `k`, the keys) of the before-image table read back
// as target rows; the caller filters by import, table and operation.
function imagesOf(
  definition: ImportDefinition,
  imagesTable: string,
  record: 'r' | 'k',
): string {
  const member = record === 'k' ? 'key' : 'image';
  return (
    `${imagesTable} AS b CROSS JOIN LATERAL ` +
    `jsonb_populate_record(NULL::${targetName(definition)}, b.${member}) ` +
    `AS ${record}`
  );
}

const imageFilter = (op: string) =>
  `b.import_id = $1 AND b.table_name = $2 AND b.op = '${op}'`;

/** Revert, step one: the rows the import inserted go. `$1` id, `$2` table. */
export function buildRevertInsertsSql(
  definition: ImportDefinition,
  imagesTable: string,
): string {
  return [
    `DELETE FROM ${targetName(definition)} AS t`,
    `USING ${imagesOf(definition, imagesTable, 'k')}`,
    `WHERE ${imageFilter('insert')}`,
    `  AND ${keyMatch(definition, 'k')}`,
  ].join('\n');
}

/** Revert, step two: the rows it updated (or marked) get their image back. */
export function buildRevertUpdatesSql(
  definition: ImportDefinition,
  imagesTable: string,
  columns: readonly TargetColumn[],
): string {
  const names = columns
    .filter((column) => !column.identityAlways)
    .map((column) => quoteIdentifier(column.name));
  return [
    `UPDATE ${targetName(definition)} AS t`,
    `SET (${names.join(', ')}) =`,
    `  ROW(${names.map((name) => `r.${name}`).join(', ')})`,
    `FROM ${imagesOf(definition, imagesTable, 'r')}`,
    `WHERE ${imageFilter('update')}`,
    `  AND ${keyMatch(definition, 'r')}`,
  ].join('\n');
}

/** Revert, step three: the rows a sync deleted come back whole. */
export function buildRevertDeletesSql(
  definition: ImportDefinition,
  imagesTable: string,
  columns: readonly TargetColumn[],
): string {
  const names = columns.map((column) => quoteIdentifier(column.name));
  return [
    `INSERT INTO ${targetName(definition)} (${names.join(', ')})`,
    'OVERRIDING SYSTEM VALUE',
    `SELECT ${names.map((name) => `r.${name}`).join(', ')}`,
    `FROM ${imagesOf(definition, imagesTable, 'r')}`,
    `WHERE ${imageFilter('delete')}`,
  ].join('\n');
}

/**
 * The columns a revert writes: every stored column of the target named
 * by `$1`, generated ones left out (the server computes them).
 */
export function buildWritableColumnsSql(): string {
  return [
    'SELECT a.attname AS "name", a.attidentity = \'a\' AS "identityAlways"',
    'FROM pg_catalog.pg_attribute AS a',
    'WHERE a.attrelid = to_regclass($1) AND a.attnum > 0',
    "  AND NOT a.attisdropped AND a.attgenerated = ''",
    'ORDER BY a.attnum',
  ].join('\n');
}

/**
 * Later imports, not reverted, whose before-images hold a key this one's
 * hold in the same table: up to five of them. `$1` import id, `$2` its
 * ledger seq.
 */
export function buildKeyConflictSql(
  imagesTable: string,
  ledgerTable: string,
): string {
  return [
    'SELECT DISTINCT l.import_id AS "importId"',
    `FROM ${imagesTable} AS mine`,
    `JOIN ${imagesTable} AS later`,
    '  ON later.table_name = mine.table_name AND later.key = mine.key',
    `JOIN ${ledgerTable} AS l ON l.import_id = later.import_id`,
    'WHERE mine.import_id = $1 AND l.seq > $2 AND l.reverted_at IS NULL',
    'LIMIT 5',
  ].join('\n');
}

/**
 * Later imports, not reverted, of the same entity (and tenant, when the
 * table has a tenant column) that kept no before-images yet changed
 * rows: which rows is unknown, so they conflict. `$1` seq, `$2` entity,
 * `$3` tenant or NULL for every tenant.
 */
export function buildUntrackedLaterSql(ledgerTable: string): string {
  return [
    'SELECT l.import_id AS "importId"',
    `FROM ${ledgerTable} AS l`,
    'WHERE l.seq > $1 AND l.entity = $2 AND l.reverted_at IS NULL',
    '  AND ($3::text IS NULL OR l.tenant = $3)',
    '  AND NOT l.before_images',
    '  AND EXISTS (',
    '    SELECT 1 FROM jsonb_each(l.counts) AS e',
    "    WHERE coalesce((e.value->>'inserted')::bigint, 0)",
    "      + coalesce((e.value->>'updated')::bigint, 0)",
    "      + coalesce((e.value->>'deleted')::bigint, 0) > 0",
    '  )',
    'LIMIT 5',
  ].join('\n');
}
