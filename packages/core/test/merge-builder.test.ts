import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  useModernTestDatabase,
  useTestDatabase,
} from '@erp-import/dev-services/vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { ImportError } from '../src/errors/import-error.js';
import {
  qualifiedTableName,
  quoteIdentifier,
} from '../src/loader/identifiers.js';
import {
  buildCopySql,
  buildDedupeSql,
  buildInsertCounterSql,
  buildMergeSql,
  buildStagingTableSql,
  buildSupersededTableSql,
  postgresTypeOf,
} from '../src/loader/merge-sql.js';
import { detectServerCapabilities } from '../src/loader/server-capabilities.js';

const definition = defineImport({
  entity: 'prices',
  table: 'Price List',
  schema: 'sales',
  tenantColumn: 'tenant_id',
  key: ['sku'],
  columns: [
    { name: 'sku', type: 'text', length: 20 },
    { name: 'price', type: 'numeric', precision: 12, scale: 2 },
    { name: 'updated_at', type: 'timestamptz' },
  ],
});

const names = {
  staging: 'erp_import_staging_0',
  superseded: 'erp_import_superseded_0',
};

const stagingSql = `CREATE TEMPORARY TABLE pg_temp."erp_import_staging_0" (
  "__seq" bigint NOT NULL,
  "__record" bigint NOT NULL,
  "__line" bigint,
  "__path" text,
  "__key_only" boolean NOT NULL,
  "tenant_id" text NOT NULL,
  "sku" varchar(20),
  "price" numeric(12,2),
  "updated_at" timestamptz
) ON COMMIT DROP`;

const dedupeSql = `WITH ranked AS (
  SELECT "__seq",
    first_value("__seq") OVER latest AS "winner_seq",
    first_value("__record") OVER latest AS "winner_record",
    first_value("__line") OVER latest AS "winner_line",
    first_value("__key_only") OVER latest AS "winner_key_only"
  FROM pg_temp."erp_import_staging_0"
  WHERE "sku" IS NOT NULL
  WINDOW latest AS (PARTITION BY "sku" ORDER BY "__seq" DESC)
), removed AS (
  DELETE FROM pg_temp."erp_import_staging_0" AS s
  USING ranked AS r
  WHERE s."__seq" = r."__seq" AND r."__seq" <> r."winner_seq"
  RETURNING s."__seq", s."__record", s."__line", s."__path", s."__key_only",
    r."winner_record", r."winner_line", r."winner_key_only"
), superseded AS (
  INSERT INTO pg_temp."erp_import_superseded_0"
    ("__seq", "__record", "__line", "__path", "__key_only", "winner_record", "winner_line", "winner_key_only")
  SELECT "__seq", "__record", "__line", "__path", "__key_only", "winner_record", "winner_line", "winner_key_only"
  FROM removed
  RETURNING "__key_only"
)
SELECT count(*) FILTER (WHERE NOT "__key_only") AS "superseded"
FROM superseded`;

const mergeSql = `MERGE INTO "sales"."Price List" AS t
USING pg_temp."erp_import_staging_0" AS s
ON t."tenant_id" = s."tenant_id" AND t."sku" = s."sku"
WHEN MATCHED AND (
  t."price" IS DISTINCT FROM s."price"
  OR t."updated_at" IS DISTINCT FROM s."updated_at"
) THEN
  UPDATE SET
    "price" = s."price",
    "updated_at" = s."updated_at"
WHEN NOT MATCHED THEN
  INSERT ("tenant_id", "sku", "price", "updated_at")
  VALUES (s."tenant_id", s."sku", s."price", s."updated_at")`;

// Without RETURNING (PostgreSQL 15, 16), the first inserted value
// advances a sequence: the MERGE counts its own inserts.
const mergeCountingSql = mergeSql.replace(
  'VALUES (s."tenant_id",',
  `VALUES (CASE WHEN nextval('pg_temp."erp_import_inserted"') > 0 ` +
    'THEN s."tenant_id" END,',
);

// The same MERGE, indented inside a CTE that counts what it did.
const mergeReturningSql = `WITH merged AS (
${mergeSql.replace(/^/gm, '  ')}
  RETURNING merge_action() AS "action"
)
SELECT
  count(*) FILTER (WHERE "action" = 'INSERT') AS "inserted",
  count(*) FILTER (WHERE "action" = 'UPDATE') AS "updated"
FROM merged`;

