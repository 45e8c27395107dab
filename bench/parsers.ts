import {
  createCsvReader,
  createDefinitionRegistry,
  type ImportDefinition,
} from '@erp-import/core';
import { parse as csvParse } from 'csv-parse';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import Papa from 'papaparse';
import { benchCustomers } from './bench-definition.js';

/**
 * The CSV parsers alone, on the bench's file, in this process: what the
 * product's reader costs against csv-parse as the user chose it, and
 * against papaparse, the faster tokenizer the issue's prototype measured.
 * Every candidate reads the same file as UTF-8 text in 1 MiB chunks and
 * only counts its records, so the differences are the parsers'.
 */

interface Candidate {
  name: string;
  /** Resolves with the records read (header excluded). */
  read(file: string): Promise<number>;
}

const chunkBytes = 1024 * 1024;
const textOf = (file: string) =>
  createReadStream(file, { encoding: 'utf8', highWaterMark: chunkBytes });

const candidates: Candidate[] = [
  {
    name: 'csv-parse, records as arrays',
    read: (file) => countCsvParse(file, { from_line: 2 }),
  },
  {
    name: 'csv-parse, records as objects',
    read: (file) => countCsvParse(file, { columns: true }),
  },
  {
    name: 'papaparse, records as arrays',
    read: (file) =>
      new Promise((resolve, reject) => {
        let records = 0;
        Papa.parse<string[]>(textOf(file), {
          chunk: (results) => (records += results.data.length),
          complete: () => resolve(records - 1),
          error: reject,
        });
      }),
  },
  {
    // Decoding, the scanner in front of csv-parse and the header mapped
    // to the definition's columns; no value read by its type yet.
    name: "erp-import's CSV reader",
    read: (file) => countReader(file, true),
  },
  {
    name: "erp-import's CSV reader, csv-parse for every record",
    read: (file) => countReader(file, false),
  },
];

async function countCsvParse(
  file: string,
  options: { from_line?: number; columns?: boolean },
): Promise<number> {
  const parser = textOf(file).pipe(csvParse(options));
  let records = 0;
  parser.on('data', () => (records += 1));
  await once(parser, 'end');
  return records;
}

async function countReader(file: string, fastScan: boolean) {
  const reader = createCsvReader(
    createReadStream(file, { highWaterMark: chunkBytes }),
    { definition: benchDefinition(), fastScan },
  );
  let records = 0;
  for await (const batch of reader.batches()) records += batch.length;
  return records;
}

let definition: ImportDefinition | undefined;
function benchDefinition(): ImportDefinition {
  definition ??= createDefinitionRegistry([benchCustomers]).get(
    benchCustomers.entity,
  );
  return definition;
}

export interface ParserRow {
  name: string;
  records: number;
  samplesMs: number[];
}

/**
 * Each candidate once per run, in an order that turns each run so that
 * none always goes first; medians of `runs`.
 */
export async function measureParsers(
  file: string,
  runs: number,
  expectedRecords: number,
): Promise<ParserRow[]> {
  const rows: ParserRow[] = candidates.map((candidate) => ({
    name: candidate.name,
    records: 0,
    samplesMs: [],
  }));
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < candidates.length; k++) {
      const index = (k + run) % candidates.length;
      const started = performance.now();
      const records = await candidates[index]!.read(file);
      rows[index]!.samplesMs.push(performance.now() - started);
      if (records !== expectedRecords) {
        throw new Error(
          `${candidates[index]!.name} read ${records} records, ` +
            `not ${expectedRecords}`,
        );
      }
      rows[index]!.records = records;
    }
  }
  return rows;
}
