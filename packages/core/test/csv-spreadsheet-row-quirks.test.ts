import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { chunked, readAll } from './csv-test-helpers.js';

// What spreadsheets and ERP exports write around the rows, each with a
// defined answer: a blank row as delimiters alone or as spaces is no
// record (like an empty line); a delimiter closing every line, on the
// rows or on the header alone, adds no field.

const customers = defineImport({
  entity: 'customers',
  table: 'customers',
  key: ['customer_code'],
  columns: [
    { name: 'customer_code', type: 'text' },
    { name: 'name', type: 'text', nullable: false },
    { name: 'city', type: 'text' },
  ],
});

function readCsv(text: string, definition: typeof customers) {
  return readAll(chunked(text), { definition, delimiter: ';' });
}

const rows = [
  ['C1', 'Ana', 'Campinas'],
  ['C2', 'Bruno', null],
];

describe('a CSV as spreadsheets write it', () => {
  it.each([
    [
      'blank rows of delimiters',
      'customer_code;name;city\r\n;;\r\nC1;Ana;Campinas\r\n;;\r\nC2;Bruno;\r\n;;\r\n',
    ],
    [
      'blank rows of spaces',
      'customer_code;name;city\r\n   \r\nC1;Ana;Campinas\r\nC2;Bruno;\r\n \t \r\n',
    ],
    [
      'a delimiter closing each row',
      'customer_code;name;city\r\nC1;Ana;Campinas;\r\nC2;Bruno;;\r\n',
    ],
    [
      'a delimiter closing the header',
      'customer_code;name;city;\r\nC1;Ana;Campinas\r\nC2;Bruno;\r\n',
    ],
    [
      'a delimiter closing every line',
      'customer_code;name;city;\r\nC1;Ana;Campinas;\r\nC2;Bruno;;\r\n',
    ],
  ])('reads %s as the two rows', async (_, text) => {
    const { records, issues } = await readCsv(text, customers);
    expect(issues).toEqual([]);
    expect(records.map((record) => record.values)).toEqual(rows);
  });

  it('keeps physical lines and record numbers past skipped rows', async () => {
    const text =
      'customer_code;name;city\r\n;;\r\nC1;Ana;Campinas\r\n;;\r\nC2;Bruno;\r\n';
    const { records } = await readCsv(text, customers);
    expect(records.map((record) => record.position)).toEqual([
      { recordNumber: 1, line: 3 },
      { recordNumber: 2, line: 5 },
    ]);
  });

  it('still rejects a row with a field too many that is not empty', async () => {
    const text = 'customer_code;name;city\r\nC1;Ana;Campinas;x\r\n';
    const { records, issues } = await readCsv(text, customers);
    expect(records).toEqual([]);
    expect(issues.map((issue) => issue.code)).toEqual(['ragged_row']);
  });

  it('still rejects a row of empty quoted fields, which says something', async () => {
    const text = 'customer_code;name;city\r\n"";"";""\r\n';
    const { records } = await readCsv(text, customers);
    expect(records.map((record) => record.values)).toEqual([['', '', '']]);
  });
});
