import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { CoercedRow } from '../src/coercion/coerced-row.js';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../src/errors/import-error.js';
import {
  applyImport,
  type ApplyImportOptions,
} from '../src/loader/apply-import.js';
import type { RowIssue } from '../src/ports/error-log.js';

// Issue 8 at the loader: modes, scope, the sync brake, soft delete,
// empty-means-keep, the version column, stale exports, and rows the
// database refuses. Every case runs on both counting paths.

const database = useTestDatabase('merge_modes');
let client: pg.Client;
let importCounter = 0;

const base = {
  entity: 'prices',
  table: 'prices',
  tenantColumn: 'tenant',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text' },
    { name: 'name', type: 'text' },
    { name: 'price', type: 'numeric', precision: 12, scale: 2 },
  ],
} satisfies ImportDefinitionInput;

function row(recordNumber: number, values: Array<string | null>): CoercedRow {
  return { position: { recordNumber, line: recordNumber + 1 }, values };
}

async function* stream(rows: CoercedRow[]): AsyncGenerator<CoercedRow> {
  for (const item of rows) yield item;
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
});

afterAll(async () => {
  await client?.end();
});

describe.each([
  ['detected server capability', undefined],
  ['PostgreSQL 15 counting query', false],
] as const)('merge semantics (%s)', (_label, mergeReturning) => {
  async function apply(
    input: ImportDefinitionInput,
    rows: CoercedRow[],
    options: Partial<ApplyImportOptions> = {},
  ) {
    const issues: RowIssue[] = [];
    const result = await applyImport({
      client,
      importId: `import-${++importCounter}`,
      tenant: 'acme',
      definitions: [defineImport(input)],
      rows: stream(rows),
      onIssues: async (batch) => {
        issues.push(...batch);
      },
      ...(mergeReturning !== undefined && { mergeReturning }),
      ...options,
    });
    return { result, issues, counts: result.counts[input.entity]! };
  }

  const prices = () =>
    query(
      'SELECT tenant, sku, name, price::text AS price FROM prices ' +
        'ORDER BY tenant, sku',
    );

  beforeEach(async () => {
    await client.query(`
      DROP TABLE IF EXISTS prices;
      CREATE TABLE prices (
        tenant text NOT NULL,
        sku text NOT NULL,
        name text,
        price numeric(12,2),
        PRIMARY KEY (tenant, sku)
      );
      INSERT INTO prices VALUES
        ('acme', 'A', 'Apple', 1.00),
        ('acme', 'B', 'Banana', 2.00),
        ('other', 'A', 'Theirs', 9.00);
    `);
  });

  it('insert mode inserts new keys and skips existing ones with a warning', async () => {
    const { counts, issues } = await apply({ ...base, mode: 'insert' }, [
      row(1, ['A', 'Apricot', '5.00']),
      row(2, ['C', 'Cherry', '3.00']),
    ]);
    expect(counts).toMatchObject({ inserted: 1, updated: 0, skipped: 1 });
    expect(counts.unchanged).toBe(0);
    expect(issues).toEqual([
      expect.objectContaining({
        severity: 'warning',
        code: 'key_exists',
        position: { recordNumber: 1, line: 2 },
      }),
    ]);
    expect(await prices()).toEqual([
      { tenant: 'acme', sku: 'A', name: 'Apple', price: '1.00' },
      { tenant: 'acme', sku: 'B', name: 'Banana', price: '2.00' },
      { tenant: 'acme', sku: 'C', name: 'Cherry', price: '3.00' },
      { tenant: 'other', sku: 'A', name: 'Theirs', price: '9.00' },
    ]);
  });

  it('update mode updates existing keys and skips missing ones', async () => {
    const { counts, issues } = await apply({ ...base, mode: 'update' }, [
      row(1, ['A', 'Apple', '1.50']),
      row(2, ['B', 'Banana', '2.00']),
      row(3, ['Z', 'Zucchini', '7.00']),
    ]);
    expect(counts).toMatchObject({
      inserted: 0,
      updated: 1,
      unchanged: 1,
      skipped: 1,
    });
    expect(issues.map((issue) => [issue.code, issue.position.line])).toEqual([
      ['key_not_found', 4],
    ]);
    expect((await prices()).map((p) => p.sku)).toEqual(['A', 'B', 'A']);
    expect((await prices())[0]?.price).toBe('1.50');
  });

  it('lets an import choose only a mode its definition allows', async () => {
    const refused = await apply(base, [row(1, ['A', 'x', '1'])], {
      load: { mode: 'insert' },
    }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: ErrorCodes.INVALID_REQUEST });

    const { counts } = await apply(
      { ...base, allowedModes: ['insert'] },
      [row(1, ['A', 'Apricot', '5.00'])],
      { load: { mode: 'insert' } },
    );
    expect(counts).toMatchObject({ inserted: 0, skipped: 1 });
  });

  it('sync deletes the rows the file no longer holds, in its tenant only', async () => {
    const { counts } = await apply({ ...base, mode: 'sync' }, [
      row(1, ['A', 'Apple', '1.00']),
      row(2, ['C', 'Cherry', '3.00']),
    ]);
    expect(counts).toMatchObject({
      inserted: 1,
      unchanged: 1,
      deleted: 1,
    });
    expect((await prices()).map((p) => `${p.tenant}/${p.sku}`)).toEqual([
      'acme/A',
      'acme/C',
      'other/A',
    ]);
  });

  it('the brake fails a sync that deletes too much, changing nothing', async () => {
    const before = await prices();
    const input = { ...base, mode: 'sync', maxDeleteShare: 0.4 } as const;
    const failure = await apply(input, [row(1, ['C', 'Cherry', '3.00'])]).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ImportError);
    expect(failure).toMatchObject({
      code: ErrorCodes.SYNC_BRAKE,
      details: { wouldDelete: 2, total: 2, maxDeleteShare: 0.4 },
    });
    expect(await prices()).toEqual(before);

    // Half of the scope is within a brake of one half, and a request may
    // release the brake.
    const half = await apply({ ...input, maxDeleteShare: 0.5 }, [
      row(1, ['A', 'Apple', '1.00']),
    ]);
    expect(half.counts.deleted).toBe(1);
    const released = await apply(input, [row(1, ['C', 'Cherry', '3.00'])], {
      load: { allowMassDelete: true },
    });
    expect(released.counts).toMatchObject({ inserted: 1, deleted: 1 });
    expect((await prices()).map((p) => `${p.tenant}/${p.sku}`)).toEqual([
      'acme/C',
      'other/A',
    ]);
  });

  it('sync replaces only its scope, taken from the parameters', async () => {
    await client.query(`
      DROP TABLE prices;
      CREATE TABLE prices (
        tenant text NOT NULL,
        company_id integer NOT NULL,
        sku text NOT NULL,
        name text,
        price numeric(12,2),
        PRIMARY KEY (tenant, company_id, sku)
      );
      INSERT INTO prices VALUES
        ('acme', 1, 'A', 'Apple', 1.00),
        ('acme', 1, 'B', 'Banana', 2.00),
        ('acme', 2, 'A', 'Apple two', 1.00),
        ('acme', 2, 'B', 'Banana two', 2.00);
    `);
    const scoped: ImportDefinitionInput = {
      ...base,
      mode: 'sync',
      scope: [{ name: 'company_id', type: 'integer' }],
    };

    const missing = await apply(scoped, [row(1, ['A', 'x', '1'])]).catch(
      (error: unknown) => error,
    );
    expect(missing).toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    const unknown = await apply(scoped, [row(1, ['A', 'x', '1'])], {
      load: { params: { company_id: '2', year: '2024' } },
    }).catch((error: unknown) => error);
    expect(unknown).toMatchObject({ code: ErrorCodes.INVALID_REQUEST });

    const { counts } = await apply(
      scoped,
      [row(1, ['A', 'Apple two', '1.10']), row(2, ['C', 'Cherry', '3.00'])],
      { load: { params: { company_id: '2' } } },
    );
    expect(counts).toMatchObject({ inserted: 1, updated: 1, deleted: 1 });
    expect(
      await query(
        'SELECT company_id, sku, price::text AS price FROM prices ' +
          'ORDER BY company_id, sku',
      ),
    ).toEqual([
      { company_id: 1, sku: 'A', price: '1.00' },
      { company_id: 1, sku: 'B', price: '2.00' },
      { company_id: 2, sku: 'A', price: '1.10' },
      { company_id: 2, sku: 'C', price: '3.00' },
    ]);
  });

  it('sync marks rows through a soft-delete column and revives them', async () => {
    await client.query('ALTER TABLE prices ADD COLUMN deleted_at timestamptz');
    const soft = {
      ...base,
      mode: 'sync',
      softDelete: { column: 'deleted_at' },
    } as const;
    const first = await apply(soft, [row(1, ['A', 'Apple', '1.00'])]);
    expect(first.counts).toMatchObject({ unchanged: 1, deleted: 1 });
    const marked = () =>
      query<{ sku: string; deleted: boolean }>(
        "SELECT sku, deleted_at IS NOT NULL AS deleted FROM prices WHERE tenant = 'acme' ORDER BY sku",
      );
    expect(await marked()).toEqual([
      { sku: 'A', deleted: false },
      { sku: 'B', deleted: true },
    ]);

    // Marked rows are not marked again; one that comes back is alive.
    const again = await apply(soft, [row(1, ['A', 'Apple', '1.00'])]);
    expect(again.counts).toMatchObject({ unchanged: 1, deleted: 0 });
    const back = await apply(soft, [
      row(1, ['A', 'Apple', '1.00']),
      row(2, ['B', 'Banana', '2.00']),
    ]);
    expect(back.counts).toMatchObject({ unchanged: 1, updated: 1 });
    expect(await marked()).toEqual([
      { sku: 'A', deleted: false },
      { sku: 'B', deleted: false },
    ]);
  });

  it('an empty field keeps the stored value where the column says so', async () => {
    const keeping = {
      ...base,
      columns: [
        { name: 'sku', type: 'text' },
        { name: 'name', type: 'text', emptyMeansKeep: true },
        { name: 'price', type: 'numeric', precision: 12, scale: 2 },
      ],
    } satisfies ImportDefinitionInput;
    const kept = (recordNumber: number, values: Array<string | null>) => ({
      ...row(recordNumber, values),
      kept: [1],
    });
    const { counts } = await apply(keeping, [
      kept(1, ['A', null, null]),
      kept(2, ['B', null, '2.00']),
      kept(3, ['C', null, '3.00']),
      row(4, ['D', 'Date', '4.00']),
    ]);
    expect(counts).toMatchObject({ inserted: 2, updated: 1, unchanged: 1 });
    expect(await prices()).toEqual([
      // The name kept, the price (no keep) written NULL.
      { tenant: 'acme', sku: 'A', name: 'Apple', price: null },
      { tenant: 'acme', sku: 'B', name: 'Banana', price: '2.00' },
      { tenant: 'acme', sku: 'C', name: null, price: '3.00' },
      { tenant: 'acme', sku: 'D', name: 'Date', price: '4.00' },
      { tenant: 'other', sku: 'A', name: 'Theirs', price: '9.00' },
    ]);
  });

  it('a version column lets only newer rows replace stored ones', async () => {
    await client.query(`
      ALTER TABLE prices ADD COLUMN version bigint;
      UPDATE prices SET version = 10;
    `);
    const versioned = {
      ...base,
      versionColumn: 'version',
      columns: [...base.columns, { name: 'version', type: 'bigint' }],
    } satisfies ImportDefinitionInput;
    const { counts, issues } = await apply(versioned, [
      row(1, ['A', 'Old apple', '0.50', '9']),
      row(2, ['B', 'New banana', '2.50', '11']),
      row(3, ['C', 'Cherry', '3.00', '1']),
    ]);
    expect(counts).toMatchObject({ inserted: 1, updated: 1, skipped: 1 });
    expect(issues).toEqual([
      expect.objectContaining({
        severity: 'warning',
        code: 'stale_row',
        position: { recordNumber: 1, line: 2 },
      }),
    ]);
    expect((await prices()).map((p) => p.name)).toEqual([
      'Apple',
      'New banana',
      'Cherry',
      'Theirs',
    ]);
  });

  it('refuses an export older than the last one applied', async () => {
    // The ledger outlives the tables: start this entity's history afresh.
    await client.query(
      "DELETE FROM erp_import.applied_imports WHERE entity = 'prices'",
    );
    await apply(base, [row(1, ['A', 'Apple', '1.00'])], {
      load: { exportedAt: '2024-05-02T10:00:00Z' },
    });
    const stale = await apply(base, [row(1, ['A', 'Stale', '0.10'])], {
      load: { exportedAt: '2024-05-01T10:00:00Z' },
    }).catch((error: unknown) => error);
    expect(stale).toMatchObject({
      code: ErrorCodes.STALE_EXPORT,
      details: { latest: '2024-05-02T10:00:00.000Z' },
    });
    expect((await prices())[0]?.name).toBe('Apple');

    // Another tenant has its own history; a newer export applies.
    const { counts } = await apply(base, [row(1, ['A', 'Fresh', '1.00'])], {
      load: { exportedAt: '2024-05-03T10:00:00-03:00' },
    });
    expect(counts.updated).toBe(1);
    const otherTenant = await applyImport({
      client,
      importId: `import-${++importCounter}`,
      tenant: 'other',
      definitions: [defineImport(base)],
      rows: stream([row(1, ['A', 'Theirs', '9.00'])]),
      load: { exportedAt: '2024-01-01T00:00:00Z' },
    });
    expect(otherTenant.counts.prices?.unchanged).toBe(1);
  });

  it('isolates rows the database refuses and applies the rest', async () => {
    await client.query(`
      DROP TABLE IF EXISTS prices;
      DROP TABLE IF EXISTS brands;
      CREATE TABLE brands (code text PRIMARY KEY);
      INSERT INTO brands VALUES ('acme-brand');
      CREATE TABLE prices (
        tenant text NOT NULL,
        sku text NOT NULL,
        name varchar(8) UNIQUE,
        price numeric(12,2) CONSTRAINT price_positive CHECK (price > 0),
        brand text CONSTRAINT prices_brand_fk REFERENCES brands (code),
        PRIMARY KEY (tenant, sku)
      );
    `);
    const branded = {
      ...base,
      columns: [...base.columns, { name: 'brand', type: 'text' }],
    } satisfies ImportDefinitionInput;
    const { counts, issues } = await apply(branded, [
      row(1, ['A', 'Apple', '1.00', 'acme-brand']),
      row(2, ['B', 'Banana', '-2.00', null]),
      row(3, ['C', 'Cherry', '3.00', 'nobody']),
      row(4, ['D', 'Apple', '4.00', null]),
      row(5, ['E', 'Elderberry', '5.00', null]),
      row(6, ['F', 'Fig', '6.00', null]),
    ]);

    expect(counts).toMatchObject({ staged: 6, inserted: 2, rejected: 4 });
    expect(
      issues.map((issue) => [issue.position.line, issue.code, issue.severity]),
    ).toEqual([
      [3, 'check_violation', 'error'],
      [4, 'foreign_key_violation', 'error'],
      [5, 'unique_violation', 'error'],
      [6, 'value_too_long', 'error'],
    ]);
    expect(issues[0]?.message).toMatch(
      /SQLSTATE 23514, constraint "price_positive"/,
    );
    expect(issues[1]?.message).toMatch(
      /SQLSTATE 23503, constraint "prices_brand_fk"/,
    );
    expect(issues[2]?.message).toMatch(/SQLSTATE 23505/);
    expect(issues[3]?.message).toMatch(/SQLSTATE 22001/);
    expect((await prices()).map((p) => p.sku)).toEqual(['A', 'F']);
  });
});
