import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput } from '../src/definitions/import-definition.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';
import { expectValueCases, type ValueCase } from './value-cases.js';

// Timestamps the column types took and PostgreSQL's COPY then refused
// failed the whole import with DATABASE_ERROR: an offset past 15:59, an
// instant of year 1 that the São Paulo wall time turns into year 0. A
// seventh fraction digit let PostgreSQL round 9999-12-31 23:59:59.9999999
// into year 10000 without a word. Each is a row error now, and what is
// stored keeps to microseconds and the years 1 to 9999.

const database = useTestDatabase('timestamp_range');
let pool: pg.Pool;
const harnesses: Record<string, EngineHarness> = {};

const events = {
  entity: 'events',
  table: 'events',
  key: ['k'],
  locale: { timeZone: 'America/Sao_Paulo' },
  columns: [
    { name: 'k', type: 'text' },
    { name: 'ts', type: 'timestamp' },
    { name: 'tstz', type: 'timestamptz' },
    { name: 'd', type: 'date', formats: ['yyyy-MM-dd', 'dd/MM/yy'] },
  ],
} satisfies ImportDefinitionInput;

const cases: ValueCase[] = [
  // PostgreSQL reads offsets up to 15:59 (22009 beyond).
  { column: 'tstz', value: '2024-02-01T10:30:00+16:00', code: 'out_of_range' },
  { column: 'tstz', value: '2024-02-01T10:30:00+18:00', code: 'out_of_range' },
  { column: 'tstz', value: '2024-02-01T10:30:00-16:00', code: 'out_of_range' },
  {
    column: 'tstz',
    value: '2024-02-01T10:30:00+15:59',
    stored: '2024-01-31 18:31:00',
  },
  // Year 0 once turned into the zone's wall time (22008).
  { column: 'ts', value: '0001-01-01T00:00:00Z', code: 'out_of_range' },
  { column: 'ts', value: '0001-01-01 00:00:00', stored: '0001-01-01 00:00:00' },
  // Year 10000 once PostgreSQL rounded to microseconds.
  { column: 'ts', value: '9999-12-31T23:59:59.9999999', code: 'out_of_range' },
  {
    column: 'ts',
    value: '9999-12-31T23:59:59.9999994',
    stored: '9999-12-31 23:59:59.999999',
  },
  {
    column: 'ts',
    value: '2024-06-01T10:00:00.1234565',
    stored: '2024-06-01 10:00:00.123457',
  },
  // A timestamptz's instant in UTC stays within the years too.
  { column: 'tstz', value: '0001-01-01T00:00:00+05:00', code: 'out_of_range' },
  { column: 'tstz', value: '9999-12-31 23:00:00', code: 'out_of_range' },
  {
    column: 'tstz',
    value: '9999-12-31T23:59:59.9999999Z',
    code: 'out_of_range',
  },
  {
    column: 'tstz',
    value: '0001-01-01 00:00:00',
    stored: '0001-01-01 03:06:28',
  },
  // PostgreSQL rolls these over into the next day; they are refused.
  { column: 'ts', value: '2024-12-31 24:00:00', code: 'invalid_timestamp' },
  { column: 'ts', value: '2024-12-31 23:59:60', code: 'invalid_timestamp' },
  { column: 'tstz', value: '2016-12-31T23:59:60Z', code: 'invalid_timestamp' },
  // No year 0 and no BC; two-digit years pivot at 50.
  { column: 'd', value: '0000-01-01', code: 'invalid_date' },
  { column: 'd', value: '0001-01-01', stored: '0001-01-01' },
  { column: 'd', value: '9999-12-31', stored: '9999-12-31' },
  { column: 'd', value: '31/12/49', stored: '2049-12-31' },
  { column: 'd', value: '01/01/50', stored: '1950-01-01' },
];

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE events (k text PRIMARY KEY, ts timestamp, ' +
      'tstz timestamptz, d date)',
  );
  harnesses.inline = await startEngineHarness(pool, [events], {
    parseThreadMinBytes: Number.POSITIVE_INFINITY,
  });
  harnesses.thread = await startEngineHarness(pool, [events], {
    parseThreadMinBytes: 0,
  });
});

afterAll(async () => {
  for (const harness of Object.values(harnesses)) await harness.stop();
  await pool?.end();
});

describe('timestamps PostgreSQL refuses or would shift', () => {
  for (const mode of ['inline', 'thread']) {
    it(`are rows refused with line, column and code (${mode})`, async () => {
      await expectValueCases({
        harness: harnesses[mode]!,
        pool,
        entity: 'events',
        table: 'events',
        columns: ['ts', 'tstz', 'd'],
        cases,
        storedAs: {
          tstz: `to_char(tstz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')`,
        },
      });
    });
  }
});
