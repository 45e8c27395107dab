import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  createImporter,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
  ImportError,
  type ImportDefinitionInput,
  type Importer,
  type ImportLoadOptions,
} from '../src/index.js';
import {
  ibptBytes,
  ibptLines,
  ibptSyncDefinition,
  ibptTableSql,
} from './ibpt-fixtures.js';

// Reverting an import of the IBPT table restores the table exactly,
// compared row by row with a copy taken before; a revert is refused with
// REVERT_CONFLICT while a later import changed the same rows, and no
// longer possible once the before-images expired.

const ibptTaxRates = {
  ...ibptSyncDefinition,
  keepBeforeImages: true,
} satisfies ImportDefinitionInput;

const database = useTestDatabase('revert_ibpt');
let pool: pg.Pool;
let importer: Importer;
const stores = {
  statusStore: createMemoryStatusStore(),
  errorLog: createMemoryErrorLog(),
  fileStore: createMemoryFileStore(),
};
let header: string;
let records: string[];

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 3 });
  await pool.query(
    ibptTableSql([
      // Written by the database, not the file: restored from the image.
      'touched_at timestamptz NOT NULL DEFAULT clock_timestamp()',
    ]),
  );
  importer = createImporter({
    definitions: [ibptTaxRates],
    database: pool,
    queue: createMemoryQueue(),
    ...stores,
    beforeImageRetentionMs: 3_600_000,
  });
  ({ header, records } = await ibptLines());
});

afterAll(async () => {
  await pool?.end();
});

async function importLines(
  lines: readonly string[],
  load: ImportLoadOptions = { params: { uf: 'SP' } },
  tenant = 'acme',
) {
  const bytes = ibptBytes(header, lines);
  const { record } = await importer.enqueue({
    tenant,
    entity: 'ibpt_tax_rates',
    format: 'csv',
    body: Readable.from([bytes]),
    load,
  });
  const done = await importer.process(record.id);
  expect(done.state).toBe('completed');
  return done;
}

// The description (the 4th field) of a record, changed.
function withDescription(line: string, description: string): string {
  const fields = line.split(';');
  fields[3] = description;
  return fields.join(';');
}

// A record under a code the table does not hold.
function withCode(line: string, index: number): string {
  const fields = line.split(';');
  fields[0] = `NEW${String(index).padStart(5, '0')}`;
  return fields.join(';');
}

// Rows of the table not in the copy, and rows of the copy not in the
// table: both empty when they hold the same rows.
async function differences(copy: string): Promise<[number, number]> {
  const count = async (sql: string) =>
    Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);
  return [
    await count(
      `SELECT count(*) AS n FROM (TABLE ibpt_tax_rates EXCEPT TABLE ${copy}) d`,
    ),
    await count(
      `SELECT count(*) AS n FROM (TABLE ${copy} EXCEPT TABLE ibpt_tax_rates) d`,
    ),
  ];
}

async function expectRejected(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ImportError);
  expect((error as ImportError).code).toBe(code);
  return error as ImportError;
}

describe('revert of an IBPT import', () => {
  it('restores the table exactly, row by row', async () => {
    await importLines(records);
    await importLines(records.slice(0, 500), { params: { uf: 'SP' } }, 'other');
    await pool.query('CREATE TABLE copy_before AS TABLE ibpt_tax_rates');

    // Every 20th record gone, every 7th described anew, 50 new codes.
    const modified = records
      .filter((_line, index) => index % 20 !== 0)
      .map((line, index) =>
        index % 7 === 0 ? withDescription(line, `changed ${index}`) : line,
      );
    const added = records.slice(0, 50).map(withCode);
    const changed = await importLines([...modified, ...added], {
      params: { uf: 'SP' },
      maxRejected: 0,
    });
    expect(changed.counts).toMatchObject({ inserted: 50, deleted: 605 });
    expect(changed.counts.updated).toBeGreaterThan(1500);
    expect(await differences('copy_before')).not.toEqual([0, 0]);

    const reverted = await importer.revert('acme', changed.id);

    expect(reverted.state).toBe('reverted');
    expect((await importer.get('acme', changed.id)).state).toBe('reverted');
    expect(await differences('copy_before')).toEqual([0, 0]);
    await expectRejected(importer.revert('acme', changed.id), 'INVALID_STATE');
  });

  it('refuses with REVERT_CONFLICT while a later import changed the same rows', async () => {
    await pool.query('CREATE TABLE copy_conflict AS TABLE ibpt_tax_rates');
    const first = await importLines(
      records.map((line, index) =>
        index < 100 ? withDescription(line, `first ${index}`) : line,
      ),
    );
    // The later import changes one row the first one changed too.
    const later = await importLines(
      records.map((line, index) =>
        index === 42 ? withDescription(line, 'later') : line,
      ),
    );
    expect(later.counts.updated).toBe(100);
    await pool.query('CREATE TABLE copy_after AS TABLE ibpt_tax_rates');

    const refused = await expectRejected(
      importer.revert('acme', first.id),
      'REVERT_CONFLICT',
    );
    expect(refused.details).toMatchObject({ laterImports: [later.id] });
    expect(await differences('copy_after')).toEqual([0, 0]);
    expect((await importer.get('acme', first.id)).state).toBe('completed');

    // Once the later import is reverted, the first one can be too.
    await importer.revert('acme', later.id);
    await importer.revert('acme', first.id);
    expect(await differences('copy_conflict')).toEqual([0, 0]);
  });

  it('cannot revert once the before-images expired', async () => {
    const done = await importLines(
      records.map((line, index) =>
        index === 7 ? withDescription(line, 'expiring') : line,
      ),
    );
    const expiring = createImporter({
      definitions: [ibptTaxRates],
      database: pool,
      queue: createMemoryQueue(),
      ...stores,
      beforeImageRetentionMs: 0,
    });

    expect(await expiring.purgeBeforeImages()).toBeGreaterThan(0);
    const images = await pool.query(
      'SELECT count(*) AS n FROM erp_import.before_images',
    );
    expect(Number(images.rows[0].n)).toBe(0);
    await expectRejected(importer.revert('acme', done.id), 'INVALID_STATE');
  });
});
