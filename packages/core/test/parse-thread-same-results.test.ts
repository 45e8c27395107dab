import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
import { sharedPath } from '@erp-import/dev-services/shared-files';
import {
  createImporter,
  createMemoryErrorLog,
  createMemoryFileStore,
  createMemoryQueue,
  createMemoryStatusStore,
  type ImportDefinitionInput,
  type ImportFormat,
  type Importer,
  type ImportRecord,
  type LoggedRowIssue,
} from '../src/index.js';
import { recordingLogger, type LoggedLine } from './recording-logger.js';

// A file read in a parse thread must give exactly what it gives when read
// in the worker's own thread: the same state, counts, detected encoding
// and delimiter, error log (positions, codes, messages) and rows.

const database = useTestDatabase('parse_thread');
let pool: pg.Pool;

const ibptPath = sharedPath('data', 'TabelaIBPTaxSP23.2.A.csv');

const customers = {
  entity: 'thread_customers',
  table: 'thread_customers',
  key: ['code'],
  tenantColumn: 'tenant_id',
  nullTokens: ['NULL'],
  locale: 'pt-BR',
  columns: [
    { name: 'code', type: 'text', length: 12, source: 'Código' },
    { name: 'name', type: 'text', nullable: false, source: 'Nome' },
    { name: 'limit', type: 'numeric', precision: 12, scale: 2 },
    { name: 'active', type: 'boolean', source: 'Ativo' },
    { name: 'since', type: 'date', source: 'Desde' },
  ],
} satisfies ImportDefinitionInput;

const ibpt = {
  entity: 'thread_ibpt',
  table: 'thread_ibpt',
  key: ['codigo', 'ex', 'tipo'],
  tenantColumn: 'tenant_id',
  locale: { decimalSeparator: '.', dateFormats: ['dd/MM/yyyy'] },
  columns: [
    { name: 'codigo', type: 'text' },
    { name: 'ex', type: 'text', default: '' },
    { name: 'tipo', type: 'text' },
    { name: 'descricao', type: 'text' },
    { name: 'nacionalfederal', type: 'numeric', precision: 7, scale: 2 },
    { name: 'vigenciainicio', type: 'date' },
  ],
} satisfies ImportDefinitionInput;

/**
 * Several thousand records with every kind of trouble, spread so they
 * fall into different batches: quoted line breaks, quoted empties, null
 * tokens, ragged rows, NUL characters, bad numbers, booleans and dates,
 * missing names, duplicate keys, accents in Windows-1252.
 */
function troubledCsv(records: number): Buffer {
  let text = 'Código;Nome;Limit;Ativo;Desde\r\n';
  for (let i = 1; i <= records; i++) {
    const code = `K${String(i % 4000).padStart(5, '0')}`;
    switch (i % 13) {
      case 1:
        text += `${code};"Ação\r\nem duas linhas";1.234,50;S;01/02/2024\r\n`;
        break;
      case 2:
        text += `${code};"";;N;\r\n`;
        break;
      case 3:
        text += `${code};São João;NULL;sim;31/02/2024\r\n`;
        break;
      case 4:
        text += `${code};a;b;c\r\n`;
        break;
      case 5:
        text += `${code};nul\u0000here;1,00;S;01/01/2024\r\n`;
        break;
      case 6:
        text += `${code};;12,345;talvez;2024-13-01\r\n`;
        break;
      default:
        text += `${code};"Cliente ""${i}"", Ltda";${i},${i % 100};N;15/03/2023\r\n`;
    }
  }
  return iconv.encode(text, 'windows-1252');
}

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 8 });
  // The database is dropped WITH (FORCE) after the file: a connection it
  // terminates then is no failure of these tests.
  pool.on('error', () => undefined);
  await pool.query(`
    CREATE TABLE thread_customers (
      tenant_id text, code varchar(12), name text NOT NULL,
      "limit" numeric(12,2), active boolean, since date,
      PRIMARY KEY (tenant_id, code));
    CREATE TABLE thread_ibpt (
      tenant_id text, codigo text, ex text, tipo text, descricao text,
      nacionalfederal numeric(7,2), vigenciainicio date,
      PRIMARY KEY (tenant_id, codigo, ex, tipo))`);
});

afterAll(async () => {
  await pool.end();
});

interface Outcome {
  record: ImportRecord;
  errors: LoggedRowIssue[];
  rows: unknown[];
  /** The parse thread's busy time, logged when a thread read the file. */
  parseMs: number | undefined;
}

// The `timings` of the engine's log lines, to see who parsed.
function timingsOf(lines: LoggedLine[]): Array<Record<string, unknown>> {
  return lines.flatMap((line) => {
    const timings = line.fields.timings as Record<string, unknown> | undefined;
    return timings === undefined ? [] : [timings];
  });
}

