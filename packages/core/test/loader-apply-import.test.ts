import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { CoercedRow } from '../src/coercion/coerced-row.js';
import { defineImport } from '../src/definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../src/errors/import-error.js';
import {
  applyImport,
  type ApplyImportOptions,
} from '../src/loader/apply-import.js';
import type { RowIssue } from '../src/ports/error-log.js';

const database = useTestDatabase('loader_apply');

const customers = defineImport({
  entity: 'customers',
  table: 'customers',
  tenantColumn: 'tenant',
  key: ['code'],
  columns: [
    { name: 'code', type: 'text' },
    { name: 'name', type: 'text' },
    { name: 'credit', type: 'numeric', precision: 12, scale: 2 },
  ],
});

const invoices = defineImport({
  entity: 'invoices',
  table: 'invoices',
  tenantColumn: 'tenant',
  key: ['number'],
  columns: [
    { name: 'number', type: 'text' },
    { name: 'issued_on', type: 'date' },
  ],
});

const invoiceLines = defineImport({
  entity: 'invoice-lines',
  table: 'invoice_lines',
  tenantColumn: 'tenant',
  key: ['number', 'line_no'],
  columns: [
    { name: 'number', type: 'text' },
    { name: 'line_no', type: 'integer' },
    { name: 'amount', type: 'numeric', precision: 12, scale: 2 },
  ],
});

function row(
  recordNumber: number,
  values: Array<string | null>,
  entity?: string,
): CoercedRow {
  return {
    position: { recordNumber, line: recordNumber + 1 },
    values,
    ...(entity !== undefined && { entity }),
  };
}

async function* stream(rows: CoercedRow[]): AsyncGenerator<CoercedRow> {
  for (const item of rows) yield item;
}

let client: pg.Client;
let importCounter = 0;
const nextImportId = () => `import-${++importCounter}`;

function apply(
  options: Partial<ApplyImportOptions> & Pick<ApplyImportOptions, 'rows'>,
) {
  return applyImport({
    client,
    importId: nextImportId(),
    tenant: 'acme',
    definitions: [customers],
    ...options,
  });
}

async function query<T = Record<string, unknown>>(
  text: string,
  values?: unknown[],
): Promise<T[]> {
  return (await client.query(text, values)).rows as T[];
}

beforeAll(async () => {
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query(`
    CREATE TABLE customers (
      tenant text NOT NULL,
      code   text NOT NULL,
      name   text NOT NULL,
      credit numeric(12,2),
      PRIMARY KEY (tenant, code)
    );
    CREATE TABLE invoices (
      tenant    text NOT NULL,
      number    text NOT NULL,
      issued_on date NOT NULL,
      PRIMARY KEY (tenant, number)
    );
    CREATE TABLE invoice_lines (
      tenant  text NOT NULL,
      number  text NOT NULL,
      line_no integer NOT NULL,
      amount  numeric(12,2) NOT NULL,
      PRIMARY KEY (tenant, number, line_no),
      FOREIGN KEY (tenant, number) REFERENCES invoices (tenant, number)
    );
  `);
});

afterAll(async () => {
  await client?.end();
});

beforeEach(async () => {
  await client.query('TRUNCATE customers, invoices, invoice_lines');
});

