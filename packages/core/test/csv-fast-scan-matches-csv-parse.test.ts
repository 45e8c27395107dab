import { CsvError } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import {
  parseCsvRecords,
  type ParsedRecord,
} from '../src/readers/csv-records.js';

// The scanner in front of csv-parse must give exactly csv-parse's records
// (values and raw text), and csv-parse's error, on any input and however
// the input is cut into chunks. Random inputs over an alphabet of CSV's
// troublemakers, compared record by record.

interface Outcome {
  records: ParsedRecord[];
  error?: string;
}

async function readAll(
  pieces: string[],
  delimiter: string,
  fastScan: boolean,
  maxRecordBytes = 1024,
): Promise<Outcome> {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (const piece of pieces) yield Buffer.from(piece, 'utf8');
  }
  const records: ParsedRecord[] = [];
  try {
    for await (const batch of parseCsvRecords(chunks(), {
      delimiter,
      maxRecordBytes,
      fastScan,
    })) {
      records.push(...batch);
    }
    return { records };
  } catch (error) {
    return { records, error: (error as { code?: string }).code ?? 'unknown' };
  }
}

// The field strict csv-parse refuses for text after its closing quote;
// undefined when it reads the record, 'other' when it refuses something
// else first (a quote inside an unquoted field, which the reader keeps).
// A quote before a NUL is 'other' too: csv-parse takes the NUL byte for
// the end of its input and the quote for a closing one, where the reader
// sees text after the quote (and rejects the NUL anyway).
function strictReading(
  raw: string,
  delimiter: string,
): number | undefined | 'other' {
  if (raw.includes('"\u0000')) return 'other';
  try {
    parse(raw, {
      delimiter,
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      skip_empty_lines: false,
      bom: false,
    });
    return undefined;
  } catch (error) {
    if (
      error instanceof CsvError &&
      error.code === 'CSV_INVALID_CLOSING_QUOTE'
    ) {
      return (error as CsvError & { column: number }).column;
    }
    return 'other';
  }
}

// A small deterministic generator (mulberry32).
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const alphabet = [
  'a',
  'b',
  ',',
  ';',
  '"',
  '""',
  '\r',
  '\n',
  '\r\n',
  ' ',
  'é',
  '\u0000',
  'xyz',
];

function randomInput(next: () => number): string {
  const length = Math.floor(next() * 40);
  let text = '';
  for (let i = 0; i < length; i++) {
    text += alphabet[Math.floor(next() * alphabet.length)];
  }
  return text;
}

// Cuts at character boundaries, as the decoder hands chunks over.
function cut(text: string, next: () => number): string[] {
  const pieces: string[] = [];
  let at = 0;
  while (at < text.length) {
    const size = 1 + Math.floor(next() * 8);
    pieces.push(text.slice(at, at + size));
    at += size;
  }
  return pieces;
}

describe('the CSV scanner in front of csv-parse', () => {
  it('reads random inputs exactly as csv-parse does', async () => {
    const next = random(20240601);
    for (let n = 0; n < 3000; n++) {
      const text = randomInput(next);
      const delimiter = next() < 0.5 ? ',' : ';';
      const pieces = cut(text, next);
      const expected = await readAll([text], delimiter, false);
      const actual = await readAll(pieces, delimiter, true);
      expect({ text, ...actual }).toEqual({ text, ...expected });
    }
  });

  // Both hand csv-parse's records out with the field that has text after
  // its closing quote, if any. Checked against csv-parse itself: read
  // without `relax_quotes`, it refuses exactly such a field, naming it.
  it('marks the field with text after its closing quote, where strict csv-parse refuses it', async () => {
    const next = random(20260412);
    let faults = 0;
    let clean = 0;
    for (let n = 0; n < 3000; n++) {
      const text = randomInput(next);
      const delimiter = next() < 0.5 ? ',' : ';';
      const { records } = await readAll(cut(text, next), delimiter, true);
      for (const { raw, quoteFault } of records) {
        const strict = strictReading(raw, delimiter);
        if (strict === 'other') continue;
        expect({ raw, field: quoteFault?.field }).toEqual({
          raw,
          field: strict,
        });
        if (strict === undefined) clean++;
        else faults++;
      }
    }
    expect(faults).toBeGreaterThan(300);
    expect(clean).toBeGreaterThan(300);
  });

  it('hands an overlong record to csv-parse, which refuses it', async () => {
    const text = `a,b\n"${'x'.repeat(3000)}",c\nd,e\n`;
    const expected = await readAll([text], ',', false);
    const actual = await readAll(cut(text, random(7)), ',', true);
    expect(actual).toEqual(expected);
    expect(actual.error).toBe('CSV_MAX_RECORD_SIZE');
  });

  it('reads a plain export the same in large chunks', async () => {
    let text = 'code,name,city\r\n';
    for (let i = 0; i < 5000; i++) {
      text += `C${i},"Silva, ""Filial ${i}""",São Paulo\r\n`;
    }
    const expected = await readAll([text], ',', false, 1 << 20);
    const pieces = [];
    for (let at = 0; at < text.length; at += 65_536) {
      pieces.push(text.slice(at, at + 65_536));
    }
    expect(await readAll(pieces, ',', true, 1 << 20)).toEqual(expected);
    expect(expected.records).toHaveLength(5001);
  });
});
