import { createTestPool } from '@erp-import/dev-services/engine-harness';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/index.js';
import { migrations } from '../src/migrations.js';

const database = useTestDatabase('adapter_pg_migrations');
let pools: pg.Pool[];

beforeAll(() => {
  pools = Array.from({ length: 4 }, () => createTestPool(database.url, 2));
});

afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
});

describe('migrate', () => {
  const latest = Math.max(...migrations.map((migration) => migration.version));

  it('runs each migration once when many processes start together', async () => {
    const results = await Promise.all(
      pools.map((pool) => migrate(pool, { schema: 'erp_race' })),
    );

    const applied = results.flatMap((result) => result.applied);
    expect(applied.sort()).toEqual(migrations.map((m) => m.version).sort());
    for (const result of results) expect(result.version).toBe(latest);

    const { rows } = await pools[0]!.query(
      'SELECT version FROM erp_race.migrations ORDER BY version',
    );
    expect(rows.map((row) => (row as { version: number }).version)).toEqual(
      migrations.map((migration) => migration.version),
    );
  });

  it('finds nothing to do the second time', async () => {
    const again = await migrate(pools[0]!, { schema: 'erp_race' });
    expect(again).toEqual({ applied: [], version: latest });
  });

  it('creates its tables in the schema it is given, erp_import by default', async () => {
    await migrate(pools[1]!);
    const { rows } = await pools[1]!.query(
      `SELECT table_schema, table_name FROM information_schema.tables
       WHERE table_schema IN ('erp_import', 'erp_race')
       ORDER BY 1, 2`,
    );
    const tables = [
      'file_chunks',
      'files',
      'import_errors',
      'imports',
      'migrations',
    ];
    expect(rows).toEqual([
      ...tables.map((table_name) => ({
        table_schema: 'erp_import',
        table_name,
      })),
      ...tables.map((table_name) => ({ table_schema: 'erp_race', table_name })),
    ]);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(
      migrate(pools[0]!, { schema: 'x"; DROP TABLE y; --' }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });
});