describe.each([
  { path: 'detected server capability', mergeReturning: undefined },
  { path: 'PostgreSQL 15 counting query', mergeReturning: false },
])('applyImport counts ($path)', ({ mergeReturning }) => {
  const withPath = mergeReturning === undefined ? {} : { mergeReturning };

  it('counts inserted, updated and unchanged rows, adding up', async () => {
    const first = await apply({
      ...withPath,
      rows: stream([
        row(1, ['C-1', 'Ana', '10.00']),
        row(2, ['C-2', 'Bruno', null]),
        row(3, ['C-3', 'Carla', '30.50']),
      ]),
    });
    expect(first.alreadyApplied).toBe(false);
    expect(first.counts).toEqual({
      customers: {
        staged: 3,
        inserted: 3,
        updated: 0,
        unchanged: 0,
        superseded: 0,
        deleted: 0,
        skipped: 0,
        rejected: 0,
      },
    });

    const updatesBefore = await tuplesUpdated('customers');
    const second = await apply({
      ...withPath,
      rows: stream([
        row(1, ['C-1', 'Ana', '10.00']),
        row(2, ['C-2', 'Bruno', '5.00']),
        row(3, ['C-3', 'Carla Maria', '30.50']),
        row(4, ['C-4', 'Davi', null]),
      ]),
    });
    const counts = second.counts.customers!;
    expect(counts).toMatchObject({
      staged: 4,
      inserted: 1,
      updated: 2,
      unchanged: 1,
    });
    expect(
      counts.inserted + counts.updated + counts.unchanged + counts.superseded,
    ).toBe(counts.staged);
    // The statistics read below see real updates (so the unchanged test
    // can rely on them).
    expect(await tuplesUpdated('customers')).toBe(updatesBefore + 2);

    expect(
      await query('SELECT code, name, credit::text FROM customers ORDER BY 1'),
    ).toEqual([
      { code: 'C-1', name: 'Ana', credit: '10.00' },
      { code: 'C-2', name: 'Bruno', credit: '5.00' },
      { code: 'C-3', name: 'Carla Maria', credit: '30.50' },
      { code: 'C-4', name: 'Davi', credit: null },
    ]);
  });

  it('leaves unchanged rows untouched: no new row version', async () => {
    const rows = () =>
      stream([row(1, ['C-1', 'Ana', '10.00']), row(2, ['C-2', 'Bruno', null])]);
    await apply({ ...withPath, rows: rows() });
    const versions = () =>
      query('SELECT code, xmin::text, ctid::text FROM customers ORDER BY 1');
    const before = await versions();
    const updatesBefore = await tuplesUpdated('customers');

    const again = await apply({ ...withPath, rows: rows() });

    expect(again.counts.customers).toMatchObject({
      inserted: 0,
      updated: 0,
      unchanged: 2,
    });
    expect(await versions()).toEqual(before);
    expect(await tuplesUpdated('customers')).toBe(updatesBefore);
  });
});

// Forces this backend's statistics out, then reads them afresh.
async function tuplesUpdated(table: string): Promise<number> {
  await client.query('SELECT pg_stat_force_next_flush()');
  await client.query('SELECT pg_stat_clear_snapshot()');
  const [row] = await query<{ n: string }>(
    'SELECT n_tup_upd AS n FROM pg_stat_user_tables WHERE relname = $1',
    [table],
  );
  return Number(row?.n);
}

