import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import { chunked, readAndCoerce } from './csv-test-helpers.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

/**
 * Excel writes `sep=;` as the first line of a CSV to name its delimiter,
 * and reads it back without showing it as a row. The reader took it for
 * the header and failed the import with MISSING_COLUMNS. It is now a
 * declaration of the delimiter and is skipped, while lines stay physical:
 * the header is line 2.
 */

const customers = {
  entity: 'customers',
  table: 'customers',
  key: ['customer_code'],
  columns: [
    { name: 'customer_code', type: 'text' },
    { name: 'name', type: 'text', nullable: false },
    { name: 'city', type: 'text' },
  ],
} satisfies ImportDefinitionInput;
const definition = defineImport(customers);

async function read(input: string, delimiter?: string) {
  const { rows, allIssues, reader } = await readAndCoerce(chunked(input), {
    definition,
    ...(delimiter !== undefined && { delimiter }),
  });
  return {
    rows: rows.map((row) => [row.position.line, ...row.values]),
    issues: allIssues.map((issue) => [issue.position.line, issue.code]),
    delimiter: reader.detected().delimiter,
  };
}

describe('an Excel sep= first line', () => {
  it('sets the delimiter and is skipped, lines counted as they are', async () => {
    expect(
      await read('sep=;\r\ncustomer_code;name;city\r\nC1;A;X\r\n'),
    ).toEqual({ rows: [[3, 'C1', 'A', 'X']], issues: [], delimiter: ';' });
  });

  it('is recognised after a BOM and before a tab-delimited header', async () => {
    const input = '\ufeffsep=\t\ncustomer_code\tname\tcity\nC1\tA\tX\nC2\tB\n';

    expect(await read(input)).toEqual({
      rows: [[3, 'C1', 'A', 'X']],
      issues: [[4, 'ragged_row']],
      delimiter: '\t',
    });
  });

  it('gives way to a declared delimiter, and is skipped all the same', async () => {
    const input = 'sep=;\ncustomer_code,name,city\nC1,A,X\n';

    expect(await read(input, ',')).toEqual({
      rows: [[3, 'C1', 'A', 'X']],
      issues: [],
      delimiter: ',',
    });
  });

  it('is only a line of exactly sep= and one character', async () => {
    const failure = await read('sep=;;\nC1;A;X\n').catch((error) => error);

    expect(failure).toMatchObject({ code: 'MISSING_COLUMNS' });
  });
});

describe('the fix file of a file with a sep= line', () => {
  const database = useTestDatabase('csv_excel_sep_line');
  let pool: pg.Pool;
  let harness: EngineHarness;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: database.url, max: 3 });
    await pool.query(
      'CREATE TABLE customers (customer_code text PRIMARY KEY, name text NOT NULL, city text)',
    );
    harness = await startEngineHarness(pool, [customers]);
  });

  afterAll(async () => {
    await harness.stop();
    await pool.end();
  });

  it('keeps the sep= line above the header and counts records alike', async () => {
    const done = await harness.run({
      entity: 'customers',
      format: 'csv',
      body: 'sep=;\r\ncustomer_code;name;city\r\nC1;A;X\r\nC2;;Y\r\n',
    });
    expect(done.counts).toMatchObject({ read: 2, inserted: 1, rejected: 1 });

    const fix = await harness.importer.fixFile('acme', done.id);
    const parts: Buffer[] = [];
    for await (const chunk of fix.body) parts.push(chunk);

    expect(Buffer.concat(parts).toString('utf8').split('\r\n')).toEqual([
      'sep=;',
      'customer_code;name;city;_line;_column;_code;_message',
      expect.stringMatching(/^C2;;Y;4;name;required;/),
      '',
    ]);
  });
});