describe('identifiers', () => {
  it('double-quotes every identifier and doubles inner quotes', () => {
    expect(quoteIdentifier('sku')).toBe('"sku"');
    expect(quoteIdentifier('Price "List"')).toBe('"Price ""List"""');
    expect(quoteIdentifier('x"; DROP TABLE t; --')).toBe(
      '"x""; DROP TABLE t; --"',
    );
    expect(qualifiedTableName('Price List', 'sales')).toBe(
      '"sales"."Price List"',
    );
    expect(qualifiedTableName('prices')).toBe('"prices"');
  });

  it('refuses NUL and empty identifiers', () => {
    expect(() => quoteIdentifier('a\u0000b')).toThrow(ImportError);
    expect(() => quoteIdentifier('')).toThrow(ImportError);
  });
});

describe('merge SQL builder', () => {
  it('maps column types to PostgreSQL types', () => {
    const typed = defineImport({
      entity: 'typed',
      table: 'typed',
      key: ['id'],
      columns: [
        { name: 'id', type: 'uuid' },
        { name: 'a', type: 'text' },
        { name: 'b', type: 'text', length: 13 },
        { name: 'c', type: 'numeric' },
        { name: 'd', type: 'numeric', precision: 8 },
        { name: 'e', type: 'numeric', precision: 8, scale: 3 },
        { name: 'f', type: 'integer' },
        { name: 'g', type: 'bigint' },
        { name: 'h', type: 'boolean' },
        { name: 'i', type: 'date' },
        { name: 'j', type: 'timestamp' },
        { name: 'k', type: 'timestamptz' },
        { name: 'l', type: 'jsonb' },
      ],
    });
    expect(typed.columns.map(postgresTypeOf)).toEqual([
      'uuid',
      'text',
      'varchar(13)',
      'numeric',
      'numeric(8)',
      'numeric(8,3)',
      'integer',
      'bigint',
      'boolean',
      'date',
      'timestamp',
      'timestamptz',
      'jsonb',
    ]);
  });

  it('builds the exact staging, COPY, dedupe and MERGE SQL', () => {
    expect(buildStagingTableSql(definition, names)).toBe(stagingSql);
    expect(buildCopySql(definition, names)).toBe(
      'COPY pg_temp."erp_import_staging_0" ("__seq", "__record", "__line", ' +
        '"__path", "__key_only", "tenant_id", "sku", "price", "updated_at") ' +
        'FROM STDIN',
    );
    expect(buildDedupeSql(definition, names)).toBe(dedupeSql);
    expect(
      buildMergeSql(definition, { ...names, supportsReturning: false }),
    ).toBe(mergeSql);
    expect(
      buildMergeSql(definition, {
        ...names,
        supportsReturning: false,
        insertCounter: 'erp_import_inserted',
      }),
    ).toBe(mergeCountingSql);
    expect(buildInsertCounterSql('erp_import_inserted')).toEqual({
      create: 'CREATE TEMPORARY SEQUENCE pg_temp."erp_import_inserted"',
      read:
        'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS ' +
        '"inserted" FROM pg_temp."erp_import_inserted"',
      drop: 'DROP SEQUENCE pg_temp."erp_import_inserted"',
    });
    expect(
      buildMergeSql(definition, { ...names, supportsReturning: true }),
    ).toBe(mergeReturningSql);
  });

  it('leaves out WHEN MATCHED when every column is part of the key', () => {
    const keysOnly = defineImport({
      entity: 'tags',
      table: 'tags',
      key: ['tag'],
      columns: [{ name: 'tag', type: 'text' }],
    });
    expect(buildMergeSql(keysOnly, { ...names, supportsReturning: false }))
      .toBe(`MERGE INTO "tags" AS t
USING pg_temp."erp_import_staging_0" AS s
ON t."tag" = s."tag"
WHEN NOT MATCHED THEN
  INSERT ("tag")
  VALUES (s."tag")`);
  });

  it('refuses a column named like a staging column', () => {
    const clash = defineImport({
      entity: 'clash',
      table: 'clash',
      key: ['__seq'],
      columns: [{ name: '__seq', type: 'text' }],
    });
    expect(() => buildStagingTableSql(clash, names)).toThrow(
      /clashes with a staging column/,
    );
  });
});

