import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '@erp-import/dev-services/vitest';
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
import {
  ibptBytes,
  ibptLines,
  ibptSyncDefinition,
  ibptTableSql,
} from './ibpt-fixtures.js';

// A sync of the real IBPT table (12,096 rows) with 10% of its rows
// removed deletes exactly those rows, only in its tenant's and scope's
// rows; with half removed it fails by the brake and changes nothing.

const ibptTaxRates = {
  ...ibptSyncDefinition,
  maxDeleteShare: 0.2,
} satisfies ImportDefinitionInput;

const database = useTestDatabase('sync_ibpt');
let pool: pg.Pool;
let importer: Importer;
// The file's lines as bytes (latin1 keeps every Windows-1252 byte).
let header: string;
let records: string[];

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: database.url, max: 3 });
  await pool.query(ibptTableSql());
  importer = createImporter({
    definitions: [ibptTaxRates],
    database: pool,
    queue: createMemoryQueue(),
    statusStore: createMemoryStatusStore(),
    errorLog: createMemoryErrorLog(),
    fileStore: createMemoryFileStore(),
  });
  ({ header, records } = await ibptLines());
});

afterAll(async () => {
  await pool?.end();
});

async function importLines(
  tenant: string,
  lines: readonly string[],
  load: ImportLoadOptions,
) {
  const bytes = ibptBytes(header, lines);
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
