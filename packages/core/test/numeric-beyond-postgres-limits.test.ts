import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput } from '../src/definitions/import-definition.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';
import { expectValueCases, type ValueCase } from './value-cases.js';

// A numeric column without precision took any number of digits, and
// PostgreSQL's numeric holds at most 131072 before the point and 16383
// after: beyond that the staging COPY failed (22003) and with it the whole
// import. Such a value is a row error now; the edges of numeric(p,s) are
// checked on the same real table.

const database = useTestDatabase('numeric_limits');
let pool: pg.Pool;
let harness: EngineHarness;

const amounts = {
  entity: 'amounts',
  table: 'amounts',
  key: ['k'],
  columns: [
    { name: 'k', type: 'text' },
    { name: 'free', type: 'numeric' },
    { name: 'cents', type: 'numeric', precision: 2, scale: 2 },
    { name: 'whole', type: 'numeric', precision: 3 },
    { name: 'wide', type: 'numeric', precision: 1000, scale: 0 },
  ],
} satisfies ImportDefinitionInput;

const digits = (count: number, digit = '1') => digit.repeat(count);

const cases: ValueCase[] = [
  { column: 'free', value: digits(131072), stored: digits(131072) },
  { column: 'free', value: digits(131073), code: 'numeric_overflow' },
  { column: 'free', value: `-${digits(131073)}.5`, code: 'numeric_overflow' },
  { column: 'free', value: `0.${digits(16383)}`, stored: `0.${digits(16383)}` },
  { column: 'free', value: `0.${digits(16384)}`, code: 'numeric_scale' },
  {
    column: 'free',
    value: `1.${digits(16383, '5')}000`,
    stored: `1.${digits(16383, '5')}`,
  },
  { column: 'free', value: '000123.4500', stored: '123.4500' },
  { column: 'cents', value: '0.5', stored: '0.50' },
  { column: 'cents', value: '-.99', stored: '-0.99' },
  { column: 'cents', value: '1', code: 'numeric_overflow' },
  { column: 'cents', value: '0.999', code: 'numeric_scale' },
  { column: 'whole', value: '123.000', stored: '123' },
  { column: 'whole', value: '-0', stored: '0' },
  { column: 'whole', value: '1234', code: 'numeric_overflow' },
  { column: 'whole', value: '12.5', code: 'numeric_scale' },
  { column: 'wide', value: digits(1000, '9'), stored: digits(1000, '9') },
  { column: 'wide', value: digits(1001, '9'), code: 'numeric_overflow' },
];

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE amounts (k text PRIMARY KEY, free numeric, ' +
      'cents numeric(2,2), whole numeric(3), wide numeric(1000,0))',
  );
  harness = await startEngineHarness(pool, [amounts]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

describe('numbers beyond what numeric holds', () => {
  it('are rows refused with line, column and code', async () => {
    await expectValueCases({
      harness,
      pool,
      entity: 'amounts',
      table: 'amounts',
      columns: ['free', 'cents', 'whole', 'wide'],
      cases,
    });
  });
});
