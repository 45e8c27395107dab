import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import type { ImportDefinitionInput } from '../src/definitions/import-definition.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// A JSON string escape of half a surrogate pair (`"x\ud800y"`) decodes to
// a JavaScript string that has no UTF-8 form; written to COPY it became
// U+FFFD, so the table held a character the file never had. A text or
// jsonb value holding one is a row error now (`invalid_text`, or
// `invalid_json` for the escape inside a jsonb document).

const database = useTestDatabase('lone_surrogate');
let pool: pg.Pool;
let harness: EngineHarness;

const notes = {
  entity: 'notes',
  table: 'notes',
  key: ['k'],
  columns: [
    { name: 'k', type: 'text' },
    { name: 't', type: 'text' },
    { name: 'j', type: 'jsonb' },
  ],
} satisfies ImportDefinitionInput;

// One record a line, as NDJSON, so that errors name lines too.
const file = [
  '{"k":"A","t":"x\\ud800y"}',
  '{"k":"B","t":"pair \\ud83d\\ude00"}',
  '{"k":"C","j":{"a":"\\udc00"}}',
  '{"k":"D","t":"tail \\udbff"}',
  '{"k":"E","j":{"\\ud800":1}}',
  '{"k":"F","j":{"a":"\\u00e9"}}',
  '',
].join('\n');

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query('CREATE TABLE notes (k text PRIMARY KEY, t text, j jsonb)');
  harness = await startEngineHarness(pool, [notes]);
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

describe('a lone surrogate from a JSON escape', () => {
  it('is a row error in text and jsonb columns, never U+FFFD', async () => {
    const record = await harness.run({
      entity: 'notes',
      format: 'ndjson',
      body: file,
    });
    expect(record.failure).toBeNull();
    expect(record.counts).toMatchObject({
      read: 6,
      inserted: 2,
      rejected: 4,
    });
    const errors = await harness.errors(record);
    expect(
      errors.map((error) => [error.position.line, error.column, error.code]),
    ).toEqual([
      [1, 't', 'invalid_text'],
      [3, 'j', 'invalid_json'],
      [4, 't', 'invalid_text'],
      [5, 'j', 'invalid_json'],
    ]);

    const { rows } = await pool.query(
      'SELECT k, t, j::text AS j FROM notes ORDER BY k',
    );
    expect(rows).toEqual([
      { k: 'B', t: 'pair 😀', j: null },
      { k: 'F', t: null, j: '{"a": "é"}' },
    ]);
  });
});
