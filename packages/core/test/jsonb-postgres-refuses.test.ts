import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput } from '../src/definitions/import-definition.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';
import { expectValueCases, type ValueCase } from './value-cases.js';

// JSON that JSON.parse takes and jsonb refuses failed the whole import in
// the staging COPY: escapes of lone UTF-16 surrogates (22P02), numbers
// beyond numeric's range (`1e1000000` is Infinity to JavaScript, 22003),
// nesting past the server's stack (54001). Each is a rejected row now, and
// whatever numeric and jsonb do hold is stored as written.

const database = useTestDatabase('jsonb_refusals');
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

// The nesting the jsonb type takes: far under PostgreSQL's own limit.
const jsonbMaxDepth = 1000;
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

const cases: ValueCase[] = [
  { column: 'j', value: '"\\ud800"', code: 'invalid_json' },
  { column: 'j', value: '{"a":"\\udc00"}', code: 'invalid_json' },
  { column: 'j', value: '["\\ud800\\u0041"]', code: 'invalid_json' },
  { column: 'j', value: '{"\\udfff":1}', code: 'invalid_json' },
  { column: 'j', value: '"\\ud83d\\ude00"', stored: '"😀"' },
  { column: 'j', value: '"\\\\ud800"', stored: '"\\\\ud800"' },
  { column: 'j', value: '{"a":"\\u0000"}', code: 'invalid_json' },
  { column: 'j', value: '1e1000000', code: 'invalid_json' },
  { column: 'j', value: '[1e131072]', code: 'invalid_json' },
  { column: 'j', value: '{"n":1e-16384}', code: 'invalid_json' },
  { column: 'j', value: '1.5e-16383', code: 'invalid_json' },
  { column: 'j', value: '0e-20000', code: 'invalid_json' },
  { column: 'j', value: '1e3000000000', code: 'invalid_json' },
  { column: 'j', value: '1e400', stored: '1' + '0'.repeat(400) },
  { column: 'j', value: '0e200000', stored: '0' },
  { column: 'j', value: '[-1E-16383]', stored: `[-0.${'0'.repeat(16382)}1]` },
  { column: 'j', value: nested(jsonbMaxDepth + 1), code: 'invalid_json' },
  { column: 'j', value: nested(jsonbMaxDepth), stored: nested(jsonbMaxDepth) },
];

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query('CREATE TABLE documents (k text PRIMARY KEY, j jsonb)');
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

describe('JSON that jsonb refuses', () => {
  for (const mode of ['inline', 'thread']) {
    it(`is a row refused with line, column and code (${mode})`, async () => {
      await expectValueCases({
        harness: harnesses[mode]!,
        pool,
        entity: 'documents',
        table: 'documents',
        columns: ['j'],
        cases,
      });
    });
  }

  it('holds the largest numbers numeric takes', async () => {
    await expectValueCases({
      harness: harnesses.inline!,
      pool,
      entity: 'documents',
      table: 'documents',
      columns: ['j'],
      cases: [
        { column: 'j', value: '1e131071', stored: `1${'0'.repeat(131071)}` },
        {
          column: 'j',
          value: `[1${'0'.repeat(131072)}]`,
          code: 'invalid_json',
        },
        { column: 'j', value: `0.${'0'.repeat(16384)}`, code: 'invalid_json' },
      ],
    });
    const { rows } = await pool.query(
      `SELECT length(j::text) AS length FROM documents`,
    );
    expect(rows).toEqual([{ length: 131072 }]);
  });
});
