import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  defineImport,
  type ImportDefinitionInput,
} from '../src/definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../src/errors/import-error.js';
import { createJsonReader } from '../src/readers/json-reader.js';
import type { ReadItem } from '../src/readers/record-reader.js';

const items: ImportDefinitionInput = {
  entity: 'items',
  table: 'items',
  key: ['code'],
  columns: [
    { name: 'code', type: 'text' },
    { name: 'amount', type: 'numeric' },
    { name: 'city', type: 'text', path: 'address.city' },
    { name: 'active', type: 'boolean' },
    { name: 'extra', type: 'jsonb' },
  ],
};

async function readAll(
  text: string | Buffer,
  format: 'json' | 'ndjson',
  input: ImportDefinitionInput = items,
  chunkSize = 7,
): Promise<ReadItem[]> {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  // Small chunks, so that numbers and strings straddle chunk boundaries.
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    chunks.push(bytes.subarray(offset, offset + chunkSize));
  }
  const reader = createJsonReader(Readable.from(chunks), {
    definition: defineImport(input),
    format,
  });
  const out: ReadItem[] = [];
  for await (const item of reader.items()) out.push(item);
  return out;
}

function records(list: ReadItem[]) {
  return list.flatMap((item) => (item.kind === 'record' ? [item.record] : []));
}

describe('JSON reader', () => {
  it('reads a top-level array with positions', async () => {
    const read = await readAll(
      '[\n {"code": "A", "amount": 1.5, "address": {"city": "Jarinu"}},\n' +
        ' {"code": "B", "active": false, "amount": null}\n]',
      'json',
    );
    expect(records(read)).toEqual([
      {
        position: { recordNumber: 1, line: 2, path: '$[0]' },
        values: ['A', '1.5', 'Jarinu', undefined, undefined],
        // `amount` was a JSON number: read with JSON's syntax.
        numbers: [1],
      },
      {
        position: { recordNumber: 2, line: 3, path: '$[1]' },
        values: ['B', null, undefined, 'false', undefined],
      },
    ]);
  });

  it('reads NDJSON, naming each record by its line', async () => {
    const read = await readAll(
      '{"code":"A","active":true}\n\n{"code":"B"}\r\n{"code":"C"}',
      'ndjson',
    );
    expect(records(read).map((r) => [r.position.line, r.values[0]])).toEqual([
      [1, 'A'],
      [3, 'B'],
      [4, 'C'],
    ]);
    expect(records(read)[0]?.values[3]).toBe('true');
  });

  it('reads the array at a declared path inside an object', async () => {
    const read = await readAll(
      '{"meta": {"items": [1]}, "data": {"count": 2, "items": [' +
        '{"code": "A"}, {"code": "B"}]}, "after": [{"code": "X"}]}',
      'json',
      { ...items, records: { jsonPath: 'data.items' } },
    );
    expect(records(read).map((r) => [r.position.path, r.values[0]])).toEqual([
      ['$.data.items[0]', 'A'],
      ['$.data.items[1]', 'B'],
    ]);
  });

  it('keeps the digits of big integers and decimals', async () => {
    const read = await readAll(
      '[{"code": 12345678901234567890, "amount": 0.30000000000000004},' +
        ' {"code": 0.1, "amount": -1.0e+21}]',
      'json',
      items,
      3,
    );
    expect(records(read).map((r) => r.values.slice(0, 2))).toEqual([
      ['12345678901234567890', '0.30000000000000004'],
      ['0.1', '-1.0e+21'],
    ]);
  });

  it('writes an object bound for jsonb as JSON text with its digits', async () => {
    const read = await readAll(
      '[{"code": "A", "extra": {"n": 12345678901234567890, "l": [true, null, "x"]}}]',
      'json',
    );
    expect(records(read)[0]?.values[4]).toBe(
      '{"n":12345678901234567890,"l":[true,null,"x"]}',
    );
  });

  it('rejects a record whose text column holds an object, and goes on', async () => {
    const read = await readAll('[{"code": {"a": 1}}, {"code": "B"}]', 'json');
    expect(read[0]).toMatchObject({
      kind: 'issue',
      issue: {
        severity: 'error',
        column: 'code',
        code: 'unexpected_structure',
        position: { recordNumber: 1, path: '$[0]' },
      },
    });
    expect(records(read).map((r) => r.values[0])).toEqual(['B']);
  });

  it('keeps a `__proto__` key as an ordinary field', async () => {
    const read = await readAll('[{"__proto__": {"code": "X"}}]', 'json', {
      ...items,
      columns: [{ name: 'code', type: 'text', path: '__proto__.code' }],
    });
    expect(records(read)[0]?.values).toEqual(['X']);
  });

  it('strips a BOM and reads UTF-16', async () => {
    const text = '[{"code": "São"}]';
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(text, 'utf16le'),
    ]);
    expect(records(await readAll(utf16, 'json'))[0]?.values[0]).toBe('São');
    const utf8 = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(text),
    ]);
    expect(records(await readAll(utf8, 'json'))[0]?.values[0]).toBe('São');
  });

  it('fails a malformed document with its line, after the records before it', async () => {
    const seen: ReadItem[] = [];
    const reader = createJsonReader(
      Readable.from([Buffer.from('[\n{"code": "A"},\n{"code": "B",,}\n]')]),
      { definition: defineImport(items), format: 'json' },
    );
    const failure = await (async () => {
      for await (const item of reader.items()) seen.push(item);
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ImportError);
    expect(failure).toMatchObject({
      code: ErrorCodes.MALFORMED_FILE,
      details: { line: 3 },
    });
    expect(records(seen).map((r) => r.values[0])).toEqual(['A']);
  });

  it('fails a document that ends early, and one that is no array', async () => {
    await expect(readAll('[{"code": "A"}', 'json')).rejects.toMatchObject({
      code: ErrorCodes.MALFORMED_FILE,
    });
    await expect(readAll('{"code": "A"}', 'json')).rejects.toMatchObject({
      code: ErrorCodes.MALFORMED_FILE,
    });
    await expect(
      readAll('{"data": {}}', 'json', {
        ...items,
        records: { jsonPath: 'data.items' },
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.MALFORMED_FILE });
    await expect(readAll('  \n', 'json')).rejects.toMatchObject({
      code: ErrorCodes.EMPTY_FILE,
    });
  });

  it('emits children after their parent, with parent values and ordinals', async () => {
    const read = await readAll(
      '[{"number": "PO-1", "details": [{"sku": "P-1"}, {"sku": "P-2"}]},' +
        ' {"number": "PO-2", "details": []}, {"number": "PO-3"}]',
      'json',
      {
        entity: 'orders',
        table: 'orders',
        key: ['order_number'],
        columns: [{ name: 'order_number', type: 'text', path: 'number' }],
        children: [
          {
            entity: 'order-lines',
            table: 'order_lines',
            path: 'details',
            key: ['order_number', 'line_no'],
            columns: [
              {
                name: 'order_number',
                type: 'text',
                fromParent: 'order_number',
              },
              { name: 'line_no', type: 'integer', ordinal: true },
              { name: 'sku', type: 'text' },
            ],
          },
        ],
      },
    );
    expect(
      records(read).map((r) => [r.entity, r.position.path, ...r.values]),
    ).toEqual([
      [undefined, '$[0]', 'PO-1'],
      ['order-lines', '$[0].details[0]', 'PO-1', '1', 'P-1'],
      ['order-lines', '$[0].details[1]', 'PO-1', '2', 'P-2'],
      [undefined, '$[1]', 'PO-2'],
      [undefined, '$[2]', 'PO-3'],
    ]);
  });
});