describe('applyImport', () => {
  it('applies an import id once: the second call reads no row', async () => {
    const importId = nextImportId();
    const first = await apply({
      importId,
      rows: stream([row(1, ['C-1', 'Ana', '1.00'])]),
    });

    async function* untouchable(): AsyncGenerator<CoercedRow> {
      throw new Error('rows of an applied import must not be read');
    }
    const second = await apply({ importId, rows: untouchable() });

    expect(second.alreadyApplied).toBe(true);
    expect(second.counts).toEqual(first.counts);
    expect(await query('SELECT code, name FROM customers')).toEqual([
      { code: 'C-1', name: 'Ana' },
    ]);
    expect(
      await query(
        'SELECT tenant, entity FROM erp_import.applied_imports WHERE import_id = $1',
        [importId],
      ),
    ).toEqual([{ tenant: 'acme', entity: 'customers' }]);
  });

  it('applies an import once when two workers race with it', async () => {
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    try {
      const importId = nextImportId();
      const options = (on: pg.Client) => ({
        client: on,
        importId,
        tenant: 'acme',
        definitions: [customers],
        rows: stream([row(1, ['C-1', 'Ana', '1.00'])]),
      });
      const results = await Promise.all([
        applyImport(options(client)),
        applyImport(options(other)),
      ]);
      expect(results.map((r) => r.alreadyApplied).sort()).toEqual([
        false,
        true,
      ]);
      expect(results[0]!.counts).toEqual(results[1]!.counts);
      expect(await query('SELECT count(*)::int AS n FROM customers')).toEqual([
        { n: 1 },
      ]);
    } finally {
      await other.end();
    }
  });

  it('applies all of an import or none of it', async () => {
    await apply({
      definitions: [invoices, invoiceLines],
      rows: stream([row(1, ['N-1', '2024-01-01'], 'invoices')]),
    });
    const importId = nextImportId();

    // Both entities merge; then a check after merging refuses the import
    // (as the engine's reject thresholds do).
    const failure = await apply({
      importId,
      definitions: [invoices, invoiceLines],
      rows: stream([
        row(1, ['N-1', '2024-02-02'], 'invoices'),
        row(2, ['N-2', '2024-02-02'], 'invoices'),
        row(3, ['N-2', '1', '5.00'], 'invoice-lines'),
      ]),
      checkMerged: (result) => {
        expect(result.counts['invoice-lines']?.inserted).toBe(1);
        throw new ImportError(ErrorCodes.TOO_MANY_REJECTS, 'refused');
      },
    }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(ImportError);
    expect(failure).toMatchObject({ code: ErrorCodes.TOO_MANY_REJECTS });
    expect(await query('SELECT number, issued_on::text FROM invoices')).toEqual(
      [{ number: 'N-1', issued_on: '2024-01-01' }],
    );
    expect(await query('SELECT * FROM invoice_lines')).toEqual([]);
    expect(
      await query(
        'SELECT 1 FROM erp_import.applied_imports WHERE import_id = $1',
        [importId],
      ),
    ).toEqual([]);
    // The connection is usable again, outside any transaction.
    expect(await query('SELECT now() = statement_timestamp() AS idle')).toEqual(
      [{ idle: true }],
    );
  });

  it('rolls back when COPY refuses a value, keeping the connection', async () => {
    const rows: CoercedRow[] = [];
    for (let index = 1; index <= 2000; index += 1) {
      rows.push(row(index, [`C-${index}`, 'name', '1.00']));
    }
    rows.push(row(2001, ['C-bad', 'name', 'not a number']));

    await expect(
      apply({ rows: stream(rows), copyChunkBytes: 4096 }),
    ).rejects.toMatchObject({
      code: ErrorCodes.DATABASE_ERROR,
      details: { sqlState: '22P02' },
    });
    expect(await query('SELECT count(*)::int AS n FROM customers')).toEqual([
      { n: 0 },
    ]);
  });

  it('never touches another tenant’s rows with the same key', async () => {
    await apply({
      tenant: 'tenant-a',
      rows: stream([row(1, ['C-1', 'Ana of A', '1.00'])]),
    });
    const result = await apply({
      tenant: 'tenant-b',
      rows: stream([row(1, ['C-1', 'Ana of B', '2.00'])]),
    });

    expect(result.counts.customers).toMatchObject({ inserted: 1, updated: 0 });
    expect(
      await query('SELECT tenant, code, name FROM customers ORDER BY tenant'),
    ).toEqual([
      { tenant: 'tenant-a', code: 'C-1', name: 'Ana of A' },
      { tenant: 'tenant-b', code: 'C-1', name: 'Ana of B' },
    ]);
  });

  it('loads a parent and its children from interleaved rows', async () => {
    const rows: CoercedRow[] = [];
    for (let invoice = 1; invoice <= 50; invoice += 1) {
      const number = `N-${invoice}`;
      rows.push(row(rows.length + 1, [number, '2024-03-01'], 'invoices'));
      for (let line = 1; line <= 3; line += 1) {
        rows.push(
          row(
            rows.length + 1,
            [number, String(line), `${line}.25`],
            'invoice-lines',
          ),
        );
      }
    }

    // Tiny buffers make the loader switch COPY between entities often.
    const result = await apply({
      definitions: [invoices, invoiceLines],
      rows: stream(rows),
      copyChunkBytes: 64,
    });

    expect(result.counts.invoices).toMatchObject({ staged: 50, inserted: 50 });
    expect(result.counts['invoice-lines']).toMatchObject({
      staged: 150,
      inserted: 150,
    });
    expect(
      await query(
        'SELECT count(*)::int AS n, sum(amount)::text AS total FROM invoice_lines',
      ),
    ).toEqual([{ n: 150, total: '337.50' }]);
  });

  it('drops the staging tables with the transaction', async () => {
    await apply({ rows: stream([row(1, ['C-1', 'Ana', null])]) });
    expect(
      await query(
        `SELECT relname FROM pg_class
         WHERE relpersistence = 't' AND relname LIKE 'erp_import_%'`,
      ),
    ).toEqual([]);
  });

  it('carries tabs, newlines, backslashes and \\N through COPY', async () => {
    const tricky = ['tab\there', 'line\nbreak\r\n', 'back\\slash', '\\N', ''];
    await apply({
      rows: stream(
        tricky.map((name, index) => row(index + 1, [`T-${index}`, name, null])),
      ),
    });
    const stored = await query<{ name: string }>(
      'SELECT name FROM customers ORDER BY code',
    );
    expect(stored.map((r) => r.name)).toEqual(tricky);
  });

  it('quotes identifiers with quotes, spaces and upper case', async () => {
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS "Sales ""EU""";
      CREATE TABLE IF NOT EXISTS "Sales ""EU"""."Order Lines" (
        "Tenant ID" text NOT NULL,
        "Order No" text NOT NULL,
        "Qty ""boxed""" integer,
        "select" text,
        PRIMARY KEY ("Tenant ID", "Order No")
      );
    `);
    const definition = defineImport({
      entity: 'order-lines',
      schema: 'Sales "EU"',
      table: 'Order Lines',
      tenantColumn: 'Tenant ID',
      key: ['Order No'],
      columns: [
        { name: 'Order No', type: 'text' },
        { name: 'Qty "boxed"', type: 'integer' },
        { name: 'select', type: 'text' },
      ],
    });

    const result = await apply({
      definitions: [definition],
      rows: stream([row(1, ['O-1', '3', 'x"; DROP TABLE customers; --'])]),
    });

    expect(result.counts['order-lines']).toMatchObject({ inserted: 1 });
    expect(await query(`SELECT * FROM "Sales ""EU"""."Order Lines"`)).toEqual([
      {
        'Tenant ID': 'acme',
        'Order No': 'O-1',
        'Qty "boxed"': 3,
        select: 'x"; DROP TABLE customers; --',
      },
    ]);
  });

  it('refuses a target table that is missing or lacks a column', async () => {
    const missingTable = defineImport({
      entity: 'ghosts',
      table: 'ghosts',
      key: ['id'],
      columns: [{ name: 'id', type: 'text' }],
    });
    await expect(
      apply({ definitions: [missingTable], rows: stream([]) }),
    ).rejects.toMatchObject({ code: ErrorCodes.TARGET_TABLE_MISMATCH });

    const missingColumn = defineImport({
      ...customersInput(),
      columns: [
        { name: 'code', type: 'text' },
        { name: 'email', type: 'text' },
      ],
    });
    await expect(
      apply({ definitions: [missingColumn], rows: stream([]) }),
    ).rejects.toMatchObject({
      code: ErrorCodes.TARGET_TABLE_MISMATCH,
      details: { missing: ['email'] },
    });
  });

  it('rolls back and reports CANCELLED when aborted mid-copy', async () => {
    const controller = new AbortController();
    async function* endless(): AsyncGenerator<CoercedRow> {
      for (let index = 1; ; index += 1) {
        if (index === 500) controller.abort();
        yield row(index, [`C-${index}`, 'name', null]);
      }
    }
    const importId = nextImportId();
    await expect(
      apply({
        importId,
        rows: endless(),
        signal: controller.signal,
        copyChunkBytes: 1024,
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.CANCELLED });
    expect(await query('SELECT count(*)::int AS n FROM customers')).toEqual([
      { n: 0 },
    ]);
    expect(
      await query(
        'SELECT 1 FROM erp_import.applied_imports WHERE import_id = $1',
        [importId],
      ),
    ).toEqual([]);
  });

  it('runs beforeCommit in the transaction, and rolls back if it throws', async () => {
    const importId = nextImportId();
    await expect(
      apply({
        importId,
        rows: stream([row(1, ['C-1', 'Ana', null])]),
        beforeCommit: async (inside, result) => {
          expect(result.counts.customers).toMatchObject({ inserted: 1 });
          const seen = await inside.query(
            'SELECT count(*)::int AS n FROM customers',
          );
          expect(seen.rows).toEqual([{ n: 1 }]);
          throw new Error('the status store refused');
        },
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.INTERNAL });
    expect(await query('SELECT count(*)::int AS n FROM customers')).toEqual([
      { n: 0 },
    ]);
  });

  it('gives its own transaction the work_mem asked for, and no more', async () => {
    const before = await query<{ work_mem: string }>('SHOW work_mem');
    let inside: string | undefined;
    await apply({
      rows: stream([row(1, ['C-1', 'Ana', null])]),
      workMem: '96MB',
      beforeCommit: async (transaction) => {
        const shown = await transaction.query('SHOW work_mem');
        inside = (shown.rows[0] as { work_mem: string }).work_mem;
      },
    });
    expect(inside).toBe('96MB');
    // SET LOCAL: the connection goes back to the pool as it came.
    expect(await query('SHOW work_mem')).toEqual(before);
  });

  it('reports superseded duplicates to onIssues with their entity', async () => {
    const issues: RowIssue[] = [];
    const result = await apply({
      definitions: [invoices, invoiceLines],
      rows: stream([
        row(1, ['N-1', '2024-01-01'], 'invoices'),
        row(2, ['N-1', '2024-01-02'], 'invoices'),
      ]),
      onIssues: async (batch) => {
        issues.push(...batch);
      },
    });
    expect(result.counts.invoices).toMatchObject({
      staged: 2,
      inserted: 1,
      superseded: 1,
    });
    expect(issues).toEqual([
      {
        severity: 'warning',
        code: 'duplicate_key_superseded',
        position: { recordNumber: 1, line: 2 },
        message:
          'superseded by line 3, a later record with the same key (number)',
        entity: 'invoices',
      },
    ]);
    expect(await query('SELECT issued_on::text FROM invoices')).toEqual([
      { issued_on: '2024-01-02' },
    ]);
  });
});

function customersInput() {
  return {
    entity: 'customers',
    table: 'customers',
    tenantColumn: 'tenant',
    key: ['code'],
  };
}
