import type { Readable } from 'node:stream';
import type { ImportDefinition } from '../definitions/import-definition.js';
import { ErrorCodes, ImportError } from '../errors/import-error.js';
import type {
  ImportFormat,
  ImportReadOptions,
} from '../ports/import-record.js';
import { createCsvReader } from '../readers/csv-reader.js';
import { createJsonReader } from '../readers/json-reader.js';
import type { RecordReader } from '../readers/record-reader.js';
import { createXmlReader } from '../readers/xml-reader.js';

export interface ReaderInput {
  definition: ImportDefinition;
  options: ImportReadOptions;
}

export type ReaderFactory = (
  input: Readable,
  read: ReaderInput,
) => RecordReader;

// One line per format. Readers detect gzip themselves from the bytes.
const readerFactories: Partial<Record<ImportFormat, ReaderFactory>> = {
  csv: (input, { definition, options }) =>
    createCsvReader(input, {
      definition,
      ...(options.delimiter !== undefined && { delimiter: options.delimiter }),
      ...(options.encoding !== undefined && { encoding: options.encoding }),
    }),
  json: (input, { definition, options }) =>
    createJsonReader(input, {
      definition,
      format: 'json',
      ...(options.encoding !== undefined && { encoding: options.encoding }),
    }),
  ndjson: (input, { definition, options }) =>
    createJsonReader(input, {
      definition,
      format: 'ndjson',
      ...(options.encoding !== undefined && { encoding: options.encoding }),
    }),
  xml: (input, { definition, options }) =>
    createXmlReader(input, {
      definition,
      ...(options.encoding !== undefined && { encoding: options.encoding }),
    }),
};

/** The reader of `format`; UNSUPPORTED_FORMAT when there is none yet. */
export function createReaderFor(format: ImportFormat): ReaderFactory {
  const factory = readerFactories[format];
  if (!factory) {
    throw new ImportError(
      ErrorCodes.UNSUPPORTED_FORMAT,
      `files in format "${format}" cannot be read`,
      { details: { format } },
    );
  }
  return factory;
}
