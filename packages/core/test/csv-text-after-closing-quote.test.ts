import { describe, expect, it } from 'vitest';
import { defineImport } from '../src/definitions/import-definition.js';
import { aliasedCustomers, chunked, readAll } from './csv-test-helpers.js';

// A quoted value with more text after its closing quote (`"Acme, Inc" ,`
// or `"Z8"x`) was kept by csv-parse (`relax_quotes`) as written, quotes
// and all, and the import stored it without a word. Such a record is
// now rejected (`text_after_quote`), in whichever field and whichever of
// the scanner or csv-parse reads it; the file's other records keep their
// boundaries and lines, and a quote inside an unquoted value (`12" tube`)
// is still text.

const customers = defineImport(aliasedCustomers);

const reported =
  'customerID,companyName,city\n' +
  'Z13,"Acme, Inc" ,Sao Paulo\n' +
  'Z14,"Acme ""Big"" Inc"x,Rio\n' +
  '"Z8" ,space after quote\n';

function read(text: string, fastScan?: boolean, chunkSize?: number) {
  return readAll(chunked(text, chunkSize), {
    definition: customers,
    ...(fastScan !== undefined && { fastScan }),
  });
}

describe('text after a closing quote', () => {
  it('rejects each record of the reported file, naming line, column and value', async () => {
    const { records, issues } = await read(reported);
    expect(records).toEqual([]);
    expect(issues).toEqual([
      {
        severity: 'error',
        position: { recordNumber: 1, line: 2 },
        column: 'company_name',
        code: 'text_after_quote',
        message:
          'the quoted value of "company_name" has text after its closing ' +
          'quote (" "): remove it, or quote the whole value and double ' +
          'the quotes inside it',
        rawValue: '"Acme, Inc" ',
      },
      {
        severity: 'error',
        position: { recordNumber: 2, line: 3 },
        column: 'company_name',
        code: 'text_after_quote',
        message:
          'the quoted value of "company_name" has text after its closing ' +
          'quote ("x"): remove it, or quote the whole value and double ' +
          'the quotes inside it',
        rawValue: '"Acme ""Big"" Inc"x',
      },
      // Two fields where the header has three: the quote explains it.
      expect.objectContaining({
        position: { recordNumber: 3, line: 4 },
        column: 'customer_id',
        code: 'text_after_quote',
        rawValue: '"Z8" ',
      }),
    ]);
  });

  it('reads the records around them as before, in any chunking', async () => {
    const text =
      'customerID,companyName,city\r\n' +
      'A1,"Silva, ""Filial""",Recife\r\n' +
      'A2,"two\r\nlines" and more,Natal\r\n' + // lines 3-4
      'A3,12" tube,Santos\r\n' +
      'A4,"ok","x"\r\n' +
      'A5,Ok,"Rio"\t\r\n' +
      'A6,"a"b"c,d"\r\n' + // ragged as csv-parse reads it, rejected anyway
      'A7,"last",Belém'; // line 9
    for (const fastScan of [true, false]) {
      for (const size of [3, 17, 65536]) {
        const { records, issues } = await read(text, fastScan, size);
        expect(
          records.map((record) => [record.position.line, ...record.values]),
        ).toEqual([
          [2, 'A1', 'Silva, "Filial"', 'Recife'],
          [5, 'A3', '12" tube', 'Santos'],
          [6, 'A4', 'ok', 'x'],
          [9, 'A7', 'last', 'Belém'],
        ]);
        expect(
          issues.map((issue) => [
            issue.position,
            issue.column,
            issue.code,
            issue.rawValue,
          ]),
        ).toEqual([
          [
            { recordNumber: 2, line: 3, endLine: 4 },
            'company_name',
            'text_after_quote',
            '"two\r\nlines" and more',
          ],
          [{ recordNumber: 5, line: 7 }, 'city', 'text_after_quote', '"Rio"\t'],
          [
            { recordNumber: 6, line: 8 },
            'company_name',
            'text_after_quote',
            '"a"b"c',
          ],
        ]);
      }
    }
  });

  it('rejects a fault in a field no column reads, naming the field', async () => {
    const text = 'customerID,companyName,city,notes\nB1,Ok,X,"n" 2\n';
    const { records, issues } = await read(text);
    expect(records).toEqual([]);
    expect(issues).toEqual([
      expect.objectContaining({
        code: 'text_after_quote',
        message: expect.stringMatching(/^the quoted value of field 4 has/),
        rawValue: '"n" 2',
      }),
    ]);
    expect(issues[0]).not.toHaveProperty('column');
  });

  it('reads a tab-delimited file the same way', async () => {
    const text = 'customerID\tcompanyName\tcity\nC1\t"a"\tb\nC2\t"a" \tb\n';
    const { records, issues } = await readAll(chunked(text), {
      definition: customers,
    });
    expect(records.map((record) => record.values)).toEqual([['C1', 'a', 'b']]);
    expect(issues.map((issue) => [issue.code, issue.rawValue])).toEqual([
      ['text_after_quote', '"a" '],
    ]);
  });

  // csv-parse's raw text holds one byte of a multi-byte delimiter, so
  // quote faults are not looked for there (see the TODO in
  // csv-records.ts); quoted fields must not be taken for faults either.
  it('reads quoted fields with a delimiter of two UTF-8 bytes as before', async () => {
    const text = 'customerID§companyName§city\n"C1"§"a, b"§"c"\n';
    for (const fastScan of [true, false]) {
      const { records, issues } = await readAll(chunked(text), {
        definition: customers,
        delimiter: '§',
        fastScan,
      });
      expect(issues).toEqual([]);
      expect(records.map((record) => record.values)).toEqual([
        ['C1', 'a, b', 'c'],
      ]);
    }
  });
});
