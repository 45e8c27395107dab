import type pg from 'pg';
import { expect } from 'vitest';
import type { EngineHarness } from './engine-import-harness.js';

/**
 * Values sent through the whole engine into a real table, one CSV record
 * each: every value is either stored as its column type read it or is a
 * row error with its line, column and code, while the other rows apply.
 * The table has a text key `k` and the columns the cases name.
 */
export interface ValueCase {
  column: string;
  /** The field as written in the file (quoted when it must be). */
  value: string;
  /** The row error's code; absent for a value that is stored. */
  code?: string;
  /** What the column then holds, read with `storedAs` (`::text`). */
  stored?: string;
}

export interface ValueCaseRun {
  harness: EngineHarness;
  pool: pg.Pool;
  entity: string;
  table: string;
  /** The CSV header after `k`, in the table's column order. */
  columns: readonly string[];
  cases: readonly ValueCase[];
  /** SQL that reads a column back as text; `<column>::text` otherwise. */
  storedAs?: Partial<Record<string, string>>;
}

/** Runs the cases as one file (case i on line i + 2) and checks them. */
export async function expectValueCases(run: ValueCaseRun): Promise<void> {
  const { harness, pool, columns, cases } = run;
  const lines = cases.map((item, index) => {
    const fields = columns.map((column) =>
      column === item.column ? csvField(item.value) : '',
    );
    return [`c${index}`, ...fields].join(',');
  });
  const body = [['k', ...columns].join(','), ...lines, ''].join('\n');
  await pool.query(`TRUNCATE ${run.table}`);

  const record = await harness.run({
    entity: run.entity,
    format: 'csv',
    body,
  });
  const errors = await harness.errors(record);

  const refused = cases.filter((item) => item.code !== undefined);
  expect(record.failure).toBeNull();
  expect(record.state).toBe('completed');
  expect(record.counts).toMatchObject({
    read: cases.length,
    inserted: cases.length - refused.length,
    rejected: refused.length,
  });
  expect(
    errors.map((error) => [error.position.line, error.column, error.code]),
  ).toEqual(
    cases.flatMap((item, index) =>
      item.code === undefined ? [] : [[index + 2, item.column, item.code]],
    ),
  );

  const reads = columns.map(
    (column) => `${run.storedAs?.[column] ?? `${column}::text`} AS ${column}`,
  );
  const { rows } = await pool.query<Record<string, string | null>>(
    `SELECT k, ${reads.join(', ')} FROM ${run.table}`,
  );
  const stored = new Map(rows.map((row) => [row.k, row]));
  cases.forEach((item, index) => {
    if (item.code !== undefined) return;
    expect(
      { value: item.value, stored: stored.get(`c${index}`)?.[item.column] },
      `case ${index}`,
    ).toEqual({ value: item.value, stored: item.stored ?? item.value });
  });
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
