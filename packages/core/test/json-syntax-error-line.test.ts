import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../src/errors/import-error.js';
import type { ImportDefinitionInput } from '../src/index.js';
import { createJsonReader } from '../src/readers/json-reader.js';
import {
  startEngineHarness,
  type EngineHarness,
} from './engine-import-harness.js';

// A syntax error names the physical line where the bad token starts. The
// tokenizer waits for more input before it rejects some tokens (a bad
// literal such as `nope`, an unterminated string), and that input may be
// on the next lines: the line must not be the one it was waiting on.

const items: ImportDefinitionInput = {
  entity: 'items',
  table: 'items',
  key: ['code'],
  columns: [
    { name: 'code', type: 'text' },
    { name: 'qty', type: 'integer' },
  ],
};

// Each bad token, alone on a line, and as a member's value.
const badTokens = [
  'nope',
  'not json',
  'tx',
  'n',
  'nu',
  't',
  'f',
  'fals',
  'xyz',
  '12abc',
  '1.',
  '-',
  '@',
  '"unterminated',
  '{"code": nul}',
  '{"code": tru, "qty": 1}',
  '{"code": "C", "qty": 1e}',
  '{"code": "C", "qty": 12x}',
  '{"code": "unterminated}',
  '{"code": "C", "qty": 1} #',
];

// What follows the bad line: nothing, a final line break, more records,
// and blank lines (the tokenizer waits over those too).
const endings: Record<string, string> = {
  'at the end of the file': '',
  'on the last line': '\n',
  'before more records': '\n{"code": "Z", "qty": 9}\n{"code": "Y"}\n',
  'before blank lines': '\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n',
};

async function failure(
  text: string,
  format: 'json' | 'ndjson',
  chunkSize: number,
): Promise<{ error: unknown; codes: unknown[] }> {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    chunks.push(bytes.subarray(offset, offset + chunkSize));
  }
  const reader = createJsonReader(Readable.from(chunks), {
    definition: defineImport(items),
    format,
  });
  const codes: unknown[] = [];
  try {
    for await (const item of reader.items()) {
      if (item.kind === 'record') codes.push(item.record.values[0]);
    }
  } catch (error) {
    return { error, codes };
  }
  return { error: undefined, codes };
}

function expectLine(error: unknown, line: number): void {
  expect(error).toBeInstanceOf(ImportError);
  expect(error).toMatchObject({
    code: ErrorCodes.MALFORMED_FILE,
    details: { line },
  });
  expect((error as ImportError).message).toContain(`at line ${line},`);
}

describe.each(Object.entries(endings))('a bad token %s', (_name, ending) => {
  // Chunks of 7 bytes split tokens; 64 KiB hands the file over whole.
  describe.each([7, 64 * 1024])('read %i bytes at a time', (chunkSize) => {
    it.each(badTokens)('NDJSON: %s on line 3', async (bad) => {
      const text =
        '{"code": "A", "qty": 1}\n{"code": "B", "qty": 2}\n' + bad + ending;
      const { error, codes } = await failure(text, 'ndjson', chunkSize);
      expectLine(error, 3);
      expect(codes).toEqual(['A', 'B']);
    });

    it.each(badTokens)('JSON array over lines: %s on line 4', async (bad) => {
      const text =
        '[\n{"code": "A", "qty": 1},\n{"code": "B", "qty": 2},\n' +
        bad +
        ending.replace(/\n(?=\{)/g, ',\n') +
        (ending === '' ? '' : ']\n');
      const { error, codes } = await failure(text, 'json', chunkSize);
      expectLine(error, 4);
      expect(codes).toEqual(['A', 'B']);
    });
  });
});

it('names the line of a bad token inside a record spread over lines', async () => {
  const text =
    '[\n  {\n    "code": "A",\n    "qty": nul\n  },\n' +
    '  {\n    "code": "B"\n  }\n]\n';
  const { error } = await failure(text, 'json', 7);
  expectLine(error, 4);
});

it('names the line of a bad token at the end of a long line', async () => {
  // Longer than the slices the document is fed in, so the line is fed in
  // several pieces and the bad token comes in the last.
  const long = `{"code": "${'x'.repeat(70_000)}", "qty": tru}\n`;
  const text = '{"code": "A"}\n' + long + '{"code": "B"}\n';
  const { error, codes } = await failure(text, 'ndjson', 4096);
  expectLine(error, 2);
  expect(codes).toEqual(['A']);
});

it('still reads literals, numbers and strings that end a line', async () => {
  const text =
    '{"code": "A", "qty": 1}\n{"code": "n", "qty": null}\n' +
    '{"code": "t", "qty": 3}\n"x"\ntrue\nfalse\nnull\n12\n';
  const { error, codes } = await failure(text, 'ndjson', 7);
  // The record that is no object is rejected, not a syntax error.
  expect(error).toBeUndefined();
  expect(codes).toEqual(['A', 'n', 't']);
});

describe('through the engine', () => {
  const database = useTestDatabase('json_syntax_error_line');
  let pool: pg.Pool;
  let harness: EngineHarness;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: database.url, max: 4 });
    await pool.query('CREATE TABLE items (code text PRIMARY KEY, qty integer)');
    harness = await startEngineHarness(pool, [items]);
  });
  afterAll(async () => {
    await harness?.stop();
    await pool?.end();
  });

  it('fails an NDJSON file with `nope` on its last line at line 3', async () => {
    const record = await harness.run({
      entity: 'items',
      format: 'ndjson',
      body: '{"code": "A", "qty": 1}\n{"code": "B", "qty": 2}\nnope\n',
    });
    expect(record.state).toBe('failed');
    expect(record.failure).toMatchObject({
      code: ErrorCodes.MALFORMED_FILE,
      details: { line: 3 },
    });
    expect(record.failure?.message).toContain('at line 3,');
    // Nothing of a failed file is applied.
    const stored = await pool.query('SELECT count(*)::int AS n FROM items');
    expect(stored.rows).toEqual([{ n: 0 }]);
  });
});
