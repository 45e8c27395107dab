import type { ImportDefinition } from '../definitions/import-definition.js';
import { sqlStateOf } from '../errors/import-error.js';
import { copyRows, type CopyTarget } from './copy-stream.js';
import type { RowSource, StagedItem } from './encoded-rows.js';
import {
  buildDirectCopySql,
  buildDirectLoadCheckSql,
  fixedColumns,
  keepColumnIndexes,
  targetName,
} from './merge-sql.js';
import type { PgClientLike } from './pg-client.js';
import { createRepeatedKeyFilter } from './repeated-keys.js';
import type { EntityCounts } from './ledger.js';

/**
 * The first import into an empty table needs no MERGE: every row is new.
 * Its rows can then go with COPY straight into the target, while the file
 * is still being read, instead of into staging and, once the file is
 * read, through a MERGE that inserts them all; on a million rows that
 * was two fifths of the import's time (BENCHMARKS.md).
 *
 * It is tried only where the outcome is certain to be the MERGE's: one
 * entity without children, an upsert or insert, no before-images, no
 * column that keeps stored values, a key the repeated-key filter can
 * watch, a target without a single row, and every column of the exact
 * type staging would give it. It is given up, back to its savepoint, as
 * soon as a key may have come twice (the last occurrence must win, with
 * a warning for the others), when the file lacks a column (a new row
 * gets the column's default, which COPY would not give), and when the
 * table refuses a row (the MERGE's search isolates it, or the staging
 * COPY names it). The caller then
 * reads the file again for the usual way; a file with a repeated key
 * near its end is read twice.
 */

export interface DirectLoadOptions {
  client: PgClientLike;
  definition: ImportDefinition;
  /** Staging's name, to compare column types against. */
  staging: string;
  rows: AsyncIterable<StagedItem> | RowSource;
  tenant: string;
  scopeValues: readonly string[];
  chunkBytes?: number;
  signal?: AbortSignal;
  /** Asked once the rows are in: columns the file does not have. */
  absentColumns: () => readonly string[];
}

export type DirectLoadOutcome =
  { loaded: true; counts: EntityCounts } | { loaded: false; reason: string };

/** Whether an import of these entities may try the direct way. */
export async function mayLoadDirectly(
  client: PgClientLike,
  definitions: readonly ImportDefinition[],
  staging: string,
  keepsBeforeImages: boolean,
): Promise<boolean> {
  const [definition] = definitions;
  if (definition === undefined || definitions.length !== 1) return false;
  const mode = definition.mode ?? 'upsert';
  if (mode !== 'upsert' && mode !== 'insert') return false;
  if (keepsBeforeImages || keepColumnIndexes(definition).length > 0) {
    return false;
  }
  if (createRepeatedKeyFilter(definition) === undefined) return false;

  const columns = [
    ...fixedColumns(definition),
    ...definition.columns.map((column) => column.name),
  ];
  const result = await client.query(buildDirectLoadCheckSql(definition), [
    columns,
    targetName(definition),
    `pg_temp.${staging}`,
  ]);
  return (result.rows[0] as { direct: boolean } | undefined)?.direct === true;
}

const savepoint = 'erp_import_direct';

/**
 * Copies the rows into the target inside a savepoint; on any reason to
 * give up, rolls back to it and says why. Other errors go up as they are.
 */
export async function loadDirectly(
  options: DirectLoadOptions,
): Promise<DirectLoadOutcome> {
  const { client, definition } = options;
  const target: CopyTarget = {
    definition,
    copySql: buildDirectCopySql(definition),
    scopeValues: options.scopeValues,
    direct: true,
  };

  await client.query(`SAVEPOINT ${savepoint}`);
  const giveUp = async (reason: string): Promise<DirectLoadOutcome> => {
    await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
    return { loaded: false, reason };
  };

  let copied;
  try {
    copied = await copyRows({
      client,
      rows: options.rows,
      targets: [target],
      tenant: options.tenant,
      stopWhenKeysMayRepeat: true,
      ...(options.chunkBytes !== undefined && {
        chunkBytes: options.chunkBytes,
      }),
      ...(options.signal !== undefined && { signal: options.signal }),
    });
  } catch (error) {
    // What the table refuses (a constraint, a value, COPY itself under
    // row-level security) is the usual way's to isolate or to name; a
    // lost connection or a cancelled statement is not the table's doing.
    const sqlState = sqlStateOf(error);
    const refused =
      sqlState !== undefined && !['08', '57'].includes(sqlState.slice(0, 2));
    if (refused && options.signal?.aborted !== true) {
      return giveUp(`the table refused a row (SQLSTATE ${sqlState})`);
    }
    throw error;
  }

  if (copied.stopped || copied.keysMayRepeat[0] !== false) {
    return giveUp('a key may come twice');
  }
  if (options.absentColumns().length > 0) {
    return giveUp('the file lacks columns');
  }
  await client.query(`RELEASE SAVEPOINT ${savepoint}`);

  const keyOnly = copied.keyOnly[0] ?? 0;
  const staged = (copied.staged[0] ?? 0) - keyOnly;
  return {
    loaded: true,
    counts: {
      staged,
      inserted: staged,
      updated: 0,
      unchanged: 0,
      superseded: 0,
      skipped: 0,
      rejected: 0,
      deleted: 0,
    },
  };
}
