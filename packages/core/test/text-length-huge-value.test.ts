import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { createRowCoercer } from '../src/coercion/row-coercer.js';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import { defaultDocumentLimits } from '../src/readers/document-limits.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// A text column with a `length` counted a long value's characters with
// Array.from: for a value of 4 MiB of wide characters (a JSON string the
// reader lets through) that array took the parse thread past its heap,
// and the import failed INTERNAL, or V8 aborted the process. Characters
// are now counted in place; the row is rejected `too_long` as a short
// one is.

const items: ImportDefinitionInput = {
  entity: 'items',
  table: 'long_items',
  key: ['code'],
  columns: [
    { name: 'code', type: 'text' },
    { name: 'note', type: 'text', length: 10 },
  ],
};

function coerce(note: string) {
  const coercer = createRowCoercer(defineImport(items));
  return coercer({
    position: { recordNumber: 1, line: 1 },
    values: ['A', note],
  });
}

describe('a text column with a length', () => {
  it('counts characters, a pair of UTF-16 units as one', () => {
    expect(coerce('😀'.repeat(10))).toMatchObject({
      ok: true,
      row: { values: ['A', '😀'.repeat(10)] },
    });
    const over = coerce(`${'😀'.repeat(10)}x`);
    expect(over).toMatchObject({ ok: false });
    expect(!over.ok && over.issues[0]?.message).toMatch(
      /has 11 characters; the column takes at most 10$/,
    );
  });

  it('drops only spaces past the length, as varchar does', () => {
    expect(coerce(`${'é'.repeat(10)}     `)).toMatchObject({
      ok: true,
      row: { values: ['A', 'é'.repeat(10)] },
    });
    expect(coerce(`${'é'.repeat(10)}    .`)).toMatchObject({ ok: false });
  });
});

const database = useTestDatabase('text_length_huge_value');
let pool: pg.Pool;
let harness: EngineHarness;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  await pool.query(
    'CREATE TABLE long_items (code text PRIMARY KEY, note varchar(10))',
  );
  harness = await startEngineHarness(pool, [items], {
    parseThreadMinBytes: 0,
  });
});

afterAll(async () => {
  await harness?.stop();
  await pool?.end();
});

describe('a value as long as a record may be, for a text(10) column', () => {
  it('is a rejected row, read in a parse thread', async () => {
    const note = '€'.repeat(defaultDocumentLimits.maxRecordChars - 200);
    const record = await harness.run({
      entity: 'items',
      format: 'json',
      body: `[{"code":"A","note":"${note}"},{"code":"B","note":"short"}]`,
    });
    expect(record.failure ?? null).toBeNull();
    expect(record.counts).toMatchObject({ read: 2, inserted: 1, rejected: 1 });
    const errors = await harness.errors(record);
    expect(errors.map((error) => [error.column, error.code])).toEqual([
      ['note', 'too_long'],
    ]);
  }, 120_000);
});
