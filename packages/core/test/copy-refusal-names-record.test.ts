import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { CoercedRow } from '../src/coercion/coerced-row.js';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import { ImportError } from '../src/errors/import-error.js';
import { applyImport } from '../src/loader/apply-import.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// A value its column type accepted and the staging COPY then refused
// failed the import with PostgreSQL's bare message, which names a line of
// the COPY, not of the file. The import still fails (COPY cannot skip a
// row on PostgreSQL 15), but its failure names the file's line and record,
// the column and the entity. Such a value is forced here by a server whose
// stack limit is set to the minimum: it refuses JSON nested 900 deep,
// which the jsonb type accepts.

const database = useTestDatabase('copy_refusal');
let pool: pg.Pool;
const harnesses: Record<string, EngineHarness> = {};

const documents = {
  entity: 'documents',
  table: 'documents',
  key: ['k'],
  columns: [
    { name: 'k', type: 'text' },
    { name: 'j', type: 'jsonb' },
  ],
} satisfies ImportDefinitionInput;

const deep = `"${'['.repeat(900)}${']'.repeat(900)}"`;

beforeAll(async () => {
  const name = new URL(database.url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  await admin.query(`ALTER DATABASE "${name}" SET max_stack_depth = '100kB'`);
  await admin.query('CREATE TABLE documents (k text PRIMARY KEY, j jsonb)');
  await admin.end();

  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  harnesses.inline = await startEngineHarness(pool, [documents], {
    parseThreadMinBytes: Number.POSITIVE_INFINITY,
  });
  harnesses.thread = await startEngineHarness(pool, [documents], {
    parseThreadMinBytes: 0,
  });
});

afterAll(async () => {
  for (const harness of Object.values(harnesses)) await harness.stop();
  await pool?.end();
});

describe('a value the COPY refuses', () => {
  for (const mode of ['inline', 'thread']) {
    it(`fails the import naming line, record and column (${mode})`, async () => {
      const body = `k,j\nA,1\n"B\nb",2\nC,${deep}\nD,3\n`;
      const record = await harnesses[mode]!.run({
        entity: 'documents',
        format: 'csv',
        body,
      });

      expect(record.state).toBe('failed');
      expect(record.failure).toMatchObject({
        code: 'DATABASE_ERROR',
        details: {
          sqlState: '54001',
          entity: 'documents',
          column: 'j',
          line: 5,
          recordNumber: 3,
          stagedRow: 3,
        },
      });
      expect(record.failure?.message).toMatch(
        /^PostgreSQL refused a value its column type had accepted, at line 5 \(record 3\) of entity "documents", column "j": stack depth limit exceeded/,
      );
      const { rows } = await pool.query(
        'SELECT count(*)::int AS n FROM documents',
      );
      expect(rows).toEqual([{ n: 0 }]);
    });
  }
});

describe('the record of a refused value, from the loader', () => {
  const parent = defineImport({
    entity: 'parents',
    table: 'parents',
    key: ['id'],
    columns: [
      { name: 'id', type: 'integer' },
      { name: 'j', type: 'jsonb' },
    ],
  });
  const child = { ...parent, entity: 'children', table: 'children' };

  async function refusalOf(
    importId: string,
    rows: AsyncIterable<CoercedRow>,
    copyChunkBytes?: number,
  ): Promise<ImportError> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query(
        'DROP TABLE IF EXISTS parents, children; ' +
          'CREATE TABLE parents (id integer PRIMARY KEY, j jsonb); ' +
          'CREATE TABLE children (id integer PRIMARY KEY, j jsonb)',
      );
      const error = await applyImport({
        client,
        importId,
        tenant: 'acme',
        definitions: [parent, child],
        rows,
        ...(copyChunkBytes !== undefined && { copyChunkBytes }),
      }).catch((failure: unknown) => failure);
      expect(error).toBeInstanceOf(ImportError);
      return error as ImportError;
    } finally {
      await client.end();
    }
  }

  it('is exact across COPYs that take turns between entities', async () => {
    // Tiny buffers: the COPY of each entity ends and starts again often,
    // and each one counts its lines from 1.
    async function* rows(): AsyncGenerator<CoercedRow> {
      for (let n = 1; n <= 40; n++) {
        const entity = n % 3 === 0 ? 'children' : 'parents';
        const json = entity === 'children' && n === 27 ? '"\\ud800"' : '1';
        yield {
          entity,
          position: { recordNumber: n, line: n * 2 },
          values: [String(n), json],
        };
      }
    }
    const error = await refusalOf('refusal-turns', rows(), 64);
    expect(error.details).toMatchObject({
      sqlState: '22P02',
      entity: 'children',
      column: 'j',
      line: 54,
      recordNumber: 27,
      stagedRow: 9,
    });
    expect(error.message).toContain('at line 54 (record 27)');
  });

  it('names a range of lines once the line itself was sent long ago', async () => {
    // Rows all at once: the whole file is sent before the server's answer
    // comes back, far past the text the copy keeps.
    async function* rows(): AsyncGenerator<CoercedRow> {
      for (let n = 1; n <= 40_000; n++) {
        yield {
          position: { recordNumber: n, line: n + 1 },
          values: [String(n), n === 10 ? '"\\ud800"' : `"${'x'.repeat(100)}"`],
        };
      }
    }
    const error = await refusalOf('refusal-range', rows());
    const range =
      /one of the records between lines (\d+) and (\d+) \(staged row 10\)/.exec(
        error.message,
      );
    expect(range, error.message).not.toBeNull();
    expect(Number(range![1])).toBeLessThanOrEqual(11);
    expect(Number(range![2])).toBeGreaterThanOrEqual(11);
    expect(error.details).toMatchObject({ stagedRow: 10, column: 'j' });
  });
});
