import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput } from '../src/definitions/import-definition.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';
import { expectValueCases, type ValueCase } from './value-cases.js';

// The edges of the column types whose input PostgreSQL reads in a form of
// its own (uuid, boolean, integer, bigint), checked against the real
// input functions: what a type accepts is what the table then holds, and
// what it refuses is a row error, never a failed COPY.

const database = useTestDatabase('column_type_edges');
let pool: pg.Pool;
let harness: EngineHarness;

const things = {
  entity: 'things',
  table: 'things',
  key: ['k'],
  columns: [
    { name: 'k', type: 'text' },
    { name: 'id', type: 'uuid' },
    { name: 'flag', type: 'boolean' },
    { name: 'small', type: 'integer' },
    { name: 'big', type: 'bigint' },
  ],
} satisfies ImportDefinitionInput;

const uuid = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';

const cases: ValueCase[] = [
  { column: 'id', value: uuid.toUpperCase(), stored: uuid },
  { column: 'id', value: `{${uuid}}`, stored: uuid },
  { column: 'id', value: uuid.replace(/-/g, ''), stored: uuid },
  { column: 'id', value: uuid.slice(0, -1), code: 'invalid_uuid' },
  { column: 'id', value: `g${uuid.slice(1)}`, code: 'invalid_uuid' },
  { column: 'id', value: `{${uuid}`, code: 'invalid_uuid' },
  { column: 'flag', value: 'Sim', stored: 'true' },
  { column: 'flag', value: ' NÃO ', stored: 'false' },
  { column: 'flag', value: 'on', code: 'invalid_boolean' },
  { column: 'small', value: '-2147483648', stored: '-2147483648' },
  { column: 'small', value: '2147483648', code: 'out_of_range' },
  {
    column: 'big',
    value: '9223372036854775807',
    stored: '9223372036854775807',
  },
  { column: 'big', value: '-9223372036854775809', code: 'out_of_range' },
];

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE things (k text PRIMARY KEY, id uuid, flag boolean, ' +
      'small integer, big bigint)',
  );
  harness = await startEngineHarness(pool, [things]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

describe('uuid, boolean and integer edges', () => {
  it('are stored as read, or rows refused with line, column and code', async () => {
    await expectValueCases({
      harness,
      pool,
      entity: 'things',
      table: 'things',
      columns: ['id', 'flag', 'small', 'big'],
      cases,
    });
  });
});
