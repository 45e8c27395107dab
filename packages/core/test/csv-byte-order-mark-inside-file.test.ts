import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import {
  aliasedCustomers,
  chunked,
  readAll,
  sharedPath,
} from './csv-test-helpers.js';

// A byte-order mark inside a file (two Excel "CSV UTF-8" exports joined
// with `cat a.csv b.csv`) was stored in the key of the record after it,
// and the second file's header line was imported as a data row. A
// record starting with U+FEFF is now rejected (`byte_order_mark`), and
// so is a record that repeats the header line (`repeated_header`), with
// or without a BOM in front.

const customers = defineImport(aliasedCustomers);

// Case 01: an Excel export, BOM first and CRLF line ends.
const case01 = sharedPath('cases/01-csv-bom-crlf-header/customers.csv');
const case01Definition = defineImport({
  entity: 'customers',
  table: 'customers',
  key: ['customer_code'],
  columns: [
    { name: 'customer_code', type: 'text' },
    { name: 'name', type: 'text', nullable: false },
    { name: 'city', type: 'text' },
  ],
});

describe('a byte-order mark inside the file', () => {
  it('rejects the record it starts, with its line and raw text', async () => {
    const text =
      'customerID,companyName,city\nA1,Ok,X\n\uFEFFA2,BOM in middle,Y\nA3,Ok,Z\n';
    for (const fastScan of [true, false]) {
      const { records, issues } = await readAll(chunked(text, 5), {
        definition: customers,
        fastScan,
      });
      expect(records.map((record) => record.values)).toEqual([
        ['A1', 'Ok', 'X'],
        ['A3', 'Ok', 'Z'],
      ]);
      expect(records.map((record) => record.position.line)).toEqual([2, 4]);
      expect(issues).toEqual([
        {
          severity: 'error',
          position: { recordNumber: 2, line: 3 },
          code: 'byte_order_mark',
          message:
            'a byte-order mark (U+FEFF) was found inside the file, at the ' +
            'start of line 3, as when two files are joined into one',
          rawValue: '\uFEFFA2,BOM in middle,Y',
        },
      ]);
    }
  });

  it('rejects the repeated header of two Excel exports joined, and reads both files', async () => {
    const file = readFileSync(case01);
    expect([...file.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const joined = Buffer.concat([file, file]);
    const { records, issues } = await readAll(chunked(joined, 7), {
      definition: case01Definition,
    });
    const rows = [
      ['C001', 'Padaria Estrela Ltda', 'Campinas'],
      ['C002', 'Mercado Bom Preço', 'Recife'],
      ['C003', 'Oficina Ribeiro', 'Santos'],
    ];
    expect(records.map((record) => record.values)).toEqual([...rows, ...rows]);
    expect(records.map((record) => record.position.line)).toEqual([
      2, 3, 4, 6, 7, 8,
    ]);
    expect(issues).toEqual([
      {
        severity: 'error',
        position: { recordNumber: 4, line: 5 },
        code: 'repeated_header',
        message:
          'line 5, after a byte-order mark, repeats the header line, as ' +
          'when two files are joined into one; it is not read as data',
        rawValue: '\uFEFFcustomer_code,name,city',
      },
    ]);
  });

  it('rejects a repeated header without a BOM, matched as header names are', async () => {
    const text =
      'customerID;companyName;city\r\n' +
      'A1;Ok;X\r\n' +
      ' CUSTOMERID ;"companyName";Cíty\r\n' +
      'customerID;companyName;Rio\r\n' + // a row, not the header
      'A2;Ok;Y\r\n';
    const { records, issues } = await readAll(chunked(text), {
      definition: customers,
    });
    expect(records.map((record) => record.values)).toEqual([
      ['A1', 'Ok', 'X'],
      ['customerID', 'companyName', 'Rio'],
      ['A2', 'Ok', 'Y'],
    ]);
    expect(issues).toEqual([
      expect.objectContaining({
        position: { recordNumber: 2, line: 3 },
        code: 'repeated_header',
        message: expect.stringMatching(/^line 3 repeats the header line/),
        rawValue: ' CUSTOMERID ;"companyName";Cíty',
      }),
    ]);
  });
});