async function importWith(
  parseThreadMinBytes: number,
  tenant: string,
  entity: string,
  format: ImportFormat,
  body: Buffer,
): Promise<Outcome> {
  const errorLog = createMemoryErrorLog();
  const { logger, lines } = recordingLogger();
  const importer: Importer = createImporter({
    definitions: [customers, ibpt],
    database: pool,
    queue: createMemoryQueue(),
    statusStore: createMemoryStatusStore(),
    errorLog,
    fileStore: createMemoryFileStore(),
    parseThreadMinBytes,
    logger,
  });
  const { record } = await importer.enqueue({
    tenant,
    entity,
    format,
    body: Readable.from([body]),
  });
  const done = await importer.process(record.id);

  const errors: LoggedRowIssue[] = [];
  let afterSeq: number | undefined;
  for (;;) {
    const page = await importer.errors(tenant, record.id, {
      limit: 500,
      ...(afterSeq !== undefined && { afterSeq }),
    });
    errors.push(...page.items);
    if (page.nextAfterSeq === null || page.nextAfterSeq === undefined) break;
    afterSeq = page.nextAfterSeq;
  }
  const table = entity === 'thread_ibpt' ? 'thread_ibpt' : 'thread_customers';
  const { rows } = await pool.query(
    `SELECT * FROM ${table} WHERE tenant_id = $1 ORDER BY 2, 3, 4`,
    [tenant],
  );
  const parseMs = timingsOf(lines).find((t) => 'parseMs' in t)?.parseMs;
  return {
    record: done,
    errors,
    rows,
    parseMs: typeof parseMs === 'number' ? parseMs : undefined,
  };
}

// What must match; ids, times and the tenant differ by construction.
function comparable(outcome: Outcome) {
  const { record } = outcome;
  return {
    state: record.state,
    counts: record.counts,
    failure: record.failure,
    detected: record.detected,
    recordsRead: record.progress.recordsRead,
    recordsRejected: record.progress.recordsRejected,
    errors: outcome.errors.map(
      ({ position, column, code, message, rawValue, severity }) => ({
        position,
        column,
        code,
        message,
        rawValue,
        severity,
      }),
    ),
    rows: outcome.rows.map((row) => ({ ...(row as object), tenant_id: null })),
  };
}

async function expectSameResults(
  name: string,
  entity: string,
  format: ImportFormat,
  body: Buffer,
) {
  const inThread = await importWith(
    Infinity,
    `${name}-main`,
    entity,
    format,
    body,
  );
  const threaded = await importWith(0, `${name}-thread`, entity, format, body);
  expect(comparable(threaded)).toEqual(comparable(inThread));
  // Otherwise both read in the same thread and nothing was compared.
  expect(inThread.parseMs).toBeUndefined();
  if (threaded.record.state === 'completed') {
    expect(threaded.parseMs).toBeGreaterThanOrEqual(0);
  }
  return threaded;
}

describe('reading in a parse thread', () => {
  it('gives the same counts, error log and rows on a troubled CSV', async () => {
    const outcome = await expectSameResults(
      'troubled',
      'thread_customers',
      'csv',
      troubledCsv(20_000),
    );
    expect(outcome.record.state).toBe('completed');
    expect(outcome.record.detected.encoding).toBe('windows-1252');
    // Enough issues to span several batches of the thread.
    expect(outcome.errors.length).toBeGreaterThan(2000);
    expect(outcome.rows.length).toBeGreaterThan(1000);
  });

  it('gives the same result on the real IBPT table', async () => {
    const outcome = await expectSameResults(
      'ibpt',
      'thread_ibpt',
      'csv',
      await readFile(ibptPath),
    );
    expect(outcome.record.state).toBe('completed');
    expect(outcome.record.counts.inserted).toBeGreaterThan(10_000);
  });

  it('fails the same way on a quote that never closes', async () => {
    const body = Buffer.concat([
      troubledCsv(3000),
      Buffer.from('K99999;"never closed;1,00;S;01/01/2024\r\n'),
    ]);
    const outcome = await expectSameResults(
      'unclosed',
      'thread_customers',
      'csv',
      body,
    );
    expect(outcome.record.state).toBe('failed');
    expect(outcome.record.failure?.code).toBe('MALFORMED_FILE');
    expect(outcome.rows).toEqual([]);
  });

  it('gives the same result on a JSON array', async () => {
    const records = Array.from({ length: 5000 }, (_, i) => ({
      Código: `J${i % 3000}`,
      Nome: i % 11 === 0 ? null : `Cliente ${i}`,
      limit: i % 7 === 0 ? 'x' : `${i},50`,
      Ativo: i % 2 === 0 ? 'S' : 'N',
    }));
    await expectSameResults(
      'json',
      'thread_customers',
      'json',
      Buffer.from(JSON.stringify(records)),
    );
  });
});
