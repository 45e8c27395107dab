import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
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
  type Importer,
  type ImportLoadOptions,
} from '../src/index.js';

// A sync of the real IBPT table (12,096 rows) with 10% of its rows
// removed deletes exactly those rows, only in its tenant's and scope's
// rows; with half removed it fails by the brake and changes nothing.

const ibptPath = sharedPath('data', 'TabelaIBPTaxSP23.2.A.csv');

const rate = { type: 'numeric', precision: 7, scale: 2 } as const;
// The examples' `ibpt_tax_rates`, synced per state (`uf`, a parameter).
const ibptTaxRates = {
  entity: 'ibpt_tax_rates',
  table: 'ibpt_tax_rates',
  key: ['codigo', 'ex', 'tipo'],
  tenantColumn: 'tenant_id',
  scope: ['uf'],
  mode: 'sync',
  maxDeleteShare: 0.2,
  locale: {
    decimalSeparator: '.',
    groupSeparator: '',
    dateFormats: ['dd/MM/yyyy'],
    timeZone: 'America/Sao_Paulo',
  },
  columns: [
    { name: 'codigo', type: 'text', length: 16 },
    { name: 'ex', type: 'text', length: 4, default: '' },
    { name: 'tipo', type: 'text', length: 2 },
    { name: 'descricao', type: 'text' },
    { name: 'nacionalfederal', ...rate },
    { name: 'importadosfederal', ...rate },
    { name: 'estadual', ...rate },
    { name: 'municipal', ...rate },
    { name: 'vigenciainicio', type: 'date' },
    { name: 'vigenciafim', type: 'date' },
    { name: 'chave', type: 'text', length: 20 },
    { name: 'versao', type: 'text', length: 20 },
    { name: 'fonte', type: 'text', length: 100 },
  ],
} satisfies ImportDefinitionInput;

const database = useTestDatabase('sync_ibpt');
let pool: pg.Pool;
let importer: Importer;
// The file's lines as bytes (latin1 keeps every Windows-1252 byte).
let header: string;
let records: string[];

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 3 });
  await pool.query(`
    CREATE TABLE ibpt_tax_rates (
      tenant_id text NOT NULL,
      uf char(2) NOT NULL,
      codigo varchar(16) NOT NULL,
      ex varchar(4) NOT NULL,
      tipo varchar(2) NOT NULL,
      descricao text,
      nacionalfederal numeric(7, 2),
      importadosfederal numeric(7, 2),
      estadual numeric(7, 2),
      municipal numeric(7, 2),
      vigenciainicio date,
      vigenciafim date,
      chave varchar(20),
      versao varchar(20),
      fonte varchar(100),
      PRIMARY KEY (tenant_id, uf, codigo, ex, tipo)
    )`);
  importer = createImporter({
    definitions: [ibptTaxRates],
    database: pool,
    queue: createMemoryQueue(),
    statusStore: createMemoryStatusStore(),
    errorLog: createMemoryErrorLog(),
    fileStore: createMemoryFileStore(),
  });
  const lines = (await readFile(ibptPath)).toString('latin1').split('\r\n');
  header = lines[0]!;
  records = lines.slice(1).filter((line) => line !== '');
});

afterAll(async () => {
  await pool?.end();
});

async function importLines(
  tenant: string,
  lines: readonly string[],
  load: ImportLoadOptions,
) {
  const bytes = Buffer.from([header, ...lines, ''].join('\r\n'), 'latin1');
  const { record } = await importer.enqueue({
    tenant,
    entity: 'ibpt_tax_rates',
    format: 'csv',
    body: Readable.from([bytes]),
    load,
  });
  return importer.process(record.id);
}

const keyOf = (line: string) => line.split(';').slice(0, 3).join('|');

async function keysOf(tenant: string, uf: string): Promise<string[]> {
  const result = await pool.query<{ key: string }>(
    `SELECT codigo || '|' || ex || '|' || tipo AS key FROM ibpt_tax_rates
     WHERE tenant_id = $1 AND uf = $2 ORDER BY 1`,
    [tenant, uf],
  );
  return result.rows.map((row) => row.key);
}

// Every row of the table as text, to compare before and after.
async function snapshot(): Promise<string> {
  const result = await pool.query<{ digest: string }>(
    `SELECT md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS digest
     FROM ibpt_tax_rates AS t`,
  );
  return result.rows[0]!.digest;
}

describe('sync of the IBPT table', () => {
  it('deletes exactly the removed rows, only in its tenant and scope', async () => {
    expect(records).toHaveLength(12_096);
    for (const [tenant, uf] of [
      ['acme', 'SP'],
      ['acme', 'RJ'],
      ['other', 'SP'],
    ] as const) {
      const first = await importLines(tenant, records, { params: { uf } });
      expect(first.state).toBe('completed');
      expect(first.counts.inserted).toBe(12_096);
    }
    const untouched = {
      acmeRj: await keysOf('acme', 'RJ'),
      otherSp: await keysOf('other', 'SP'),
    };

    // Every tenth record goes.
    const kept = records.filter((_line, index) => index % 10 !== 0);
    const removed = records.filter((_line, index) => index % 10 === 0);
    expect(removed).toHaveLength(1210);
    const synced = await importLines('acme', kept, { params: { uf: 'SP' } });

    expect(synced.state).toBe('completed');
    expect(synced.counts).toMatchObject({
      read: 10_886,
      inserted: 0,
      updated: 0,
      unchanged: 10_886,
      deleted: 1210,
      rejected: 0,
    });
    expect(await keysOf('acme', 'SP')).toEqual(kept.map(keyOf).sort());
    expect(await keysOf('acme', 'RJ')).toEqual(untouched.acmeRj);
    expect(await keysOf('other', 'SP')).toEqual(untouched.otherSp);
  });

  it('fails by the brake when half the rows are gone, changing nothing', async () => {
    const before = await snapshot();
    const half = records.filter((_line, index) => index % 2 === 0);
    const braked = await importLines('other', half, { params: { uf: 'SP' } });

    expect(braked.state).toBe('failed');
    expect(braked.failure).toMatchObject({
      code: 'SYNC_BRAKE',
      details: { wouldDelete: 6048, total: 12_096, maxDeleteShare: 0.2 },
    });
    expect(await snapshot()).toBe(before);
  });
});