// The same statements on the tests' server (PostgreSQL 15 here) and on
// one with MERGE ... RETURNING (17+; an embedded 18 when the tests'
// server is older), so both of the loader's paths run on every machine.
describe.each([
  { server: "the tests' server", database: useTestDatabase('merge_builder') },
  {
    server: 'PostgreSQL 17+',
    database: useModernTestDatabase('merge_builder_modern'),
  },
])('merge SQL on a real PostgreSQL ($server)', ({ database }) => {
  let client: pg.Client;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query('CREATE SCHEMA sales');
    await client.query(`
      CREATE TABLE sales."Price List" (
        tenant_id  text NOT NULL,
        sku        varchar(20) NOT NULL,
        price      numeric(12,2) NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, sku)
      )`);
  });
  afterAll(async () => {
    await client?.end();
  });

  // Seeds the target, stages five records (one key twice), runs the
  // builder's statements in one transaction and reads what they did.
  async function runScenario(supportsReturning: boolean) {
    await client.query('ROLLBACK'); // a failed earlier run may leave one
    await client.query('TRUNCATE sales."Price List"');
    await client.query(`
      INSERT INTO sales."Price List" VALUES
        ('acme', 'A-1', 1.00, '2024-01-01T00:00:00Z'),
        ('acme', 'A-2', 2.00, '2024-01-01T00:00:00Z'),
        ('other', 'A-2', 99.00, '2024-01-01T00:00:00Z')`);

    await client.query('BEGIN');
    await client.query(buildStagingTableSql(definition, names));
    await client.query(buildSupersededTableSql(names));
    const staged: Array<[number, string, string]> = [
      [1, 'A-1', '1.00'],
      [2, 'A-2', '2.50'],
      [3, 'A-3', '3.00'],
      [4, 'A-3', '3.30'],
      [5, 'A-4', '4.00'],
    ];
    for (const [seq, sku, price] of staged) {
      await client.query(
        `INSERT INTO pg_temp."erp_import_staging_0" VALUES
          ($1, $1, $2, NULL, false, 'acme', $3, $4, '2024-01-01T00:00:00Z')`,
        [seq, seq + 1, sku, price],
      );
    }

    const dedupe = await client.query(buildDedupeSql(definition, names));
    const superseded = await client.query(
      'SELECT * FROM pg_temp."erp_import_superseded_0"',
    );

    let counts: Record<string, unknown> | undefined;
    let merged: Record<string, unknown> | undefined;
    if (supportsReturning) {
      const result = await client.query(
        buildMergeSql(definition, { ...names, supportsReturning }),
      );
      merged = result.rows[0];
    } else {
      const counter = buildInsertCounterSql('erp_import_inserted');
      await client.query(counter.create);
      const result = await client.query(
        buildMergeSql(definition, {
          ...names,
          supportsReturning,
          insertCounter: 'erp_import_inserted',
        }),
      );
      counts = (await client.query(counter.read)).rows[0];
      await client.query(counter.drop);
      merged = { rowCount: result.rowCount };
    }
    await client.query('COMMIT');

    const table = await client.query(
      `SELECT tenant_id, sku, price::text AS price
       FROM sales."Price List" ORDER BY tenant_id, sku`,
    );
    const stagingLeft = await client.query(
      `SELECT to_regclass('pg_temp."erp_import_staging_0"') AS name`,
    );
    return {
      deduped: dedupe.rows[0].superseded,
      superseded: superseded.rows,
      counts,
      merged,
      table: table.rows,
      stagingLeft: stagingLeft.rows[0].name,
    };
  }

  const expectedTable = [
    { tenant_id: 'acme', sku: 'A-1', price: '1.00' },
    { tenant_id: 'acme', sku: 'A-2', price: '2.50' },
    { tenant_id: 'acme', sku: 'A-3', price: '3.30' },
    { tenant_id: 'acme', sku: 'A-4', price: '4.00' },
    { tenant_id: 'other', sku: 'A-2', price: '99.00' },
  ];

  it('dedupes and merges, counting inserts on a sequence (PostgreSQL 15 path)', async () => {
    const outcome = await runScenario(false);
    expect(outcome.deduped).toBe('1');
    expect(outcome.superseded).toEqual([
      {
        __seq: '3',
        __record: '3',
        __line: '4',
        __path: null,
        __key_only: false,
        winner_record: '4',
        winner_line: '5',
        winner_key_only: false,
        by_parent: false,
      },
    ]);
    // Three rows merged, two of them inserted: one updated.
    expect(outcome.counts).toEqual({ inserted: '2' });
    expect(outcome.merged).toEqual({ rowCount: 3 });
    expect(outcome.table).toEqual(expectedTable);
    expect(outcome.stagingLeft).toBeNull();
  });

  it('merges with RETURNING merge_action() where the server has it', async () => {
    const capabilities = await detectServerCapabilities(client);
    const version = await client.query<{ server_version_num: string }>(
      'SHOW server_version_num',
    );
    const major = Math.floor(Number(version.rows[0]?.server_version_num) / 1e4);
    expect(capabilities.mergeReturning).toBe(major >= 17);
    if (!capabilities.mergeReturning) return;

    const outcome = await runScenario(true);
    expect(outcome.deduped).toBe('1');
    expect(outcome.merged).toEqual({ inserted: '2', updated: '1' });
    expect(outcome.table).toEqual(expectedTable);
    expect(outcome.stagingLeft).toBeNull();
  });
});
